"""An in-memory Kubernetes API server for unit tests.

It speaks the REST protocol at the transport level (method, path, query, bytes), so the
collection's real client, serialization and error handling run unchanged, in process through
``FakeKube.request`` or over HTTP through :func:`serve_http`. It keeps the semantics of a real
kube-apiserver (``tests/unit/files/apiserver_recordings.json`` holds how one answered, and
``tests/unit/test_recordings.py`` replays every recorded step against this fake):

Storage and versions
- every write takes the next value of one global revision as the object's resourceVersion; a
  write that changes nothing keeps it; a LIST answers with the current revision;
- a write carrying a stale metadata.resourceVersion gets 409 Conflict; a create carrying one
  gets 500 ``resourceVersion should not be set on objects to be created``; an existing name 409
  AlreadyExists;
- updates of kinds with a ``status`` subresource ignore status, and ``/status`` changes only it;
  ``/scale`` (GET, PUT, PATCH) reads and writes ``spec.replicas`` of Deployments, ReplicaSets and
  StatefulSets as an autoscaling/v1 Scale;
- dryRun=All validates and answers like the write would, stores nothing, and a dry-run create
  answers without resourceVersion.

Patches
- merge patch (RFC 7386), strategic merge patch (merge keys, finalizers as a set, in the
  server's element order, ``$patch``, ``$deleteFromPrimitiveList``, ``$setElementOrder``) and
  JSON patch (RFC 6902); a failed JSON-patch ``test`` is 422 and applies nothing; Node taints
  have no merge key, so merge and strategic patches both replace the list.

Validation (422 Invalid, with the server's message and ``details.causes``)
- names, label keys and values, annotation keys and their 256 KiB total, Node taints (at the
  server's field path ``metadata.taints[i]``), Deployment/ReplicaSet/StatefulSet/DaemonSet
  selectors that must match the template and are immutable; as on the server an update reports
  each metadata problem four times (three times for apps kinds), a taint problem twice.

Deletion
- DELETE takes its DeleteOptions (dryRun, gracePeriodSeconds, preconditions, propagationPolicy)
  from the body whenever one is sent, from the query string otherwise;
- a uid or resourceVersion precondition that does not hold is 409 with the server's message;
- pods are deleted gracefully: deletionTimestamp and deletionGracePeriodSeconds (the request's,
  else spec.terminationGracePeriodSeconds, else 30; 0 for an unscheduled or finished pod) are
  set, and the pod goes when the kubelet confirms (``kubelet_sync`` or fake_workloads' kubelet),
  at once when the grace period is 0;
- an object with finalizers only gets deletionTimestamp (Orphan and Foreground propagation add
  ``orphan`` / ``foregroundDeletion``); it goes once they are cleared, and no finalizer may be
  added while it is terminating;
- the answer is the object for kinds whose storage returns it (Pod, Service, ServiceAccount,
  PersistentVolume(Claim), Namespace, StorageClass) and for objects left terminating, otherwise
  a Status ``Success`` whose details name the object and its resource.

Reads
- label selectors parsed as the server does (``=``, ``==``, ``!=``, ``in``, ``notin``, ``in ()``,
  ``a,,b``, bare key, ``!key``), with its 400 messages; field selectors on metadata and fields;
- ``limit`` and ``continue``: pages of a consistent snapshot, ``metadata.continue`` while keys
  remain (and ``remainingItemCount`` without selectors); :meth:`FakeKube.compact` expires every
  token, and the next page answers 410 Expired with the server's message and a token that
  continues without consistency;
- ``GET pods/P/log`` (``container``, ``tailLines``, ``previous``) answers text/plain from
  :attr:`FakeKube.pod_logs` / :attr:`FakeKube.previous_pod_logs`, with the server's 400 when a
  multi-container pod's container is not named, and the kubelet's when there is nothing to read;
- unknown paths answer 404 ``the server could not find the requested resource``.

Admission and load
- TaintNodesByCondition: a Node created through the API gets ``node.kubernetes.io/not-ready:NoSchedule``
  (the node lifecycle controller in fake_workloads.py takes it away again);
- :meth:`FakeKube.overload` answers the next requests with 429 TooManyRequests (a Status with
  details.retryAfterSeconds, or the plain text of the server's max-in-flight and priority-and-
  fairness filters), :meth:`FakeKube.fail_next` with any 5xx such as ``etcdserver: request timed
  out`` (optionally after the write was applied); :func:`serve_http` sends ``Retry-After``;
- requests from several connections are served one at a time under one lock (``latency`` adds a
  delay outside it, and ``peak_in_flight`` records how many requests overlapped);
- ``request()`` returns the body as :class:`Payload`, bytes carrying the answer's headers, and
  :func:`serve_http` goes through ``request()``, so a subclass that wraps it is served over HTTP too.

Controllers, a scheduler and a kubelet that drive rollouts and nodes live in ``fake_workloads.py``.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

# (group/version, kind, plural, namespaced)
BUILTIN_KINDS = [
    ("v1", "Node", "nodes", False),
    ("v1", "Namespace", "namespaces", False),
    ("v1", "PersistentVolume", "persistentvolumes", False),
    ("v1", "Pod", "pods", True),
    ("v1", "Service", "services", True),
    ("v1", "Endpoints", "endpoints", True),
    ("v1", "ServiceAccount", "serviceaccounts", True),
    ("v1", "ConfigMap", "configmaps", True),
    ("v1", "Secret", "secrets", True),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    ("v1", "Event", "events", True),
    ("apps/v1", "Deployment", "deployments", True),
    ("apps/v1", "StatefulSet", "statefulsets", True),
    ("apps/v1", "DaemonSet", "daemonsets", True),
    ("apps/v1", "ReplicaSet", "replicasets", True),
    ("batch/v1", "Job", "jobs", True),
    ("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True),
    ("storage.k8s.io/v1", "StorageClass", "storageclasses", False),
]

# Storage that answers a DELETE with the deleted object; the others answer with a Status.
RETURNS_DELETED_OBJECT = {"Pod", "Service", "ServiceAccount", "PersistentVolume", "PersistentVolumeClaim",
                          "Namespace", "StorageClass"}
# Kinds whose status is written only through their /status subresource.
STATUS_SUBRESOURCE = {"Node", "Namespace", "Pod", "Service", "PersistentVolume", "PersistentVolumeClaim",
                      "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
SCALABLE_KINDS = {"Deployment", "ReplicaSet", "StatefulSet"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
SELECTOR_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}

# Strategic merge patch: list fields merged by key (others are replaced), and lists merged as sets.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "ports": "containerPort", "imagePullSecrets": "name",
    "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip",
}
SET_LISTS = {"finalizers"}

NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_ANNOTATIONS_BYTES = 256 * 1024
TOO_MANY_REQUESTS = "Too many requests, please try again later."
ETCD_TIMEOUT = "etcdserver: request timed out"
CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list result. You can start "
                    "a new list without the continue parameter, or use the continue token in this response to "
                    "retrieve the remainder of the results. Continuing with the provided token results in an "
                    "inconsistent list - objects that were created, modified, or deleted between the time the "
                    "first chunk was returned and now may show up in the list.")

REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 415: "Unsupported Media Type",
           422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def resource(self) -> str:
        """``deployments.apps``: how the server names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def custom(self) -> bool:
        """A custom resource: its group has a dot and is not one of Kubernetes' own (``*.k8s.io``)."""
        return "." in self.group and not self.group.endswith("k8s.io")

    @property
    def qualified_kind(self) -> str:
        """``Deployment.apps``: how the server names the kind in messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


@dataclass
class Request:
    method: str
    path: str
    query: dict
    content_type: str | None
    body: object
    headers: dict = field(default_factory=dict)
    status: int | None = None  # the HTTP status it was answered with

    @property
    def delete_options(self) -> dict:
        """DeleteOptions: the body's whenever a body is sent (the query is then ignored), else the query's."""
        if self.body is not None:
            return self.body if isinstance(self.body, dict) else {}
        options: dict = {}
        if "dryRun" in self.query:
            options["dryRun"] = [self.query["dryRun"]]
        if "gracePeriodSeconds" in self.query:
            options["gracePeriodSeconds"] = int(self.query["gracePeriodSeconds"])
        if "propagationPolicy" in self.query:
            options["propagationPolicy"] = self.query["propagationPolicy"]
        return options

    @property
    def dry_run(self) -> bool:
        if self.method == "DELETE":
            return "All" in (self.delete_options.get("dryRun") or [])
        return self.query.get("dryRun") == "All"


# ---- errors, as the server words them ----------------------------------------------------------
class ApiStatus(Exception):
    """A failure Status; ``reason`` None for the server's unclassified errors (500 with a bare message)."""

    def __init__(self, code: int, reason: str | None, message: str, causes: list | None = None,
                 details: dict | None = None, metadata: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = dict(details) if details is not None else ({"causes": causes} if causes else None)
        if causes and details is not None:
            self.details["causes"] = causes
        self.metadata = metadata or {}
        self.headers = headers or {}

    @property
    def causes(self) -> list:
        return (self.details or {}).get("causes") or []

    def body(self) -> dict:
        status = {"kind": "Status", "apiVersion": "v1", "metadata": self.metadata, "status": "Failure",
                  "message": self.message}
        if self.reason:
            status["reason"] = self.reason
        if self.details is not None:
            status["details"] = self.details
        status["code"] = self.code
        return status


def _details(kind: Kind, name: str, what: str | None = None) -> dict:
    details = {"name": name}
    if kind.group:
        details["group"] = kind.group
    details["kind"] = what or kind.plural
    return details


def not_found(kind: Kind, name: str) -> ApiStatus:
    return ApiStatus(404, "NotFound", f'{kind.resource} "{name}" not found', details=_details(kind, name))


def no_such_resource() -> ApiStatus:
    return ApiStatus(404, "NotFound", "the server could not find the requested resource", details={})


def bad_request(message: str) -> ApiStatus:
    return ApiStatus(400, "BadRequest", message)


def too_many_requests(retry_after: int = 1, message: str = TOO_MANY_REQUESTS) -> ApiStatus:
    return ApiStatus(429, "TooManyRequests", message, details={"retryAfterSeconds": retry_after},
                     headers={"Retry-After": str(retry_after)})


def _conflict(resource: str, name: str, why: str, details: dict) -> ApiStatus:
    return ApiStatus(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": {why}', details=details)


def stale(kind: Kind, name: str) -> ApiStatus:
    return _conflict(kind.resource, name, "the object has been modified; please apply your changes to the latest "
                                          "version and try again", _details(kind, name))


@dataclass
class FieldError:
    """One ``field.Error`` of the server's validation: its cause reason, field path, value and detail."""
    type: str  # FieldValueInvalid, FieldValueNotSupported, ...
    field: str
    value: object = None  # already in Go's %v / %q / %#v form, see go_value
    detail: str = ""

    TYPES = {"FieldValueInvalid": "Invalid value", "FieldValueNotSupported": "Unsupported value",
             "FieldValueDuplicate": "Duplicate value", "FieldValueRequired": "Required value",
             "FieldValueForbidden": "Forbidden", "FieldValueTooLong": "Too long"}

    @property
    def body(self) -> str:
        text = self.TYPES[self.type]
        if self.type not in ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"):
            text += f": {self.value}"
        return f"{text}: {self.detail}" if self.detail else text


def invalid(kind: Kind, name: str, errors: list[FieldError]) -> ApiStatus:
    """422 as ``errors.NewInvalid`` builds it: every error a cause, the message without repeats."""
    causes = [{"reason": e.type, "message": e.body, "field": e.field} for e in errors]
    unique = list(dict.fromkeys(f"{e.field}: {e.body}" for e in errors))
    text = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
    return ApiStatus(422, "Invalid", f"{kind.qualified_kind} {go_quote(name)} is invalid: {text}",
                     details={**_details(kind, name, kind.kind), "causes": causes})


# ---- Go's formatting, for messages that quote values -------------------------------------------
def go_quote(text: str) -> str:
    """Go's %q of a string."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[char])
        elif char.isprintable():
            out.append(char)
        else:
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}")
    return '"' + "".join(out) + '"'


def go_string_map(values: dict | None) -> str:
    """Go's %#v of a map[string]string."""
    if values is None:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{go_quote(k)}:{go_quote(str(v))}" for k, v in sorted(values.items())) + "}"


def go_label_selector(selector: dict | None) -> str:
    """Go's %#v of a v1.LabelSelector."""
    selector = selector or {}
    expressions = selector.get("matchExpressions")
    if expressions is None:
        rendered = "[]v1.LabelSelectorRequirement(nil)"
    else:
        rendered = "[]v1.LabelSelectorRequirement{" + ", ".join(
            f'v1.LabelSelectorRequirement{{Key:{go_quote(e.get("key", ""))}, Operator:{go_quote(e.get("operator", ""))}, '
            f'Values:[]string{{{", ".join(go_quote(v) for v in e.get("values") or [])}}}}}' for e in expressions) + "}"
    return f"v1.LabelSelector{{MatchLabels:{go_string_map(selector.get('matchLabels'))}, MatchExpressions:{rendered}}}"


# ---- the server ---------------------------------------------------------------------------------
class Reply(NamedTuple):
    status: int
    reason: str
    headers: dict
    body: bytes


class Text(str):
    """A text/plain answer (pod logs)."""


class Payload(bytes):
    """An answer's body as the transport returns it, with the headers that came with it."""

    def __new__(cls, data: bytes, headers: dict | None = None):
        payload = super().__new__(cls, data)
        payload.headers = headers or {}
        return payload


class _Revision:
    """The store's one revision counter: ``next()`` takes a new one, ``current`` is the latest."""

    def __init__(self, start: int = 1000):
        self.current = start - 1
        self._lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self) -> int:
        with self._lock:
            self.current += 1
            return self.current


