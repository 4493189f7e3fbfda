# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pod's state as kubectl shows it: terminating, ready, and why not (the STATUS column's reason).

The diagnosis engine (``_diagnosis``) and the waits of restart and force_delete read pods
through these functions, so they never disagree about a pod.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

# How many not-ready pods a message names per workload.
PODS_SHOWN = 5


def _status(obj: dict) -> dict:
    return obj.get("status") or {}


MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def is_mirror_pod(pod: dict) -> bool:
    """A static pod's mirror: the kubelet runs it from a manifest file and recreates the mirror at once."""
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def is_terminating(obj: dict) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def is_ready(pod: dict) -> bool:
    if is_terminating(pod) or _status(pod).get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in _status(pod).get("conditions") or [])


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
