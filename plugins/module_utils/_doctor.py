# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor module: targeting, reading the cluster (one LIST per kind), gating on findings.

Private to the kubeops.platform collection: no compatibility promise outside it.
"""

from __future__ import annotations

from ansible_collections.kubeops.platform.plugins.module_utils._client import K8sClient, Resource
from ansible_collections.kubeops.platform.plugins.module_utils._errors import ApiError, TaskFailed
from ansible_collections.kubeops.platform.plugins.module_utils._diagnosis import (
    LOG_LINES,
    MAX_LOG_READS,
    TARGET_KINDS,
    Scope,
    Snapshot,
    Unavailable,
    diagnose,
)
from ansible_collections.kubeops.platform.plugins.module_utils._problems import ERROR, WARNING
from ansible_collections.kubeops.platform.plugins.module_utils._selectors import format_selector
from ansible_collections.kubeops.platform.plugins.module_utils._validation import show

# Every kind the diagnosis reads, resolved without discovery: kind -> (api_version, plural, namespaced).
READ_KINDS = {
    "Pod": ("v1", "pods", True),
    "Service": ("v1", "services", True),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims", True),
    "Event": ("v1", "events", True),
    "Node": ("v1", "nodes", False),
    "Deployment": ("apps/v1", "deployments", True),
    "StatefulSet": ("apps/v1", "statefulsets", True),
    "DaemonSet": ("apps/v1", "daemonsets", True),
    "ReplicaSet": ("apps/v1", "replicasets", True),
    "Job": ("batch/v1", "jobs", True),
    "EndpointSlice": ("discovery.k8s.io/v1", "endpointslices", True),
    "StorageClass": ("storage.k8s.io/v1", "storageclasses", False),
}
# kubectl's names for the kinds, so survey answers like "deploy", "svc" or "pvc" work.
ALIASES = {
    **dict.fromkeys(("deployment", "deployments", "deploy"), "Deployment"),
    **dict.fromkeys(("statefulset", "statefulsets", "sts"), "StatefulSet"),
    **dict.fromkeys(("daemonset", "daemonsets", "ds"), "DaemonSet"),
    **dict.fromkeys(("job", "jobs"), "Job"),
    **dict.fromkeys(("pod", "pods", "po"), "Pod"),
    **dict.fromkeys(("service", "services", "svc"), "Service"),
    **dict.fromkeys(("persistentvolumeclaim", "persistentvolumeclaims", "pvc"), "PersistentVolumeClaim"),
}
FAIL_ON = ("error", "warning", "never")


def doctor_options() -> dict:
    return {
        "namespace": {"type": "str"},
        "all_namespaces": {"type": "bool", "default": False},
        "kind": {"type": "str"},
        "names": {"type": "list", "elements": "str"},
        "selector": {"type": "str"},
        "fail_on": {"type": "str", "choices": list(FAIL_ON), "default": "never"},
        "logs": {"type": "bool", "default": True},
        "log_lines": {"type": "int", "default": LOG_LINES},
    }


def resolve_kind(text: str | None) -> str | None:
    """The canonical kind for a name as kubectl accepts it; None (or blank) for every kind."""
    if text is None or not text.strip():
        return None
    key = text.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    raise ValueError(f"kind {show(text)} is not diagnosed: choose one of {', '.join(TARGET_KINDS)} "
                     "(or leave it empty for all of them)")


def scope_from(params: dict) -> Scope:
    """Check the targeting options before any request; a blank selector does not narrow."""
    namespace = (params.get("namespace") or "").strip() or None
    every = bool(params.get("all_namespaces"))
    if namespace and every:
        raise ValueError(f"give namespace {show(namespace)} or all_namespaces: true, not both")
    if not namespace and not every:
        raise ValueError("give namespace, or all_namespaces: true to diagnose every namespace")
    kind = resolve_kind(params.get("kind"))
    names = [name.strip() for name in params.get("names") or [] if name and name.strip()]
    if names and kind is None:
        raise ValueError(f"names {', '.join(names)} need kind: say which kind of object they name")
    selector = (params.get("selector") or "").strip() or None
    if selector is not None:
        selector = format_selector(selector)  # a malformed selector fails here, naming the problem
    lines = params.get("log_lines")
    if lines is not None and not 1 <= lines <= 1000:
        raise ValueError(f"log_lines {lines} must be between 1 and 1000")
    return Scope(kind=kind, names=list(dict.fromkeys(names)), selector=selector, namespace=namespace)


def resource(kind: str) -> Resource:
    api_version, plural, namespaced = READ_KINDS[kind]
    return Resource(api_version, kind, plural, namespaced)


class ClusterReader:
    """Reads kinds for a snapshot: one LIST each, paginated; forbidden or unserved kinds are Unavailable."""

    def __init__(self, client: K8sClient, scope: Scope):
        self.client = client
        self.scope = scope
        # The kinds without which there is nothing to diagnose fail the task; the others only say less.
        self.required = {scope.kind or "Pod", "Pod"}

    def fetch(self, kind: str) -> list[dict]:
        res = resource(kind)
        namespace = self.scope.namespace if res.namespaced else None
        # The target kind alone is narrowed by the server (unless names are wanted too); the other
        # kinds are read whole, for context.
        selector = self.scope.selector if kind == self.scope.kind and not self.scope.names else None
        where = f" in namespace {namespace}" if namespace else (" in all namespaces" if res.namespaced else "")
        try:
            return self.client.list(res.path(namespace), label_selector=selector, action=f"list {kind}{where}")
        except ApiError as exc:
            if kind in self.required or exc.status not in (403, 404):
                raise
            raise Unavailable(f"HTTP {exc.status} {exc.reason}: {exc.message}") from exc

    def read_log(self, pod: dict, container: str, previous: bool, lines: int) -> str:
        meta = pod.get("metadata") or {}
        path = resource("Pod").path(meta.get("namespace"), meta.get("name"), "log")
        query = {"container": container, "tailLines": lines, "previous": "true" if previous else None}
        try:
            return self.client.read_text(path, query, action=f"read the log of {meta.get('name')}/{container}")
        except ApiError as exc:
            raise RuntimeError(exc.message) from exc

    def check_namespace(self) -> None:
        """A namespace that does not exist would look healthy (its lists are empty): say so instead."""
        if not self.scope.namespace:
            return
        try:
            self.client.get(Resource("v1", "Namespace", "namespaces", False).path(name=self.scope.namespace),
                            action=f"get namespace {self.scope.namespace}")
        except ApiError as exc:
            if exc.status == 404:
                raise ValueError(f"namespace {show(self.scope.namespace)} does not exist") from exc
            if exc.status != 403:  # allowed to read the namespace's objects, not the namespace itself
                raise


def gate(result: dict, fail_on: str) -> str | None:
    """The failure message when ``fail_on`` says the findings should fail the task, else None."""
    severities = {"error": (ERROR,), "warning": (ERROR, WARNING)}.get(fail_on, ())
    hits = [f for f in result["findings"] if f["severity"] in severities]
    if not hits:
        return None
    errors = sum(f["severity"] == ERROR for f in hits)
    warnings = len(hits) - errors
    counted = ", ".join(text for text in (f"{errors} error(s)" if errors else "",
                                          f"{warnings} warning(s)" if warnings else "") if text)
    lines = [line for line in result["summary"] if line.split(":", 1)[0].lower() in severities]
    return f"doctor found {counted} (fail_on={fail_on}): " + " | ".join(lines)


def run_doctor(module, client: K8sClient) -> dict:
    params = module.params
    scope = scope_from(params)
    reader = ClusterReader(client, scope)
    reader.check_namespace()
    snapshot = Snapshot(fetch=reader.fetch, read_log=reader.read_log if params.get("logs", True) else None,
                        max_log_reads=MAX_LOG_READS, log_lines=params.get("log_lines") or LOG_LINES)
    result = {"changed": False, **diagnose(snapshot, scope)}
    if scope.selector and not any(result["checked"].get(kind) for kind in ([scope.kind] if scope.kind else TARGET_KINDS)):
        module.warn(f"label selector '{scope.selector}' matched no {scope.kind or 'object'}"
                    + (f" in namespace {scope.namespace}" if scope.namespace else ""))
    failure = gate(result, params.get("fail_on") or "never")
    if failure:
        raise TaskFailed(failure, **result)
    return result