@dataclass
class _Fault:
    times: int
    method: str | None
    path: str | None
    error: ApiStatus | None = None
    text: str | None = None  # a plain-text answer instead of a Status
    applied: bool = False  # the request is carried out, then answered with the error

    def matches(self, req: Request) -> bool:
        return ((self.method is None or self.method == req.method)
                and (self.path is None or fnmatch.fnmatchcase(req.path, self.path)))


class FakeKube:
    """Transport-compatible fake: ``K8sClient(conn, transport=FakeKube())``."""

    def __init__(self):
        self.kinds: dict[tuple[str, str], Kind] = {}
        for spec in BUILTIN_KINDS:
            self.register_kind(*spec)
        self.objects: dict[tuple[str, str, str | None, str], dict] = {}
        self.log: list[Request] = []
        # callables(fake, request) run before each request: they may edit objects as another
        # client would, or raise ApiStatus to answer with that error
        self.before_request = []
        # (namespace, pod, container) -> the log text GET .../log answers; previous_pod_logs for previous=true
        self.pod_logs: dict[tuple[str, str, str], str] = {}
        self.previous_pod_logs: dict[tuple[str, str, str], str] = {}
        self.latency = 0.0  # seconds each request takes, outside the lock (requests overlap)
        self.in_flight = 0
        self.peak_in_flight = 0
        self._rv = _Revision()
        self._lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._snapshots: dict[tuple[str, str, int], list[tuple[str, dict]]] = {}

    # ---- test helpers -------------------------------------------------------------------------
    def register_kind(self, api_version: str, kind: str, plural: str, namespaced: bool) -> None:
        self.kinds[(api_version, plural)] = Kind(api_version, kind, plural, namespaced)

    def add(self, obj: dict) -> dict:
        """Create an object as if someone else had (no request logged, no admission)."""
        with self._lock:
            kind = self._kind_of(obj)
            stored = self._create(kind, copy.deepcopy(obj), obj["metadata"].get("namespace"))
            return copy.deepcopy(stored)

    def node(self, name: str, labels: dict | None = None, taints: list | None = None) -> dict:
        spec = {"taints": taints} if taints else {}
        return self.add({"apiVersion": "v1", "kind": "Node",
                         "metadata": {"name": name, "labels": labels or {}}, "spec": spec})

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        with self._lock:
            for (api_version, plural, ns, obj_name), obj in self.objects.items():
                if self.kinds[(api_version, plural)].kind == kind and obj_name == name and ns == namespace:
                    return copy.deepcopy(obj)
        return None

    def edit(self, kind: str, name: str, namespace: str | None = None, change=None) -> dict:
        """Change an object out of band (another client), bumping its resourceVersion."""
        with self._lock:
            key = next(k for k, o in self.objects.items()
                       if self.kinds[k[:2]].kind == kind and k[3] == name and k[2] == namespace)
            obj = self.objects[key]
            change(obj)
            obj["metadata"]["resourceVersion"] = str(next(self._rv))
            return copy.deepcopy(obj)

    @property
    def writes(self) -> list[Request]:
        """Requests that changed (or would have changed) stored state: every non-dry-run write."""
        return [r for r in self.log if r.method in ("POST", "PUT", "PATCH", "DELETE") and not r.dry_run]

    def kubelet_sync(self) -> None:
        """Finish graceful deletions of pods, as the kubelet would once containers stopped."""
        with self._lock:
            for key, obj in list(self.objects.items()):
                meta = obj["metadata"]
                if obj.get("kind") == "Pod" and meta.get("deletionTimestamp") and not meta.get("finalizers"):
                    del self.objects[key]
                    next(self._rv)

    def compact(self) -> None:
        """etcd compaction: every continue token handed out so far expires (the next page is 410)."""
        with self._lock:
            self._snapshots.clear()

    def overload(self, times: int = 1, *, retry_after: int = 1, method: str | None = None, path: str | None = None,
                 plain_text: bool = False) -> None:
        """Answer the next ``times`` matching requests with 429, as an overloaded server does.

        ``path`` is a glob over the request path (``/api/v1/nodes/*``). By default the answer is a
        Status with ``details.retryAfterSeconds``; ``plain_text`` gives what the max-in-flight and
        priority-and-fairness filters send: the text ``Too many requests, please try again later.``
        and only the ``Retry-After`` header to say when.
        """
        error = too_many_requests(retry_after)
        with self._lock:
            self._faults.append(_Fault(times, method, path, error, TOO_MANY_REQUESTS + "\n" if plain_text else None))

    def fail_next(self, times: int = 1, *, code: int = 500, message: str = ETCD_TIMEOUT, reason: str | None = None,
                  retry_after: int | None = None, method: str | None = None, path: str | None = None,
                  applied: bool = False) -> None:
        """Answer the next ``times`` matching requests with a server error (default: etcd's timeout, a 500).

        ``applied``: the request is carried out first, as when etcd committed a write whose answer
        timed out, so a client cannot tell whether it happened.
        """
        details = {"retryAfterSeconds": retry_after} if retry_after else None
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        error = ApiStatus(code, reason, message, details=details, headers=headers)
        with self._lock:
            self._faults.append(_Fault(times, method, path, error, applied=applied))

    # ---- transport interface ------------------------------------------------------------------
    def request(self, method: str, target: str, headers, body: bytes | None):
        """The client transport's call: returns (status, reason, body bytes).

        The body is a :class:`Payload`, bytes that also carry the answer's headers (Content-Type,
        Retry-After), which :func:`serve_http` sends.
        """
        reply = self.respond(method, target, headers, body)
        return reply.status, reply.reason, Payload(reply.body, reply.headers)

    def respond(self, method: str, target: str, headers, body: bytes | None) -> Reply:
        """Serve one request; the answer with its headers (Content-Type, Retry-After)."""
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        header_map: dict[str, list[str]] = {}
        for name, value in headers:
            header_map.setdefault(name.lower(), []).append(value)
        content_type = (header_map.get("content-type") or [None])[0]
        req = Request(method, unquote(url.path), query, content_type, None, header_map)
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            with self._lock:
                self.log.append(req)
                reply = self._serve(req, body)
                req.status = reply.status
                return reply
        finally:
            with self._lock:
                self.in_flight -= 1

    def _serve(self, req: Request, body: bytes | None) -> Reply:
        fault = next((f for f in self._faults if f.matches(req)), None)
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
        try:
            try:
                req.body = json.loads(body) if body else None
            except ValueError as exc:
                raise bad_request(f"error decoding request body: {exc}") from exc
            if fault is not None and not fault.applied:
                raise fault.error
            for hook in list(self.before_request):
                hook(self, req)  # may change state, or raise ApiStatus to answer with an error
            status, payload = self._handle(req)
            if fault is not None:
                raise fault.error
        except ApiStatus as exc:
            if fault is not None and exc is fault.error and fault.text is not None:
                return Reply(exc.code, REASONS.get(exc.code, ""), {"Content-Type": "text/plain; charset=utf-8",
                                                                   **exc.headers}, fault.text.encode())
            return Reply(exc.code, REASONS.get(exc.code, ""), {"Content-Type": "application/json", **exc.headers},
                         json.dumps(exc.body()).encode())
        if isinstance(payload, Text):
            return Reply(status, REASONS.get(status, "OK"), {"Content-Type": "text/plain"}, payload.encode())
        return Reply(status, REASONS.get(status, "OK"), {"Content-Type": "application/json"}, json.dumps(payload).encode())

    def close(self) -> None:
        pass

    # ---- routing ------------------------------------------------------------------------------
    def _handle(self, req: Request):
        parts = [p for p in req.path.split("/") if p]
        if parts == ["version"]:
            return 200, {"major": "1", "minor": "34", "gitVersion": "v1.34.0-fake"}
        if parts[:1] == ["api"] and len(parts) >= 2:
            api_version, rest = parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise no_such_resource()
        if not rest:
            if req.method != "GET":
                raise no_such_resource()
            return 200, self._discovery(api_version)
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and (api_version, rest[2]) in self.kinds:
            namespace, rest = rest[1], rest[2:]
        kind = self.kinds.get((api_version, rest[0]))
        if kind is None or (namespace is not None and not kind.namespaced) or len(rest) > 3:
            raise no_such_resource()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if name is None:
            if req.method == "GET":
                return 200, self._list(kind, namespace, req.query)
            if req.method == "POST":
                return 201, self._post(kind, namespace, req)
            raise ApiStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if sub is not None and not self._has_subresource(kind, sub):
            raise no_such_resource()
        handler = {"GET": self._get, "PATCH": self._patch, "PUT": self._put, "DELETE": self._delete}.get(req.method)
        if handler is None or (sub is not None and req.method == "DELETE") or (sub == "log" and req.method != "GET"):
            raise ApiStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return 200, handler(kind, namespace, name, sub, req)

    @staticmethod
    def _has_subresource(kind: Kind, sub: str) -> bool:
        return ((sub == "status" and kind.kind in STATUS_SUBRESOURCE) or (sub == "scale" and kind.kind in SCALABLE_KINDS)
                or (sub == "log" and kind.kind == "Pod") or (sub == "finalize" and kind.kind == "Namespace"))

    def _discovery(self, api_version: str) -> dict:
        resources = [{"name": k.plural, "kind": k.kind, "namespaced": k.namespaced,
                      "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                     for (gv, _plural), k in self.kinds.items() if gv == api_version]
        if not resources:
            raise no_such_resource()
        return {"kind": "APIResourceList", "groupVersion": api_version, "resources": resources}

    # ---- store --------------------------------------------------------------------------------
    def _key(self, kind: Kind, namespace: str | None, name: str):
        return (kind.api_version, kind.plural, namespace if kind.namespaced else None, name)

    def _stored(self, kind: Kind, namespace, name) -> dict:
        obj = self.objects.get(self._key(kind, namespace, name))
        if obj is None:
            raise not_found(kind, name)
        return obj

    def _kind_of(self, obj: dict) -> Kind:
        for (gv, _plural), kind in self.kinds.items():
            if gv == obj.get("apiVersion") and kind.kind == obj.get("kind"):
                return kind
        raise KeyError(f"unknown kind {obj.get('apiVersion')}/{obj.get('kind')}")

    def _has_namespaces(self) -> bool:
        return any(k[1] == "namespaces" for k in self.objects)

    # ---- reads --------------------------------------------------------------------------------
    def _get(self, kind, namespace, name, sub, req):
        obj = self._stored(kind, namespace, name)
        if sub == "scale":
            return scale_of(obj)
        if sub == "log":
            return self._log(obj, req.query)
        return copy.deepcopy(obj)

    def _list(self, kind: Kind, namespace, query) -> dict:
        selector = parse_selector(query.get("labelSelector", ""))
        fields = parse_field_selector(query.get("fieldSelector", ""))
        limit = int(query.get("limit") or 0)
        token = query.get("continue")
        start = ""
        revision = self._rv.current
        snapshot = None
        if token:
            revision, start = _decode_continue(token)
            if revision >= 0:
                snapshot = self._snapshots.get((kind.api_version, kind.plural, revision))
                if snapshot is None:
                    raise ApiStatus(410, "Expired", CONTINUE_EXPIRED, metadata={"continue": _encode_continue(-1, start)})
            else:
                revision = self._rv.current
        live = snapshot is None
        if live:
            snapshot = sorted((_store_key(key), obj) for key, obj in self.objects.items()
                              if key[:2] == (kind.api_version, kind.plural))
        scoped = [(k, o) for k, o in snapshot if k > start and (not namespace or o["metadata"].get("namespace") == namespace)]
        items, last = [], None
        for index, (store_key, obj) in enumerate(scoped):
            if limit and len(items) == limit:
                break
            last = index
            if not selector.matches(obj["metadata"].get("labels") or {}) or not match_fields(obj, fields):
                continue
            item = copy.deepcopy(obj)
            item.pop("apiVersion", None)
            item.pop("kind", None)
            items.append(item)
        meta: dict = {"resourceVersion": str(revision)}
        remaining = scoped[last + 1:] if last is not None else []
        if limit and len(items) == limit and remaining:
            meta["continue"] = _encode_continue(revision, scoped[last][0])
            if not query.get("labelSelector") and not query.get("fieldSelector"):
                meta["remainingItemCount"] = len(remaining)
            if live:  # the following pages read this snapshot, as etcd reads at the first page's revision
                self._snapshots[(kind.api_version, kind.plural, revision)] = copy.deepcopy(snapshot)
        return {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": meta, "items": items}

    def _log(self, pod: dict, query: dict) -> Text:
        name, namespace = pod["metadata"]["name"], pod["metadata"].get("namespace")
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
        container = query.get("container")
        if not container:
            if len(containers) == 1:
                container = containers[0]
            elif not containers:
                raise bad_request(f"a container name must be specified for pod {name}")
            else:
                message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
                if init:
                    message += f" or one of the init containers: [{' '.join(init)}]"
                raise bad_request(message)
        elif container not in containers + init:
            raise bad_request(f"container {container} is not valid for pod {name}")
        if not (pod.get("spec") or {}).get("nodeName"):
            return Text("")  # not scheduled: the server has no kubelet to ask
        key = (namespace, name, container)
        if query.get("previous") == "true":
            if key not in self.previous_pod_logs:
                raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
            text = self.previous_pod_logs[key]
        elif key in self.pod_logs:
            text = self.pod_logs[key]
        else:
            statuses = (pod.get("status") or {}).get("containerStatuses", []) + \
                (pod.get("status") or {}).get("initContainerStatuses", [])
            state = next((s.get("state") or {} for s in statuses if s.get("name") == container), {})
            if "waiting" in state:
                reason = state["waiting"].get("reason") or ""
                why = {"ErrImagePull": "image can't be pulled",
                       "ImagePullBackOff": "trying and failing to pull image"}.get(reason, reason)
                raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {why}')
            text = ""
        tail = query.get("tailLines")
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[len(lines) - int(tail):] if int(tail) < len(lines) else lines)
        return Text(text)

    # ---- create -------------------------------------------------------------------------------
    def _post(self, kind: Kind, namespace, req: Request) -> dict:
        obj = copy.deepcopy(req.body)
        if not isinstance(obj, dict) or obj.get("kind") != kind.kind:
            raise bad_request(f"the body must be a {kind.kind}")
        meta = obj.get("metadata") or {}
        if kind.namespaced and namespace and meta.get("namespace") not in (None, "", namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        # A create never sets status: the API server resets it (a new pod starts Pending).
        if kind.kind == "Pod":
            obj["status"] = {"phase": "Pending"}
        elif kind.kind in WORKLOAD_KINDS:
            obj["status"] = {}
        if kind.kind == "Pod" and (obj.get("spec") or {}).get("ephemeralContainers"):
            raise invalid(kind, meta.get("name") or "", [FieldError(
                "FieldValueForbidden", "spec.ephemeralContainers", detail="cannot be set on create")])
        if kind.kind == "Node":
            admit_node(obj)
        if req.dry_run:
            probe = copy.deepcopy(obj)
            self._prepare_new(kind, probe, namespace)
            if self._key(kind, probe["metadata"].get("namespace"), probe["metadata"]["name"]) in self.objects:
                raise already_exists(kind, probe["metadata"]["name"])
            return probe
        return copy.deepcopy(self._create(kind, obj, namespace, from_request=True))

    def _prepare_new(self, kind: Kind, obj: dict, namespace) -> None:
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.kind)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if kind.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
            if self.get("Namespace", meta["namespace"]) is None and self._has_namespaces():
                raise ApiStatus(404, "NotFound", f'namespaces "{meta["namespace"]}" not found',
                                details={"name": meta["namespace"], "kind": "namespaces"})
        else:
            meta.pop("namespace", None)
        errors = _meta_errors(kind, obj) + _spec_errors(kind, obj)
        if errors:
            raise invalid(kind, meta.get("name") or "", errors)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta.pop("resourceVersion", None)
        if kind.kind in WORKLOAD_KINDS:
            meta["generation"] = 1

    def _create(self, kind: Kind, obj: dict, namespace, from_request: bool = False) -> dict:
        sent_rv = (obj.get("metadata") or {}).get("resourceVersion")
        self._prepare_new(kind, obj, namespace)
        if sent_rv and from_request:  # etcd's check, after admission and validation
            raise ApiStatus(500, None, "resourceVersion should not be set on objects to be created")
        key = self._key(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if key in self.objects:
            raise already_exists(kind, obj["metadata"]["name"])
        obj["metadata"]["resourceVersion"] = str(next(self._rv))
        self.objects[key] = obj
        return obj

    # ---- update -------------------------------------------------------------------------------
    def _patch(self, kind, namespace, name, sub, req: Request):
        current = self._stored(kind, namespace, name)
        target = scale_of(current) if sub == "scale" else copy.deepcopy(current)
        patched = apply_patch(target, req.body, req.content_type)
        return self._write(kind, current, patched, req, sub)

    def _put(self, kind, namespace, name, sub, req: Request):
        current = self._stored(kind, namespace, name)
        new = copy.deepcopy(req.body)
        if not isinstance(new, dict):
            raise bad_request("the body of the request must be an object")
        if not (new.get("metadata") or {}).get("resourceVersion") and kind.custom:
            errors = [FieldError("FieldValueInvalid", "metadata.resourceVersion", "0x0", "must be specified for an update")]
            raise invalid(Kind(kind.api_version, kind.plural, kind.plural, kind.namespaced), name, errors)
        if sub == "finalize" and kind.kind == "Namespace":
            merged = copy.deepcopy(current)
            merged["spec"] = new.get("spec") or {}
            merged["metadata"]["resourceVersion"] = new["metadata"]["resourceVersion"]
            new = merged
        return self._write(kind, current, new, req, sub)

    def _write(self, kind: Kind, current: dict, new: dict, req: Request, sub):
        if sub != "scale":
            return self._update(kind, current, new, req, sub)
        sent_rv = (new.get("metadata") or {}).get("resourceVersion")
        replicas = (new.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            scale = Kind("autoscaling/v1", "Scale", "scale", True)
            raise invalid(scale, current["metadata"]["name"], [FieldError(
                "FieldValueInvalid", "spec.replicas", replicas, "must be greater than or equal to 0")])
        workload = copy.deepcopy(current)
        workload["spec"]["replicas"] = replicas
        if sent_rv:
            workload["metadata"]["resourceVersion"] = sent_rv
        else:
            workload["metadata"].pop("resourceVersion", None)
        return scale_of(self._update(kind, current, workload, req, "scale"))

    def _update(self, kind: Kind, current: dict, new: dict, req: Request, sub) -> dict:
        meta, old_meta = new.setdefault("metadata", {}), current["metadata"]
        name = old_meta["name"]
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != old_meta["resourceVersion"]:
            raise stale(kind, name)
        for immutable in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"):
            if old_meta.get(immutable) is not None:
                meta[immutable] = old_meta[immutable]
            else:
                meta.pop(immutable, None)
        new["apiVersion"], new["kind"] = current.get("apiVersion"), current.get("kind")
        if sub == "status":
            new = {**copy.deepcopy(current), "status": new.get("status")}
            if new["status"] is None:
                new.pop("status")
            meta = new["metadata"]
        elif kind.kind in STATUS_SUBRESOURCE:
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
            else:
                new.pop("status", None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if kind.kind in WORKLOAD_KINDS and new.get("spec") != current.get("spec"):
            meta["generation"] = old_meta.get("generation", 1) + 1
        errors = _update_errors(kind, new, current)
        if errors:
            raise invalid(kind, name, errors)
        if new == current:
            return copy.deepcopy(current)  # a no-op write keeps the resourceVersion
        # The registry deletes an object whose last finalizer goes once its grace period is over.
        gone = bool(meta.get("deletionTimestamp")) and not meta.get("finalizers") and self._finished(kind, new)
        if req.dry_run:
            return new
        key = self._key(kind, old_meta.get("namespace"), name)
        if gone:
            del self.objects[key]
            next(self._rv)
            return copy.deepcopy(new)  # the object as the request left it, with the resourceVersion it had
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        self.objects[key] = new
        return copy.deepcopy(new)

    @staticmethod
    def _finished(kind: Kind, obj: dict) -> bool:
        if kind.kind == "Namespace":
            return not (obj.get("spec") or {}).get("finalizers")
        return obj["metadata"].get("deletionGracePeriodSeconds", 0) == 0

    # ---- delete -------------------------------------------------------------------------------
    def _delete(self, kind, namespace, name, sub, req: Request):
        current = self._stored(kind, namespace, name)
        options = req.delete_options
        pre = options.get("preconditions") or {}
        cur_meta = current["metadata"]
        if pre.get("uid") and pre["uid"] != cur_meta["uid"]:
            raise _conflict(kind.qualified_kind, name, f"the UID in the precondition ({pre['uid']}) does not match the "
                            f"UID in record ({cur_meta['uid']}). The object might have been deleted and then recreated",
                            _details(kind, name, kind.kind))
        if pre.get("resourceVersion") and pre["resourceVersion"] != cur_meta["resourceVersion"]:
            raise _conflict(kind.qualified_kind, name, f"the ResourceVersion in the precondition "
                            f"({pre['resourceVersion']}) does not match the ResourceVersion in record "
                            f"({cur_meta['resourceVersion']}). The object might have been modified",
                            _details(kind, name, kind.kind))
        grace = options.get("gracePeriodSeconds")
        grace = None if grace is None else int(grace) if int(grace) >= 0 else 1  # negative means 1, as on the server
        obj = copy.deepcopy(current)
        meta = obj["metadata"]
        key = self._key(kind, meta.get("namespace"), name)
        if kind.kind == "Namespace":
            return self._delete_namespace(obj, key, req)
        if meta.get("deletionTimestamp"):
            period = meta.get("deletionGracePeriodSeconds")
            if period and grace is not None and grace < period:  # only a shorter grace period may be asked for
                meta["deletionGracePeriodSeconds"] = grace
            elif meta.get("finalizers") or period:
                return copy.deepcopy(current)  # already terminating: nothing changes
        else:
            policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else None)
            gc = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(policy)
            if gc and gc not in (meta.get("finalizers") or []):
                meta["finalizers"] = [*(meta.get("finalizers") or []), gc]
            if kind.kind == "Pod":
                spec, phase = obj.get("spec") or {}, (obj.get("status") or {}).get("phase")
                period = grace if grace is not None else spec.get("terminationGracePeriodSeconds", 30)
                if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
                    period = 0
                meta["deletionTimestamp"] = now(period)
                meta["deletionGracePeriodSeconds"] = period
            elif meta.get("finalizers"):
                meta["deletionTimestamp"] = now()
                meta["deletionGracePeriodSeconds"] = 0
            if meta.get("generation") and meta.get("deletionTimestamp"):
                meta["generation"] += 1
        if meta.get("finalizers") or meta.get("deletionGracePeriodSeconds"):
            if not req.dry_run:
                meta["resourceVersion"] = str(next(self._rv))
                self.objects[key] = obj
            return copy.deepcopy(obj)
        if not req.dry_run:
            del self.objects[key]
            next(self._rv)
        if kind.kind in RETURNS_DELETED_OBJECT:
            return obj
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {**_details(kind, name), "uid": meta["uid"]}}

    def _delete_namespace(self, obj: dict, key, req: Request) -> dict:
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {})["phase"] = "Terminating"
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now()
            meta["deletionGracePeriodSeconds"] = 0
        if req.dry_run:
            return obj
        meta["resourceVersion"] = str(next(self._rv))
        self.objects[key] = obj
        return copy.deepcopy(obj)


def already_exists(kind: Kind, name: str) -> ApiStatus:
    return ApiStatus(409, "AlreadyExists", f'{kind.resource} "{name}" already exists', details=_details(kind, name))


def admit_node(node: dict) -> None:
    """The TaintNodesByCondition admission plugin: a new Node starts not ready for scheduling."""
    taints = node.setdefault("spec", {}).setdefault("taints", [])
    if not any(t.get("key") == NOT_READY_TAINT["key"] and t.get("effect") == NOT_READY_TAINT["effect"] for t in taints):
        taints.append(dict(NOT_READY_TAINT))


def scale_of(obj: dict) -> dict:
    """The autoscaling/v1 Scale of a Deployment, ReplicaSet or StatefulSet (zero fields omitted, as in Go)."""
    meta = obj["metadata"]
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    status: dict = {}
    if (obj.get("status") or {}).get("replicas"):
        status["replicas"] = obj["status"]["replicas"]
    selector = selector_string((obj.get("spec") or {}).get("selector"))
    if selector:
        status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": replicas} if replicas else {}, "status": status}


def selector_string(selector: dict | None) -> str:
    """A LabelSelector in the label-selector syntax, requirements sorted by key, as the server prints it."""
    requirements = [(k, f"{k}={v}") for k, v in ((selector or {}).get("matchLabels") or {}).items()]
    for expression in (selector or {}).get("matchExpressions") or []:
        key, op, values = expression.get("key"), expression.get("operator"), sorted(expression.get("values") or [])
        text = {"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key)
        requirements.append((key, text))
    return ",".join(text for _key, text in sorted(requirements, key=lambda r: r[0]))


def _store_key(key: tuple) -> str:
    """etcd's key order: namespace, then name, byte by byte."""
    _gv, _plural, namespace, name = key
    return f"{namespace}/{name}" if namespace is not None else name


def _encode_continue(revision: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start + "\x00"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), data["start"].rstrip("\x00")
    except (ValueError, KeyError, TypeError) as exc:
        raise bad_request(f"invalid continue token: {exc}") from exc


# ---- server-side validation (independent of the collection's own validators) ------------------
_QUALIFIED = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = f"({_QUALIFIED})?"
_DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = rf"{_DNS_LABEL}(\.{_DNS_LABEL})*"
_NAME_RULE = (f"must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
              f"character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{_QUALIFIED}')")
_SUBDOMAIN_RULE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                   f"must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                   f"is '{_DNS_SUBDOMAIN}')")
_DNS_LABEL_RULE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                   "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                   f"validation is '{_DNS_LABEL}')")
_VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
               "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
               f"regex used for validation is '{_LABEL_VALUE}')")


