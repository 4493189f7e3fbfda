# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find objects by names or selector and update them safely, in bulk.

Private to the kubeops.platform collection: no compatibility promise outside it.
"""

from __future__ import annotations

from typing import Callable

from ansible_collections.kubeops.platform.plugins.module_utils._client import ApiError, K8sClient, Resource
from ansible_collections.kubeops.platform.plugins.module_utils._module import TaskFailed
from ansible_collections.kubeops.platform.plugins.module_utils._selectors import format_selector

TARGET_OPTIONS = {
    "names": {"type": "list", "elements": "str"},
    "selector": {"type": "str"},
    "missing": {"type": "str", "choices": ["fail", "warn", "ignore"]},
}
OBJECT_OPTIONS = {
    "api_version": {"type": "str", "default": "v1"},
    "kind": {"type": "str", "default": "Node"},
    "namespace": {"type": "str"},
}
CONFLICT_RETRIES = 5

Plan = Callable[[dict], "dict | None"]
View = Callable[[dict], object]


class Targets:
    """The objects a task acts on: named ones plus every match of a label selector."""

    def __init__(self, resource: Resource, names: list[str] | None, selector: str | None,
                 namespace: str | None = None, missing: str | None = None):
        if not names and selector is None:
            raise ValueError("give names, selector, or both to choose the objects to act on")
        if names and resource.namespaced and not namespace:
            raise ValueError(f"namespace is required to target {resource.kind} objects by name")
        self.resource = resource
        self.names = list(dict.fromkeys(names or []))
        # Parsed and re-formatted so a malformed selector fails before any request.
        self.selector = format_selector(selector) if selector is not None else None
        self.namespace = namespace if resource.namespaced else None
        self.missing = missing
        self.missing_names: list[str] = []
        self.selector_matched = True

    def fetch(self, client: K8sClient) -> list[dict]:
        """One LIST for the selector and one GET per name; duplicates are acted on once."""
        found: dict[tuple, dict] = {}
        kind = self.resource.kind
        if self.selector is not None:
            matches = client.list(self.resource.path(self.namespace), label_selector=self.selector,
                                  action=f"list {kind} matching '{self.selector}'")
            self.selector_matched = bool(matches)
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
            shown = self.selector or "(empty selector)"
            text = f"label selector '{shown}' matched no {kind}{where}"
            _sort(self.missing or "warn", text, errors, warnings)
        return errors, warnings


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
                   check_mode: bool, field: str = "state") -> tuple[list[dict], list[dict]]:
    """Apply ``plan`` to each object as a merge patch guarded by its resourceVersion.

    ``plan(obj)`` returns the merge patch that brings ``obj`` to the wanted state, or
    None when it is already there. Every plan is computed (and so validated) before
    the first write. A 409 Conflict means someone changed the object since it was
    read: read it again and re-plan, so concurrent runs never lose each other's edits.
    In check mode the patch is sent as a server-side dry run.
    Returns (results, diffs); a diff shows the views under ``field``, as Ansible prints mappings.
    """
    planned = [(obj, plan(obj)) for obj in objects]
    results: list[dict] = []
    diffs: list[dict] = []
    for obj, patch in planned:
        try:
            result = _update_one(client, resource, obj, patch, plan, view, check_mode)
        except ApiError as exc:
            raise TaskFailed(str(exc), changed=any(r["changed"] for r in results), results=results,
                             status=exc.status) from exc
        if result is None:
            continue
        results.append(result)
        if result["changed"]:
            header = describe(obj, resource.kind)
            result["diff"] = {"before_header": header, "after_header": header,
                              "before": {field: result["before"]}, "after": {field: result["after"]}}
            diffs.append(result["diff"])
    return results, diffs


def _update_one(client, resource, obj, patch, plan, view, check_mode) -> dict | None:
    namespace, name = _key(obj)
    path = resource.path(namespace, name)
    label = describe(obj, resource.kind)
    for _attempt in range(CONFLICT_RETRIES):
        before = view(obj)
        if patch is None:
            return _result(resource, obj, False, before, before)
        guarded = dict(patch)
        guarded["metadata"] = dict(patch.get("metadata") or {}, resourceVersion=obj["metadata"]["resourceVersion"])
        try:
            updated = client.patch(path, guarded, dry_run=check_mode, action=f"update {label}")
        except ApiError as exc:
            if exc.status == 404:
                return None  # deleted since it was read: nothing left to update
            if exc.status != 409:
                raise
            obj = client.get(path, action=f"re-read {label} after a conflict")
            patch = plan(obj)
            continue
        return _result(resource, obj, True, before, view(updated))
    raise ApiError(409, "Conflict", f"{label} kept changing while being updated ({CONFLICT_RETRIES} conflicts in a row)",
                   f"update {label}")


def _result(resource: Resource, obj: dict, changed: bool, before, after) -> dict:
    namespace, name = _key(obj)
    result = {"kind": resource.kind, "name": name, "changed": changed, "before": before, "after": after}
    if namespace:
        result["namespace"] = namespace
    return result
