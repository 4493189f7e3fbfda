# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Delete objects stuck on deletion: the engine behind the force_delete module.

Private to the kubeops.platform collection: no compatibility promise outside it.

What the notebook does by hand, in order and with guard rails:
``kubectl delete pod P --force --grace-period=0`` and
``kubectl patch pvc P -p '{"metadata":{"finalizers":null}}'`` (for a namespace, the ``finalize``
subresource). Finalizers are only stripped after a normal deletion had its chance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.kubeops.platform.plugins.module_utils._client import MERGE_PATCH, K8sClient
from ansible_collections.kubeops.platform.plugins.module_utils._errors import ApiError, TaskFailed
from ansible_collections.kubeops.platform.plugins.module_utils._parallel import (
    PARALLEL_OPTIONS,
    Stopped,
    Workers,
    check_parallel,
)
from ansible_collections.kubeops.platform.plugins.module_utils import _rollout
from ansible_collections.kubeops.platform.plugins.module_utils._owners import controller_ref
from ansible_collections.kubeops.platform.plugins.module_utils._pods import is_mirror_pod, is_terminating
from ansible_collections.kubeops.platform.plugins.module_utils._rollout import wait_for
from ansible_collections.kubeops.platform.plugins.module_utils._targets import (
    GUARD_OPTIONS,
    OBJECT_OPTIONS,
    TARGET_OPTIONS,
    Targets,
    batches,
    check_batches,
    describe,
    read_or_none,
    retry_on_conflict,
)

# What skipping a finalizer's work may leave behind, for the warning.
FINALIZER_HINTS = {
    "kubernetes.io/pvc-protection": "a pod may still be using the claim's volume",
    "kubernetes.io/pv-protection": "the volume may still be bound to a claim",
    "external-provisioner.volume.kubernetes.io/finalizer": "the backing storage volume may not be deleted",
    "kubernetes.io/pv-controller": "the backing storage volume may not be deleted",
    "kubernetes": "objects still in the namespace stay behind, orphaned",
    "foregroundDeletion": "dependent objects may not be deleted",
    "orphan": "dependent objects may keep an owner reference to a deleted object",
}
OTHER_FINALIZER = "its controller's cleanup of external resources or dependent objects is skipped"


def force_delete_options() -> dict:
    options = {**OBJECT_OPTIONS, **TARGET_OPTIONS, **GUARD_OPTIONS, **PARALLEL_OPTIONS}
    options["kind"] = {"type": "str", "default": "Pod"}
    options.update({
        "timeout": {"type": "int", "default": 60},
        "remove_finalizers": {"type": "bool", "default": False},
        "allow_live": {"type": "bool", "default": False},
    })
    return options


def finalizers_of(obj: dict) -> list[str]:
    """Everything that holds the object: metadata.finalizers, and a namespace's spec.finalizers."""
    held = list((obj.get("metadata") or {}).get("finalizers") or [])
    if obj.get("kind") == "Namespace":
        held += [f for f in (obj.get("spec") or {}).get("finalizers") or [] if f not in held]
    return held


def what_is_left_behind(finalizers: list[str]) -> str:
    hints = list(dict.fromkeys(FINALIZER_HINTS.get(f, OTHER_FINALIZER) for f in finalizers))
    return "; ".join(hints)


@dataclass
class Item:
    obj: dict
    label: str
    was_terminating: bool
    uid: str
    finalizers_before: list[str] = field(default_factory=list)
    deleted: bool = False
    finalizers_removed: list[str] = field(default_factory=list)
    gone: bool = False
    problem: str = ""
    skipped: str = ""

    @property
    def changed(self) -> bool:
        return self.deleted or bool(self.finalizers_removed)