def _subdomain_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 253:
        errors.append("must be no more than 253 characters")
    if not re.fullmatch(_DNS_SUBDOMAIN, value):
        errors.append(_SUBDOMAIN_RULE)
    return errors


# RBAC objects are named by path segment, so "system:controller:..." and "kubeops-platform:taint" are valid.
_RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def _path_segment_errors(value: str) -> list[str]:
    """``path.IsValidPathSegmentName``, the rule for RBAC names."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def qualified_name_errors(value: str) -> list[str]:
    """``validation.IsQualifiedName``: label keys, annotation keys, taint keys."""
    parts = value.split("/")
    if len(parts) > 2:
        return ["a qualified name " + _NAME_RULE + " with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')"]
    errors = []
    name = parts[-1]
    if len(parts) == 2:
        if not parts[0]:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + e for e in _subdomain_errors(parts[0]))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if not re.fullmatch(_QUALIFIED, name):
        errors.append("name part " + _NAME_RULE)
    return errors


def label_value_errors(value: str) -> list[str]:
    """``validation.IsValidLabelValue``."""
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not re.fullmatch(_LABEL_VALUE, value):
        errors.append(_VALUE_RULE)
    return errors


def _meta_errors(kind: Kind, obj: dict) -> list[FieldError]:
    """``ValidateObjectMeta``: the name, labels and annotations."""
    meta = obj.get("metadata") or {}
    errors = []
    name = meta.get("name") or ""
    if not name:
        errors.append(FieldError("FieldValueRequired", "metadata.name", detail="name or generateName is required"))
    elif kind.kind == "Namespace":
        problems = (["must be no more than 63 characters"] if len(name) > 63 else []) + \
            ([] if re.fullmatch(_DNS_LABEL, name) else [_DNS_LABEL_RULE])
        errors.extend(FieldError("FieldValueInvalid", "metadata.name", go_quote(name), p) for p in problems)
    elif kind.kind in _RBAC_KINDS:
        errors.extend(FieldError("FieldValueInvalid", "metadata.name", go_quote(name), p)
                      for p in _path_segment_errors(name))
    else:
        errors.extend(FieldError("FieldValueInvalid", "metadata.name", go_quote(name), p) for p in _subdomain_errors(name))
    labels = meta.get("labels") or {}
    for key in sorted(labels):
        value = labels[key]
        errors.extend(FieldError("FieldValueInvalid", "metadata.labels", go_quote(key), p)
                      for p in qualified_name_errors(key))
        if not isinstance(value, str):
            raise bad_request(f"json: cannot unmarshal {type(value).__name__} into Go struct field "
                              "ObjectMeta.metadata.labels of type string")
        errors.extend(FieldError("FieldValueInvalid", "metadata.labels", go_quote(value), p)
                      for p in label_value_errors(value))
    annotations = meta.get("annotations") or {}
    for key in sorted(annotations):
        errors.extend(FieldError("FieldValueInvalid", "metadata.annotations", go_quote(key), p)
                      for p in qualified_name_errors(key.lower()))
        if not isinstance(annotations[key], str):
            raise bad_request(f"json: cannot unmarshal {type(annotations[key]).__name__} into Go struct field "
                              "ObjectMeta.metadata.annotations of type string")
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > MAX_ANNOTATIONS_BYTES:
        errors.append(FieldError("FieldValueTooLong", "metadata.annotations",
                                 detail=f"must have at most {MAX_ANNOTATIONS_BYTES} bytes"))
    return errors


def _meta_update_errors(new: dict, old: dict) -> list[FieldError]:
    """``ValidateObjectMetaUpdate``: the object meta again, and no new finalizer on a terminating object."""
    meta, old_meta = new.get("metadata") or {}, old.get("metadata") or {}
    errors = []
    if old_meta.get("deletionTimestamp"):
        added = sorted(set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or []))
        if added:
            errors.append(FieldError("FieldValueForbidden", "metadata.finalizers", detail=(
                "no new finalizers can be added if the object is being deleted, found new finalizers "
                "[]string{" + ", ".join(go_quote(f) for f in added) + "}")))
    return errors


def _node_errors(node: dict) -> list[FieldError]:
    """``validateNodeTaints``, at the field path the server uses (``metadata.taints``)."""
    errors, seen = [], set()
    for i, taint in enumerate((node.get("spec") or {}).get("taints") or []):
        path = f"metadata.taints[{i}]"
        key, value, effect = taint.get("key") or "", taint.get("value") or "", taint.get("effect") or ""
        errors.extend(FieldError("FieldValueInvalid", f"{path}.key", go_quote(key), p) for p in qualified_name_errors(key))
        if label_value_errors(value):
            errors.append(FieldError("FieldValueInvalid", f"{path}.value", go_quote(value),
                                     ";".join(label_value_errors(value))))
        if not effect:
            errors.append(FieldError("FieldValueRequired", f"{path}.effect"))
        elif effect not in TAINT_EFFECTS:
            errors.append(FieldError("FieldValueNotSupported", f"{path}.effect", go_quote(effect),
                                     "supported values: " + ", ".join(go_quote(e) for e in TAINT_EFFECTS)))
        if (key, effect) in seen:
            added = taint.get("timeAdded")
            shown = (f"core.Taint{{Key:{go_quote(key)}, Value:{go_quote(value)}, Effect:{go_quote(effect)}, "
                     f"TimeAdded:{'<nil>' if added is None else '(*v1.Time)(0xc000000000)'}}}")
            errors.append(FieldError("FieldValueDuplicate", path, shown, "taints must be unique by key and effect pair"))
            continue
        seen.add((key, effect))
    return errors


def _workload_errors(kind: Kind, obj: dict) -> list[FieldError]:
    """A workload's selector must not be empty and must match its pod template's labels."""
    if kind.kind not in SELECTOR_KINDS:
        return []
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if not selector:
        return [FieldError("FieldValueRequired", "spec.selector")]
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return [FieldError("FieldValueInvalid", "spec.selector", go_label_selector(selector),
                           f"empty selector is invalid for {kind.kind.lower()}")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if not label_selector_matches(selector, labels or {}):
        return [FieldError("FieldValueInvalid", "spec.template.metadata.labels", go_string_map(labels),
                           "`selector` does not match template `labels`")]
    return []


def _spec_errors(kind: Kind, obj: dict) -> list[FieldError]:
    if kind.kind == "Node":
        return _node_errors(obj)
    return _workload_errors(kind, obj)


def _update_errors(kind: Kind, new: dict, old: dict) -> list[FieldError]:
    """The errors of an update in the order and number the server reports them.

    Every update runs the generic object-meta checks twice (``rest.BeforeUpdate``) and then the
    kind's own: ``ValidateNode`` and ``ValidateNodeUpdate`` both check meta and taints; core kinds
    check the meta update rules and the whole new object; apps kinds the meta update rules and
    the spec, then that the selector did not change.
    """
    meta, meta_update = _meta_errors(kind, new), _meta_errors(kind, new) + _meta_update_errors(new, old)
    errors = meta + meta_update
    if kind.kind == "Node":
        errors += meta + _node_errors(new) + meta_update + _node_errors(new)
    elif kind.group == "apps":
        errors += meta_update + _workload_errors(kind, new)
        old_selector = (old.get("spec") or {}).get("selector")
        new_selector = (new.get("spec") or {}).get("selector")
        if kind.kind in SELECTOR_KINDS and old_selector is not None and new_selector != old_selector:
            errors.append(FieldError("FieldValueInvalid", "spec.selector", go_label_selector(new_selector),
                                     "field is immutable"))
    else:
        errors += meta_update + meta + _spec_errors(kind, new)
    return errors


# ---- patch semantics ----------------------------------------------------------------------------
def apply_patch(target: dict, patch, content_type: str | None) -> dict:
    if content_type == "application/merge-patch+json":
        if not isinstance(patch, dict):
            raise bad_request("the patch must be a JSON object")
        return merge_patch(target, patch)
    if content_type == "application/strategic-merge-patch+json":
        if not isinstance(patch, dict):
            raise bad_request("the patch must be a JSON object")
        return strategic_merge(target, copy.deepcopy(patch))
    if content_type == "application/json-patch+json":
        if not isinstance(patch, list):
            raise bad_request("the JSON patch must be a list of operations")
        return json_patch(target, patch)
    raise ApiStatus(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media "
                    "types include: application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml")


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch: objects merge, null deletes, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target, patch, field_name: str | None = None):
    """Kubernetes strategic merge patch (the subset the built-in types here need)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return {}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and (key in SET_LISTS or key in MERGE_KEYS) and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, _merge_key(key, result[key] + value), orders.get(key))
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = strategic_merge(result[key], value, key)
        else:
            result[key] = copy.deepcopy(value)
    for key, order in orders.items():  # an order for a list the patch left unchanged
        if key not in patch and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], [], _merge_key(key, result[key]), order)
    return result


