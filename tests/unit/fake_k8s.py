"""An in-memory Kubernetes API server for unit tests.

It speaks the REST protocol at the transport level (method, path, query, JSON bytes),
so the collection's real client, serialization and error handling run unchanged.
It keeps the API server semantics the collection relies on:

- every write bumps a global resourceVersion; a write that changes nothing keeps it;
- a write carrying a stale metadata.resourceVersion gets 409 Conflict;
- dryRun=All validates and answers like a write, but stores nothing;
- missing objects answer 404, invalid labels, annotations and taints 422;
- merge patch (RFC 7386), strategic merge patch (merge keys, finalizers as a set)
  and JSON patch (RFC 6902, including ``test``) differ as they do on a real server;
- DELETE of an object with finalizers only sets deletionTimestamp; it goes once they are cleared,
  and no new finalizer may be added while it is terminating;
- graceful pod deletion leaves the pod terminating until :meth:`FakeKube.kubelet_sync`, unless the
  grace period is 0; DELETE honours resourceVersion and uid preconditions;
- a create may not carry metadata.resourceVersion (or, for a Pod, ephemeral containers) and never
  sets status: a new Pod starts Pending, a new workload with an empty status.

Workload controllers, a scheduler and a kubelet that drive rollouts live in ``fake_workloads.py``.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

# (group/version, kind, plural, namespaced)
BUILTIN_KINDS = [
    ("v1", "Node", "nodes", False),
    ("v1", "Namespace", "namespaces", False),
    ("v1", "PersistentVolume", "persistentvolumes", False),
    ("v1", "Pod", "pods", True),
    ("v1", "Service", "services", True),
    ("v1", "ConfigMap", "configmaps", True),
    ("v1", "Secret", "secrets", True),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    ("v1", "Event", "events", True),
    ("apps/v1", "Deployment", "deployments", True),
    ("apps/v1", "StatefulSet", "statefulsets", True),
    ("apps/v1", "DaemonSet", "daemonsets", True),
    ("apps/v1", "ReplicaSet", "replicasets", True),
    ("batch/v1", "Job", "jobs", True),
]

# Strategic merge patch: list fields merged by key (others are replaced).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
    "volumeMounts": "mountPath", "ports": "containerPort", "imagePullSecrets": "name",
}
SET_LISTS = {"finalizers"}

QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
TAINT_EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


@dataclass
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool


@dataclass
class Request:
    method: str
    path: str
    query: dict
    content_type: str | None
    body: object
    headers: dict = field(default_factory=dict)

    @property
    def dry_run(self) -> bool:
        # As the API server does: a DELETE with a body takes dryRun from its DeleteOptions only.
        if self.method == "DELETE" and isinstance(self.body, dict):
            return "All" in (self.body.get("dryRun") or [])
        return self.query.get("dryRun") == "All"


class ApiStatus(Exception):
    def __init__(self, code: int, reason: str, message: str, causes: list | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.causes = code, reason, message, causes or []

    def body(self) -> dict:
        details = {"causes": self.causes} if self.causes else {}
        return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": self.message,
                "reason": self.reason, "code": self.code, "details": details}


REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           415: "Unsupported Media Type", 422: "Unprocessable Entity"}


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
        self._rv = itertools.count(1000)
        self._lock = threading.RLock()

    # ---- test helpers -------------------------------------------------------------------------
    def register_kind(self, api_version: str, kind: str, plural: str, namespaced: bool) -> None:
        self.kinds[(api_version, plural)] = Kind(api_version, kind, plural, namespaced)

    def add(self, obj: dict) -> dict:
        """Create an object as if someone else had (no request logged)."""
        kind = self._kind_of(obj)
        stored = self._create(kind, copy.deepcopy(obj), obj["metadata"].get("namespace"))
        return copy.deepcopy(stored)

    def node(self, name: str, labels: dict | None = None, taints: list | None = None) -> dict:
        spec = {"taints": taints} if taints else {}
        return self.add({"apiVersion": "v1", "kind": "Node",
                         "metadata": {"name": name, "labels": labels or {}}, "spec": spec})

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        for (api_version, plural, ns, obj_name), obj in self.objects.items():
            if self.kinds[(api_version, plural)].kind == kind and obj_name == name and ns == namespace:
                return copy.deepcopy(obj)
        return None

    def edit(self, kind: str, name: str, namespace: str | None = None, change=None) -> dict:
        """Change an object out of band (another client), bumping its resourceVersion."""
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

    # ---- transport interface ------------------------------------------------------------------
    def request(self, method: str, target: str, headers, body: bytes | None):
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        header_map = {}
        for name, value in headers:
            header_map.setdefault(name.lower(), []).append(value)
        content_type = (header_map.get("content-type") or [None])[0]
        req = Request(method, unquote(url.path), query, content_type,
                      json.loads(body) if body else None, header_map)
        with self._lock:
            self.log.append(req)
            try:
                for hook in list(self.before_request):
                    hook(self, req)  # may change state, or raise ApiStatus to answer with an error
                status, payload = self._handle(req)
            except ApiStatus as exc:
                status, payload = exc.code, exc.body()
        return status, REASONS.get(status, "OK"), json.dumps(payload).encode()

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
            raise ApiStatus(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return 200, self._discovery(api_version)
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and (api_version, rest[2]) in self.kinds:
            namespace, rest = rest[1], rest[2:]
        kind = self.kinds.get((api_version, rest[0]))
        if kind is None:
            raise ApiStatus(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if name is None:
            if req.method == "GET":
                return 200, self._list(kind, namespace, req.query)
            if req.method == "POST":
                return 201, self._post(kind, namespace, req)
            raise ApiStatus(405, "MethodNotAllowed", f"{req.method} is not allowed on a collection")
        handler = {"GET": self._get, "PATCH": self._patch, "PUT": self._put, "DELETE": self._delete}.get(req.method)
        if handler is None:
            raise ApiStatus(405, "MethodNotAllowed", f"{req.method} is not allowed")
        return 200, handler(kind, namespace, name, sub, req)

    def _discovery(self, api_version: str) -> dict:
        resources = [{"name": k.plural, "kind": k.kind, "namespaced": k.namespaced,
                      "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                     for (gv, _plural), k in self.kinds.items() if gv == api_version]
        if not resources:
            raise ApiStatus(404, "NotFound", "the server could not find the requested resource")
        return {"kind": "APIResourceList", "groupVersion": api_version, "resources": resources}

    # ---- verbs --------------------------------------------------------------------------------
    def _key(self, kind: Kind, namespace: str | None, name: str):
        return (kind.api_version, kind.plural, namespace if kind.namespaced else None, name)

    def _stored(self, kind: Kind, namespace, name) -> dict:
        obj = self.objects.get(self._key(kind, namespace, name))
        if obj is None:
            raise ApiStatus(404, "NotFound", f'{kind.plural} "{name}" not found')
        return obj

    def _get(self, kind, namespace, name, sub, req):
        return copy.deepcopy(self._stored(kind, namespace, name))

    def _list(self, kind: Kind, namespace, query) -> dict:
        selector = query.get("labelSelector", "")
        fields = query.get("fieldSelector", "")
        items = []
        for (gv, plural, ns, _name), obj in sorted(self.objects.items(), key=lambda kv: (kv[0][2] or "", kv[0][3])):
            if (gv, plural) != (kind.api_version, kind.plural) or (namespace and ns != namespace):
                continue
            if not match_labels(obj["metadata"].get("labels") or {}, selector):
                continue
            if not match_fields(obj, fields):
                continue
            item = copy.deepcopy(obj)
            item.pop("apiVersion", None)
            item.pop("kind", None)
            items.append(item)
        return {"kind": f"{kind.kind}List", "apiVersion": kind.api_version,
                "metadata": {"resourceVersion": str(next(self._rv))}, "items": items}

    def _post(self, kind: Kind, namespace, req: Request) -> dict:
        obj = copy.deepcopy(req.body)
        if not isinstance(obj, dict) or obj.get("kind") != kind.kind:
            raise ApiStatus(400, "BadRequest", f"the body must be a {kind.kind}")
        meta = obj.get("metadata") or {}
        if meta.get("resourceVersion"):
            raise ApiStatus(500, "InternalError", "Internal error occurred: resourceVersion should not be set on "
                                                  "objects to be created")
        if kind.kind == "Pod" and (obj.get("spec") or {}).get("ephemeralContainers"):
            raise _invalid(kind, meta.get("name") or "", [("spec.ephemeralContainers", "Forbidden: cannot be set on create")])
        # A create never sets status: the API server resets it (a new pod starts Pending).
        if kind.kind == "Pod":
            obj["status"] = {"phase": "Pending"}
        elif kind.kind in WORKLOAD_KINDS:
            obj["status"] = {}
        if req.dry_run:
            probe = copy.deepcopy(obj)
            self._prepare_new(kind, probe, namespace)
            return probe
        return copy.deepcopy(self._create(kind, obj, namespace))

    def _prepare_new(self, kind: Kind, obj: dict, namespace) -> None:
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if kind.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
            if self.get("Namespace", meta["namespace"]) is None and self._has_namespaces():
                raise ApiStatus(404, "NotFound", f'namespaces "{meta["namespace"]}" not found')
        else:
            meta.pop("namespace", None)
        validate(kind, obj)
        if self._key(kind, meta.get("namespace"), name) in self.objects:
            raise ApiStatus(409, "AlreadyExists", f'{kind.plural} "{name}" already exists')
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta.pop("resourceVersion", None)
        if kind.kind in WORKLOAD_KINDS:
            meta["generation"] = 1

    def _has_namespaces(self) -> bool:
        return any(k[1] == "namespaces" for k in self.objects)

    def _create(self, kind: Kind, obj: dict, namespace) -> dict:
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.kind)
        self._prepare_new(kind, obj, namespace)
        obj["metadata"]["resourceVersion"] = str(next(self._rv))
        self.objects[self._key(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj
        return obj

    def _patch(self, kind, namespace, name, sub, req: Request):
        current = self._stored(kind, namespace, name)
        patched = copy.deepcopy(current)
        if req.content_type == "application/merge-patch+json":
            patched = merge_patch(patched, req.body)
        elif req.content_type == "application/strategic-merge-patch+json":
            patched = strategic_merge(patched, req.body)
        elif req.content_type == "application/json-patch+json":
            patched = json_patch(patched, req.body)
        else:
            raise ApiStatus(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {req.content_type}")
        return self._update(kind, current, patched, req, sub)

    def _put(self, kind, namespace, name, sub, req: Request):
        current = self._stored(kind, namespace, name)
        new = copy.deepcopy(req.body)
        if not (new.get("metadata") or {}).get("resourceVersion"):
            raise ApiStatus(422, "Invalid", f'{kind.kind} "{name}" is invalid: metadata.resourceVersion: '
                                            "Invalid value: 0x0: must be specified for an update")
        if sub == "finalize" and kind.kind == "Namespace":
            merged = copy.deepcopy(current)
            merged["spec"] = new.get("spec") or {}
            merged["metadata"]["resourceVersion"] = new["metadata"]["resourceVersion"]
            new = merged
        return self._update(kind, current, new, req, sub)

    def _update(self, kind: Kind, current: dict, new: dict, req: Request, sub) -> dict:
        meta, old_meta = new.setdefault("metadata", {}), current["metadata"]
        name = old_meta["name"]
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != old_meta["resourceVersion"]:
            raise ApiStatus(409, "Conflict", f'Operation cannot be fulfilled on {kind.plural} "{name}": the object '
                                             "has been modified; please apply your changes to the latest version and try again")
        for immutable in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"):
            if old_meta.get(immutable) is not None:
                meta[immutable] = old_meta[immutable]
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise ApiStatus(422, "Invalid", f'{kind.kind} "{name}" is invalid: metadata.finalizers: Forbidden: '
                                                "no new finalizers can be added if the object is being deleted")
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if kind.kind in WORKLOAD_KINDS and new.get("spec") != current.get("spec"):
            meta["generation"] = old_meta.get("generation", 1) + 1
        validate(kind, new)
        if new == current:
            return copy.deepcopy(current)  # a no-op write keeps the resourceVersion
        if req.dry_run:
            return new
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        key = self._key(kind, old_meta.get("namespace"), name)
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and self._finished(kind, new):
            del self.objects[key]
        else:
            self.objects[key] = new
        return copy.deepcopy(new)

    def _finished(self, kind: Kind, obj: dict) -> bool:
        if kind.kind == "Namespace":
            return not (obj.get("spec") or {}).get("finalizers")
        if kind.kind == "Pod":
            return obj["metadata"].get("deletionGracePeriodSeconds", 0) == 0
        return True

    def _delete(self, kind, namespace, name, sub, req: Request):
        current = self._stored(kind, namespace, name)
        options = req.body or {}
        grace = req.query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        pre = options.get("preconditions") or {}
        if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise ApiStatus(409, "Conflict", f'Operation cannot be fulfilled on {kind.plural} "{name}": '
                                             "the ResourceVersion in the precondition does not match")
        if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
            raise ApiStatus(409, "Conflict", f"Precondition failed: UID in precondition: {pre['uid']}, "
                                             f"UID in object meta: {current['metadata']['uid']}")
        obj = copy.deepcopy(current)
        meta = obj["metadata"]
        graceful = kind.kind == "Pod" and (obj.get("spec") or {}).get("nodeName") and grace not in (0, "0")
        if kind.kind == "Namespace":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {})["phase"] = "Terminating"
        if meta.get("finalizers") or graceful or kind.kind == "Namespace":
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now()
                meta["deletionGracePeriodSeconds"] = int(grace) if graceful and grace is not None else (30 if graceful else 0)
            elif grace in (0, "0"):
                meta["deletionGracePeriodSeconds"] = 0
            if req.dry_run:
                return obj
            meta["resourceVersion"] = str(next(self._rv))
            key = self._key(kind, meta.get("namespace"), name)
            if not meta.get("finalizers") and self._finished(kind, obj):
                del self.objects[key]
            else:
                self.objects[key] = obj
            return copy.deepcopy(obj)
        if not req.dry_run:
            del self.objects[self._key(kind, meta.get("namespace"), name)]
        return obj

    def _kind_of(self, obj: dict) -> Kind:
        for (gv, _plural), kind in self.kinds.items():
            if gv == obj.get("apiVersion") and kind.kind == obj.get("kind"):
                return kind
        raise KeyError(f"unknown kind {obj.get('apiVersion')}/{obj.get('kind')}")


# ---- server-side validation (independent of the collection's own validators) ------------------
def _invalid(kind: Kind, name: str, causes: list[tuple[str, str]]):
    text = ", ".join(f"{f}: {m}" for f, m in causes)
    return ApiStatus(422, "Invalid", f'{kind.kind} "{name}" is invalid: {text}',
                     [{"field": f, "message": m} for f, m in causes])


def _qualified_name_errors(key: str) -> str | None:
    prefix, _slash, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return "prefix part must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not QUALIFIED_NAME.match(name):
        return "name part must consist of alphanumeric characters, '-', '_' or '.', at most 63 characters"
    return None


def validate(kind: Kind, obj: dict) -> None:
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    causes = []
    if not name or len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        causes.append(("metadata.name", f"Invalid value: {name!r}: a lowercase RFC 1123 subdomain must consist of "
                                        "lower case alphanumeric characters, '-' or '.'"))
    for key, value in (meta.get("labels") or {}).items():
        problem = _qualified_name_errors(key)
        if problem:
            causes.append(("metadata.labels", f"Invalid value: {key!r}: {problem}"))
        if not isinstance(value, str) or len(value) > 63 or (value and not QUALIFIED_NAME.match(value)):
            causes.append(("metadata.labels", f"Invalid value: {value!r}: a valid label must be an empty string "
                                              "or consist of alphanumeric characters, '-', '_' or '.'"))
    annotations = meta.get("annotations") or {}
    for key, value in annotations.items():
        problem = _qualified_name_errors(key)
        if problem:
            causes.append(("metadata.annotations", f"Invalid value: {key!r}: {problem}"))
        if not isinstance(value, str):
            causes.append(("metadata.annotations", f"Invalid value: {value!r}: must be a string"))
    size = sum(len(k) + len(str(v)) for k, v in annotations.items())
    if size > 256 * 1024:
        causes.append(("metadata.annotations", f"Too long: must have at most 262144 bytes (got {size})"))
    if kind.kind == "Node":
        seen = set()
        for i, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
            if taint.get("effect") not in TAINT_EFFECTS:
                causes.append((f"spec.taints[{i}].effect", f"Unsupported value: {taint.get('effect')!r}"))
            problem = _qualified_name_errors(taint.get("key") or "")
            if problem:
                causes.append((f"spec.taints[{i}].key", problem))
            pair = (taint.get("key"), taint.get("effect"))
            if pair in seen:
                causes.append((f"spec.taints[{i}]", "Duplicate value: taints must be unique by key and effect pair"))
            seen.add(pair)
    if causes:
        raise _invalid(kind, name, causes)


# ---- patch semantics ----------------------------------------------------------------------------
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
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: v for k, v in patch.items() if k != "$patch"}
        result = dict(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$deleteFromPrimitiveList/"):
                name = key.split("/", 1)[1]
                result[name] = [v for v in result.get(name) or [] if v not in value]
            elif value is None:
                result.pop(key, None)
            else:
                result[key] = strategic_merge(result.get(key), value, key)
        return result
    if isinstance(patch, list) and field_name in SET_LISTS:
        merged = list(target or [])
        merged.extend(v for v in patch if v not in merged)
        return merged
    if isinstance(patch, list) and field_name in MERGE_KEYS and isinstance(target, list):
        key = MERGE_KEYS[field_name]
        merged = [copy.deepcopy(item) for item in target]
        for item in patch:
            index = next((i for i, old in enumerate(merged) if old.get(key) == item.get(key)), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    merged.pop(index)
            elif index is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[index] = strategic_merge(merged[index], item)
        return merged
    return copy.deepcopy(patch)


def _pointer(doc, path: str):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
    parent = doc
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    return parent, parts[-1]


def json_patch(doc, ops):
    """RFC 6902 JSON patch; a failed ``test`` (or a path that is not there) is a 422, as on the server."""
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            parent, last = _pointer(doc, op["path"])
            if op["op"] == "test":
                actual = parent[int(last)] if isinstance(parent, list) else parent[last]
                if actual != op["value"]:
                    raise ApiStatus(422, "Invalid", f"the server rejected our request due to an error in our request: "
                                                    f"testing value {op['path']} failed")
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
            else:
                raise ApiStatus(422, "Invalid", f"unsupported JSON patch operation {op['op']!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiStatus(422, "Invalid", f"the server rejected our request due to an error in our request: "
                                            f"path {op.get('path')} not found ({exc})") from exc
    return doc


# ---- selectors ----------------------------------------------------------------------------------
_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[^\s!=,()]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)|\s(?P<set>in|notin)\s*\((?P<values>[^()]*)\))?\s*$"
)


def _split_requirements(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def match_labels(labels: dict, selector: str) -> bool:
    for requirement in _split_requirements(selector or ""):
        m = _REQUIREMENT.match(requirement)
        if not m:
            raise ApiStatus(400, "BadRequest", f"unable to parse requirement: {requirement!r}")
        key = m["key"]
        if m["neg"]:
            ok = key not in labels
        elif m["op"] in ("=", "=="):
            ok = labels.get(key) == m["value"]
        elif m["op"] == "!=":
            ok = labels.get(key) != m["value"]
        elif m["set"]:
            values = {v.strip() for v in m["values"].split(",")}
            ok = (labels.get(key) in values) if m["set"] == "in" else (labels.get(key) not in values)
        else:
            ok = key in labels
        if not ok:
            return False
    return True


def match_fields(obj: dict, selector: str) -> bool:
    for requirement in filter(None, (selector or "").split(",")):
        path, op, value = re.match(r"^([\w.]+)(==|=|!=)(.*)$", requirement).groups()
        actual = obj
        for part in path.split("."):
            actual = (actual or {}).get(part) if isinstance(actual, dict) else None
        actual = "" if actual is None else str(actual)
        if (actual == value) != (op != "!="):
            return False
    return True


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the same fake over real HTTP, for transport tests -------------------------------------------
def serve_http(fake: FakeKube, expect_token: str | None = None, tls=None):
    """Serve ``fake`` on 127.0.0.1; returns (server, base_url). Call server.shutdown() after.

    ``tls`` is an ``ssl.SSLContext`` for HTTPS (require client certificates in it to test mTLS).
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if expect_token and self.headers.get("Authorization") != f"Bearer {expect_token}":
                status, reason, data = 401, "Unauthorized", json.dumps(
                    {"kind": "Status", "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized",
                     "code": 401}).encode()
            else:
                status, reason, data = fake.request(self.command, self.path, list(self.headers.items()), body)
            self.send_response(status, reason)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"
