# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restart may do to which kind: the kinds and strategies, their fit to each object, triggers.

Every object's strategy is chosen and checked here before the first write.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ansible_collections.kubeops.platform.plugins.module_utils._owners import controller_ref
from ansible_collections.kubeops.platform.plugins.module_utils._pods import is_mirror_pod
from ansible_collections.kubeops.platform.plugins.module_utils._rollout import update_strategy
from ansible_collections.kubeops.platform.plugins.module_utils._targets import describe

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
TRIGGER_ANNOTATION = "kubeops.platform/restart-trigger"
STRATEGIES = ["rollout", "recreate", "scale", "delete_pods"]


@dataclass(frozen=True)
class KindInfo:
    api_version: str
    strategies: tuple[str, ...]
    default: str | None  # None: chosen per object (Pods)


KINDS = {
    "Deployment": KindInfo("apps/v1", ("rollout", "scale", "delete_pods"), "rollout"),
    "StatefulSet": KindInfo("apps/v1", ("rollout", "scale", "delete_pods"), "rollout"),
    "DaemonSet": KindInfo("apps/v1", ("rollout", "delete_pods"), "rollout"),
    "ReplicaSet": KindInfo("apps/v1", ("scale", "delete_pods"), "delete_pods"),
    "Pod": KindInfo("v1", ("recreate", "delete_pods"), None),
}
# kubectl's names for the kinds, so survey answers like "deploy" or "sts" work.
ALIASES = {
    **{name: "Deployment" for name in ("deployment", "deployments", "deploy")},
    **{name: "StatefulSet" for name in ("statefulset", "statefulsets", "sts")},
    **{name: "DaemonSet" for name in ("daemonset", "daemonsets", "ds")},
    **{name: "ReplicaSet" for name in ("replicaset", "replicasets", "rs")},
    **{name: "Pod" for name in ("pod", "pods", "po")},
}
NOT_RESTARTABLE = {
    **dict.fromkeys(("job", "jobs"), "a Job is not restarted: its pods run to completion once. Re-create it instead: "
                                     "delete the Job and create it again from its manifest (kubernetes.core.k8s with "
                                     "state absent, then present), or create a new Job from the same spec"),
    **dict.fromkeys(("cronjob", "cronjobs", "cj"), "a CronJob is not restarted: to run it now, create a Job from it "
                                                   "(kubectl create job NAME --from=cronjob/CRONJOB)"),
}
# Why a strategy does not fit a whole kind, and what to use instead.
MISFITS = {
    ("rollout", "Pod"): "a bare Pod has no rollout; use strategy recreate (delete it and create it again from its "
                        "own spec), or delete_pods when a controller owns it",
    ("rollout", "ReplicaSet"): "only a Deployment rolls out; restart the ReplicaSet's Deployment, or use strategy "
                               "delete_pods or scale",
    ("recreate", "Deployment"): "recreate is for bare Pods; for a Deployment use rollout, scale or delete_pods",
    ("recreate", "StatefulSet"): "recreate is for bare Pods; for a StatefulSet use rollout, scale or delete_pods",
    ("recreate", "DaemonSet"): "recreate is for bare Pods; for a DaemonSet use rollout or delete_pods",
    ("recreate", "ReplicaSet"): "recreate is for bare Pods; for a ReplicaSet use delete_pods or scale",
    ("scale", "DaemonSet"): "a DaemonSet has no replica count (one pod per node); use rollout or delete_pods",
    ("scale", "Pod"): "a Pod has no replica count; use recreate for a bare Pod, delete_pods for a controlled one",
}


# ---- choosing and checking ------------------------------------------------------------------------
def resolve_kind(text: str) -> str:
    """The canonical kind for a name as kubectl accepts it; refuses kinds that are not restarted."""
    key = (text or "").strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    if key in NOT_RESTARTABLE:
        raise ValueError(f"kind '{text}' cannot be restarted: {NOT_RESTARTABLE[key]}")
    raise ValueError(f"kind '{text}' cannot be restarted: choose one of {', '.join(KINDS)}")


def check_strategy(kind: str, strategy: str | None) -> None:
    """Refuse a strategy that never fits the kind, before anything is read."""
    if strategy is not None and strategy not in KINDS[kind].strategies:
        raise ValueError(f"strategy '{strategy}' does not fit a {kind}: {MISFITS[(strategy, kind)]}")