def _merge_key(field_name: str, items: list) -> str | None:
    """The list's merge key; a Service's ports merge by ``port``, a container's by ``containerPort``."""
    if field_name == "ports" and not any(isinstance(i, dict) and "containerPort" in i for i in items):
        return "port"
    return MERGE_KEYS.get(field_name)


def _merge_list(original: list, patch: list, merge_key: str | None, order: list | None) -> list:
    """``mergeSlice``: merge, then put patch items and server-only items in the server's order."""
    ident = (lambda item: item.get(merge_key) if isinstance(item, dict) else item) if merge_key else (lambda item: item)
    merged = [copy.deepcopy(item) for item in original]
    kept = []
    for item in patch:
        if merge_key and isinstance(item, dict) and item.get("$patch") == "delete":
            merged = [m for m in merged if ident(m) != ident(item)]
            continue
        if merge_key and isinstance(item, dict) and item.get("$patch") == "replace":
            return [p for p in patch if not (isinstance(p, dict) and "$patch" in p)]
        kept.append(item)
        index = next((i for i, m in enumerate(merged) if ident(m) == ident(item)), None)
        if index is None:
            merged.append(copy.deepcopy(item))
        elif merge_key:
            merged[index] = strategic_merge(merged[index], item)
    wanted = [ident(i) for i in (order if order is not None else kept)]
    patch_items = sorted((m for m in merged if ident(m) in wanted), key=lambda m: wanted.index(ident(m)))
    server_only = [m for m in merged if ident(m) not in wanted]
    server_order = [ident(i) for i in original]
    result, i, j = [], 0, 0
    while i < len(server_only) or j < len(patch_items):  # mergeSortedSlice
        if j >= len(patch_items):
            result.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            result.append(patch_items[j])
            j += 1
        else:
            left, right = ident(server_only[i]), ident(patch_items[j])
            if left in server_order and right in server_order and server_order.index(left) < server_order.index(right):
                result.append(server_only[i])
                i += 1
            else:
                result.append(patch_items[j])
                j += 1
    return result


