# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find objects by names or selector and update them safely, in bulk.

Private to the kubeops.platform collection: no compatibility promise outside it.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from ansible_collections.kubeops.platform.plugins.module_utils._client import K8sClient, Resource
from ansible_collections.kubeops.platform.plugins.module_utils._errors import ApiError, TaskFailed
from ansible_collections.kubeops.platform.plugins.module_utils._parallel import Stopped, Workers
from ansible_collections.kubeops.platform.plugins.module_utils._selectors import format_selector

TARGET_OPTIONS = {
    "names": {"type": "list", "elements": "str"},
    "selector": {"type": "str"},
    "all": {"type": "bool", "default": False},
    "missing": {"type": "str", "choices": ["fail", "warn", "ignore"]},
}
NAMESPACE_OPTIONS = {
    "namespace": {"type": "str"},
    "all_namespaces": {"type": "bool", "default": False},
}
OBJECT_OPTIONS = {
    "api_version": {"type": "str", "default": "v1"},
    "kind": {"type": "str", "default": "Node"},
    **NAMESPACE_OPTIONS,
}
# Destructive modules (restart, force_delete): a selector matching more objects than max_objects is
# refused; batch_size objects at a time, each batch done and healthy before the next starts.
GUARD_OPTIONS = {
    "max_objects": {"type": "int", "default": 10},
    "batch_size": {"type": "int", "default": 0},
    "batch_pause": {"type": "int", "default": 0},
}
CONFLICT_RETRIES = 5
NAMES_SHOWN = 10

Plan = Callable[[dict], "dict | None"]
View = Callable[[dict], object]
Done = TypeVar("Done")


