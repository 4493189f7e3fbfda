# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When is a workload's rollout complete, why are its pods not ready, and how to wait for it.

Private to the kubeops.platform collection: no compatibility promise outside it.
The completion criteria are those of ``kubectl rollout status`` for each kind, so a task
returns exactly when kubectl would say "successfully rolled out".
"""

from __future__ import annotations

from dataclasses import dataclass
from time import monotonic, sleep

from ansible_collections.kubeops.platform.plugins.module_utils._pods import is_ready, pod_problem, problem_text

# Poll intervals: start fast (most restarts of small workloads finish in seconds), back off
# while nothing changes, and never wait more than a second between two looks.
FIRST_INTERVAL = 0.1
BACKOFF = 1.5
MAX_INTERVAL = 1.0


@dataclass(frozen=True)
class Progress:
    """One look at a workload: done, or what it is waiting for; ``failed`` when it never will be."""

    done: bool
    message: str
    failed: bool = False


def _int(value) -> int:
    return int(value or 0)


def _status(obj: dict) -> dict:
    return obj.get("status") or {}


def observed(obj: dict) -> bool:
    """Whether the controller has seen the latest spec (observedGeneration caught up with generation)."""
    return _int((obj.get("metadata") or {}).get("generation")) <= _int(_status(obj).get("observedGeneration"))


def spec_replicas(obj: dict) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def update_strategy(obj: dict) -> str:
    return ((obj.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"


def rollout_status(kind: str, obj: dict) -> Progress:
    """``kubectl rollout status`` for a Deployment, StatefulSet or DaemonSet; ReplicaSets by replica counts."""
    if kind == "Deployment":
        return _deployment(obj)
    if kind == "StatefulSet":
        return _statefulset(obj)
    if kind == "DaemonSet":
        return _daemonset(obj)
    if kind == "ReplicaSet":
        return _replicaset(obj)
    raise ValueError(f"no rollout status for kind {kind}")


def _deployment(obj: dict) -> Progress:
    status = _status(obj)
    if not observed(obj):
        return Progress(False, "waiting for the deployment spec update to be observed")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return Progress(False, f"deployment exceeded its progress deadline ({condition.get('message') or 'no message'})",
                            failed=True)
    wanted = spec_replicas(obj)
    updated, replicas, available = (_int(status.get(k)) for k in ("updatedReplicas", "replicas", "availableReplicas"))
    if updated < wanted:
        return Progress(False, f"{updated} out of {wanted} new replicas have been updated")
    if replicas > updated:
        return Progress(False, f"{replicas - updated} old replicas are pending termination")
    if available < updated:
        return Progress(False, f"{available} of {updated} updated replicas are available")
    return Progress(True, "successfully rolled out")


def _statefulset(obj: dict) -> Progress:
    status, spec = _status(obj), obj.get("spec") or {}
    if update_strategy(obj) != "RollingUpdate":
        return Progress(False, "rollout status is only available for the RollingUpdate strategy type", failed=True)
    if not _int(status.get("observedGeneration")) or not observed(obj):
        return Progress(False, "waiting for the statefulset spec update to be observed")
    wanted = spec_replicas(obj)
    ready = _int(status.get("readyReplicas"))
    if ready < wanted:
        return Progress(False, f"waiting for {wanted - ready} pods to be ready")
    if "availableReplicas" in status and _int(status["availableReplicas"]) < wanted:
        return Progress(False, f"waiting for {wanted - _int(status['availableReplicas'])} pods to be available")
    rolling = (spec.get("updateStrategy") or {}).get("rollingUpdate")
    updated = _int(status.get("updatedReplicas"))
    if rolling is not None and rolling.get("partition") is not None:
        target = wanted - _int(rolling.get("partition"))
        if updated < target:
            return Progress(False, f"partitioned roll out: {updated} out of {target} new pods have been updated")
        return Progress(True, f"partitioned roll out complete: {updated} new pods have been updated")
    if status.get("updateRevision") != status.get("currentRevision"):
        return Progress(False, f"rolling update: {updated} pods at revision {status.get('updateRevision')}")
    return Progress(True, f"rolling update complete: {_int(status.get('currentReplicas'))} pods at revision "
                          f"{status.get('currentRevision')}")


def _daemonset(obj: dict) -> Progress:
    status = _status(obj)
    if update_strategy(obj) != "RollingUpdate":
        return Progress(False, "rollout status is only available for the RollingUpdate strategy type", failed=True)
    if not observed(obj):
        return Progress(False, "waiting for the daemon set spec update to be observed")
    desired = _int(status.get("desiredNumberScheduled"))
    updated, available = _int(status.get("updatedNumberScheduled")), _int(status.get("numberAvailable"))
    if updated < desired:
        return Progress(False, f"{updated} out of {desired} new pods have been updated")
    if available < desired:
        return Progress(False, f"{available} of {desired} updated pods are available")
    return Progress(True, "successfully rolled out")


def _replicaset(obj: dict) -> Progress:
    status = _status(obj)
    if not observed(obj):
        return Progress(False, "waiting for the replica set spec update to be observed")
    wanted = spec_replicas(obj)
    replicas, ready, available = (_int(status.get(k)) for k in ("replicas", "readyReplicas", "availableReplicas"))
    if replicas > wanted:
        return Progress(False, f"{replicas - wanted} extra replicas are pending termination")
    if ready < wanted:
        return Progress(False, f"{ready} of {wanted} replicas are ready")
    if available < wanted:
        return Progress(False, f"{available} of {wanted} replicas are available")
    return Progress(True, "all replicas available")


def settled_status(kind: str, obj: dict) -> Progress:
    """``rollout_status``, and no pod left beyond the wanted replicas: a scale-down has finished too."""
    progress = rollout_status(kind, obj)
    extra = _int(_status(obj).get("replicas")) - spec_replicas(obj)
    if progress.done and kind != "DaemonSet" and extra > 0:
        return Progress(False, f"{extra} removed replicas are still terminating")
    return progress


def desired_pods(kind: str, obj: dict) -> int:
    """How many pods the workload wants running."""
    if kind == "DaemonSet":
        return _int(_status(obj).get("desiredNumberScheduled"))
    if kind == "Pod":
        return 1
    return spec_replicas(obj)


def replicas_status(kind: str, obj: dict) -> Progress:
    """Whether the workload runs all its replicas, available, whatever its update strategy.

    For restarts that do not change the pod template (scale, delete_pods), where revision
    counters say nothing and OnDelete workloads must be waited for too.
    """
    status = _status(obj)
    if not observed(obj):
        return Progress(False, f"waiting for the {kind} spec update to be observed")
    if kind == "DaemonSet":
        desired = desired_pods(kind, obj)
        available = _int(status.get("numberAvailable"))
        if available < desired:
            return Progress(False, f"{available} of {desired} pods are available")
        return Progress(True, "all pods available")
    if kind == "Deployment":
        return _deployment(obj)
    wanted = spec_replicas(obj)
    ready = _int(status.get("readyReplicas"))
    available = _int(status.get("availableReplicas"))
    if _int(status.get("replicas")) > wanted:
        return Progress(False, f"{_int(status.get('replicas')) - wanted} extra replicas are pending termination")
    if ready < wanted:
        return Progress(False, f"{ready} of {wanted} replicas are ready")
    if available < wanted:
        return Progress(False, f"{available} of {wanted} replicas are available")
    return Progress(True, "all replicas available")


# ---- pods -----------------------------------------------------------------------------------------
def pod_status(pod: dict) -> Progress:
    """A single pod: done when Running and Ready (or Succeeded); failed when Failed."""
    phase = _status(pod).get("phase") or "Pending"
    if phase == "Succeeded" or is_ready(pod):
        return Progress(True, phase)
    return Progress(False, problem_text(pod_problem(pod)), failed=phase == "Failed")


# ---- waiting --------------------------------------------------------------------------------------
class Poller:
    """A deadline and the pauses between looks: sub-second, backing off while nothing changes.

    The clock is monotonic, so a wall-clock jump (NTP, DST) neither shortens nor stretches a wait.
    ``monotonic`` and ``sleep`` are looked up at call time so tests can replace them.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.started = monotonic()
        self.interval = FIRST_INTERVAL
        self._last_seen = None

    def elapsed(self) -> float:
        return monotonic() - self.started

    def remaining(self) -> float:
        return self.timeout - self.elapsed()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def pause(self, seen=None) -> None:
        """Sleep before the next look; ``seen`` is what this look saw: when it changed, look again soon."""
        if seen is not None and seen != self._last_seen:
            self._last_seen = seen
            self.interval = FIRST_INTERVAL
        sleep(max(0.0, min(self.interval, self.remaining())))
        self.interval = min(self.interval * BACKOFF, MAX_INTERVAL)


def wait_for(pending: list, look, timeout: float, seen) -> list:
    """Look at ``pending`` until nothing is left or ``timeout`` passed; returns what is left.

    ``look(pending)`` reads the objects again and returns those not done yet (it may raise to
    stop early); ``seen(left)`` is what that look saw, so the pauses shorten again after a change.
    """
    poller = Poller(timeout)
    while pending:
        pending = look(pending)
        if not pending or poller.expired():
            break
        poller.pause(seen=seen(pending))
    return pending