def _pointer(doc, path: str):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
    parent = doc
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    return parent, parts[-1]


def json_patch(doc, ops):
    """RFC 6902 JSON patch; a failed ``test`` (or a path that is not there) is 422, as on the server."""
    doc = copy.deepcopy(doc)
    rejected = ApiStatus(422, "Invalid", "the server rejected our request due to an error in our request", details={})
    for op in ops:
        try:
            parent, last = _pointer(doc, op["path"])
            if op["op"] == "test":
                actual = parent[int(last)] if isinstance(parent, list) else parent[last]
                if actual != op["value"]:
                    raise rejected
            elif op["op"] in ("add", "replace"):
                if isinstance(parent, list):
                    index = len(parent) if last == "-" else int(last)
                    if op["op"] == "add":
                        parent.insert(index, copy.deepcopy(op["value"]))
                    else:
                        parent[index] = copy.deepcopy(op["value"])
                else:
                    if op["op"] == "replace" and last not in parent:
                        raise KeyError(last)
                    parent[last] = copy.deepcopy(op["value"])
            elif op["op"] == "remove":
                if isinstance(parent, list):
                    parent.pop(int(last))
                else:
                    del parent[last]
            elif op["op"] in ("move", "copy"):
                source_parent, source_last = _pointer(doc, op["from"])
                value = source_parent[int(source_last)] if isinstance(source_parent, list) else source_parent[source_last]
                if op["op"] == "move":
                    if isinstance(source_parent, list):
                        source_parent.pop(int(source_last))
                    else:
                        del source_parent[source_last]
                parent, last = _pointer(doc, op["path"])
                if isinstance(parent, list):
                    parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(value))
                else:
                    parent[last] = copy.deepcopy(value)
            else:
                raise rejected
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise rejected from exc
    return doc


