# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why something in a namespace does not work: the diagnosis engine behind the doctor module.

The engine reads only a :class:`Snapshot`: lists of objects per kind, each read at most once
(one LIST), fetched lazily so a check that is not needed costs no request. A snapshot is built
from a client (the doctor module) or from objects already at hand (``k8s_info`` results in a
role), so every caller gets the same findings from the same code.

A finding is a dict: ``object`` (kind, namespace, name), ``problem`` (a code of
:mod:`._problems`), ``severity``, ``summary`` (one line naming the object), ``evidence`` (the
facts behind it: event messages, container states, labels, numbers) and ``fix``; pod findings
carry ``owner`` (the top controller) and container findings ``container``.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from ansible_collections.kubeops.platform.plugins.module_utils import _scheduling as sched
from ansible_collections.kubeops.platform.plugins.module_utils._owners import Owners, controller_ref, uid
from ansible_collections.kubeops.platform.plugins.module_utils._problems import ERROR, PROBLEMS, WARNING
from ansible_collections.kubeops.platform.plugins.module_utils._pods import describe_pods, is_ready, pod_problem
from ansible_collections.kubeops.platform.plugins.module_utils._rollout import rollout_status
from ansible_collections.kubeops.platform.plugins.module_utils._selectors import normalize_selector, selector_match

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
TARGET_KINDS = WORKLOAD_KINDS + ("Service", "PersistentVolumeClaim", "Pod")
MAX_LOG_READS = 10  # per diagnosis: the one kind of request made per object
LOG_LINES = 20
STUCK_AFTER = 300  # seconds past a deleted pod's grace period before it counts as stuck
SHOWN = 3  # examples named in a summary line
# Labels controllers add to pods; they say nothing about why a selector does not match.
CONTROLLER_LABELS = ("pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
                     "apps.kubernetes.io/pod-index", "controller-uid", "job-name", "batch.kubernetes.io/controller-uid",
                     "batch.kubernetes.io/job-name", "batch.kubernetes.io/job-completion-index")
IMAGE_PULL = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable",
              "SignatureValidationFailed")
START_ERRORS = ("CreateContainerError", "RunContainerError", "StartError", "ContainerCannotRun", "PreStartHookError",
                "PostStartHookError")
IPAM_MARKERS = ("ipam allocated only", "no ip addresses available", "failed to allocate for range",
                "failed to assign an ip address", "no available addresses", "cannot allocate new block")
DEFAULT_CLASS = ("storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class")
EXIT_CODES = {0: "the process ended successfully, but this container must keep running",
              1: "the application exited with an error", 2: "the shell or application reported a usage error",
              126: "the command is not executable", 127: "the command was not found",
              137: "killed (SIGKILL): out of memory or by the kubelet", 139: "segmentation fault (SIGSEGV)",
              143: "terminated (SIGTERM)"}
_MISSING_REF = re.compile(r"(secret|configmap)s? \"([^\"]+)\" not found", re.I)
_MISSING_KEY = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) ([^/\s]+)/(\S+)", re.I)
_CLASS_NOT_FOUND = re.compile(r"storageclass\.storage\.k8s\.io \"([^\"]+)\" not found")
_SEVERITY_RANK = {ERROR: 0, WARNING: 1}
_KIND_RANK = {kind: i for i, kind in enumerate(("Service",) + WORKLOAD_KINDS + ("Pod", "PersistentVolumeClaim"))}


class Unavailable(Exception):
    """A kind cannot be read (forbidden, not served): the checks that need it say less instead of failing."""


@dataclass
class Scope:
    """What to diagnose: a kind (None: everything), narrowed to the named objects plus the selector's matches."""

    kind: str | None = None
    names: list[str] = field(default_factory=list)
    selector: str | None = None  # kubectl syntax; None or "" does not narrow
    namespace: str | None = None  # None: every namespace


class Snapshot:
    """The objects a diagnosis looks at, per kind, each kind read at most once.

    ``objects`` maps kinds to lists already at hand; ``fetch(kind)`` reads the others (one LIST)
    and raises :class:`Unavailable` when it cannot. ``read_log(pod, container, previous, lines)``
    returns log text; at most ``max_log_reads`` are made.
    """

    def __init__(self, objects: dict[str, list] | None = None, fetch: Callable[[str], list] | None = None,
                 read_log: Callable[[dict, str, bool, int], str] | None = None, now: datetime | None = None,
                 max_log_reads: int = MAX_LOG_READS, log_lines: int = LOG_LINES):
        self._objects = {kind: list(items or []) for kind, items in (objects or {}).items()}
        self._fetch = fetch
        self._read_log = read_log
        self.now = now or datetime.now(timezone.utc)
        self.max_log_reads = max_log_reads
        self.log_lines = log_lines
        self.log_reads = 0
        self.logs_skipped = 0
        self.unavailable: dict[str, str] = {}

    def list(self, kind: str) -> list[dict]:
        if kind in self._objects:
            return self._objects[kind]
        if kind not in self.unavailable:
            if self._fetch is None:
                self.unavailable[kind] = ""
            else:
                try:
                    self._objects[kind] = list(self._fetch(kind))
                    return self._objects[kind]
                except Unavailable as exc:
                    self.unavailable[kind] = str(exc)
        return []

    def has(self, kind: str) -> bool:
        self.list(kind)
        return kind not in self.unavailable

    def log_tail(self, pod: dict, container: str, previous: bool) -> dict:
        """``{log_tail: [...]}``, ``{log_error: ...}`` or ``{}`` (no reader, or the cap is reached)."""
        if self._read_log is None:
            return {}
        if self.log_reads >= self.max_log_reads:
            self.logs_skipped += 1
            return {}
        self.log_reads += 1
        try:
            text = self._read_log(pod, container, previous, self.log_lines)
        except Exception as exc:  # a log that cannot be read is one more fact, never a failure
            return {"log_error": str(exc)}
        lines = [line for line in text.splitlines() if line.strip()]
        return {"log_tail": lines[-self.log_lines:]}


# ---- small helpers --------------------------------------------------------------------------------
def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def _status(obj: dict) -> dict:
    return obj.get("status") or {}


def _ns_name(obj: dict) -> tuple:
    return _meta(obj).get("namespace"), _meta(obj).get("name")


def _time(text) -> datetime | None:
    if not text or not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _event_time(event: dict) -> str:
    series = event.get("series") or {}
    return (event.get("lastTimestamp") or series.get("lastObservedTime") or event.get("eventTime")
            or event.get("firstTimestamp") or _meta(event).get("creationTimestamp") or "")


def _event_moment(event: dict) -> datetime:
    # eventTime has microseconds, lastTimestamp none: compare instants, not strings.
    return _time(_event_time(event)) or datetime.min.replace(tzinfo=timezone.utc)


def _event_count(event: dict) -> int:
    return int((event.get("series") or {}).get("count") or event.get("count") or 1)


def _labels_text(labels: dict) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items())) or "(no labels)"


