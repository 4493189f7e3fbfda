# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart workloads and bare pods: the engine behind the restart module.

Private to the kubeops.platform collection: no compatibility promise outside it.

Strategies, as an operator would do them with kubectl:

- ``rollout``: ``kubectl rollout restart`` (pod template annotation ``kubectl.kubernetes.io/restartedAt``);
- ``recreate``: ``kubectl get pod P -o yaml | kubectl replace --force -f -`` for a bare pod;
- ``scale``: ``kubectl scale --replicas=0``, wait for the pods to go, scale back;
- ``delete_pods``: ``kubectl delete pod`` of the workload's pods, for its controller to replace.

Every object's strategy is chosen and checked before the first write; one task restarts
all its targets together and waits for all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.kubeops.platform.plugins.module_utils import _rollout
from ansible_collections.kubeops.platform.plugins.module_utils._client import MERGE_PATCH, K8sClient
from ansible_collections.kubeops.platform.plugins.module_utils._errors import ApiError, TaskFailed
from ansible_collections.kubeops.platform.plugins.module_utils._parallel import (
    PARALLEL_OPTIONS,
    Stopped,
    Workers,
    check_parallel,
)
from ansible_collections.kubeops.platform.plugins.module_utils._owners import Owners, controller_ref
from ansible_collections.kubeops.platform.plugins.module_utils._pod_manifest import clean_pod_manifest
from ansible_collections.kubeops.platform.plugins.module_utils._pods import describe_pods, is_ready, is_terminating, pod_problem
from ansible_collections.kubeops.platform.plugins.module_utils._restart_plan import (
    KINDS,
    RESTARTED_AT,
    STRATEGIES,
    TRIGGER_ANNOTATION,
    check_strategy,
    choose_strategy,
    resolve_kind,
    restarted_at,
    trigger_unchanged,
    view,
)
from ansible_collections.kubeops.platform.plugins.module_utils._rollout import (
    Progress,
    observed,
    pod_status,
    replicas_status,
    rollout_status,
    spec_replicas,
    wait_for,
)
from ansible_collections.kubeops.platform.plugins.module_utils._selectors import format_selector
from ansible_collections.kubeops.platform.plugins.module_utils._targets import (
    GUARD_OPTIONS,
    NAMESPACE_OPTIONS,
    TARGET_OPTIONS,
    Targets,
    batches,
    check_batches,
    describe,
    read_or_none,
    update_objects,
)


def restart_options() -> dict:
    return {
        "kind": {"type": "str", "default": "Deployment"},
        **NAMESPACE_OPTIONS,
        **TARGET_OPTIONS,
        **GUARD_OPTIONS,
        **PARALLEL_OPTIONS,
        "strategy": {"type": "str", "choices": STRATEGIES},
        "grace_period": {"type": "int"},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 300},
        "trigger": {"type": "str"},
    }


# ---- the run ----------------------------------------------------------------------------------------
@dataclass
class Item:
    """One workload (or pod) being restarted."""

    kind: str
    obj: dict
    strategy: str
    before: dict
    old_pods: list[dict] = field(default_factory=list)
    started: float = 0.0
    finished: float | None = None
    changed: bool = False
    message: str = ""
    waiting: str = ""
    after: dict | None = None
    # what the last look saw: the object (None once deleted), or for a controlled pod its owner
    current: dict | None = None
    owner_kind: str = ""
    replicas: int = 0
    scaled_down: bool = False
    manifest: dict | None = None

    @property
    def key(self) -> tuple:
        meta = self.obj["metadata"]
        return meta.get("namespace"), meta["name"]

    @property
    def label(self) -> str:
        return describe(self.obj, self.kind)

    @property
    def watched_kind(self) -> str:
        return self.owner_kind or self.kind


def _by_status(check):
    """A look at a workload's status through ``check`` (rollout_status or replicas_status)."""

    def look(kind: str, obj: dict | None, _item: Item) -> Progress:
        return check(kind, obj) if obj is not None else Progress(False, f"the {kind} was deleted", failed=True)

    return look