class Targets:
    """The objects a task acts on: named ones plus every match of a label selector.

    The blast radius is explicit: an empty selector, every namespace, or more objects than
    ``max_objects`` (destructive modules) are refused unless the task says so (``all``,
    ``all_namespaces``, a higher ``max_objects``), before any request.
    """

    def __init__(self, resource: Resource, params: dict, missing: str | None = None):
        names, selector = params.get("names"), params.get("selector")
        select_all, all_namespaces = params.get("all"), params.get("all_namespaces")
        namespace = params.get("namespace")
        kind = resource.kind
        if select_all and (names or selector is not None):
            raise ValueError(f"all: true acts on every {kind}; it takes neither names nor selector")
        if selector is not None and not selector.strip():
            raise ValueError(
                f"selector is empty, which would match every {kind}: give a label selector (e.g. 'app=web') "
                f"or names; to act on every {kind} on purpose, leave selector out and set all: true"
            )
        if not names and selector is None and not select_all:
            raise ValueError("give names, selector, or both to choose the objects to act on "
                             f"(or all: true for every {kind})")
        if not resource.namespaced:
            if namespace or all_namespaces:
                option = "namespace" if namespace else "all_namespaces"
                raise ValueError(f"{kind} objects are not namespaced, so {option} cannot narrow them: remove "
                                 f"{option} (names and selector choose among all {kind} objects of the cluster)")
        elif namespace and all_namespaces:
            raise ValueError("give namespace or all_namespaces: true, not both")
        elif names and not namespace:
            raise ValueError(f"namespace is required to target {kind} objects by name")
        elif not namespace and not all_namespaces:
            which = "all: true" if select_all else f"selector '{selector}'"
            raise ValueError(f"no namespace given: {which} would choose {kind} objects in every namespace; set "
                             "namespace, or all_namespaces: true to act across all namespaces on purpose")
        self.resource = resource
        self.names = list(dict.fromkeys(names or []))
        # Parsed and re-formatted so a malformed selector fails before any request; "" lists all.
        self.selector = format_selector(selector) if selector is not None else ("" if select_all else None)
        self.namespace = namespace if resource.namespaced else None
        self.missing = params.get("missing") or missing
        self.max_objects = params.get("max_objects")
        self.missing_names: list[str] = []
        self.selector_matched = True

    def fetch(self, client: K8sClient) -> list[dict]:
        """One LIST for the selector and one GET per name; duplicates are acted on once."""
        found: dict[tuple, dict] = {}
        kind = self.resource.kind
        if self.selector is not None:
            matches = client.list(self.resource.path(self.namespace), label_selector=self.selector,
                                  action=f"list {kind} {self._chosen()}")
            self.selector_matched = bool(matches)
            self._check_count(matches)
            found.update((_key(item), item) for item in matches)
        for name in self.names:
            try:
                item = client.get(self.resource.path(self.namespace, name), action=f"get {kind} {name}")
            except ApiError as exc:
                if exc.status != 404:
                    raise
                self.missing_names.append(name)
                continue
            found.setdefault(_key(item), item)
        return list(found.values())

    def _chosen(self) -> str:
        return f"matching '{self.selector}'" if self.selector else "(all)"

    def _check_count(self, matches: list[dict]) -> None:
        """Refuse, before any write, a selector that matched more objects than max_objects allows."""
        if not self.max_objects or len(matches) <= self.max_objects:
            return
        where = f" in namespace {self.namespace}" if self.namespace else (
            " across all namespaces" if self.resource.namespaced else "")
        names = [describe(obj, self.resource.kind) for obj in matches[:NAMES_SHOWN]]
        more = f" and {len(matches) - NAMES_SHOWN} more" if len(matches) > NAMES_SHOWN else ""
        raise TaskFailed(
            f"{len(matches)} {self.resource.kind} objects {self._chosen()}{where}, more than max_objects "
            f"({self.max_objects}): {', '.join(names)}{more}. Nothing was changed. Narrow the selector, or set "
            f"max_objects: {len(matches)} (0 for no limit) to act on all of them",
            changed=False, results=[], missing=[])

    def collect(self, client: K8sClient, warn: Callable[[str], None]) -> list[dict]:
        """:meth:`fetch`, then fail or warn about what is missing, before anything is written."""
        objects = self.fetch(client)
        errors, warnings = self.missing_problems()
        if errors:
            raise TaskFailed("; ".join(errors), changed=False, results=[], missing=self.missing_names)
        for warning in warnings:
            warn(warning)
        return objects

    def summary(self, results: list[dict], diffs: list[dict], with_diff: bool) -> dict:
        """The module result: per-object results, missing names and, in diff mode, the diffs.

        In diff mode each changed entry of ``results`` carries its own ``diff`` too: when the
        task loops, Ansible's output looks for diffs inside a result's ``results`` list.
        """
        if not with_diff:
            for item in results:
                item.pop("diff", None)
        result = {"changed": any(r["changed"] for r in results), "results": results, "missing": self.missing_names}
        if with_diff:
            result["diff"] = diffs
        return result

    def missing_problems(self) -> tuple[list[str], list[str]]:
        """(errors, warnings) about named objects not found and a selector matching nothing."""
        errors: list[str] = []
        warnings: list[str] = []
        where = f" in namespace {self.namespace}" if self.namespace else ""
        kind = self.resource.kind
        if self.missing_names:
            text = f"{kind} not found{where}: {', '.join(self.missing_names)}"
            _sort(self.missing or "fail", text, errors, warnings)
        if self.selector is not None and not self.selector_matched:
            text = f"label selector '{self.selector}' matched no {kind}{where}" if self.selector else f"no {kind}{where}"
            _sort(self.missing or "warn", text, errors, warnings)
        return errors, warnings


def check_batches(params: dict, waits: bool = True) -> tuple[int, int]:
    """(batch_size, batch_pause), validated; a batch size of 0 means one batch of everything."""
    size, pause = params.get("batch_size") or 0, params.get("batch_pause") or 0
    if size < 0:
        raise ValueError(f"batch_size must be 0 (all at once) or more objects, got {size}")
    if pause < 0:
        raise ValueError(f"batch_pause must be 0 or more seconds, got {pause}")
    if pause and not size:
        raise ValueError("batch_pause applies between batches: set batch_size too")
    if size and not waits:
        raise ValueError("batch_size needs wait: true: each batch must be done and healthy before the next starts")
    return size, pause


def batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)] if size else [items]


def _sort(policy: str, text: str, errors: list, warnings: list) -> None:
    if policy == "fail":
        errors.append(text)
    elif policy == "warn":
        warnings.append(text)


