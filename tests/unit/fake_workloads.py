"""Controllers, a scheduler and a kubelet over :class:`fake_k8s.FakeKube`, stepped by tests.

Each :meth:`Cluster.step` is one tick of a real cluster, in the order things happen there:

1. node controllers (:class:`NodeControllers`): the TTL controller annotates every Node with
   ``node.alpha.kubernetes.io/ttl`` for the cluster's size; the node lifecycle controller keeps the
   ``NoSchedule`` condition taints (not-ready, unreachable, memory/disk/pid-pressure,
   network-unavailable, unschedulable) in step with the Node's conditions and ``spec.unschedulable``
   (so a Node without conditions loses the not-ready taint the API server's admission gave it), and
   the ``NoExecute`` not-ready/unreachable taints with its Ready condition;
2. kubelet: pods that existed at the end of the previous tick start (Running and Ready, or stuck
   Pending when their image is in :attr:`Cluster.broken_images`); pods terminating since the previous
   tick go away, which confirms their graceful deletion, unless finalizers hold them: then their
   containers stop and the kubelet reports it in their status;
3. controllers: a Deployment keeps one ReplicaSet per pod template (the current one at
   ``spec.replicas``, older ones at 0) and sets ``deployment.kubernetes.io/revision``; ReplicaSets,
   StatefulSets and DaemonSets create missing pods and delete extra or outdated ones (gracefully);
   the garbage collector deletes pods and ReplicaSets whose controlling owner is gone, and finishes
   ``orphan`` and ``foregroundDeletion`` deletions;
4. scheduler: unscheduled pods get a node;
5. status: every workload's status is recomputed from its pods, with ``observedGeneration``.

So a new pod is visible not ready for one tick, and a deleted pod terminating for one tick:
a rollout of a Deployment completes in two ticks. Updates are all-at-once rather than rolling
(maxSurge/maxUnavailable are ignored), which keeps the status counters' meaning and takes fewer ticks.
The status fields and their names are those of the real controllers.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json

from fake_k8s import FakeKube, now

NEW_REVISION = "deployment.kubernetes.io/revision"
REVISION_LABEL = "controller-revision-hash"
TTL_ANNOTATION = "node.alpha.kubernetes.io/ttl"
# The TTL controller's steps: (fewest nodes, most nodes, ttl seconds), overlapping so it does not flap.
TTL_BOUNDARIES = [(0, 100, 0), (90, 500, 15), (450, 1000, 30), (900, 2000, 60), (1800, 2 ** 31 - 1, 300)]
# node condition -> {status: the NoSchedule taint the node lifecycle controller keeps for it}
CONDITION_TAINTS = {
    "Ready": {"False": "node.kubernetes.io/not-ready", "Unknown": "node.kubernetes.io/unreachable"},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def template_hash(template: dict) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def controller_of(obj: dict) -> dict | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def _ready(pod: dict) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def _live(pod: dict) -> bool:
    return not pod["metadata"].get("deletionTimestamp")


class NodeControllers:
    """The TTL controller and the node lifecycle controller's taint passes, over the fake's Nodes."""

    def __init__(self, fake: FakeKube):
        self.fake = fake
        self._ttl_step = 0

    def step(self) -> None:
        with self.fake._lock:
            nodes = [o for o in self.fake.objects.values() if o.get("kind") == "Node"]
            ttl = self._ttl(len(nodes))
            for node in nodes:
                changed = False
                annotations = node["metadata"].setdefault("annotations", {})
                if annotations.get(TTL_ANNOTATION) != str(ttl):
                    annotations[TTL_ANNOTATION] = str(ttl)
                    changed = True
                taints = self._taints(node)
                if taints != ((node.get("spec") or {}).get("taints") or []):
                    node.setdefault("spec", {})["taints"] = taints
                    if not taints:
                        node["spec"].pop("taints")
                    changed = True
                if changed:
                    node["metadata"]["resourceVersion"] = str(next(self.fake._rv))

    def _ttl(self, count: int) -> int:
        while count > TTL_BOUNDARIES[self._ttl_step][1] and self._ttl_step < len(TTL_BOUNDARIES) - 1:
            self._ttl_step += 1
        while count < TTL_BOUNDARIES[self._ttl_step][0] and self._ttl_step > 0:
            self._ttl_step -= 1
        return TTL_BOUNDARIES[self._ttl_step][2]

    @staticmethod
    def _taints(node: dict) -> list[dict]:
        """``doNoScheduleTaintingPass`` and ``doNoExecuteTaintingPass``: the node's taints afterwards."""
        conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        wanted = [(CONDITION_TAINTS[t][s], "NoSchedule") for t, s in conditions.items() if s in CONDITION_TAINTS.get(t, {})]
        if (node.get("spec") or {}).get("unschedulable"):
            wanted.append((UNSCHEDULABLE_TAINT, "NoSchedule"))
        managed = {(key, "NoSchedule") for by_status in CONDITION_TAINTS.values() for key in by_status.values()}
        managed.add((UNSCHEDULABLE_TAINT, "NoSchedule"))
        if "Ready" in conditions:  # the taint manager's NoExecute taints follow the Ready condition
            managed |= {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute")}
            if conditions["Ready"] in CONDITION_TAINTS["Ready"]:
                wanted.append((CONDITION_TAINTS["Ready"][conditions["Ready"]], "NoExecute"))
        current = copy.deepcopy((node.get("spec") or {}).get("taints") or [])
        kept = [t for t in current if (t.get("key"), t.get("effect")) not in managed or (t.get("key"), t.get("effect")) in wanted]
        present = {(t.get("key"), t.get("effect")) for t in kept}
        for key, effect in wanted:
            if (key, effect) not in present:
                kept.append({"key": key, "effect": effect, **({"timeAdded": now()} if effect == "NoExecute" else {})})
        return kept


class Cluster:
    def __init__(self, fake: FakeKube, nodes: tuple[str, ...] = ("node-1", "node-2")):
        self.fake = fake
        self.nodes = list(nodes)
        # image -> (waiting reason, message): pods with it never become ready
        self.broken_images: dict[str, tuple[str, str]] = {}
        # (namespace, name) of Deployments whose progress deadline has passed
        self.deadline_exceeded: set[tuple[str, str]] = set()
        self.ticks = 0
        self.node_controllers = NodeControllers(fake)
        self._seen: set[str] = set()
        self._suffix = itertools.count(1)

    # ---- store access ---------------------------------------------------------------------------
    def _all(self, kind: str, namespace: str | None = None) -> list[dict]:
        return [obj for key, obj in sorted(self.fake.objects.items(), key=lambda kv: (kv[0][2] or "", kv[0][3]))
                if obj.get("kind") == kind and (namespace is None or key[2] == namespace)]

    def _owned(self, kind: str, owner: dict) -> list[dict]:
        uid = owner["metadata"]["uid"]
        return [obj for obj in self._all(kind, owner["metadata"]["namespace"])
                if (controller_of(obj) or {}).get("uid") == uid]

    def _touch(self, obj: dict) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self.fake._rv))

    def _set(self, obj: dict, path: tuple[str, ...], value) -> None:
        """Write one field as a controller would: bump resourceVersion (and generation for spec)."""
        target = obj
        for part in path[:-1]:
            target = target.setdefault(part, {})
        if target.get(path[-1]) == value:
            return
        target[path[-1]] = value
        if path[0] == "spec":
            obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
        self._touch(obj)

    def _set_status(self, obj: dict, status: dict) -> None:
        if obj.get("status") != status:
            obj["status"] = status
            self._touch(obj)

    def _create(self, obj: dict) -> dict:
        kind = self.fake._kind_of(obj)
        return self.fake._create(kind, obj, obj["metadata"]["namespace"])

    def _delete_pod(self, pod: dict) -> None:
        """Graceful deletion, as a controller's DELETE would start it."""
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            return
        if not pod.get("spec", {}).get("nodeName") and not meta.get("finalizers"):
            self._remove(pod)
            return
        meta["deletionTimestamp"] = now()
        meta["deletionGracePeriodSeconds"] = 30
        self._touch(pod)

    def _remove(self, obj: dict) -> None:
        meta = obj["metadata"]
        for key, stored in list(self.fake.objects.items()):
            if stored is obj:
                del self.fake.objects[key]
                next(self.fake._rv)
                return
        raise KeyError(meta["name"])

    def _new_pod(self, owner: dict, template: dict, name: str, extra_labels: dict, node: str | None = None) -> dict:
        tmeta = template.get("metadata") or {}
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "namespace": owner["metadata"]["namespace"],
                "labels": {**(tmeta.get("labels") or {}), **extra_labels},
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                     "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                     "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
            "status": {"phase": "Pending"},
        }
        if node:
            pod["spec"]["nodeName"] = node
        return self._create(pod)

    # ---- one tick -------------------------------------------------------------------------------
    def step(self, times: int = 1) -> None:
        with self.fake._lock:
            for _tick in range(times):
                self.ticks += 1
                self.node_controllers.step()
                self._kubelet()
                self._garbage_collect()
                self._namespace_lifecycle()
                for dep in self._all("Deployment"):
                    self._deployment(dep)
                for rs in self._all("ReplicaSet"):
                    self._replicaset(rs)
                for sts in self._all("StatefulSet"):
                    self._statefulset(sts)
                for ds in self._all("DaemonSet"):
                    self._daemonset(ds)
                self._schedule()
                for rs in self._all("ReplicaSet"):
                    self._replicaset_status(rs)
                for dep in self._all("Deployment"):
                    self._deployment_status(dep)
                for sts in self._all("StatefulSet"):
                    self._statefulset_status(sts)
                for ds in self._all("DaemonSet"):
                    self._daemonset_status(ds)
                self._seen = {pod["metadata"]["uid"] for pod in self._all("Pod")}

    def settle(self, limit: int = 20) -> None:
        """Step until nothing changes any more."""
        for _tick in range(limit):
            before = copy.deepcopy(self.fake.objects)
            self.step()
            if self.fake.objects == before:
                return
        raise AssertionError(f"the fake cluster did not settle in {limit} ticks")

    def _kubelet(self) -> None:
        for pod in self._all("Pod"):
            meta = pod["metadata"]
            if meta["uid"] not in self._seen:
                continue
            if meta.get("deletionTimestamp"):
                if not meta.get("finalizers"):
                    self._remove(pod)
                else:
                    self._stop_containers(pod)
                continue
            if not pod["spec"].get("nodeName") or pod["status"].get("phase") != "Pending":
                continue
            containers = pod["spec"].get("containers") or [{"name": "main", "image": "pause"}]
            broken = [c for c in containers if c.get("image") in self.broken_images]
            statuses = []
            for container in containers:
                if container in broken:
                    reason, message = self.broken_images[container["image"]]
                    state = {"waiting": {"reason": reason, "message": message}}
                else:
                    state = {"running": {"startedAt": now()}}
                statuses.append({"name": container.get("name"), "image": container.get("image"),
                                 "ready": container not in broken, "restartCount": 0, "state": state})
            ready = "False" if broken else "True"
            status = {"phase": "Pending" if broken else "Running", "containerStatuses": statuses,
                      "conditions": [{"type": "PodScheduled", "status": "True"},
                                     {"type": "Ready", "status": ready,
                                      **({"reason": "ContainersNotReady"} if broken else {})}]}
            self._set_status(pod, status)

    def _stop_containers(self, pod: dict) -> None:
        """A terminating pod held by finalizers: its containers stop, and the kubelet says so."""
        status = pod.setdefault("status", {})
        stopped = [{"name": c.get("name"), "image": c.get("image"), "ready": False,
                    "restartCount": next((s.get("restartCount", 0) for s in status.get("containerStatuses") or []
                                          if s.get("name") == c.get("name")), 0),
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": now()}}}
                   for c in pod.get("spec", {}).get("containers") or []]
        if all("terminated" in (s.get("state") or {}) for s in status.get("containerStatuses") or [{}]):
            return
        status["containerStatuses"] = stopped
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") not in ("Ready", "ContainersReady")]
        status["conditions"] += [{"type": "Ready", "status": "False", "reason": "PodCompleted"},
                                 {"type": "ContainersReady", "status": "False", "reason": "PodCompleted"}]
        self._touch(pod)

    def _garbage_collect(self) -> None:
        uids = {obj["metadata"]["uid"] for obj in self.fake.objects.values()}
        for kind in ("ReplicaSet", "Pod"):
            for obj in self._all(kind):
                owner = controller_of(obj)
                if owner and owner["uid"] not in uids:
                    if kind == "Pod":
                        self._delete_pod(obj)
                    else:
                        self._remove(obj)
        finishing = [o for o in self.fake.objects.values() if o["metadata"].get("deletionTimestamp")
                     and {"orphan", "foregroundDeletion"} & set(o["metadata"].get("finalizers") or [])]
        for obj in finishing:
            if not any(stored is obj for stored in self.fake.objects.values()):
                continue  # went with an owner deleted before it
            finalizers = obj["metadata"]["finalizers"]
            uid = obj["metadata"]["uid"]
            dependents = [d for d in self.fake.objects.values()
                          if any(ref.get("uid") == uid for ref in d["metadata"].get("ownerReferences") or [])]
            if "orphan" in finalizers:  # the dependents lose the owner reference, then the owner goes
                for dependent in dependents:
                    refs = [r for r in dependent["metadata"]["ownerReferences"] if r.get("uid") != uid]
                    dependent["metadata"]["ownerReferences"] = refs
                    if not refs:
                        del dependent["metadata"]["ownerReferences"]
                    self._touch(dependent)
                self._release(obj, "orphan")
            elif "foregroundDeletion" in finalizers:  # dependents first, then the owner
                for dependent in dependents:
                    if dependent.get("kind") == "Pod":
                        self._delete_pod(dependent)
                    elif not dependent["metadata"].get("deletionTimestamp"):
                        dependent["metadata"]["deletionTimestamp"] = now()
                        dependent["metadata"]["deletionGracePeriodSeconds"] = 0
                        if not dependent["metadata"].get("finalizers"):
                            self._remove(dependent)
                        else:
                            self._touch(dependent)
                if not dependents:
                    self._release(obj, "foregroundDeletion")

    def _namespace_lifecycle(self) -> None:
        """The namespace controller: a terminating namespace's objects are deleted, and once none is
        left its "kubernetes" finalizer goes, and the namespace with it unless other finalizers hold it."""
        for namespace in self._all("Namespace"):
            if not namespace["metadata"].get("deletionTimestamp"):
                continue
            contents = [o for o in self.fake.objects.values()
                        if o["metadata"].get("namespace") == namespace["metadata"]["name"]]
            for obj in contents:
                if obj.get("kind") == "Pod":
                    self._delete_pod(obj)
                elif obj["metadata"].get("finalizers"):
                    if not obj["metadata"].get("deletionTimestamp"):
                        obj["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0)
                        self._touch(obj)
                else:
                    self._remove(obj)
            if contents:
                continue
            spec = namespace.setdefault("spec", {})
            finalizers = [f for f in spec.get("finalizers") or [] if f != "kubernetes"]
            if finalizers or namespace["metadata"].get("finalizers"):
                if spec.get("finalizers") != finalizers:
                    spec["finalizers"] = finalizers
                    self._touch(namespace)
            else:
                self._remove(namespace)

    def _release(self, obj: dict, finalizer: str) -> None:
        obj["metadata"]["finalizers"] = [f for f in obj["metadata"]["finalizers"] if f != finalizer]
        if not obj["metadata"]["finalizers"]:
            del obj["metadata"]["finalizers"]
            if obj.get("kind") != "Pod" or not obj["metadata"].get("deletionGracePeriodSeconds"):
                self._remove(obj)
                return
        self._touch(obj)

    def _schedule(self) -> None:
        for index, pod in enumerate(self._all("Pod")):
            if not pod["spec"].get("nodeName") and _live(pod):
                pod["spec"]["nodeName"] = self.nodes[index % len(self.nodes)]
                pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"},
                                               {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
                pod["status"]["containerStatuses"] = [
                    {"name": c.get("name"), "image": c.get("image"), "ready": False, "restartCount": 0,
                     "state": {"waiting": {"reason": "ContainerCreating"}}}
                    for c in pod["spec"].get("containers") or []]
                self._touch(pod)

    def _node_names(self) -> list[str]:
        return [node["metadata"]["name"] for node in self._all("Node")] or self.nodes

    # ---- controllers ----------------------------------------------------------------------------
    def _deployment(self, dep: dict) -> None:
        if dep["metadata"].get("deletionTimestamp"):
            return
        spec = dep["spec"]
        wanted = spec.get("replicas", 1)
        pod_hash = template_hash(spec["template"])
        owned = self._owned("ReplicaSet", dep)
        current = next((rs for rs in owned if rs["metadata"]["labels"].get("pod-template-hash") == pod_hash), None)
        revisions = [int(rs["metadata"].get("annotations", {}).get(NEW_REVISION, 0)) for rs in owned]
        if current is None:
            template = copy.deepcopy(spec["template"])
            template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
            selector = copy.deepcopy(spec["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
            current = self._create({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"{dep['metadata']['name']}-{pod_hash}", "namespace": dep["metadata"]["namespace"],
                             "labels": dict(template["metadata"]["labels"]),
                             "annotations": {NEW_REVISION: str(max(revisions, default=0) + 1)},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                  "name": dep["metadata"]["name"], "uid": dep["metadata"]["uid"],
                                                  "controller": True, "blockOwnerDeletion": True}]},
                "spec": {"replicas": wanted, "selector": selector, "template": template},
            })
        self._set(current, ("spec", "replicas"), wanted)
        for rs in owned:
            if rs is not current:
                self._set(rs, ("spec", "replicas"), 0)
        revision = current["metadata"]["annotations"][NEW_REVISION]
        if dep["metadata"].setdefault("annotations", {}).get(NEW_REVISION) != revision:
            dep["metadata"]["annotations"][NEW_REVISION] = revision
            self._touch(dep)

    def _replicaset(self, rs: dict) -> None:
        pods = [p for p in self._owned("Pod", rs) if _live(p)]
        wanted = rs["spec"].get("replicas", 1)
        for _missing in range(wanted - len(pods)):
            self._new_pod(rs, rs["spec"]["template"], f"{rs['metadata']['name']}-{next(self._suffix):05x}", {})
        for pod in sorted(pods, key=_ready)[:max(0, len(pods) - wanted)]:
            self._delete_pod(pod)

    def _statefulset(self, sts: dict) -> None:
        name, spec = sts["metadata"]["name"], sts["spec"]
        revision = f"{name}-{template_hash(spec['template'])}"
        strategy = spec.get("updateStrategy") or {}
        partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
        wanted = spec.get("replicas", 1)
        pods = {p["metadata"]["name"]: p for p in self._owned("Pod", sts)}
        for ordinal in range(wanted):
            pod = pods.get(f"{name}-{ordinal}")
            if pod is None:
                self._new_pod(sts, spec["template"], f"{name}-{ordinal}",
                              {REVISION_LABEL: revision, "statefulset.kubernetes.io/pod-name": f"{name}-{ordinal}"})
            elif (_live(pod) and pod["metadata"]["labels"].get(REVISION_LABEL) != revision
                  and strategy.get("type", "RollingUpdate") == "RollingUpdate" and ordinal >= partition):
                self._delete_pod(pod)
        for pod_name, pod in pods.items():
            if int(pod_name.rsplit("-", 1)[1]) >= wanted:
                self._delete_pod(pod)

    def _daemonset(self, ds: dict) -> None:
        revision = template_hash(ds["spec"]["template"])
        rolling = (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        pods = self._owned("Pod", ds)
        for node in self._node_names():
            on_node = [p for p in pods if p["spec"].get("nodeName") == node]
            if not on_node:
                self._new_pod(ds, ds["spec"]["template"], f"{ds['metadata']['name']}-{next(self._suffix):05x}",
                              {REVISION_LABEL: revision}, node=node)
            for pod in on_node:
                if rolling and _live(pod) and pod["metadata"]["labels"].get(REVISION_LABEL) != revision:
                    self._delete_pod(pod)

    # ---- status ---------------------------------------------------------------------------------
    def _replicaset_status(self, rs: dict) -> None:
        pods = [p for p in self._owned("Pod", rs) if _live(p)]
        ready = sum(map(_ready, pods))
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        if ready:
            status.update(readyReplicas=ready, availableReplicas=ready)  # omitted when 0, as the API does
        self._set_status(rs, status)

    def _deployment_status(self, dep: dict) -> None:
        owned = self._owned("ReplicaSet", dep)
        current_hash = template_hash(dep["spec"]["template"])
        pods = [p for rs in owned for p in self._owned("Pod", rs) if _live(p)]
        updated = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == current_hash]
        ready = sum(map(_ready, pods))
        wanted = dep["spec"].get("replicas", 1)
        complete = len(updated) == wanted == len(pods) and ready >= wanted
        key = (dep["metadata"]["namespace"], dep["metadata"]["name"])
        progressing = ({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                        "message": f'ReplicaSet "{dep["metadata"]["name"]}-{current_hash}" has timed out progressing.'}
                       if key in self.deadline_exceeded else
                       {"type": "Progressing", "status": "True",
                        "reason": "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated"})
        status = {"observedGeneration": dep["metadata"].get("generation", 1), "replicas": len(pods),
                  "updatedReplicas": len(updated), "readyReplicas": ready, "availableReplicas": ready,
                  "unavailableReplicas": max(0, wanted - ready),
                  "conditions": [{"type": "Available", "status": "True" if ready >= wanted else "False"}, progressing]}
        self._set_status(dep, {k: v for k, v in status.items() if v != 0})

    def _statefulset_status(self, sts: dict) -> None:
        name = sts["metadata"]["name"]
        revision = f"{name}-{template_hash(sts['spec']['template'])}"
        pods = [p for p in self._owned("Pod", sts) if _live(p)]
        old = sts.get("status") or {}
        current = old.get("currentRevision") or revision
        updated = [p for p in pods if p["metadata"]["labels"].get(REVISION_LABEL) == revision]
        ready = sum(map(_ready, pods))
        wanted = sts["spec"].get("replicas", 1)
        if len(updated) == wanted and ready >= wanted:
            current = revision
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(pods),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "currentReplicas": sum(p["metadata"]["labels"].get(REVISION_LABEL) == current for p in pods),
                  "updatedReplicas": len(updated), "currentRevision": current, "updateRevision": revision,
                  "collisionCount": 0}
        self._set_status(sts, status)

    def _daemonset_status(self, ds: dict) -> None:
        revision = template_hash(ds["spec"]["template"])
        nodes = self._node_names()
        pods = [p for p in self._owned("Pod", ds) if _live(p)]
        ready = sum(map(_ready, pods))
        status = {"observedGeneration": ds["metadata"].get("generation", 1), "desiredNumberScheduled": len(nodes),
                  "currentNumberScheduled": len({p["spec"].get("nodeName") for p in pods}),
                  "updatedNumberScheduled": sum(p["metadata"]["labels"].get(REVISION_LABEL) == revision for p in pods),
                  "numberReady": ready, "numberAvailable": ready, "numberUnavailable": max(0, len(nodes) - ready),
                  "numberMisscheduled": 0}
        self._set_status(ds, status)


# ---- manifests for tests ------------------------------------------------------------------------
def deployment(name: str, namespace: str = "apps", replicas: int = 2, labels: dict | None = None,
               image: str = "nginx:1.27", kind: str = "Deployment", **spec_extra) -> dict:
    """A Deployment (or StatefulSet, DaemonSet, ReplicaSet via ``kind``) selecting app=<name>."""
    spec = {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "main", "image": image}]}},
            **spec_extra}
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec.setdefault("serviceName", name)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name, **(labels or {})}},
            "spec": spec}