# ---- selectors ----------------------------------------------------------------------------------
class Selector:
    """A parsed label selector: requirements (key, operator, values), all of which must match."""

    def __init__(self, requirements: list[tuple[str, str, list[str]]]):
        self.requirements = requirements

    def matches(self, labels: dict) -> bool:
        for key, op, values in self.requirements:
            present = key in labels
            if op in ("in", "=", "=="):
                ok = present and labels[key] in values
            elif op in ("notin", "!="):
                ok = not present or labels[key] not in values
            elif op == "exists":
                ok = present
            elif op == "!":
                ok = not present
            else:  # gt, lt
                try:
                    ok = present and (int(labels[key]) > int(values[0]) if op == "gt" else int(labels[key]) < int(values[0]))
                except ValueError:
                    ok = False
            if not ok:
                return False
        return True


_SPECIAL = "=!(),><"
_TOKENS = {")": "closedpar", ",": "comma", "!": "not", "==": "doubleeq", "=": "eq", ">": "gt", "in": "in", "<": "lt",
           "!=": "neq", "notin": "notin", "(": "openpar"}


def _lex(selector: str) -> list[tuple[str, str]]:
    """The label-selector lexer of the server: (token, literal) pairs ending with ("end", "")."""
    items, pos = [], 0
    while True:
        while pos < len(selector) and selector[pos] in " \t\r\n":
            pos += 1
        if pos >= len(selector):
            items.append(("end", ""))
            return items
        if selector[pos] in _SPECIAL:
            buffer, last = "", None
            while pos < len(selector) and selector[pos] in _SPECIAL:
                buffer += selector[pos]
                if buffer in _TOKENS:
                    last = (_TOKENS[buffer], buffer)
                    pos += 1
                elif last:
                    break
                else:
                    pos += 1
            items.append(last or ("error", f"error expected: keyword found '{buffer}'"))
        else:
            start = pos
            while pos < len(selector) and selector[pos] not in _SPECIAL and selector[pos] not in " \t\r\n":
                pos += 1
            word = selector[start:pos]
            items.append((_TOKENS.get(word, "id") if word in ("in", "notin") else "id", word))


