"""The fake API server as kubernetes.core sees a cluster, with its controllers running.

``ApiServer`` adds to :class:`fake_k8s.FakeKube` the discovery documents kubernetes.core's dynamic
client reads first (with pods/log) and PodDisruptionBudgets. ``ClusterLoop`` ticks the workload
controllers of fake_workloads.py in a thread, plus a Job controller whose pod finishes at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fake_k8s import FakeKube, now
from fake_workloads import Cluster


class ApiServer(FakeKube):
    def __init__(self) -> None:
        super().__init__()
        self.register_kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True)

    def _handle(self, req):
        parts = [p for p in req.path.split("/") if p]
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            versions = sorted({gv for gv, _plural in self.kinds if "/" in gv})
            groups = [{"name": gv.split("/")[0],
                       "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                       "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}} for gv in versions]
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        return super()._handle(req)

    def _discovery(self, api_version):
        found = super()._discovery(api_version)
        if api_version == "v1":
            found["resources"].append({"name": "pods/log", "kind": "Pod", "namespaced": True, "verbs": ["get"]})
        return found


class ClusterLoop:
    """Ticks the fake controllers in the background, and runs Jobs: a Job's pod succeeds at once,
    unless ``fails(job)``, which stands for a database that refuses the SQL."""

    def __init__(self, api: ApiServer, nodes: tuple[str, ...] = ("node-1", "node-2"),
                 fails: Callable[[dict], bool] = lambda job: False) -> None:
        self.api = api
        self.fails = fails
        self.cluster = Cluster(api, nodes=nodes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ClusterLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            with self.api._lock:
                self.cluster.step()
                self._jobs()

    def _jobs(self) -> None:
        for job in [o for o in self.api.objects.values() if o.get("kind") == "Job"]:
            if job.get("status", {}).get("conditions") or job["metadata"].get("deletionTimestamp"):
                continue
            failed = self.fails(job)
            name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
            pod = self.api.add({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{name}-x1", "namespace": namespace,
                             "labels": {**job["spec"]["template"]["metadata"]["labels"], "job-name": name},
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                                  "uid": job["metadata"]["uid"], "controller": True}]},
                "spec": {**job["spec"]["template"]["spec"], "nodeName": self.cluster.nodes[0]},
            })
            pod_name = pod["metadata"]["name"]
            container = job["spec"]["template"]["spec"]["containers"][0]["name"]
            log = (namespace, pod_name, container)
            if failed:
                self.api.pod_logs[log] = 'creating extensions\npsql: ERROR:  permission denied to create extension "amcheck"\n'
                terminated = {"terminated": {"reason": "Error", "exitCode": 3}}
                status, condition = {"failed": 1}, "Failed"
            else:
                self.api.pod_logs[log] = "done\n"
                terminated = {"terminated": {"reason": "Completed", "exitCode": 0}}
                status, condition = {"succeeded": 1}, "Complete"
            self.api.edit("Pod", pod_name, namespace, lambda p, t=terminated, f=failed, c=container: p.update(status={
                "phase": "Failed" if f else "Succeeded",
                "containerStatuses": [{"name": c, "ready": False, "restartCount": 0, "state": t}]}))
            self.api.edit("Job", name, namespace, lambda j, s=status, c=condition: j.update(status={
                **s, "conditions": [{"type": c, "status": "True", "lastTransitionTime": now(),
                                     **({"reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}
                                        if c == "Failed" else {})}]}))
