"""Rollout-complete criteria per kind (kubectl rollout status), pod problems, and the poller."""

from __future__ import annotations

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils import _rollout
from ansible_collections.kubeops.platform.plugins.module_utils._pods import describe_pods, pod_problem
from ansible_collections.kubeops.platform.plugins.module_utils._rollout import (
    Poller,
    pod_status,
    replicas_status,
    rollout_status,
)


def obj(generation=2, replicas=3, status=None, **spec) -> dict:
    spec = {"replicas": replicas, **spec} if replicas is not None else spec
    return {"metadata": {"generation": generation}, "spec": spec, "status": status or {}}


DONE_DEPLOYMENT = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}


@pytest.mark.parametrize("status, done, message", [
    ({**DONE_DEPLOYMENT, "observedGeneration": 1}, False, "waiting for the deployment spec update to be observed"),
    ({**DONE_DEPLOYMENT, "updatedReplicas": 1}, False, "1 out of 3 new replicas have been updated"),
    ({**DONE_DEPLOYMENT, "replicas": 5}, False, "2 old replicas are pending termination"),
    ({**DONE_DEPLOYMENT, "availableReplicas": 2}, False, "2 of 3 updated replicas are available"),
    ({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3}, False, "0 of 3 updated replicas are available"),
    (DONE_DEPLOYMENT, True, "successfully rolled out"),
    ({**DONE_DEPLOYMENT, "observedGeneration": 3}, True, "successfully rolled out"),
])
def test_deployment_rollout_status(status, done, message):
    progress = rollout_status("Deployment", obj(status=status))
    assert (progress.done, progress.message, progress.failed) == (done, message, False)


def test_deployment_with_zero_replicas_is_done_once_observed():
    assert rollout_status("Deployment", obj(replicas=0, status={"observedGeneration": 2})).done is True
    assert rollout_status("Deployment", obj(replicas=0, status={"observedGeneration": 1})).done is False


def test_deployment_past_its_progress_deadline_has_failed():
    status = {**DONE_DEPLOYMENT, "availableReplicas": 0, "conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": 'ReplicaSet "web-5d9c" has timed out progressing.'}]}
    progress = rollout_status("Deployment", obj(status=status))
    assert progress.failed is True and progress.done is False
    assert progress.message == ('deployment exceeded its progress deadline '
                                '(ReplicaSet "web-5d9c" has timed out progressing.)')


STS_ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
DONE_STS = {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3, "updatedReplicas": 3,
            "currentReplicas": 3, "currentRevision": "db-2", "updateRevision": "db-2"}


@pytest.mark.parametrize("strategy, status, done, message", [
    (STS_ROLLING, {**DONE_STS, "observedGeneration": 0}, False, "waiting for the statefulset spec update to be observed"),
    (STS_ROLLING, {**DONE_STS, "observedGeneration": 1}, False, "waiting for the statefulset spec update to be observed"),
    (STS_ROLLING, {**DONE_STS, "readyReplicas": 1}, False, "waiting for 2 pods to be ready"),
    (STS_ROLLING, {**DONE_STS, "availableReplicas": 2}, False, "waiting for 1 pods to be available"),
    (STS_ROLLING, {**DONE_STS, "updatedReplicas": 2}, False, "partitioned roll out: 2 out of 3 new pods have been updated"),
    (STS_ROLLING, DONE_STS, True, "partitioned roll out complete: 3 new pods have been updated"),
    ({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}, {**DONE_STS, "updatedReplicas": 1}, True,
     "partitioned roll out complete: 1 new pods have been updated"),
    ({"type": "RollingUpdate"}, {**DONE_STS, "currentRevision": "db-1"}, False, "rolling update: 3 pods at revision db-2"),
    ({"type": "RollingUpdate"}, DONE_STS, True, "rolling update complete: 3 pods at revision db-2"),
])
def test_statefulset_rollout_status(strategy, status, done, message):
    progress = rollout_status("StatefulSet", obj(status=status, updateStrategy=strategy))
    assert (progress.done, progress.message) == (done, message)


def test_statefulset_without_available_count_is_judged_by_ready_pods():
    status = {k: v for k, v in DONE_STS.items() if k != "availableReplicas"}
    assert rollout_status("StatefulSet", obj(status=status, updateStrategy=STS_ROLLING)).done is True


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_on_delete_workloads_have_no_rollout_status(kind):
    progress = rollout_status(kind, obj(status=DONE_STS, updateStrategy={"type": "OnDelete"}))
    assert progress.failed is True
    assert progress.message == "rollout status is only available for the RollingUpdate strategy type"


DONE_DS = {"observedGeneration": 2, "desiredNumberScheduled": 4, "updatedNumberScheduled": 4, "numberAvailable": 4}


@pytest.mark.parametrize("status, done, message", [
    ({**DONE_DS, "observedGeneration": 1}, False, "waiting for the daemon set spec update to be observed"),
    ({**DONE_DS, "updatedNumberScheduled": 3}, False, "3 out of 4 new pods have been updated"),
    ({**DONE_DS, "numberAvailable": 1}, False, "1 of 4 updated pods are available"),
    (DONE_DS, True, "successfully rolled out"),
    ({"observedGeneration": 2}, True, "successfully rolled out"),  # no node to run on
])
def test_daemonset_rollout_status(status, done, message):
    progress = rollout_status("DaemonSet", obj(replicas=None, status=status))
    assert (progress.done, progress.message) == (done, message)