def parse_selector(selector: str) -> Selector:
    """``labels.Parse``; a syntax error is the server's 400 with its message."""
    items, position = _lex(selector or ""), 0

    def look(values=True):
        tok, lit = items[position]
        return ("id" if values and tok in ("in", "notin") else tok), lit

    def take(values=True):
        nonlocal position
        tok, lit = look(values)
        position += 1
        return tok, lit

    def requirement():
        op = None
        tok, lit = take()
        if tok == "not":
            op = "!"
            tok, lit = take()
        if tok != "id":
            raise ValueError(f"found '{lit}', expected: identifier")
        key = lit
        problems = qualified_name_errors(key)
        if problems:
            raise ValueError(f"<nil>: Invalid value: {go_quote(key)}: {'; '.join(problems)}")
        if op == "!" or look()[0] in ("end", "comma"):
            return key, op or "exists", []
        tok, lit = take(values=False)
        ops = {"in": "in", "notin": "notin", "eq": "=", "doubleeq": "==", "neq": "!=", "gt": "gt", "lt": "lt"}
        if tok not in ops:
            raise ValueError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        op = ops[tok]
        if op in ("in", "notin"):
            values = set_values()
        else:
            tok, lit = look()
            if tok in ("end", "comma"):
                values = [""]
            else:
                tok, lit = take()
                if tok != "id":
                    raise ValueError(f"found '{lit}', expected: identifier")
                values = [lit]
        for index, value in enumerate(sorted(set(values))):
            problems = label_value_errors(value)
            if problems:
                raise ValueError(f"values[{index}][{key}]: Invalid value: {go_quote(value)}: {'; '.join(problems)}")
        if op in ("gt", "lt"):
            try:
                int(values[0])
            except ValueError:
                raise ValueError(f"values[0]: Invalid value: {go_quote(values[0])}: for 'Gt', 'Lt' operators, "
                                 "the value must be an integer") from None
        return key, op, values

    def set_values():
        tok, lit = take()
        if tok != "openpar":
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = look()
        if tok == "closedpar":
            take()
            return [""]
        if tok not in ("id", "comma"):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        values: list[str] = []
        while True:
            tok, lit = take()
            if tok == "id":
                values.append(lit)
                tok2, lit2 = look()
                if tok2 == "comma":
                    continue
                if tok2 == "closedpar":
                    take()
                    return values
                raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            if tok == "comma":
                if not values:
                    values.append("")
                tok2, _lit2 = look()
                if tok2 == "closedpar":
                    values.append("")
                    take()
                    return values
                if tok2 == "comma":
                    values.append("")
                continue
            raise ValueError(f"found '{lit}', expected: ',', or identifier")

    requirements = []
    try:
        while True:
            tok, lit = look()
            if tok in ("id", "not"):
                requirements.append(requirement())
                tok, lit = take()
                if tok == "end":
                    break
                if tok != "comma":
                    raise bad_request(f"found '{lit}', expected: ',' or 'end of string'")
                tok2, lit2 = look()
                if tok2 not in ("id", "not"):
                    raise bad_request(f"found '{lit2}', expected: identifier after ','")
            elif tok == "end":
                break
            else:
                raise bad_request(f"found '{lit}', expected: !, identifier, or 'end of string'")
    except ValueError as exc:
        raise bad_request(f"unable to parse requirement: {exc}") from exc
    return Selector(requirements)


