# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why the scheduler cannot place a pod: its FailedScheduling messages, and the pod against each node.

The scheduler's message (k8s.io/kubernetes/pkg/scheduler/framework FitError) reads
``0/7 nodes are available: 2 Insufficient memory, 3 Insufficient cpu, 4 node(s) didn't match
node selector.``: a histogram of the first filter each node failed, sorted as text, then
optionally a PreFilter message instead of the histogram (``pod has unbound immediate
PersistentVolumeClaims``) and the PostFilter part (``preemption: 0/3 nodes are available: ...``).
Older releases wrote ``node(s) had taint {k: v}, that the pod didn't tolerate`` and
``node(s) didn't match node selector``; both forms are understood.

The node checks (selector and required node affinity, taints, requests against allocatable)
follow the scheduler's NodeAffinity, TaintToleration and NodeResourcesFit filters, so a finding
can name the labels, the taints and the numbers instead of only repeating the counts.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from ansible_collections.kubeops.platform.plugins.module_utils._quantity import parse_quantity
from ansible_collections.kubeops.platform.plugins.module_utils._taints import format_taint
from ansible_collections.kubeops.platform.plugins.module_utils._tolerations import untolerated_taints

# Causes, each with its own problem code and fix.
RESOURCES = "resources"
TOO_MANY_PODS = "too_many_pods"
NODE_SELECTOR = "node_selector"
TAINTS = "taints"
VOLUMES = "volumes"
OTHER = "other"

_HEADER = re.compile(r"^\s*(\d+)/(\d+) nodes are available:?\s*(.*)$", re.S)
_COUNTED = re.compile(r"^(\d+)\s+(.+)$", re.S)
_INSUFFICIENT = re.compile(r"^Insufficient (\S+)$")
_TAINT = re.compile(r"had (?:untolerated )?taint \{([^:}]*):\s*([^}]*)\}")
_SELECTOR_TEXTS = ("didn't match pod's node affinity", "didn't match node selector", "matchnodeselector",
                   "didn't match the requested node name", "didn't match scheduler-enforced node affinity")
_TAINT_TEXTS = ("taint", "podtoleratesnodetaints", "were unschedulable")
_VOLUME_TEXTS = ("persistentvolumeclaim", "persistent volume", "volume node affinity", "free storage",
                 "pvc(s)", "max volume count", "volume zone")
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
FILTERED_EFFECTS = ("NoSchedule", "NoExecute")
BYTE_RESOURCES = ("memory", "ephemeral-storage")


@dataclass(frozen=True)
class Reason:
    """One entry of the message: how many nodes failed this way (None for a pod-level reason), and why."""

    nodes: int | None
    text: str
    cause: str
    resource: str | None = None  # for RESOURCES: cpu, memory, nvidia.com/gpu...
    taint: dict | None = None  # for TAINTS, as far as the message names it


@dataclass(frozen=True)
class SchedulingFailure:
    message: str
    nodes: int | None  # how many nodes the scheduler considered
    reasons: tuple[Reason, ...]

    def causes(self) -> list[str]:
        return list(dict.fromkeys(reason.cause for reason in self.reasons))

    def of(self, cause: str) -> list[Reason]:
        return [reason for reason in self.reasons if reason.cause == cause]


def parse_failed_scheduling(message: str) -> SchedulingFailure:
    """The reasons and counts of a FailedScheduling message (or a PodScheduled condition's message)."""
    text = (message or "").strip()
    # The PostFilter (preemption) part repeats the nodes and says nothing about the cause.
    main = re.split(r"\.\s+(?=\S)", text, maxsplit=1)[0].strip().rstrip(".")
    header = _HEADER.match(main)
    if not header:
        # "no nodes available to schedule pods", a plugin error, a gated pod...
        return SchedulingFailure(text, None, (classify(None, main),) if main else ())
    body = header.group(3).strip()
    # Entries start with a node count; an older taint entry has ", that the pod didn't tolerate" inside.
    parts = [part.strip() for part in re.split(r",\s+(?=\d+\s)", body) if part.strip()]
    reasons = []
    for part in parts:
        counted = _COUNTED.match(part)
        if counted:
            reasons.append(classify(int(counted.group(1)), counted.group(2)))
        else:
            reasons.append(classify(None, part))
    return SchedulingFailure(text, int(header.group(2)), tuple(reasons))