def _key(obj: dict) -> tuple:
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")


def describe(obj: dict, kind: str) -> str:
    namespace, name = _key(obj)
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def update_objects(client: K8sClient, resource: Resource, objects: list[dict], plan: Plan, view: View,
                   check_mode: bool, field: str = "state", parallel: int = 1) -> tuple[list[dict], list[dict]]:
    """Apply ``plan`` to each object as a merge patch guarded by its resourceVersion.

    ``plan(obj)`` returns the merge patch that brings ``obj`` to the wanted state, or
    None when it is already there. Every plan is computed (and so validated) before
    the first write. A 409 Conflict means someone changed the object since it was
    read: read it again and re-plan, so concurrent runs never lose each other's edits.
    In check mode the patch is sent as a server-side dry run. Up to ``parallel`` writes
    are in flight at once; results keep the objects' order.
    Returns (results, diffs); a diff shows the views under ``field``, as Ansible prints mappings.
    """
    for obj in objects:
        plan(obj)  # every change is validated before the first write

    def write(worker: K8sClient, obj: dict) -> dict | None:
        return _update_one(worker, resource, obj, plan, view, check_mode)

    try:
        with Workers(client, parallel) as workers:
            outcomes = workers.map(write, objects)
    except Stopped as stop:
        done = [r for r in stop.done if r is not None]
        _with_diffs(done, resource, field)
        error = stop.error
        raise TaskFailed(str(error), changed=any(r["changed"] for r in done), results=done,
                         **({"status": error.status} if isinstance(error, ApiError) else {})) from error
    results = [r for r in outcomes if r is not None]
    return results, _with_diffs(results, resource, field)


def _with_diffs(results: list[dict], resource: Resource, field: str) -> list[dict]:
    diffs = []
    for result in results:
        if result["changed"]:
            header = describe({"metadata": {"namespace": result.get("namespace"), "name": result["name"]}},
                              resource.kind)
            result["diff"] = {"before_header": header, "after_header": header,
                              "before": {field: result["before"]}, "after": {field: result["after"]}}
            diffs.append(result["diff"])
    return diffs


def retry_on_conflict(label: str, obj: dict, attempt: Callable[[dict], Done], reread: Callable[[], "dict | None"],
                      doing: str = "being updated") -> Done | None:
    """``attempt(obj)``; after a 409 Conflict read the object again and attempt again on what is there now.

    A guarded write that conflicts lost a race with another writer: re-reading and re-planning keeps both
    edits. Returns None when the object is gone meanwhile (``reread`` returned None).
    """
    for _attempt in range(CONFLICT_RETRIES):
        try:
            return attempt(obj)
        except ApiError as exc:
            if exc.status != 409:
                raise
        obj = reread()
        if obj is None:
            return None
    raise ApiError(409, "Conflict", f"{label} kept changing while {doing} ({CONFLICT_RETRIES} conflicts in a row)",
                   label)


def read_or_none(client: K8sClient, path: str, label: str) -> dict | None:
    try:
        return client.get(path, action=f"read {label}")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def _update_one(client, resource, obj, plan, view, check_mode) -> dict | None:
    namespace, name = _key(obj)
    path = resource.path(namespace, name)
    label = describe(obj, resource.kind)

    def attempt(current: dict) -> dict | None:
        before, patch = view(current), plan(current)
        if patch is None:
            return _result(resource, current, False, before, before)
        guarded = dict(patch)
        guarded["metadata"] = dict(patch.get("metadata") or {}, resourceVersion=current["metadata"]["resourceVersion"])
        try:
            updated = client.patch(path, guarded, dry_run=check_mode, action=f"update {label}")
        except ApiError as exc:
            if exc.status == 404:
                return None  # deleted since it was read: nothing left to update
            raise
        return _result(resource, current, True, before, view(updated))

    return retry_on_conflict(label, obj, attempt, lambda: read_or_none(client, path, label))


def _result(resource: Resource, obj: dict, changed: bool, before, after) -> dict:
    namespace, name = _key(obj)
    result = {"kind": resource.kind, "name": name, "changed": changed, "before": before, "after": after}
    if namespace:
        result["namespace"] = namespace
    return result
