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

# Poll intervals: start fast (most restarts of small workloads finish in seconds), back off
# while nothing changes, and never wait more than a second between two looks.
FIRST_INTERVAL = 0.1
BACKOFF = 1.5
MAX_INTERVAL = 1.0
# How many not-ready pods a timeout message names per workload.
PODS_SHOWN = 5


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


def _observed(obj: dict) -> bool:
    return _int((obj.get("metadata") or {}).get("generation")) <= _int(_status(obj).get("observedGeneration"))


def _spec_replicas(obj: dict) -> int:
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
    if not _observed(obj):
        return Progress(False, "waiting for the deployment spec update to be observed")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return Progress(False, f"deployment exceeded its progress deadline ({condition.get('message') or 'no message'})",
                            failed=True)
    wanted = _spec_replicas(obj)
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
    if not _int(status.get("observedGeneration")) or not _observed(obj):
        return Progress(False, "waiting for the statefulset spec update to be observed")
    wanted = _spec_replicas(obj)
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
    if not _observed(obj):
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
    if not _observed(obj):
        return Progress(False, "waiting for the replica set spec update to be observed")
    wanted = _spec_replicas(obj)
    replicas, ready, available = (_int(status.get(k)) for k in ("replicas", "readyReplicas", "availableReplicas"))
    if replicas > wanted:
        return Progress(False, f"{replicas - wanted} extra replicas are pending termination")
    if ready < wanted:
        return Progress(False, f"{ready} of {wanted} replicas are ready")
    if available < wanted:
        return Progress(False, f"{available} of {wanted} replicas are available")
    return Progress(True, "all replicas available")


def desired_pods(kind: str, obj: dict) -> int:
    """How many pods the workload wants running."""
    if kind == "DaemonSet":
        return _int(_status(obj).get("desiredNumberScheduled"))
    if kind == "Pod":
        return 1
    return _spec_replicas(obj)


def replicas_status(kind: str, obj: dict) -> Progress:
    """Whether the workload runs all its replicas, available, whatever its update strategy.

    For restarts that do not change the pod template (scale, delete_pods), where revision
    counters say nothing and OnDelete workloads must be waited for too.
    """
    status = _status(obj)
    if not _observed(obj):
        return Progress(False, f"waiting for the {kind} spec update to be observed")
    if kind == "DaemonSet":
        desired = desired_pods(kind, obj)
        available = _int(status.get("numberAvailable"))
        if available < desired:
            return Progress(False, f"{available} of {desired} pods are available")
        return Progress(True, "all pods available")
    if kind == "Deployment":
        return _deployment(obj)
    wanted = _spec_replicas(obj)
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
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def controller_of(obj: dict) -> dict | None:
    """The owner reference with ``controller: true``, or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_mirror_pod(pod: dict) -> bool:
    """A static pod's mirror: the kubelet runs it from a manifest file and recreates the mirror at once."""
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def is_terminating(obj: dict) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def is_ready(pod: dict) -> bool:
    if is_terminating(pod) or _status(pod).get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in _status(pod).get("conditions") or [])


def pod_status(pod: dict) -> Progress:
    """A single pod: done when Running and Ready (or Succeeded); failed when Failed."""
    phase = _status(pod).get("phase") or "Pending"
    if phase == "Succeeded" or is_ready(pod):
        return Progress(True, phase)
    return Progress(False, problem_text(pod_problem(pod)), failed=phase == "Failed")


def pod_problem(pod: dict) -> dict:
    """Why a pod is not ready: {name, phase, reason, message}, reasons as kubectl get/describe show them."""
    meta, status = pod.get("metadata") or {}, _status(pod)
    phase = "Terminating" if is_terminating(pod) else status.get("phase") or "Pending"
    reason, message = "", ""
    if is_terminating(pod) and meta.get("finalizers"):
        reason, message = "Finalizers", ", ".join(meta["finalizers"])
    if not reason and status.get("reason"):  # Evicted, NodeLost, ...: the pod's own reason comes first
        reason, message = status["reason"], status.get("message") or ""
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    for container in statuses:
        if reason:
            break
        state = container.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason, message = state["waiting"]["reason"], state["waiting"].get("message") or ""
        elif "terminated" in state and phase != "Succeeded":
            term = state["terminated"]
            reason = term.get("reason") or "Terminated"
            message = term.get("message") or f"exit code {term.get('exitCode')}"
        elif not container.get("ready") and phase == "Running":
            reason, message = "NotReady", f"container {container.get('name')} is not ready"
    for condition in status.get("conditions") or []:
        if reason:
            break
        if condition.get("status") == "False" and condition.get("type") in ("PodScheduled", "Ready"):
            reason = condition.get("reason") or f"{condition['type']}False"
            message = condition.get("message") or ""
    return {"name": meta.get("name"), "phase": phase, "reason": reason, "message": message}


def problem_text(problem: dict) -> str:
    """'Pending (ImagePullBackOff: Back-off pulling image "nginx:nope")'."""
    why = problem["reason"] + (f": {problem['message']}" if problem["message"] else "")
    return problem["phase"] + (f" ({why})" if why else "")


def describe_pods(problems: list[dict]) -> str:
    """'web-1 Pending (ImagePullBackOff: ...), web-2 Running (NotReady: ...)', at most PODS_SHOWN."""
    shown = [f"{problem['name']} {problem_text(problem)}" for problem in problems[:PODS_SHOWN]]
    if len(problems) > PODS_SHOWN:
        shown.append(f"and {len(problems) - PODS_SHOWN} more")
    return ", ".join(shown)


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