class Restart:
    def __init__(self, client: K8sClient, params: dict, check_mode: bool, warn):
        self.client = client
        self.check_mode = check_mode
        self.warn = warn
        self.kind = resolve_kind(params["kind"])
        self.strategy = params["strategy"]
        self.trigger = params["trigger"]
        self.grace_period = params["grace_period"]
        self.wait = params["wait"] and not check_mode
        self.timeout = params["wait_timeout"]
        check_strategy(self.kind, self.strategy)
        if self.timeout is None or self.timeout <= 0:
            raise ValueError(f"wait_timeout must be a positive number of seconds, got {self.timeout}")
        if self.grace_period is not None:
            if self.grace_period < 0:
                raise ValueError(f"grace_period must be 0 (delete at once) or more seconds, got {self.grace_period}")
            used = self.strategy or KINDS[self.kind].default
            if used in ("rollout", "scale"):
                raise ValueError("grace_period applies to the strategies that delete pods (delete_pods, recreate), "
                                 f"not to {used}")
        self.parallel = check_parallel(params["parallel"])
        self.batch_size, self.batch_pause = check_batches(params, waits=params["wait"])
        self.resource = client.resource(KINDS[self.kind].api_version, self.kind)
        self.pods = client.resource("v1", "Pod")
        self.targets = Targets(self.resource, params)
        self.items: list[Item] = []

    # -- entry point
    def run(self, with_diff: bool) -> dict:
        objects = self.targets.collect(self.client, self.warn)
        problems: list[str] = []
        for obj in objects:
            try:
                strategy = choose_strategy(self.kind, obj, self.strategy, self.trigger)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            self.items.append(Item(self.kind, obj, strategy, view(self.kind, obj)))
        if problems:
            raise TaskFailed("; ".join(problems), changed=False, results=[], missing=self.targets.missing_names)
        todo = []
        for item in self.items:
            if trigger_unchanged(item.obj, self.trigger):
                item.message = "trigger unchanged since the last restart: not restarted"
            elif item.strategy == "scale" and spec_replicas(item.obj) == 0:
                item.message = "scaled to 0 replicas: no pods to restart"
            else:
                todo.append(item)
        groups = batches(todo, self.batch_size)
        for number, batch in enumerate(groups, 1):
            try:
                self._restart(batch)
            except TaskFailed as exc:
                rest = [item for later in groups[number:] for item in later]
                if not rest:
                    raise
                for item in rest:
                    item.message = f"not restarted: batch {number} of {len(groups)} did not complete"
                raise self.failure(f"{exc}; stopped after batch {number} of {len(groups)}: "
                                   f"{', '.join(item.label for item in rest)} not restarted",
                                   **{k: v for k, v in exc.result.items()
                                      if k not in ("changed", "results", "missing")}) from exc
            if number < len(groups) and self.batch_pause and not self.check_mode:
                _rollout.sleep(self.batch_pause)
        return self.targets.summary(self.results(), self.diffs(), with_diff)

    def _restart(self, items: list[Item]) -> None:
        for strategy, step in (("rollout", self._rollout), ("delete_pods", self._delete_pods),
                               ("scale", self._scale), ("recreate", self._recreate)):
            group = [item for item in items if item.strategy == strategy]
            if group:
                step(group)

    def _each(self, work, items: list) -> list:
        """``work(client, item)`` for each item over up to ``parallel`` connections; the first failure fails."""
        try:
            with Workers(self.client, self.parallel) as workers:
                return workers.map(work, items)
        except Stopped as stop:
            if isinstance(stop.error, TaskFailed):
                raise stop.error from None
            raise self.failure(str(stop.error)) from stop.error

    # -- rollout
    def _rollout(self, items: list[Item]) -> None:
        for item in items:
            item.old_pods = self.pods_of(item.kind, item.obj)

        def plan(obj: dict) -> dict | None:
            if trigger_unchanged(obj, self.trigger):
                return None  # another run restarted it for this trigger meanwhile
            template_meta = (obj.get("spec") or {}).get("template", {}).get("metadata") or {}
            previous = (template_meta.get("annotations") or {}).get(RESTARTED_AT)
            patch: dict = {"spec": {"template": {"metadata": {"annotations": {
                RESTARTED_AT: restarted_at(previous=previous)}}}}}
            if self.trigger is not None:
                patch["metadata"] = {"annotations": {TRIGGER_ANNOTATION: self.trigger}}
            return patch

        started = _rollout.monotonic()
        for item in items:
            item.started = started
        self._update(items, plan)
        self._finish([item for item in items if item.changed], _by_status(rollout_status), "the rollout")

    def _update(self, items: list[Item], plan) -> None:
        """resourceVersion-guarded merge patches (server dry runs in check mode) through update_objects."""
        answers: dict[tuple, dict] = {}

        def capture(obj: dict) -> dict:
            answers[(obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj  # the last one seen
            return view(self.kind, obj)

        def record(results: list[dict]) -> None:
            done = {(r.get("namespace"), r["name"]): r for r in results}
            for item in items:
                if item.key in done:
                    item.changed = done[item.key]["changed"]
                    item.obj = answers.get(item.key, item.obj)
                    if not item.changed:
                        item.message = "trigger unchanged since the last restart: not restarted"

        try:
            results, _diffs = update_objects(self.client, self.resource, [item.obj for item in items], plan, capture,
                                             self.check_mode, parallel=self.parallel)
        except TaskFailed as exc:
            record(exc.result.get("results") or [])
            raise self.failure(str(exc)) from exc
        record(results)
        gone = [item.label for item in items if item.key not in {(r.get("namespace"), r["name"]) for r in results}]
        if gone:
            raise self.failure(f"{', '.join(gone)} deleted while being restarted")

    # -- delete_pods
    def _delete_pods(self, items: list[Item]) -> None:
        for item in items:
            if item.kind == "Pod":
                item.old_pods = [item.obj]
                owner = controller_ref(item.obj) or {}
                if owner.get("kind") in ("ReplicaSet", "StatefulSet", "DaemonSet"):
                    item.owner_kind = owner["kind"]
            else:  # pods already terminating go anyway: neither deleted again nor waited for
                item.old_pods = [p for p in self.pods_of(item.kind, item.obj) if not is_terminating(p)]
        started = _rollout.monotonic()
        for item in items:
            item.started = started
        self._each(self._delete_pod, [pod for item in items for pod in item.old_pods])
        for item in items:
            item.changed = True
        if self.trigger is not None and not self.check_mode:
            self._each(self._record_trigger, items)
        self._finish(items, self._replaced, "the pods to be replaced")

    def _delete_pod(self, client: K8sClient, pod: dict) -> None:
        body: dict = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": pod["metadata"]["uid"]}}
        if self.grace_period is not None:
            body["gracePeriodSeconds"] = self.grace_period
        namespace, name = pod["metadata"].get("namespace"), pod["metadata"]["name"]
        try:
            client.delete(self.pods.path(namespace, name), body, dry_run=self.check_mode,
                          action=f"delete Pod {namespace}/{name}")
        except ApiError as exc:
            if exc.status not in (404, 409):  # 404 gone, 409 already replaced by a new pod of that name
                raise self.failure(str(exc)) from exc

    def _record_trigger(self, client: K8sClient, item: Item) -> None:
        patch = {"metadata": {"annotations": {TRIGGER_ANNOTATION: self.trigger}}}
        namespace, name = item.key
        try:
            item.obj = client.patch(self.resource.path(namespace, name), patch, MERGE_PATCH,
                                    action=f"record the restart trigger on {item.label}")
        except ApiError as exc:
            raise self.failure(str(exc)) from exc

    def _replaced(self, kind: str, obj: dict | None, item: Item) -> Progress:
        """Done when every old pod is gone and the controller runs all its replicas again, ready."""
        old_uids = {p["metadata"]["uid"] for p in item.old_pods}
        if item.kind == "Pod" and not item.owner_kind:
            # an owner of a kind whose status is unknown here: done once the old pod is gone
            old = obj is not None and obj["metadata"]["uid"] in old_uids
            return Progress(not old, "the old pod is still there" if old else "replaced")
        if obj is None:
            return Progress(False, f"the {kind} was deleted", failed=True)
        pods = self.pods_of(kind, obj)
        left = [p["metadata"]["name"] for p in pods if p["metadata"]["uid"] in old_uids and not is_terminating(p)]
        if left:
            return Progress(False, f"old pods not deleted yet: {', '.join(left)}")
        wanted = _rollout.desired_pods(kind, obj)
        ready = sum(map(is_ready, pods))
        if ready < wanted:
            return Progress(False, f"{ready} of {wanted} new pods are ready")
        return replicas_status(kind, obj)

    # -- scale
    def _scale(self, items: list[Item]) -> None:
        started = _rollout.monotonic()
        for item in items:
            item.old_pods = self.pods_of(item.kind, item.obj)
            item.replicas = spec_replicas(item.obj)
            item.started = started
        try:
            try:
                self._update(items, lambda obj: {"spec": {"replicas": 0}})
            finally:
                for item in items:
                    item.scaled_down = item.changed and not self.check_mode
            if self.check_mode:
                return
            self._wait(items, self._scaled_down, "the pods to go after scaling to 0")
            self._each(self._scale_back, items)
        except BaseException as exc:  # never leave a workload at 0 replicas, not even on an interrupt
            restored = self._restore(items)
            if isinstance(exc, TaskFailed):
                raise self.failure(f"{exc}; {restored}", **{k: v for k, v in exc.result.items()
                                                            if k not in ("changed", "results", "missing")}) from exc
            if isinstance(exc, Exception):
                raise self.failure(f"{exc}; {restored}") from exc
            raise
        self._finish(items, _by_status(replicas_status), "the pods to be ready again")

    def _scaled_down(self, kind: str, obj: dict | None, item: Item) -> Progress:
        if obj is None:
            return Progress(False, f"the {kind} was deleted while scaled to 0", failed=True)
        if not observed(obj):
            return Progress(False, "waiting for the scale to 0 to be observed")
        left = self.pods_of(kind, obj)
        if left:
            return Progress(False, f"pods still there: {', '.join(p['metadata']['name'] for p in left)}")
        return Progress(True, "no pods left")

    def _scale_back(self, client: K8sClient, item: Item) -> None:
        patch: dict = {"spec": {"replicas": item.replicas}}
        if self.trigger is not None:
            patch["metadata"] = {"annotations": {TRIGGER_ANNOTATION: self.trigger}}
        namespace, name = item.key
        item.obj = client.patch(self.resource.path(namespace, name), patch, MERGE_PATCH,
                                action=f"scale {item.label} back to {item.replicas} replicas")
        item.scaled_down = False

    def _restore(self, items: list[Item]) -> str:
        """Scale back every workload this task left at 0; says what it did, loudly when it could not."""
        restored, failed = [], []
        for item in items:
            if not item.scaled_down:
                continue
            try:
                self._scale_back(self.client, item)
                restored.append(f"{item.label} to {item.replicas}")
            except Exception as exc:  # report every cause and go on restoring the others
                namespace, name = item.key
                failed.append(f"{item.label} is LEFT AT 0 REPLICAS ({exc}): run kubectl scale "
                              f"{self.kind.lower()} {name} -n {namespace} --replicas={item.replicas}")
        parts = ["replicas restored: " + ", ".join(restored)] if restored else []
        return "; ".join(parts + failed) or "no workload was left scaled down"

    # -- recreate
    def _recreate(self, items: list[Item]) -> None:
        started = _rollout.monotonic()
        for item in items:
            item.started = started
            item.old_pods = [item.obj]
            item.manifest = clean_pod_manifest(item.obj)
            if self.trigger is not None:
                item.manifest["metadata"].setdefault("annotations", {})[TRIGGER_ANNOTATION] = self.trigger

        def delete(client: K8sClient, item: Item) -> Item:
            self._delete_pod(client, item.obj)
            item.changed = True
            return item

        try:
            with Workers(self.client, self.parallel) as workers:
                workers.map(delete, items)
        except Stopped as stop:
            deleted = [item for item in items if item.changed]
            if not deleted:
                raise stop.error if isinstance(stop.error, TaskFailed) else self.failure(str(stop.error))
            raise self.failure(f"{stop.error}; {', '.join(item.label for item in deleted)} were deleted and are not "
                               "created again: their manifests are in 'manifests'",
                               manifests=[item.manifest for item in deleted]) from stop.error
        if self.check_mode:
            return
        self._wait(items, self._old_pod_gone, "the old pods to go before creating them again", manifests=True)
        failures = []
        for item in items:
            namespace, name = item.key
            try:
                item.obj = self.client.create(self.pods.path(namespace), item.manifest,
                                              action=f"create Pod {namespace}/{name} again")
            except ApiError as exc:
                failures.append((item, exc))
        if failures:
            text = "; ".join(f"{item.label} was deleted, but creating it again failed: {exc}" for item, exc in failures)
            which = "Its manifest is" if len(failures) == 1 else "Their manifests are"
            raise self.failure(f"{text}. {which} in 'manifests', to create from there "
                               "(kubectl create -f, or kubernetes.core.k8s)",
                               manifests=[item.manifest for item, _exc in failures])
        self._finish(items, self._new_pod_ready, "the new pods to be ready")

    def _old_pod_gone(self, kind: str, obj: dict | None, item: Item) -> Progress:
        if obj is None:
            return Progress(True, "deleted")
        if obj["metadata"]["uid"] != item.old_pods[0]["metadata"]["uid"]:
            return Progress(False, "a pod of the same name was created by someone else meanwhile", failed=True)
        problem = pod_problem(obj)
        held = f" (held by finalizers {problem['message']})" if problem["reason"] == "Finalizers" else ""
        return Progress(False, "the old pod is still terminating" + held)

    @staticmethod
    def _new_pod_ready(kind: str, obj: dict | None, item: Item) -> Progress:
        if obj is None:
            return Progress(False, "the new pod was deleted", failed=True)
        return pod_status(obj)

    # -- waiting
    def _finish(self, items: list[Item], look, what: str) -> None:
        """Wait for ``items`` when asked to, then fill in their after views.

        Every look checks that no old pod serves any more, so a completed wait means all the
        pods listed before the restart were replaced: no second listing is needed.
        """
        if not items or self.check_mode:
            return
        if self.wait:
            self._wait(items, look, what)
        for item in items:
            if item.finished is None:
                item.finished = _rollout.monotonic()
            item.after = view(item.kind, item.obj)

    def _wait(self, items: list[Item], look, what: str, manifests: bool = False) -> None:
        """Look at every pending item until ``look`` says done, backing off between looks."""
        for item in items:
            item.finished = None

        def check(pending: list[Item]) -> list[Item]:
            self._refresh(pending)
            still = []
            for item in pending:
                progress = look(item.watched_kind, item.current, item)
                item.waiting = progress.message
                if progress.failed:
                    raise self._stuck([item], f"the restart of {item.label} cannot complete", manifests)
                if progress.done:
                    item.finished = _rollout.monotonic()
                else:
                    still.append(item)
            return still

        left = wait_for(items, check, self.timeout,
                        lambda pending: tuple((item.waiting, _version(item.current)) for item in pending))
        if left:
            raise self._stuck(left, f"timed out after {self.timeout}s waiting for {what}", manifests)

    def _refresh(self, items: list[Item]) -> None:
        """Read the pending objects again: one LIST when a selector chose them, else a GET each."""
        listed: dict[tuple, dict] = {}
        if self.targets.selector is not None and any(not item.owner_kind for item in items):
            for obj in self.client.list(self.resource.path(self.targets.namespace),
                                        label_selector=self.targets.selector,
                                        action=f"list {self.kind} matching '{self.targets.selector}'"):
                listed[(obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj
        for item in items:
            if item.owner_kind:
                owner = controller_ref(item.old_pods[0]) or {}
                item.current = self._get(self.client.resource("apps/v1", item.owner_kind), item.key[0], owner["name"])
            else:
                item.current = listed.get(item.key) or self._get(self.resource, *item.key)
                if item.current is not None:
                    item.obj = item.current

    def _get(self, resource, namespace: str | None, name: str) -> dict | None:
        return read_or_none(self.client, resource.path(namespace, name), f"{resource.kind} {namespace}/{name}")

    def _stuck(self, items: list[Item], headline: str, manifests: bool) -> TaskFailed:
        """The failure of a wait: what each item still waits for, and which of its pods are not ready."""
        pending, lines = [], []
        for item in items:
            problems = []
            if item.current is not None:
                pods = [item.current] if item.watched_kind == "Pod" else self.pods_of(item.watched_kind, item.current)
                problems = [pod_problem(p) for p in pods if not is_ready(p)]
            namespace, name = item.key
            pending.append({"kind": item.kind, "name": name, "namespace": namespace, "waiting_for": item.waiting,
                            "pods": problems})
            line = f"{item.label}: {item.waiting}"
            if problems:
                line += f"; pods not ready: {describe_pods(problems)}"
            lines.append(line)
        text = f"{headline}: " + "; ".join(lines)
        extra: dict = {"pending": pending}
        if manifests:
            text += ("; these pods are deleted once they finish terminating and are not created again: their "
                     "manifests are in 'manifests'")
            extra["manifests"] = [item.manifest for item in items]
        return self.failure(text, **extra)

    # -- pods of a workload
    def pods_of(self, kind: str, obj: dict) -> list[dict]:
        """The pods a workload controls: its selector's matches that it (or its ReplicaSets) owns."""
        if kind == "Pod":
            return [obj]
        namespace, name = obj["metadata"].get("namespace"), obj["metadata"]["name"]
        selector = format_selector((obj.get("spec") or {}).get("selector") or {})
        pods = self.client.list(self.pods.path(namespace), label_selector=selector,
                                action=f"list the pods of {kind} {namespace}/{name}")
        replicasets = []
        if kind == "Deployment":  # its pods are owned by its ReplicaSets, which it owns: uids, not names
            replicasets = self.client.list(self.client.resource("apps/v1", "ReplicaSet").path(namespace),
                                           label_selector=selector,
                                           action=f"list the ReplicaSets of Deployment {namespace}/{name}")
        return Owners(replicasets).pods_of(obj, pods)

    # -- results
    def results(self) -> list[dict]:
        results = []
        for item in self.items:
            namespace, name = item.key
            finished = item.finished if item.finished is not None else _rollout.monotonic()
            result = {"kind": item.kind, "name": name, "changed": item.changed, "strategy": item.strategy,
                      "before": item.before, "after": item.after or view(item.kind, item.obj),
                      "pods_replaced": [p["metadata"]["name"] for p in item.old_pods] if item.changed else [],
                      "duration": round(finished - item.started, 2) if item.changed else 0.0,
                      "message": item.message or self._message(item)}
            if namespace:
                result["namespace"] = namespace
            results.append(result)
        return results

    def _message(self, item: Item) -> str:
        how = {"rollout": "rollout restart", "recreate": "deleted and created again",
               "scale": f"scaled to 0 and back to {item.replicas}",
               "delete_pods": "pods deleted for the controller to replace"}[item.strategy]
        if self.check_mode:
            return f"would restart: {how}"
        if not self.wait:
            return f"restart started: {how}"
        return f"restarted: {how}"

    def diffs(self) -> list[dict]:
        diffs = []
        for result in self.results():
            if result["changed"]:
                header = describe({"metadata": {"namespace": result.get("namespace"), "name": result["name"]}},
                                  result["kind"])
                diffs.append({"before_header": header, "after_header": header,
                              "before": result["before"], "after": result["after"]})
        return diffs

    def failure(self, message: str, **extra) -> TaskFailed:
        return TaskFailed(message, changed=any(i.changed for i in self.items), results=self.results(),
                          missing=self.targets.missing_names, **extra)


def _version(obj: dict | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


def run_restart(module, client: K8sClient) -> dict:
    return Restart(client, module.params, module.check_mode, module.warn).run(module._diff)