def classify(nodes: int | None, text: str) -> Reason:
    lowered = text.lower()
    insufficient = _INSUFFICIENT.match(text)
    if insufficient:
        return Reason(nodes, text, RESOURCES, resource=insufficient.group(1))
    if lowered == "too many pods":
        return Reason(nodes, text, TOO_MANY_PODS, resource="pods")
    if any(marker in lowered for marker in _SELECTOR_TEXTS):
        return Reason(nodes, text, NODE_SELECTOR)
    if "pod affinity" not in lowered and "anti-affinity" not in lowered and any(m in lowered for m in _TAINT_TEXTS):
        taint = None
        named = _TAINT.search(text)
        if named:
            # The newer form writes {key: value}; a few releases wrote {key: effect}.
            value = named.group(2).strip()
            taint = {"key": named.group(1).strip()}
            if value in FILTERED_EFFECTS:
                taint["effect"] = value
            elif value:
                taint["value"] = value
        elif "were unschedulable" in lowered:
            taint = {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}
        return Reason(nodes, text, TAINTS, taint=taint)
    if any(marker in lowered for marker in _VOLUME_TEXTS):
        return Reason(nodes, text, VOLUMES)
    return Reason(nodes, text, OTHER)


# ---- the pod against the nodes -------------------------------------------------------------------
def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def required_terms(pod: dict) -> list[dict]:
    affinity = (_spec(pod).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    return required.get("nodeSelectorTerms") or []


def _expression_text(expression: dict) -> str:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator == "Exists":
        return str(key)
    if operator == "DoesNotExist":
        return f"!{key}"
    if operator in ("Gt", "Lt"):
        return f"{key} {'>' if operator == 'Gt' else '<'} {values[0] if values else '?'}"
    if operator == "In" and len(values) == 1:
        return f"{key}={values[0]}"
    if operator == "NotIn" and len(values) == 1:
        return f"{key}!={values[0]}"
    return f"{key} {'in' if operator == 'In' else 'notin'} ({','.join(values)})"


def _expression_matches(expression: dict, labels: dict) -> bool:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and values:
        try:
            actual, bound = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return actual > bound if operator == "Gt" else actual < bound
    return False


def _term_unmet(term: dict, node: dict) -> list[str]:
    labels = _labels(node)
    fields = {"metadata.name": (node.get("metadata") or {}).get("name")}
    unmet = [_expression_text(e) for e in term.get("matchExpressions") or [] if not _expression_matches(e, labels)]
    unmet += [_expression_text(e) for e in term.get("matchFields") or [] if not _expression_matches(e, fields)]
    return unmet


def unmet_requirements(pod: dict, node: dict) -> list[str]:
    """The pod's node requirements this node does not meet, as selector text; empty when it qualifies.

    ``spec.nodeSelector`` pairs must all match; of the required node affinity terms, one must match
    entirely (the terms are ORed): when none does, the unmet expressions of the closest term are given.
    """
    labels = _labels(node)
    unmet = [f"{key}={value}" for key, value in (_spec(pod).get("nodeSelector") or {}).items()
             if labels.get(key) != value]
    terms = required_terms(pod)
    if terms:
        per_term = [_term_unmet(term, node) for term in terms]
        if all(per_term):
            unmet.extend(min(per_term, key=len))
    return unmet


def node_requirements(pod: dict) -> list[str]:
    """All the pod's node requirements as selector text (nodeSelector, then node affinity terms)."""
    texts = [f"{key}={value}" for key, value in (_spec(pod).get("nodeSelector") or {}).items()]
    terms = [" and ".join(_expression_text(e) for e in (t.get("matchExpressions") or []) + (t.get("matchFields") or []))
             for t in required_terms(pod)]
    if terms:
        texts.append(" or ".join(f"({term})" if len(terms) > 1 else term for term in terms))
    return texts


def requirement_keys(pod: dict) -> list[str]:
    keys = list((_spec(pod).get("nodeSelector") or {}))
    for term in required_terms(pod):
        keys += [e.get("key") for e in term.get("matchExpressions") or [] if e.get("key")]
    return list(dict.fromkeys(keys))


def node_taints(node: dict) -> list[dict]:
    """The node's taints, with the one a cordon implies when the node controller has not added it yet."""
    taints = list(_spec(node).get("taints") or [])
    if _spec(node).get("unschedulable") and not any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints):
        taints.append({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"})
    return taints


def blocking_taints(pod: dict, node: dict) -> list[dict]:
    """The NoSchedule/NoExecute taints of the node that the pod does not tolerate (the scheduler's filter)."""
    taints = [t for t in node_taints(node) if t.get("effect") in FILTERED_EFFECTS]
    tolerations = _spec(pod).get("tolerations") or []
    try:
        return untolerated_taints(tolerations, taints)
    except ValueError:
        # Stored objects passed the API server's validation; if ours disagrees, say nothing rather than guess.
        return []


def taint_text(taint: dict) -> str:
    try:
        return format_taint(taint)
    except ValueError:
        return str(taint.get("key"))


# ---- resources ------------------------------------------------------------------------------------
def _quantity(value) -> Decimal:
    try:
        return parse_quantity(value)
    except ValueError:
        return Decimal(0)


def _container_requests(container: dict) -> dict[str, Decimal]:
    resources = container.get("resources") or {}
    # The API server copies limits into unset requests; a template may still lack them.
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return {name: _quantity(value) for name, value in merged.items()}


def _add(total: dict[str, Decimal], more: dict[str, Decimal]) -> dict[str, Decimal]:
    result = dict(total)
    for name, value in more.items():
        result[name] = result.get(name, Decimal(0)) + value
    return result


def pod_requests(pod: dict) -> dict[str, Decimal]:
    """What the scheduler reserves for the pod: the containers (and sidecars) summed, or the largest
    init container if that is more, plus the pod overhead."""
    spec = _spec(pod)
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        total = _add(total, _container_requests(container))
    sidecars: dict[str, Decimal] = {}
    init_peak: dict[str, Decimal] = {}
    for container in spec.get("initContainers") or []:
        requests = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            sidecars = _add(sidecars, requests)
            continue
        for name, value in _add(sidecars, requests).items():
            init_peak[name] = max(init_peak.get(name, Decimal(0)), value)
    total = _add(total, sidecars)
    for name, value in init_peak.items():
        total[name] = max(total.get(name, Decimal(0)), value)
    return _add(total, {name: _quantity(v) for name, v in (spec.get("overhead") or {}).items()})


def allocatable(node: dict, resource: str) -> Decimal:
    value = ((node.get("status") or {}).get("allocatable") or {}).get(resource)
    return _quantity(value) if value is not None else Decimal(0)


def show_quantity(resource: str, value: Decimal) -> str:
    """A readable amount: cpu in cores or millicores, memory and storage in Ki/Mi/Gi/Ti."""
    if resource == "cpu":
        if value != value.to_integral_value() and value < 10:
            return f"{int(value * 1000)}m"
        return _plain(value)
    if resource in BYTE_RESOURCES or resource.startswith("hugepages-"):
        for suffix, power in (("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)):
            unit = Decimal(1024 ** power)
            if value >= unit:
                return _plain((value / unit).quantize(Decimal("0.1"))) + suffix
        return _plain(value)
    return _plain(value)


def _plain(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")