def _names(items: list[str], shown: int = SHOWN) -> str:
    text = ", ".join(items[:shown])
    return text + (f" and {len(items) - shown} more" if len(items) > shown else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _short(text: str, limit: int = 240) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_live(pod: dict) -> bool:
    return not _meta(pod).get("deletionTimestamp") and _status(pod).get("phase") not in ("Succeeded", "Failed")


def _claims(pod: dict) -> list[str]:
    return [v["persistentVolumeClaim"]["claimName"] for v in _spec(pod).get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")]


def _container_spec(pod: dict, name: str) -> dict:
    spec = _spec(pod)
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if container.get("name") == name:
            return container
    return {}


# ---- the engine -----------------------------------------------------------------------------------
class Diagnosis:
    """One run over a snapshot: findings, what was checked, names not found, notes."""

    def __init__(self, snapshot: Snapshot, scope: Scope | None = None):
        self.snap = snapshot
        self.scope = scope or Scope()
        self.findings: dict[tuple, dict] = {}
        self._checked: dict[str, set] = defaultdict(set)
        self.missing: list[str] = []
        self.notes: list[str] = []
        self._selector = normalize_selector(self.scope.selector) if self.scope.selector else None
        self._pod_findings: dict[str, list[dict]] = {}
        self._pvc_findings: dict[tuple, list[dict]] = {}
        self._events = None
        self._owners = None
        self._pods_by_ns = None

    # ---- indexes (each built once, from one list) ----
    def events(self, kind: str, obj: dict, reason: str | None = None) -> list[dict]:
        if self._events is None:
            self._events = defaultdict(list)
            for event in self.snap.list("Event"):
                involved = event.get("involvedObject") or event.get("regarding") or {}
                namespace = involved.get("namespace") or _meta(event).get("namespace")
                self._events[(involved.get("kind"), namespace, involved.get("name"))].append(event)
            for items in self._events.values():
                items.sort(key=_event_moment)
        namespace, name = _ns_name(obj)
        own = uid(obj)
        found = [e for e in self._events.get((kind, namespace, name), [])
                 if (e.get("involvedObject") or e.get("regarding") or {}).get("uid") in (None, "", own)]
        return [e for e in found if reason is None or e.get("reason") == reason]

    def owners(self) -> Owners:
        if self._owners is None:
            self._owners = Owners(self.snap.list("ReplicaSet"))
        return self._owners

    def owner_of(self, obj: dict) -> dict | None:
        ref = controller_ref(obj)
        if ref is None:
            return None
        if ref.get("kind") == "ReplicaSet":
            return self.owners().top(obj)
        return {"kind": ref.get("kind"), "name": ref.get("name"), "uid": ref.get("uid")}

    def pods_in(self, namespace: str | None) -> list[dict]:
        if self._pods_by_ns is None:
            self._pods_by_ns = defaultdict(list)
            for pod in self.snap.list("Pod"):
                self._pods_by_ns[_meta(pod).get("namespace")].append(pod)
        return self._pods_by_ns.get(namespace, [])

    # ---- targets ----
    def targets(self, kind: str) -> list[dict]:
        """The objects of ``kind`` in scope: the named ones and those the selector matches, as in every module."""
        items = self.snap.list(kind)
        named = self.scope.names if self.scope.kind == kind else []
        if not named and self._selector is None:
            return items
        if named:
            found = {_meta(obj).get("name") for obj in items}
            self.missing = [name for name in named if name not in found]
        wanted = set(named)
        return [obj for obj in items if _meta(obj).get("name") in wanted
                or (self._selector is not None and selector_match(_meta(obj).get("labels") or {}, self._selector))]

    def add(self, finding: dict) -> None:
        obj = finding["object"]
        key = (obj["kind"], obj["namespace"], obj["name"], finding["problem"], finding.get("container"))
        self.findings.setdefault(key, finding)

    def finding(self, code: str, kind: str, obj: dict, summary: str, evidence: dict, fix: str | None = None,
                severity: str | None = None, container: str | None = None) -> dict:
        namespace, name = _ns_name(obj)
        where = f"{namespace}/{name}" if namespace else name
        item = {"object": {"kind": kind, "namespace": namespace, "name": name}, "problem": code,
                "severity": severity or PROBLEMS[code].severity, "summary": f"{kind} {where}: {summary}",
                "evidence": evidence, "fix": fix or PROBLEMS[code].fix}
        if container:
            item["container"] = container
        if kind == "Pod":
            owner = self.owner_of(obj)
            if owner:
                item["owner"] = {"kind": owner["kind"], "name": owner["name"]}
        return item

    # ---- the run ----
    def checked(self, kind: str, obj: dict) -> None:
        self._checked[kind].add(uid(obj) or _ns_name(obj))

    def run(self) -> dict:
        kinds = [self.scope.kind] if self.scope.kind else list(TARGET_KINDS)
        for kind in kinds:
            for obj in self.targets(kind):
                self.checked(kind, obj)
                for finding in self.check(kind, obj):
                    self.add(finding)
        namespace = self.scope.namespace
        where = f"in namespace {namespace}" if namespace else "in any namespace"
        for name in self.missing:
            self.add(self.finding("not_found", self.scope.kind or "object",
                                  {"metadata": {"name": name, "namespace": namespace}},
                                  f"does not exist {where}", {"kind": self.scope.kind, "name": name}))
        return self.report()

    def check(self, kind: str, obj: dict) -> list[dict]:
        if kind == "Pod":
            return self.pod(obj) + self.related_claims(obj)
        if kind == "Service":
            return self.service(obj)
        if kind == "PersistentVolumeClaim":
            return self.claim(obj)
        return self.workload(kind, obj)

    # ---- reporting ----
    def report(self) -> dict:
        findings = sorted(self.findings.values(), key=lambda f: (
            _SEVERITY_RANK[f["severity"]], _KIND_RANK.get(f["object"]["kind"], 99), f["object"]["namespace"] or "",
            f["object"]["name"] or "", f["problem"], f.get("container") or ""))
        notes = list(self.notes)
        for kind, why in sorted(self.snap.unavailable.items()):
            if why:
                notes.append(f"{kind} objects could not be read ({why}): the checks that use them say less")
        if self.snap.logs_skipped:
            notes.append(f"log lines were read for the first {self.snap.max_log_reads} containers only; "
                         f"{self.snap.logs_skipped} more were not read")
        return {
            "healthy": not any(f["severity"] == ERROR for f in findings),
            "findings": findings,
            "counts": dict(sorted(Counter(f["problem"] for f in findings).items())),
            "summary": summary_lines(findings),
            "fixes": fix_lines(findings),
            "checked": {kind: len(seen) for kind, seen in self._checked.items()},
            "missing": list(self.missing),
            "notes": list(dict.fromkeys(notes)),
        }

    # ==== pods =====================================================================================
    def pod(self, pod: dict) -> list[dict]:
        """The findings about one pod and its containers (computed once per pod)."""
        key = uid(pod) or str(_ns_name(pod))
        if key not in self._pod_findings:
            self._pod_findings[key] = self._pod(pod)
        return self._pod_findings[key]

    def _pod(self, pod: dict) -> list[dict]:
        meta, status = _meta(pod), _status(pod)
        phase = status.get("phase") or "Pending"
        if meta.get("deletionTimestamp"):
            return self._terminating(pod)
        if phase == "Succeeded":
            return []
        if phase == "Failed":
            return self._failed(pod)
        scheduled = {c.get("type"): c for c in status.get("conditions") or []}.get("PodScheduled") or {}
        if scheduled.get("status") == "False":
            return self._unschedulable(pod, scheduled)
        findings = self._sandbox(pod)
        for container in status.get("initContainerStatuses") or []:
            findings += self._container(pod, container, init=True)
        for container in status.get("containerStatuses") or []:
            findings += self._container(pod, container, init=False)
        return findings

    def _started(self, pod: dict) -> bool:
        statuses = (_status(pod).get("initContainerStatuses") or []) + (_status(pod).get("containerStatuses") or [])
        return any("running" in (c.get("state") or {}) or "terminated" in (c.get("state") or {}) for c in statuses)

    def _terminating(self, pod: dict) -> list[dict]:
        meta = _meta(pod)
        deleted = _time(meta.get("deletionTimestamp"))
        if deleted is None:
            return []
        overdue = (self.snap.now - deleted).total_seconds() - int(meta.get("deletionGracePeriodSeconds") or 0)
        if overdue < STUCK_AFTER:
            return []
        finalizers = meta.get("finalizers") or []
        node = _spec(pod).get("nodeName")
        why = f"finalizers {', '.join(finalizers)} hold it" if finalizers else (
            f"its node {node} has not confirmed that the containers stopped" if node else "it has not gone away")
        return [self.finding("pod_stuck_terminating", "Pod", pod,
                             f"deleted at {meta['deletionTimestamp']} and still there {int(overdue // 60)} minutes "
                             f"after its grace period: {why}",
                             {"deletion_timestamp": meta["deletionTimestamp"], "finalizers": finalizers, "node": node})]

    def _failed(self, pod: dict) -> list[dict]:
        status = _status(pod)
        owner = self.owner_of(pod)
        if status.get("reason") == "Evicted":
            return [self.finding("pod_evicted", "Pod", pod, f"evicted: {_short(status.get('message') or '')}",
                                 {"reason": "Evicted", "message": status.get("message"),
                                  "node": _spec(pod).get("nodeName")})]
        if owner and owner["kind"] == "Job" and self._job_done(owner):
            return []  # a failed attempt of a Job that succeeded later
        findings = []
        for init, key in ((True, "initContainerStatuses"), (False, "containerStatuses")):
            for container in status.get(key) or []:
                findings += self._container(pod, container, init=init)
        if not findings and status.get("reason"):
            severity = WARNING if owner else ERROR
            findings.append(self.finding("pod_failed", "Pod", pod,
                                         f"failed: {status['reason']}: {_short(status.get('message') or '')}",
                                         {"reason": status["reason"], "message": status.get("message"),
                                          "node": _spec(pod).get("nodeName")}, severity=severity))
        return findings

    def _job_done(self, owner: dict) -> bool:
        for job in self.snap.list("Job"):
            if uid(job) == owner.get("uid"):
                return any(c.get("type") == "Complete" and c.get("status") == "True"
                           for c in _status(job).get("conditions") or [])
        return False

    # ---- sandbox and volumes ----
    def _sandbox(self, pod: dict) -> list[dict]:
        if self._started(pod):
            return []
        findings = []
        sandbox = self.events("Pod", pod, "FailedCreatePodSandBox")
        if sandbox:
            event = sandbox[-1]
            message = event.get("message") or ""
            evidence = {"event": message, "times": _event_count(event), "node": _spec(pod).get("nodeName")}
            if any(marker in message.lower() for marker in IPAM_MARKERS):
                findings.append(self.finding(
                    "pod_ip_exhausted", "Pod", pod,
                    f"no IP address for the pod on node {evidence['node']}: the pod network's IP pool is exhausted "
                    f"({_short(message, 160)})", evidence))
            else:
                findings.append(self.finding("pod_sandbox_failed", "Pod", pod,
                                             f"the kubelet cannot create the pod sandbox: {_short(message, 200)}",
                                             evidence))
        mounts = self.events("Pod", pod, "FailedMount") + self.events("Pod", pod, "FailedAttachVolume")
        if mounts:
            event = max(mounts, key=_event_moment)
            message = event.get("message") or ""
            missing = _MISSING_REF.search(message)
            evidence = {"event": message, "reason": event.get("reason"), "times": _event_count(event)}
            fix = None
            if missing:
                kind = "Secret" if missing.group(1).lower() == "secret" else "ConfigMap"
                evidence["missing"] = {"kind": kind, "name": missing.group(2)}
                fix = (f"Create the {kind} {missing.group(2)} in namespace {_meta(pod).get('namespace')}, or "
                       f"correct the volume's {kind.lower()} name in the pod template (or mark it optional).")
            findings.append(self.finding("pod_volume_mount_failed", "Pod", pod,
                                         f"a volume cannot be mounted: {_short(message, 200)}", evidence, fix))
        return findings

    # ---- containers ----
    def _container(self, pod: dict, status: dict, init: bool) -> list[dict]:
        name = status.get("name") or ""
        what = f"{'init container' if init else 'container'} {name}"
        state = status.get("state") or {}
        last = (status.get("lastState") or {}).get("terminated") or {}
        restarts = int(status.get("restartCount") or 0)
        spec = _container_spec(pod, name)
        base = {"restarts": restarts, "image": status.get("image") or spec.get("image")}
        waiting, terminated, running = state.get("waiting"), state.get("terminated"), state.get("running")
        if waiting:
            reason, message = waiting.get("reason") or "", waiting.get("message") or ""
            if reason in IMAGE_PULL:
                return [self._image_pull(pod, name, what, reason, message, base)]
            if reason == "CreateContainerConfigError":
                return [self._config_error(pod, name, what, message, base)]
            if reason in START_ERRORS:
                return [self.finding("container_start_failed", "Pod", pod,
                                     f"{what} cannot start ({reason}): {_short(message, 200)}",
                                     {**base, "reason": reason, "message": message}, container=name)]
            if reason == "CrashLoopBackOff":
                if last.get("reason") == "OOMKilled":
                    return [self._oom(pod, name, what, last, base, ERROR)]
                return [self._crash_loop(pod, name, what, last, base)]
            return []
        if terminated:
            if terminated.get("reason") == "OOMKilled":
                return [self._oom(pod, name, what, terminated, base, ERROR)]
            code = terminated.get("exitCode")
            if code not in (0, None) and (_status(pod).get("phase") == "Failed"
                                          or _spec(pod).get("restartPolicy") == "Never"):
                evidence = {**base, "exit_code": code, "reason": terminated.get("reason"),
                            "message": terminated.get("message"), "finished_at": terminated.get("finishedAt"),
                            **self.snap.log_tail(pod, name, previous=False)}
                return [self.finding("container_failed", "Pod", pod,
                                     f"{what} failed with exit code {code} ({EXIT_CODES.get(code, terminated.get('reason') or 'error')})"
                                     + _last_line(evidence), evidence, container=name)]
            return []
        findings = []
        if running and last.get("reason") == "OOMKilled":
            findings.append(self._oom(pod, name, what, last, base, WARNING))
        if running:
            findings += self._probes(pod, name, what, status, base)
        return findings

    def _image_pull(self, pod, name, what, reason, message, base) -> dict:
        failed = [e for e in self.events("Pod", pod, "Failed") if _for_container(e, name)
                  and "pull" in (e.get("message") or "").lower()]
        detail = failed[-1].get("message") if failed else message
        text = (detail or message or "").lower()
        image = base["image"]
        evidence = {**base, "reason": reason, "message": message}
        if failed:
            evidence["event"] = detail
        if reason == "InvalidImageName":
            why, fix = "the image reference is invalid", f"Correct the image reference {image!r} in the pod template."
        elif any(m in text for m in ("not found", "manifest unknown", "notfound", "does not exist")):
            why = "the image or its tag does not exist"
            fix = f"Correct the image name or tag ({image}) in the pod template, or push that image to the registry."
        elif any(m in text for m in ("unauthorized", "denied", "authorization failed", "forbidden", "401", "403",
                                     "no basic auth credentials")):
            why = "the registry refused the pull (credentials)"
            fix = ("Create a docker-registry Secret with credentials for the registry and list it in the pod "
                   "template's imagePullSecrets (or the service account's).")
        elif any(m in text for m in ("dial tcp", "i/o timeout", "no such host", "connection refused", "tls",
                                     "x509", "timeout", "network is unreachable")):
            why = "the node cannot reach the registry"
            fix = ("Make the registry reachable from the nodes (DNS, proxy, firewall, CA certificates), or use "
                   "a mirror the nodes can reach.")
        else:
            why, fix = "the image cannot be pulled", None
        return self.finding("container_image_pull_failed", "Pod", pod,
                            f"{what} image {image} cannot be pulled ({reason}): {why}", evidence, fix, container=name)

    def _config_error(self, pod, name, what, message, base) -> dict:
        namespace = _meta(pod).get("namespace")
        evidence = {**base, "reason": "CreateContainerConfigError", "message": message}
        key = _MISSING_KEY.search(message)
        ref = _MISSING_REF.search(message)
        if key:
            kind, obj = key.group(2).capitalize().replace("Configmap", "ConfigMap"), key.group(4)
            evidence["missing"] = {"kind": kind, "name": obj, "key": key.group(1)}
            summary = f"{what} cannot be created: {kind} {obj} has no key {key.group(1)}"
            fix = (f"Add the key {key.group(1)} to the {kind} {obj} in namespace {namespace}, or correct the key in "
                   "the container's env/envFrom (or mark it optional: true).")
        elif ref:
            kind = "Secret" if ref.group(1).lower() == "secret" else "ConfigMap"
            evidence["missing"] = {"kind": kind, "name": ref.group(2)}
            summary = f"{what} cannot be created: {kind} {ref.group(2)} does not exist"
            fix = (f"Create the {kind} {ref.group(2)} in namespace {namespace}, or correct its name in the "
                   "container's env/envFrom (or mark it optional: true).")
        else:
            summary, fix = f"{what} cannot be created: {_short(message, 200)}", None
        return self.finding("container_config_error", "Pod", pod, summary + " (CreateContainerConfigError)",
                            evidence, fix, container=name)

    def _oom(self, pod, name, what, terminated, base, severity) -> dict:
        limit = ((_container_spec(pod, name).get("resources") or {}).get("limits") or {}).get("memory")
        evidence = {**base, "reason": "OOMKilled", "exit_code": terminated.get("exitCode"),
                    "finished_at": terminated.get("finishedAt"), "memory_limit": limit}
        over = f"it exceeded resources.limits.memory {limit}" if limit else \
            "it has no memory limit, so the node itself ran out of memory"
        again = "; it is running again" if severity == WARNING else ""
        fix = None
        if limit:
            fix = (f"Make the program use less memory, or raise resources.limits.memory (now {limit}) and the "
                   "request in the pod template.")
        return self.finding("container_oom_killed", "Pod", pod,
                            f"{what} was OOMKilled (exit code {terminated.get('exitCode', 137)}, "
                            f"{_plural(base['restarts'], 'restart')}): {over}{again}",
                            evidence, fix, severity=severity, container=name)

    def _crash_loop(self, pod, name, what, last, base) -> dict:
        code = last.get("exitCode")
        evidence = {**base, "reason": "CrashLoopBackOff", "exit_code": code, "last_reason": last.get("reason"),
                    "message": last.get("message"), "finished_at": last.get("finishedAt")}
        liveness = [e for e in self.events("Pod", pod, "Unhealthy") if _for_container(e, name)
                    and (e.get("message") or "").startswith("Liveness probe failed")]
        why = EXIT_CODES.get(code, last.get("reason") or "it exits") if code is not None else "it exits"
        if liveness:
            evidence["probe"] = liveness[-1].get("message")
            why = f"the kubelet kills it after its liveness probe fails ({_short(liveness[-1].get('message'), 120)})"
        evidence.update(self.snap.log_tail(pod, name, previous=True))
        exit_text = f", last exit code {code}" if code is not None else ""
        return self.finding("container_crash_loop", "Pod", pod,
                            f"{what} is crash-looping (CrashLoopBackOff, {_plural(base['restarts'], 'restart')}"
                            f"{exit_text}): {why}" + _last_line(evidence), evidence, container=name)

    def _probes(self, pod, name, what, status, base) -> list[dict]:
        started = _time(((status.get("state") or {}).get("running") or {}).get("startedAt"))
        unhealthy = [e for e in self.events("Pod", pod, "Unhealthy") if _for_container(e, name)
                     and (started is None or (_time(_event_time(e)) or started) >= started)]
        if not status.get("ready"):
            failing = [e for e in unhealthy if not (e.get("message") or "").startswith("Liveness")]
            if failing:
                event = failing[-1]
                return [self.finding("container_probe_failing", "Pod", pod,
                                     f"{what} is not Ready: {_short(event.get('message'), 200)}",
                                     {**base, "event": event.get("message"), "times": _event_count(event)},
                                     container=name)]
        liveness = [e for e in unhealthy if (e.get("message") or "").startswith("Liveness")]
        if liveness and base["restarts"]:
            event = liveness[-1]
            return [self.finding("container_probe_failing", "Pod", pod,
                                 f"{what} fails its liveness probe and was restarted "
                                 f"{_plural(base['restarts'], 'time')}: {_short(event.get('message'), 200)}",
                                 {**base, "event": event.get("message"), "times": _event_count(event)},
                                 severity=WARNING, container=name)]
        return []

    # ---- scheduling ----
    def _unschedulable(self, pod: dict, condition: dict) -> list[dict]:
        if condition.get("reason") == "SchedulingGated":
            gates = [g.get("name") for g in _spec(pod).get("schedulingGates") or []]
            return [self.finding("pod_unschedulable", "Pod", pod,
                                 f"Pending: scheduling gates {', '.join(gates)} are not removed yet",
                                 {"scheduling_gates": gates, "message": condition.get("message")},
                                 "The controller that added the scheduling gates removes them when the pod may be "
                                 "scheduled; check that controller.")]
        events = self.events("Pod", pod, "FailedScheduling")
        event = events[-1] if events else None
        message = (event or {}).get("message") or condition.get("message") or ""
        if not message:
            return []
        failure = sched.parse_failed_scheduling(message)
        evidence = {"event": message, "times": _event_count(event) if event else None, "nodes": failure.nodes,
                    "reasons": {r.text: r.nodes for r in failure.reasons}}
        nodes = self.snap.list("Node") if self.snap.has("Node") else None
        eligible = None if nodes is None else [n for n in nodes if not sched.unmet_requirements(pod, n)]
        causes = failure.causes()
        if eligible == [] and nodes:
            causes = [sched.NODE_SELECTOR]
        elif len(causes) > 1:
            # Nodes the pod is kept off on purpose (its selector) are not the problem.
            causes = [cause for cause in causes if cause != sched.NODE_SELECTOR]
        candidates = eligible if eligible else (nodes or [])
        builders = {sched.RESOURCES: self._insufficient, sched.TOO_MANY_PODS: self._too_many_pods,
                    sched.NODE_SELECTOR: self._selector_mismatch, sched.TAINTS: self._untolerated,
                    sched.VOLUMES: self._volumes, sched.OTHER: self._other_reason}
        return [builders[cause](pod, failure, dict(evidence), candidates, nodes) for cause in causes]

    @staticmethod
    def _share(reasons: list, failure) -> str:
        counted = [r.nodes for r in reasons if r.nodes is not None]
        if not counted or failure.nodes is None:
            return ""
        return f" ({max(counted)} of {failure.nodes} nodes)"

    def _insufficient(self, pod, failure, evidence, candidates, nodes) -> dict:
        reasons = failure.of(sched.RESOURCES)
        requests = sched.pod_requests(pod)
        parts, details, never = [], {}, []
        for reason in reasons:
            resource = reason.resource or ""
            wanted = requests.get(resource)
            best = max(candidates, key=lambda n: sched.allocatable(n, resource), default=None)
            detail = {"request": sched.show_quantity(resource, wanted) if wanted is not None else None}
            text = f"not enough {resource}"
            if wanted is not None:
                text += f": it requests {sched.show_quantity(resource, wanted)}"
            if best is not None:
                most = sched.allocatable(best, resource)
                detail.update(largest_allocatable=sched.show_quantity(resource, most), node=_meta(best).get("name"))
                text += f", the largest node allocatable is {detail['largest_allocatable']} ({detail['node']})"
                if wanted is not None and wanted > most:
                    never.append(resource)
                    text += ", so no node can ever fit it"
                else:
                    text += ", the rest is reserved by other pods' requests"
            parts.append(text)
            details[resource] = detail
        evidence["resources"] = details
        if never:
            fix = (f"Lower resources.requests.{'/'.join(never)} in the pod template to what a node can allocate, "
                   "or add a node big enough.")
        else:
            fix = ("Free capacity (scale down or lower the requests of other pods on the nodes), lower this pod's "
                   "resources.requests, or add nodes.")
        return self.finding("pod_unschedulable_resources", "Pod", pod,
                            "Pending: " + "; ".join(parts) + self._share(reasons, failure), evidence, fix)

    def _too_many_pods(self, pod, failure, evidence, candidates, nodes) -> dict:
        limits = sorted({sched.show_quantity("pods", sched.allocatable(n, "pods")) for n in candidates})
        evidence["max_pods_per_node"] = limits
        per_node = f" ({'/'.join(limits)} per node)" if limits else ""
        return self.finding("pod_unschedulable_too_many_pods", "Pod", pod,
                            f"Pending: the nodes already run as many pods as they allow{per_node}"
                            + self._share(failure.of(sched.TOO_MANY_PODS), failure), evidence)

    def _selector_mismatch(self, pod, failure, evidence, candidates, nodes) -> dict:
        wanted = sched.node_requirements(pod)
        evidence["requires"] = wanted
        if _spec(pod).get("nodeName"):
            evidence["node_name"] = _spec(pod)["nodeName"]
        have = {}
        for key in sched.requirement_keys(pod):
            values = defaultdict(list)
            for node in nodes or []:
                labels = _meta(node).get("labels") or {}
                if key in labels:
                    values[labels[key]].append(_meta(node).get("name"))
            have[key] = dict(values)
        evidence["node_labels"] = have
        told = []
        for key, values in have.items():
            if nodes is None:
                continue
            if not values:
                told.append(f"no node has the label {key}")
            else:
                told.append(f"nodes have {key}=" + ", ".join(
                    f"{value or '(empty)'} ({_names(names, 2)})" for value, names in sorted(values.items())))
        requirement = " and ".join(wanted) or "(none)"
        summary = f"Pending: no node matches its node selector {requirement}" + (
            "; " + "; ".join(told) if told else "") + self._share(failure.of(sched.NODE_SELECTOR), failure)
        pairs = [text for text in wanted if "=" in text and " " not in text and "!" not in text]
        label_fix = "kubectl label nodes NODE " + (" ".join(pairs) if pairs else "key=value")
        fix = ("Label the node the pod should run on (" + label_fix
               + ", module kubeops.platform.label or role kubeops.platform.nodes), or correct the nodeSelector/"
               "affinity in the pod template.")
        return self.finding("pod_unschedulable_node_selector", "Pod", pod, summary, evidence, fix)

    def _untolerated(self, pod, failure, evidence, candidates, nodes) -> dict:
        by_taint: dict[str, list[str]] = defaultdict(list)
        taints: dict[str, dict] = {}
        for node in candidates if nodes is not None else []:
            for taint in sched.blocking_taints(pod, node):
                text = sched.taint_text(taint)
                by_taint[text].append(_meta(node).get("name"))
                taints[text] = taint
        if not by_taint:  # no nodes readable, or the taint went away since the scheduler looked
            for reason in failure.of(sched.TAINTS):
                if reason.taint:
                    text = sched.taint_text(reason.taint)
                    by_taint[text] = []
                    taints[text] = reason.taint
        evidence["taints"] = dict(by_taint)
        evidence["tolerations"] = _spec(pod).get("tolerations") or []
        said = [f"taint {text}" + (f" on {_names(names, 2)}" if names else "") for text, names in by_taint.items()]
        summary = "Pending: the pod does not tolerate " + ("; ".join(said) or "the nodes' taints") + \
            self._share(failure.of(sched.TAINTS), failure)
        return self.finding("pod_unschedulable_taints", "Pod", pod, summary, evidence, _taint_fix(list(taints.values())))

    def _volumes(self, pod, failure, evidence, candidates, nodes) -> dict:
        namespace = _meta(pod).get("namespace")
        claims = {}
        said = []
        for name in _claims(pod):
            claim = self._claim_named(namespace, name)
            if claim is None:
                claims[name] = "not found" if self.snap.has("PersistentVolumeClaim") else "unknown"
                if claims[name] == "not found":
                    said.append(f"PersistentVolumeClaim {name} does not exist")
                continue
            phase = _status(claim).get("phase") or "Pending"
            claims[name] = phase
            if phase != "Bound":
                problems = self.claim(claim)
                why = problems[0]["summary"].split(": ", 1)[-1] if problems else phase
                said.append(f"PersistentVolumeClaim {name} is not bound ({why})")
        evidence["claims"] = claims
        reasons = "; ".join(r.text for r in failure.of(sched.VOLUMES))
        summary = "Pending: " + ("; ".join(said) if said else reasons)
        return self.finding("pod_unschedulable_volumes", "Pod", pod, summary, evidence)

    def _other_reason(self, pod, failure, evidence, candidates, nodes) -> dict:
        reasons = failure.of(sched.OTHER)
        text = ", ".join(f"{r.nodes} {r.text}" if r.nodes is not None else r.text for r in reasons)
        lowered = text.lower()
        fix = None
        if "free ports" in lowered:
            fix = "Another pod holds the hostPort on the nodes: remove hostPort from the pod template or free it."
        elif "affinity" in lowered:
            fix = "Relax the pod affinity/anti-affinity rules in the pod template, or add nodes that satisfy them."
        elif "topology spread" in lowered:
            fix = "Relax topologySpreadConstraints (maxSkew, whenUnsatisfiable: ScheduleAnyway), or add nodes."
        elif "no nodes available" in lowered or failure.nodes == 0:
            fix = "The cluster has no node the scheduler can use: add or repair nodes."
        return self.finding("pod_unschedulable", "Pod", pod, f"Pending: {text or failure.message}", evidence, fix)

    def related_claims(self, pod: dict) -> list[dict]:
        """The findings of the claims a pod uses that are not bound: often the real cause."""
        findings = []
        for name in _claims(pod):
            claim = self._claim_named(_meta(pod).get("namespace"), name)
            if claim is not None:
                findings += self.claim(claim)
        return findings

    # ==== claims ===================================================================================
    def _claim_named(self, namespace, name) -> dict | None:
        for claim in self.snap.list("PersistentVolumeClaim"):
            if _ns_name(claim) == (namespace, name):
                return claim
        return None

    def claim(self, claim: dict) -> list[dict]:
        key = _ns_name(claim)
        if key not in self._pvc_findings:
            self._pvc_findings[key] = self._claim(claim)
        return self._pvc_findings[key]

    def _claim(self, claim: dict) -> list[dict]:
        phase = _status(claim).get("phase") or "Pending"
        name = _meta(claim).get("name")
        if phase == "Lost":
            volume = _spec(claim).get("volumeName")
            return [self.finding("pvc_lost", "PersistentVolumeClaim", claim,
                                 f"Lost: its PersistentVolume {volume} is gone", {"volume": volume})]
        if phase != "Pending":
            return []
        events = self.events("PersistentVolumeClaim", claim)
        latest = {e.get("reason"): e for e in events}
        class_name = _spec(claim).get("storageClassName")
        classes = {_meta(c).get("name"): c for c in self.snap.list("StorageClass")} if self.snap.has("StorageClass") else None
        defaults = [n for n, c in (classes or {}).items()
                    if any((_meta(c).get("annotations") or {}).get(a) == "true" for a in DEFAULT_CLASS)]
        evidence = {"storage_class": class_name}
        for reason in ("ProvisioningFailed", "FailedBinding", "ExternalProvisioning", "WaitForFirstConsumer"):
            if reason in latest:
                evidence.setdefault("events", {})[reason] = latest[reason].get("message")
        failed = (latest.get("ProvisioningFailed") or {}).get("message") or ""
        if class_name:
            missing = classes is not None and class_name not in classes
            if missing or _CLASS_NOT_FOUND.search(failed):
                if classes is not None:
                    evidence["storage_classes"] = sorted(classes)
                    evidence["default_class"] = defaults[0] if defaults else None
                there = f"; classes there: {', '.join(sorted(classes))}" if classes else ""
                return [self.finding("pvc_storage_class_not_found", "PersistentVolumeClaim", claim,
                                     f"Pending: StorageClass {class_name} does not exist{there}", evidence,
                                     f"Set storageClassName to an existing class ({', '.join(sorted(classes or [])) or 'kubectl get storageclass'}"
                                     "); the claim's spec cannot be changed in place: delete the claim and create it "
                                     "again with that class.")]
            storage_class = (classes or {}).get(class_name) or {}
            if failed:
                return [self.finding("pvc_provisioning_failed", "PersistentVolumeClaim", claim,
                                     f"Pending: provisioning failed: {_short(failed, 200)}", evidence)]
            if storage_class.get("volumeBindingMode") == "WaitForFirstConsumer" or "WaitForFirstConsumer" in latest:
                users = [p for p in self.pods_in(_meta(claim).get("namespace")) if name in _claims(p) and _is_live(p)]
                if not any(_spec(p).get("nodeName") for p in users):
                    # Normal: the volume is made where the first pod using the claim is scheduled.
                    who = f"pod {_names([_meta(p).get('name') for p in users])} is not scheduled yet" if users else \
                        "no pod uses it yet"
                    self.notes.append(f"PersistentVolumeClaim {key_text(claim)} waits for its first consumer "
                                      f"(StorageClass {class_name}, WaitForFirstConsumer): {who}")
                    return []
            waiting = (latest.get("ExternalProvisioning") or {}).get("message")
            return [self.finding("pvc_pending", "PersistentVolumeClaim", claim,
                                 f"Pending: not bound yet (StorageClass {class_name}"
                                 + (f": {_short(waiting, 160)}" if waiting else "") + ")", evidence)]
        binding = (latest.get("FailedBinding") or {}).get("message") or ""
        if class_name is None and (defaults or (classes is None and not binding)):
            known = f"; default class {defaults[0]}" if defaults else ""
            return [self.finding("pvc_pending", "PersistentVolumeClaim", claim,
                                 f"Pending: not bound yet (no storageClassName{known})", evidence)]
        how = "storageClassName is empty" if class_name == "" else "it names no StorageClass and there is no default class"
        if classes is not None:
            evidence["storage_classes"] = sorted(classes)
        return [self.finding("pvc_no_storage_class", "PersistentVolumeClaim", claim,
                             f"Pending: {how}, so only a matching PersistentVolume created by hand can bind it"
                             + (f" ({binding})" if binding else ""), evidence)]

    # ==== services =================================================================================
    def service(self, service: dict) -> list[dict]:
        spec = _spec(service)
        selector = spec.get("selector") or {}
        if not selector or spec.get("type") == "ExternalName":
            return []  # endpoints managed by hand, or a DNS alias: nothing to match
        namespace = _meta(service).get("namespace")
        pods = [p for p in self.pods_in(namespace) if _is_live(p)
                and all((_meta(p).get("labels") or {}).get(k) == v for k, v in selector.items())]
        evidence = {"selector": selector}
        endpoints = self._endpoints(service)
        if endpoints is not None:
            evidence["endpoints"] = endpoints
        if not pods:
            return [self._no_pods(service, selector, evidence)]
        findings = []
        groups: dict[tuple, list[str]] = defaultdict(list)
        for pod in pods:
            owner = self.owner_of(pod) or {"kind": "Pod", "name": _meta(pod).get("name")}
            groups[(owner["kind"], owner["name"])].append(_meta(pod).get("name"))
        if len(groups) > 1:
            listed = [f"{kind} {name} ({_plural(len(names), 'pod')})" for (kind, name), names in sorted(groups.items())]
            findings.append(self.finding("service_selects_several_workloads", "Service", service,
                                         f"its selector {_labels_text(selector)} matches pods of {len(groups)} "
                                         f"workloads: {', '.join(listed)}; traffic goes to all of them",
                                         {**evidence, "workloads": {f"{k} {n}": names for (k, n), names in groups.items()}}))
        ready = [p for p in pods if is_ready(p)]
        if not ready and not spec.get("publishNotReadyAddresses"):
            problems = [pod_problem(p) for p in pods]
            findings.append(self.finding("service_no_ready_pods", "Service", service,
                                         f"has no ready endpoints: its selector matches {_plural(len(pods), 'pod')}, "
                                         f"none Ready: {describe_pods(problems)}",
                                         {**evidence, "pods": {p["name"]: f"{p['phase']} {p['reason']}".strip()
                                                               for p in problems}}))
        findings += self._target_ports(service, pods, evidence)
        return findings

    def _endpoints(self, service: dict) -> dict | None:
        if not self.snap.has("EndpointSlice"):
            return None
        namespace, name = _ns_name(service)
        ready = not_ready = 0
        for piece in self.snap.list("EndpointSlice"):
            if _meta(piece).get("namespace") != namespace or \
                    (_meta(piece).get("labels") or {}).get("kubernetes.io/service-name") != name:
                continue
            for endpoint in piece.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    not_ready += 1
                else:
                    ready += 1
        return {"ready": ready, "not_ready": not_ready}

    def _no_pods(self, service: dict, selector: dict, evidence: dict) -> dict:
        namespace = _meta(service).get("namespace")
        for kind in ("Deployment", "StatefulSet"):
            for workload in self.snap.list(kind):
                labels = ((_spec(workload).get("template") or {}).get("metadata") or {}).get("labels") or {}
                if _meta(workload).get("namespace") == namespace and _spec(workload).get("replicas") == 0 and \
                        all(labels.get(k) == v for k, v in selector.items()):
                    return self.finding("service_backend_scaled_to_zero", "Service", service,
                                        f"has no endpoints: its selector {_labels_text(selector)} matches the pods of "
                                        f"{kind} {_meta(workload).get('name')}, which is scaled to 0",
                                        {**evidence, "workload": f"{kind} {_meta(workload).get('name')}"},
                                        f"Scale {kind} {_meta(workload).get('name')} up (kubectl scale --replicas=N), "
                                        "or stop routing traffic to this Service.")
        closest = self._closest(selector, namespace)
        evidence["closest"] = closest
        summary = f"has no endpoints: its selector {_labels_text(selector)} matches no pod in namespace {namespace}"
        if closest and closest[0].get("close", True):
            best = closest[0]
            whose = f"pods of {best['owner']}" if best["owner"] else "pods"
            summary += f"; closest: {whose} ({_names(best['pods'], 2)}): " + "; ".join(best["differs"])
        elif not closest:
            summary += " (the namespace has no running pods)"
        fix = ("Make the Service's spec.selector and the pods' labels agree (the workload's "
               "spec.template.metadata.labels), or clients get connection refused")
        if closest and closest[0].get("suggested"):
            fix += f": for example change the selector to {_labels_text(closest[0]['suggested'])}"
        return self.finding("service_selector_matches_nothing", "Service", service, summary, evidence, fix + ".")

    def _closest(self, selector: dict, namespace: str | None) -> list[dict]:
        """The label sets of pods in the namespace that come closest to the selector, with what differs."""
        groups: dict[tuple, dict] = {}
        for pod in self.pods_in(namespace):
            if not _is_live(pod):
                continue
            labels = {k: v for k, v in (_meta(pod).get("labels") or {}).items() if k not in CONTROLLER_LABELS}
            key = tuple(sorted(labels.items()))
            if key not in groups:
                owner = self.owner_of(pod)
                groups[key] = {"labels": labels, "pods": [], "owner": f"{owner['kind']} {owner['name']}" if owner else None}
            groups[key]["pods"].append(_meta(pod).get("name"))

        def score(group: dict) -> tuple:
            labels = group["labels"]
            return (sum(labels.get(k) == v for k, v in selector.items()), sum(k in labels for k in selector),
                    sum(v in labels.values() for v in selector.values()))

        ranked = sorted((g for g in groups.values() if any(score(g))), key=score, reverse=True)[:SHOWN]
        if not ranked:
            return [dict(g, differs=["they have none of the selector's keys or values"], close=False)
                    for g in list(groups.values())[:SHOWN]]
        for group in ranked:
            labels, differs, suggested = group["labels"], [], {}
            for key, value in selector.items():
                if labels.get(key) == value:
                    suggested[key] = value
                    continue
                if key in labels:
                    differs.append(f"their {key} is {labels[key]!r}, the selector wants {value!r}")
                    suggested[key] = labels[key]
                    continue
                renamed = [k for k, v in labels.items() if v == value and k not in selector]
                differs.append(f"they have no {key} label" + (f" (they have {renamed[0]}={value})" if renamed else ""))
                if renamed:
                    suggested[renamed[0]] = value
            group["differs"] = differs
            chosen = {g["owner"] or g["pods"][0] for g in groups.values()
                      if all(g["labels"].get(k) == v for k, v in suggested.items())}
            if suggested and len(chosen) == 1:
                group["suggested"] = suggested
        return ranked

    def _target_ports(self, service: dict, pods: list[dict], evidence: dict) -> list[dict]:
        declared = []
        for pod in pods:
            for container in _spec(pod).get("containers") or []:
                for port in container.get("ports") or []:
                    declared.append((container.get("name"), port))
        shown = sorted({f"{c}: {p.get('containerPort')}/{p.get('protocol') or 'TCP'}"
                        + (f" ({p['name']})" if p.get("name") else "") for c, p in declared})
        findings = []
        for port in _spec(service).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            protocol = port.get("protocol") or "TCP"
            label = f"port {port.get('name') or port.get('port')} ({port.get('port')}/{protocol})"
            same_protocol = [(c, p) for c, p in declared if (p.get("protocol") or "TCP") == protocol]
            facts = {**evidence, "port": port, "container_ports": shown}
            if isinstance(target, str) and not target.isdigit():
                if not any(p.get("name") == target for _c, p in same_protocol):
                    findings.append(self.finding(
                        "service_target_port_missing", "Service", service,
                        f"has no endpoints for {label}: targetPort {target!r} is not the name of a port of the "
                        f"selected pods' containers (they declare {', '.join(shown) or 'no ports'})", facts,
                        f"Name the container port {target!r} in the pod template (ports[].name), or set targetPort "
                        "to the port number the application listens on."))
            elif same_protocol and not any(int(p.get("containerPort") or 0) == int(target) for _c, p in same_protocol):
                findings.append(self.finding(
                    "service_target_port_not_declared", "Service", service,
                    f"{label} sends traffic to port {target}, which no container of the selected pods declares "
                    f"(they declare {', '.join(shown)}): connection refused unless something listens there", facts,
                    f"Set targetPort to the port the application listens on ({', '.join(shown)}), or declare port "
                    f"{target} in the container."))
        return findings

    # ==== workloads ================================================================================
    def workload(self, kind: str, obj: dict) -> list[dict]:
        namespace = _meta(obj).get("namespace")
        if kind == "Deployment":
            owned = self.owners().pods_of(obj, self.pods_in(namespace))
        else:
            owned = [p for p in self.pods_in(namespace) if (controller_ref(p) or {}).get("uid") == uid(obj)]
        pods = [p for p in owned if not _meta(p).get("deletionTimestamp")]
        if kind == "Job" and _condition(obj, "Complete"):
            return []
        pod_findings = []
        for pod in pods:
            self.checked("Pod", pod)
            pod_findings += self.pod(pod) + self.related_claims(pod)
        findings = list(pod_findings)
        evidence = {"pods": {_meta(p).get("name"): [f["problem"] for f in self.pod(p)] for p in pods}}
        unready = [pod_problem(p) for p in pods if _is_live(p) and not is_ready(p)]
        pods_text = f"; pods: {describe_pods(unready)}" if unready else ""
        created = self._create_failure(kind, obj, len([p for p in pods if _is_live(p)]))
        if created:
            findings.append(created)
        if kind == "Job":
            failed = _condition(obj, "Failed")
            if failed:
                evidence.update(reason=failed.get("reason"), message=failed.get("message"))
                findings.append(self.finding("job_failed", kind, obj,
                                             f"failed ({': '.join(filter(None, (failed.get('reason'), failed.get('message')))) or 'no reason given'})"
                                             + _problems_text(pod_findings), evidence))
            return findings
        desired = _desired(kind, obj)
        if not desired:
            return findings
        progress = rollout_status(kind, obj)
        available = _available(kind, obj)
        evidence.update(status=progress.message, desired=desired, available=available)
        stuck = None
        if kind == "Deployment":
            stuck = next((c for c in _status(obj).get("conditions") or []
                          if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"), None)
        elif kind == "StatefulSet" and _status(obj).get("updateRevision") != _status(obj).get("currentRevision") \
                and any(f["severity"] == ERROR for f in pod_findings):
            stuck = {"message": f"the rolling update to revision {_status(obj).get('updateRevision')} halts at a "
                                "pod that fails"}
        if stuck:
            evidence["condition"] = stuck.get("message")
            findings.append(self.finding("rollout_stuck", kind, obj,
                                         f"rollout stuck: {stuck.get('message')} ({progress.message})"
                                         + pods_text + _problems_text(pod_findings), evidence))
        elif available < desired and sum(map(is_ready, pods)) < desired:  # not a status that lags behind
            severity = ERROR if available == 0 else WARNING
            findings.append(self.finding("workload_unavailable", kind, obj,
                                         f"{available} of {desired} pods available ({progress.message})"
                                         + pods_text + _problems_text(pod_findings), evidence, severity=severity))
        return findings

    def _create_failure(self, kind: str, obj: dict, live: int) -> dict | None:
        if live >= _desired(kind, obj):
            return None
        message = None
        for condition in _status(obj).get("conditions") or []:
            if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
                message = condition.get("message")
        sources = [(kind, obj)]
        if kind == "Deployment":
            sources += [("ReplicaSet", rs) for rs in self.owners().replicasets_of(obj)]
        events = [e for source_kind, source in sources for e in self.events(source_kind, source, "FailedCreate")]
        if events:
            message = max(events, key=_event_moment).get("message") or message
        if not message:
            return None
        return self.finding("workload_create_failed", kind, obj,
                            f"its pods cannot be created: {_short(message, 240)}", {"message": message})


# ---- module-level helpers -------------------------------------------------------------------------
def key_text(obj: dict) -> str:
    namespace, name = _ns_name(obj)
    return f"{namespace}/{name}" if namespace else str(name)


def _for_container(event: dict, name: str) -> bool:
    path = (event.get("involvedObject") or event.get("regarding") or {}).get("fieldPath") or ""
    return not path or path.endswith("{" + name + "}")


def _last_line(evidence: dict) -> str:
    lines = evidence.get("log_tail") or []
    return f"; last log line: {_short(lines[-1], 160)}" if lines else ""


def _problems_text(findings: list[dict]) -> str:
    counts = Counter(f["problem"] for f in findings if f["object"]["kind"] == "Pod")
    if not counts:
        return ""
    return "; pod findings: " + ", ".join(f"{code} x{n}" if n > 1 else code for code, n in sorted(counts.items()))


def _condition(obj: dict, kind: str) -> dict | None:
    return next((c for c in _status(obj).get("conditions") or []
                 if c.get("type") == kind and c.get("status") == "True"), None)


def _desired(kind: str, obj: dict) -> int:
    if kind == "DaemonSet":
        return int(_status(obj).get("desiredNumberScheduled") or 0)
    if kind == "Job":
        parallelism = _spec(obj).get("parallelism")
        return 0 if _spec(obj).get("suspend") else (1 if parallelism is None else int(parallelism))
    replicas = _spec(obj).get("replicas")
    return 1 if replicas is None else int(replicas)


def _available(kind: str, obj: dict) -> int:
    status = _status(obj)
    if kind == "DaemonSet":
        return int(status.get("numberAvailable") or 0)
    return int(status.get("availableReplicas") or 0)


def _taint_fix(taints: list[dict]) -> str:
    if not taints:
        return PROBLEMS["pod_unschedulable_taints"].fix
    fixes = []
    for taint in taints:
        key = taint.get("key") or ""
        if key == sched.UNSCHEDULABLE_TAINT:
            fixes.append("the node is cordoned: kubectl uncordon NODE once its maintenance is over")
        elif key.startswith("node.kubernetes.io/"):
            fixes.append(f"{key} is set by Kubernetes because the node is unhealthy (kubectl describe node NODE, "
                         "conditions): repair the node")
        else:
            toleration = {"key": key, "operator": "Equal" if taint.get("value") else "Exists"}
            if taint.get("value"):
                toleration["value"] = taint["value"]
            toleration["effect"] = taint.get("effect") or "NoSchedule"
            shown = ", ".join(f"{k}: {v}" for k, v in toleration.items())
            fixes.append(f"to run there, add the toleration {{{shown}}} to the pod template's tolerations; "
                         f"otherwise remove the taint (kubectl taint nodes NODE {key}-, or kubeops.platform.taint "
                         "with state absent) or let the pod run on other nodes")
        if key.startswith("node-role.kubernetes.io/"):
            fixes[-1] = "the node is a control-plane node, reserved for the cluster's own pods: add worker nodes, " \
                        "or " + fixes[-1].replace("to run there, ", "")
    text = "; ".join(dict.fromkeys(fixes))
    return text[:1].upper() + text[1:] + "."


def summary_lines(findings: list[dict]) -> list[str]:
    """One line per finding, severity first; the same problem in several pods of one workload is one line."""
    groups: dict[tuple, list[dict]] = {}
    for finding in findings:
        owner = finding.get("owner")
        key = (finding["severity"], finding["problem"], finding.get("container"),
               (owner["kind"], owner["name"], finding["object"]["namespace"]) if owner else id(finding))
        groups.setdefault(key, []).append(finding)
    lines = []
    for group in groups.values():
        first = group[0]
        line = f"{first['severity'].upper()}: {first['summary']}"
        if len(group) > 1:
            owner = first["owner"]
            others = [f["object"]["name"] for f in group[1:]]
            line += f" (also {_plural(len(others), 'more pod')} of {owner['kind']} {owner['name']}: {_names(others)})"
        lines.append(line)
    return lines


def fix_lines(findings: list[dict]) -> list[str]:
    """One line per distinct fix, naming the first object it is for and how many more."""
    fixes: dict[str, list[str]] = {}
    for finding in findings:
        obj = finding["object"]
        name = f"{obj['kind']} {obj['namespace']}/{obj['name']}" if obj["namespace"] else f"{obj['kind']} {obj['name']}"
        whom = fixes.setdefault(finding["fix"], [])
        if name not in whom:
            whom.append(name)
    return [f"FIX {whom[0]}{f' and {len(whom) - 1} more' if len(whom) > 1 else ''}: {fix}"
            for fix, whom in fixes.items()]


def diagnose(snapshot: Snapshot, scope: Scope | None = None) -> dict:
    """Findings, counts, summary lines and ``healthy`` for what ``scope`` selects in ``snapshot``."""
    return Diagnosis(snapshot, scope).run()