def match_labels(labels: dict, selector: str) -> bool:
    return parse_selector(selector).matches(labels)


def label_selector_matches(selector: dict, labels: dict) -> bool:
    """Whether a LabelSelector (matchLabels, matchExpressions) matches ``labels``."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and key in labels and labels[key] in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def parse_field_selector(selector: str) -> list[tuple[str, str, str]]:
    requirements = []
    for requirement in filter(None, (selector or "").split(",")):
        match = re.match(r"^([\w.\-/]+)\s*(==|=|!=)\s*(.*)$", requirement)
        if not match:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{requirement}'")
        requirements.append(match.groups())
    return requirements


def match_fields(obj: dict, selector) -> bool:
    requirements = parse_field_selector(selector) if isinstance(selector, str) else selector
    for path, op, value in requirements:
        actual = obj
        for part in path.split("."):
            actual = (actual or {}).get(part) if isinstance(actual, dict) else None
        actual = "" if actual is None else str(actual).lower() if isinstance(actual, bool) else str(actual)
        if (actual == value) != (op != "!="):
            return False
    return True


def now(offset_seconds: int = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the same fake over real HTTP, for transport tests -------------------------------------------
def serve_http(fake: FakeKube, expect_token: str | None = None, tls=None):
    """Serve ``fake`` on 127.0.0.1; returns (server, base_url). Call server.shutdown() after.

    Each connection is served by its own thread. ``tls`` is an ``ssl.SSLContext`` for HTTPS
    (require client certificates in it to test mTLS).
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # headers and body go out in two writes: without this, Nagle's algorithm holds the body
            # back until the client's delayed ACK, some 40 ms per answer
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if expect_token and self.headers.get("Authorization") != f"Bearer {expect_token}":
                reply = Reply(401, "Unauthorized", {"Content-Type": "application/json"}, json.dumps(
                    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": "Unauthorized", "reason": "Unauthorized", "code": 401}).encode())
            else:  # through request(), which a subclass may wrap (authorization, say)
                status, reason, data = fake.request(self.command, self.path, list(self.headers.items()), body)
                headers = getattr(data, "headers", None) or {"Content-Type": "application/json"}
                reply = Reply(status, reason, headers, bytes(data))
            self.send_response(reply.status, reply.reason)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a client that hangs up or refuses the certificate is what transport tests do

    server = Server(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"