def choose_strategy(kind: str, obj: dict, strategy: str | None, trigger: str | None) -> str:
    """The strategy for this object, or ValueError saying why it does not fit."""
    label = describe(obj, kind)
    owner = controller_ref(obj)
    if kind == "Pod" and is_mirror_pod(obj):
        node = (obj.get("spec") or {}).get("nodeName") or "its node"
        raise ValueError(f"{label} is the mirror of a static pod, run by the kubelet of {node} from a manifest file: "
                         "deleting it through the API only makes the kubelet create the mirror again while the "
                         "containers keep running. Restart it on the node: move its manifest out of the kubelet's "
                         "staticPodPath (usually /etc/kubernetes/manifests) and back")
    if kind == "Pod":
        chosen = strategy or ("delete_pods" if owner else "recreate")
        if chosen == "recreate" and owner:
            raise ValueError(f"{label} is owned by {owner['kind']} {owner['name']}: recreate is for bare Pods (its "
                             "controller would replace it meanwhile); use strategy delete_pods, or restart the "
                             f"{owner['kind']}")
        if chosen == "delete_pods" and not owner:
            raise ValueError(f"{label} has no controller: deleting it would lose it for good; use strategy recreate")
        if chosen == "delete_pods" and owner["kind"] in ("Job", "CronJob"):
            raise ValueError(f"{label} belongs to {owner['kind']} {owner['name']}: {NOT_RESTARTABLE['job']}")
        if chosen == "delete_pods" and trigger is not None:
            raise ValueError(f"{label} is replaced by a new pod from {owner['kind']} {owner['name']}, so the "
                             f"trigger cannot be recorded on it: restart the {owner['kind']} with trigger instead")
        return chosen
    chosen = strategy or KINDS[kind].default or ""
    if chosen == "rollout" and update_strategy(obj) == "OnDelete":
        raise ValueError(f"{label} uses updateStrategy OnDelete: a rollout restart would not replace its pods; "
                         "use strategy delete_pods")
    if chosen == "rollout" and kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
        raise ValueError(f"{label} is paused: a rollout restart would not start until it is resumed "
                         "(kubectl rollout resume); resume it first, or use strategy delete_pods")
    if chosen == "scale" and kind == "ReplicaSet" and owner:
        raise ValueError(f"{label} is managed by {owner['kind']} {owner['name']}, which would undo the scale; "
                         f"restart the {owner['kind']}, or use strategy delete_pods")
    return chosen


def recorded_trigger(obj: dict) -> str | None:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(TRIGGER_ANNOTATION)


def trigger_unchanged(obj: dict, trigger: str | None) -> bool:
    """Whether the last restart recorded this same trigger (without a trigger, every run restarts)."""
    return trigger is not None and recorded_trigger(obj) == trigger


def restarted_at(now: datetime | None = None, previous: str | None = None) -> str:
    """The restartedAt value kubectl writes: RFC 3339 local time, seconds; never the same as the last one."""
    moment = (now or datetime.now()).astimezone().replace(microsecond=0)
    value = _rfc3339(moment)
    if value == previous:  # a second restart within the same second must still change the template
        value = _rfc3339(moment + timedelta(seconds=1))
    return value


def _rfc3339(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# ---- what a result shows -------------------------------------------------------------------------
def view(kind: str, obj: dict) -> dict:
    """The fields a restart changes, for before/after and diff."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    trigger = (meta.get("annotations") or {}).get(TRIGGER_ANNOTATION)
    if kind == "Pod":
        return {"uid": meta.get("uid"), "node": spec.get("nodeName"), "trigger": trigger}
    shown: dict = {}
    if kind != "ReplicaSet":
        template_annotations = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
        shown["restarted_at"] = template_annotations.get(RESTARTED_AT)
    if kind == "Deployment":
        shown["revision"] = (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
    elif kind == "StatefulSet":
        shown["revision"] = status.get("updateRevision")
    shown["generation"] = meta.get("generation")
    if kind != "DaemonSet":
        shown["replicas"] = spec.get("replicas", 1)
    shown["trigger"] = trigger
    return shown