@pytest.mark.parametrize("status, done, message", [
    ({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3}, False,
     "waiting for the replica set spec update to be observed"),
    ({"observedGeneration": 2, "replicas": 4, "readyReplicas": 3, "availableReplicas": 3}, False,
     "1 extra replicas are pending termination"),
    ({"observedGeneration": 2, "replicas": 3, "readyReplicas": 1}, False, "1 of 3 replicas are ready"),
    ({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3}, False, "0 of 3 replicas are available"),
    ({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3}, True,
     "all replicas available"),
])
def test_replicaset_status(status, done, message):
    progress = rollout_status("ReplicaSet", obj(status=status))
    assert (progress.done, progress.message) == (done, message)


@pytest.mark.parametrize("kind, spec, status, done", [
    # OnDelete workloads are waited for by their replica counts, not revisions
    ("StatefulSet", {"updateStrategy": {"type": "OnDelete"}},
     {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3}, True),
    ("StatefulSet", {}, {"observedGeneration": 2, "replicas": 3, "readyReplicas": 2, "availableReplicas": 2}, False),
    ("DaemonSet", {"updateStrategy": {"type": "OnDelete"}},
     {"observedGeneration": 2, "desiredNumberScheduled": 2, "numberAvailable": 2}, True),
    ("DaemonSet", {}, {"observedGeneration": 2, "desiredNumberScheduled": 2, "numberAvailable": 1}, False),
    ("Deployment", {}, DONE_DEPLOYMENT, True),
    ("ReplicaSet", {}, {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3}, False),
])
def test_replicas_status_ignores_the_update_strategy(kind, spec, status, done):
    assert replicas_status(kind, obj(status=status, **spec)).done is done


# ---- pods ---------------------------------------------------------------------------------------
def pod(phase="Running", ready=True, terminating=False, finalizers=None, containers=None, conditions=None, **status):
    meta = {"name": "web-1"}
    if terminating:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    if finalizers:
        meta["finalizers"] = finalizers
    conds = conditions if conditions is not None else [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": meta, "status": {"phase": phase, "conditions": conds,
                                         "containerStatuses": containers or [], **status}}


@pytest.mark.parametrize("the_pod, phase, reason, message", [
    (pod("Pending", False, containers=[{"name": "app", "state": {"waiting": {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "web:nope"'}}}]),
     "Pending", "ImagePullBackOff", 'Back-off pulling image "web:nope"'),
    (pod("Running", False, containers=[{"name": "app", "ready": False, "state": {"waiting": {
        "reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}}]),
     "Running", "CrashLoopBackOff", "back-off 5m0s restarting failed container"),
    (pod("Running", False, containers=[{"name": "app", "ready": False, "state": {"running": {}}}]),
     "Running", "NotReady", "container app is not ready"),
    (pod("Pending", False, conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                        "message": "0/3 nodes are available: 3 Insufficient memory."}]),
     "Pending", "Unschedulable", "0/3 nodes are available: 3 Insufficient memory."),
    (pod("Failed", False, containers=[{"name": "app",
                                       "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]),
     "Failed", "OOMKilled", "exit code 137"),
    (pod("Failed", False, reason="Evicted", message="The node was low on resource: memory."),
     "Failed", "Evicted", "The node was low on resource: memory."),
    (pod(terminating=True, finalizers=["example.com/hold"]), "Terminating", "Finalizers", "example.com/hold"),
    (pod(terminating=True), "Terminating", "", ""),
])
def test_pod_problem_names_the_reason_kubectl_shows(the_pod, phase, reason, message):
    assert pod_problem(the_pod) == {"name": "web-1", "phase": phase, "reason": reason, "message": message}


@pytest.mark.parametrize("the_pod, done, failed", [
    (pod(), True, False),
    (pod(ready=False), False, False),
    (pod("Succeeded", False), True, False),
    (pod("Failed", False), False, True),
    (pod(terminating=True), False, False),
    (pod("Pending", True), False, False),
])
def test_pod_status(the_pod, done, failed):
    progress = pod_status(the_pod)
    assert (progress.done, progress.failed) == (done, failed)


def test_describe_pods_shows_at_most_five():
    problems = [{"name": f"p{i}", "phase": "Pending", "reason": "Unschedulable", "message": ""} for i in range(7)]
    assert describe_pods(problems[:1]) == "p0 Pending (Unschedulable)"
    assert describe_pods(problems).endswith("p4 Pending (Unschedulable), and 2 more")


# ---- poller -------------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.now = 50.0
        self.sleeps: list[float] = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(_rollout, "monotonic", lambda: clock.now)
    monkeypatch.setattr(_rollout, "sleep", clock.sleep)
    return clock


def test_poller_backs_off_to_one_second_and_stops_at_the_deadline(clock):
    poller = Poller(4)
    while not poller.expired():
        poller.pause(seen="same")
    assert clock.sleeps[:7] == pytest.approx([0.1, 0.15, 0.225, 0.3375, 0.50625, 0.759375, 1.0])
    assert sum(clock.sleeps) == pytest.approx(4.0) and clock.sleeps[-1] < 1.0
    assert poller.elapsed() == pytest.approx(4.0)


def test_poller_looks_again_soon_after_a_change(clock):
    poller = Poller(60)
    for seen in ["a", "a", "a", "a", "b", "b"]:
        poller.pause(seen=seen)
    assert clock.sleeps == pytest.approx([0.1, 0.15, 0.225, 0.3375, 0.1, 0.15])


def test_poller_follows_the_monotonic_clock_only(clock, monkeypatch):
    import time

    poller = Poller(10)
    monkeypatch.setattr(time, "time", lambda: 0.0)  # a wall clock jump changes nothing
    clock.now += 9.5
    assert poller.remaining() == pytest.approx(0.5) and not poller.expired()