class ForceDelete:
    def __init__(self, client: K8sClient, params: dict, check_mode: bool, warn):
        self.client = client
        self.check_mode = check_mode
        self.warn = warn
        self.timeout = params["timeout"]
        if self.timeout is None or self.timeout < 0:
            raise ValueError(f"timeout must be 0 or more seconds, got {self.timeout}")
        self.remove_finalizers = params["remove_finalizers"]
        self.allow_live = params["allow_live"]
        self.parallel = check_parallel(params["parallel"])
        self.batch_size, self.batch_pause = check_batches(params)
        self.resource = client.resource(params["api_version"], params["kind"])
        self.kind = self.resource.kind
        # Absent is what this module makes: a named object already gone is no failure by default.
        self.targets = Targets(self.resource, params, missing="ignore")
        self.items: list[Item] = []

    def run(self, with_diff: bool) -> dict:
        for obj in self.targets.collect(self.client, self.warn):
            obj.setdefault("apiVersion", self.resource.api_version)  # list items carry neither
            obj.setdefault("kind", self.kind)
            self.items.append(Item(obj, describe(obj, self.kind), is_terminating(obj), obj["metadata"].get("uid", ""),
                                   finalizers_of(obj)))
        groups = batches(self.items, self.batch_size)
        for number, batch in enumerate(groups, 1):
            self._delete_batch(batch)
            problems = [item.problem for item in batch if item.problem]
            if problems:
                rest = [item for later in groups[number:] for item in later]
                for item in rest:
                    item.skipped = f"not deleted: batch {number} of {len(groups)} did not complete"
                stop = (f"; stopped after batch {number} of {len(groups)}: {', '.join(i.label for i in rest)} "
                        "not deleted") if rest else ""
                raise TaskFailed("; ".join(problems) + stop, **self._summary(with_diff))
            if number < len(groups) and self.batch_pause and not self.check_mode:
                _rollout.sleep(self.batch_pause)
        return self._summary(with_diff)

    def _delete_batch(self, items: list[Item]) -> None:
        """Delete, wait, remove finalizers where allowed, wait again; what is left gets a problem."""
        self._each(self._delete, items)
        self._warn_immediate([item for item in items if item.deleted])
        if self.check_mode:
            for item in items:
                self._plan_finalizers(item)
            return
        self._wait([item for item in items if not item.gone])
        stuck = [item for item in items if not item.gone]
        strip = []
        for item in stuck:
            if not self.remove_finalizers:
                item.problem = (f"{item.label} is still there after {self.timeout}s, held by finalizers "
                                f"{', '.join(finalizers_of(item.obj)) or '(none)'}{self._conditions(item)}: set "
                                "remove_finalizers: true to remove them (what they protect may be left behind: "
                                f"{what_is_left_behind(finalizers_of(item.obj))})")
            elif not item.was_terminating and not self.allow_live:
                item.problem = (f"{item.label} was not terminating before this task and is still there after "
                                f"{self.timeout}s, held by finalizers {', '.join(finalizers_of(item.obj))}: "
                                "finalizers are not removed from a live object without allow_live: true (they "
                                f"protect: {what_is_left_behind(finalizers_of(item.obj))})")
            else:
                strip.append(item)
        self._each(self._strip, strip)
        self._wait([item for item in stuck if not item.gone and not item.problem])
        for item in stuck:
            if not item.gone and not item.problem:
                item.problem = (f"{item.label} is still there after its finalizers were removed and another "
                                f"{self.timeout}s{self._conditions(item)}")

    def _each(self, work, items: list[Item]) -> None:
        """``work(client, item)`` for each item over up to ``parallel`` connections; the first failure fails."""
        try:
            with Workers(self.client, self.parallel) as workers:
                workers.map(work, items)
        except Stopped as stop:
            if isinstance(stop.error, TaskFailed):
                raise stop.error from None
            raise self._failure(str(stop.error)) from stop.error

    # -- steps
    def _delete(self, client: K8sClient, item: Item) -> None:
        """DELETE unless already terminating; a pod always gets grace period 0 (kubectl --force)."""
        meta = item.obj["metadata"]
        is_pod = self.kind == "Pod" and self.resource.api_version == "v1"
        if item.was_terminating and not (is_pod and meta.get("deletionGracePeriodSeconds") != 0):
            return
        body: dict = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background",
                      "preconditions": {"uid": item.uid}}
        if is_pod:
            body["gracePeriodSeconds"] = 0
        try:
            answer = client.delete(self._path(item), body, dry_run=self.check_mode, action=f"delete {item.label}")
        except ApiError as exc:
            if exc.status in (404, 409):  # gone already, or replaced by a new object of that name
                item.gone = True
                return
            raise self._failure(str(exc)) from exc
        item.deleted = True
        if answer.get("kind") == "Status" or not (answer.get("metadata") or {}).get("deletionTimestamp"):
            item.gone = not self.check_mode
        else:
            item.obj = answer

    def _warn_immediate(self, deleted: list[Item]) -> None:
        """kubectl's warning for --force --grace-period=0, naming the pods it concerns and why."""
        if self.kind != "Pod":
            return
        on_nodes = [item for item in deleted if (item.obj.get("spec") or {}).get("nodeName")]
        if not on_nodes:
            return
        verb = "would be deleted" if self.check_mode else "were deleted"
        text = (f"pods {', '.join(item.label for item in on_nodes)} {verb} at once: immediate deletion does not wait "
                "for confirmation that the containers have stopped, so they may keep running on their node")
        stateful = [item.label for item in on_nodes if (controller_ref(item.obj) or {}).get("kind") == "StatefulSet"]
        if stateful:
            text += (f"; {', '.join(stateful)} belong to a StatefulSet, whose replacement starts under the same name "
                     "and may run beside the old pod (two pods with one identity and one volume)")
        mirrors = [item.label for item in on_nodes if is_mirror_pod(item.obj)]
        if mirrors:
            text += (f"; {', '.join(mirrors)} mirror static pods: the kubelet creates the mirror again and the "
                     "containers keep running until their manifest is removed from the node")
        self.warn(text)

    def _plan_finalizers(self, item: Item) -> None:
        """Check mode: which finalizers a real run would remove if the object were still there after the wait."""
        held = finalizers_of(item.obj)
        if not (self.remove_finalizers and held and not item.gone):
            return
        if not item.was_terminating and not self.allow_live:
            self.warn(f"{item.label} is not terminating: if it is still there after {self.timeout}s, its finalizers "
                      f"{', '.join(held)} are not removed without allow_live: true")
            return
        self._send_strip(self.client, item, dry_run=True)
        item.finalizers_removed = held

    def _strip(self, client: K8sClient, item: Item) -> None:
        held = finalizers_of(item.obj)
        if not held:
            return
        removed = self._send_strip(client, item, dry_run=False)
        if removed:
            item.finalizers_removed = removed
            self.warn(f"removed finalizers {', '.join(removed)} from {item.label}: what they protected may be left "
                      f"behind ({what_is_left_behind(removed)})")

    def _send_strip(self, client: K8sClient, item: Item, dry_run: bool) -> list[str]:
        """Clear the finalizers, guarded by resourceVersion; on a conflict read again and retry."""

        def attempt(obj: dict) -> list[str]:
            item.obj = obj
            held, meta = finalizers_of(obj), obj["metadata"]
            try:
                if meta.get("finalizers"):
                    patch = {"metadata": {"finalizers": None, "resourceVersion": meta["resourceVersion"]}}
                    answer = client.patch(self._path(item), patch, MERGE_PATCH, dry_run=dry_run,
                                          action=f"remove the finalizers of {item.label}")
                    if not dry_run and answer.get("metadata"):
                        item.obj = answer
                if self.kind == "Namespace" and (item.obj.get("spec") or {}).get("finalizers"):
                    body = {**item.obj, "spec": {**item.obj["spec"], "finalizers": []}}
                    client.replace(self._path(item, "finalize"), body, dry_run=dry_run, action=f"finalize {item.label}")
            except ApiError as exc:
                if exc.status != 404:
                    raise
                item.gone = True
            return held

        try:
            removed = retry_on_conflict(item.label, item.obj, attempt, lambda: self._get(item, client),
                                        "its finalizers were being removed")
        except ApiError as exc:
            raise self._failure(str(exc)) from exc
        if removed is None:
            item.gone = True
            return []
        return removed

    def _wait(self, items: list[Item]) -> None:
        """Until every item is gone, or the timeout."""

        def look(pending: list[Item]) -> list[Item]:
            for item in pending:
                current = self._get(item)
                item.gone = current is None
                item.obj = current or item.obj
            return [item for item in pending if not item.gone]

        wait_for(items, look, self.timeout, lambda pending: tuple(_version(item.obj) for item in pending))

    # -- helpers
    def _get(self, item: Item, client: K8sClient | None = None) -> dict | None:
        """The object as it is now, or None once it is gone (a new object of that name does not count)."""
        try:
            current = read_or_none(client or self.client, self._path(item), item.label)
        except ApiError as exc:
            raise self._failure(str(exc)) from exc
        if current is None or current["metadata"].get("uid") != item.uid:
            return None
        current.setdefault("apiVersion", self.resource.api_version)
        current.setdefault("kind", self.kind)
        return current

    def _path(self, item: Item, subresource: str | None = None) -> str:
        meta = item.obj["metadata"]
        return self.resource.path(meta.get("namespace"), meta["name"], subresource)

    def _conditions(self, item: Item) -> str:
        """A terminating namespace says what it still waits for in its conditions."""
        waiting = [c.get("message") for c in (item.obj.get("status") or {}).get("conditions") or []
                   if c.get("status") == "True" and c.get("message")]
        return f" ({'; '.join(waiting)})" if waiting else ""

    def _result(self, item: Item) -> dict:
        meta = item.obj["metadata"]
        if item.skipped:
            message = item.skipped
        elif self.check_mode:
            message = ("would delete" if item.deleted else "already terminating") + (
                f", then remove finalizers {', '.join(item.finalizers_removed)} if it is still there after "
                f"{self.timeout}s" if item.finalizers_removed else "")
        elif not item.gone:
            message = "still there"
        else:
            steps = (["deleted"] if item.deleted else []) + (
                [f"finalizers {', '.join(item.finalizers_removed)} removed"] if item.finalizers_removed else [])
            message = ", then ".join(steps) or "went away by itself while waiting"
        result = {"kind": self.kind, "name": meta["name"], "changed": item.changed,
                  "was_terminating": item.was_terminating, "deleted": item.deleted,
                  "finalizers_removed": item.finalizers_removed, "gone": item.gone and not self.check_mode,
                  "message": message}
        if meta.get("namespace"):
            result["namespace"] = meta["namespace"]
        return result

    def _summary(self, with_diff: bool) -> dict:
        results = [self._result(item) for item in self.items]
        for name in self.targets.missing_names:
            absent = {"kind": self.kind, "name": name, "changed": False, "was_terminating": False, "deleted": False,
                      "finalizers_removed": [], "gone": True, "message": "already absent"}
            if self.targets.namespace:
                absent["namespace"] = self.targets.namespace
            results.append(absent)
        summary = {"changed": any(r["changed"] for r in results), "results": results,
                   "missing": self.targets.missing_names}
        if with_diff:
            summary["diff"] = [self._diff(item) for item in self.items if item.changed]
        return summary

    def _diff(self, item: Item) -> dict:
        after = {"exists": False}
        if not (item.gone or self.check_mode):
            after = {"exists": True, "terminating": True, "finalizers": finalizers_of(item.obj)}
        return {"before_header": item.label, "after_header": item.label,
                "before": {"exists": True, "terminating": item.was_terminating, "finalizers": item.finalizers_before},
                "after": after}

    def _failure(self, message: str) -> TaskFailed:
        return TaskFailed(message, **self._summary(False))


def _version(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


def run_force_delete(module, client: K8sClient) -> dict:
    return ForceDelete(client, module.params, module.check_mode, module.warn).run(module._diff)
