"""The diagnosis engine without a server: scheduler messages, node checks, ownership, snapshots of given objects."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils import _scheduling as sched
from ansible_collections.kubeops.platform.plugins.module_utils._diagnosis import (
    Scope,
    Snapshot,
    Unavailable,
    diagnose,
    summary_lines,
)
from ansible_collections.kubeops.platform.plugins.module_utils._owners import Owners

R, TMP, SEL, T, V, O = sched.RESOURCES, sched.TOO_MANY_PODS, sched.NODE_SELECTOR, sched.TAINTS, sched.VOLUMES, sched.OTHER


# ---- the scheduler's messages ---------------------------------------------------------------------
@pytest.mark.parametrize("message, nodes, reasons", [
    # the runbook's message (an older scheduler)
    ("0/7 nodes are available: 2 Insufficient memory, 3 Insufficient cpu, 4 node(s) didn't match node selector.", 7,
     [(2, "Insufficient memory", R), (3, "Insufficient cpu", R), (4, "node(s) didn't match node selector", SEL)]),
    # current schedulers: untolerated taint with its key and value, and the preemption part
    ("0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient "
     "cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
     "found for incoming pod.", 3,
     [(1, "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }", T), (2, "Insufficient cpu", R)]),
    # the pre-1.25 taint wording has a comma of its own
    ("0/3 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate, "
     "2 node(s) didn't match Pod's node affinity/selector.", 3,
     [(1, "node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate", T),
      (2, "node(s) didn't match Pod's node affinity/selector", SEL)]),
    # a PreFilter message replaces the histogram
    ("0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: "
     "1 Preemption is not helpful for scheduling.", 1, [(None, "pod has unbound immediate PersistentVolumeClaims", V)]),
    ('0/2 nodes are available: persistentvolumeclaim "gitlab-data" not found. preemption: 0/2 nodes are available: 2 '
     "Preemption is not helpful for scheduling.", 2, [(None, 'persistentvolumeclaim "gitlab-data" not found', V)]),
    ("0/3 nodes are available: 3 node(s) had volume node affinity conflict.", 3,
     [(3, "node(s) had volume node affinity conflict", V)]),
    ("0/4 nodes are available: 1 node(s) were unschedulable, 3 Too many pods.", 4,
     [(1, "node(s) were unschedulable", T), (3, "Too many pods", TMP)]),
    ("0/2 nodes are available: 2 Insufficient nvidia.com/gpu.", 2, [(2, "Insufficient nvidia.com/gpu", R)]),
    ("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.", 3,
     [(3, "node(s) didn't match pod anti-affinity rules", O)]),
    ("0/3 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules, 2 node(s) didn't match pod "
     "topology spread constraints.", 3,
     [(1, "node(s) didn't satisfy existing pods anti-affinity rules", O),
      (2, "node(s) didn't match pod topology spread constraints", O)]),
    ("no nodes available to schedule pods", None, [(None, "no nodes available to schedule pods", O)]),
])
def test_failed_scheduling_messages(message, nodes, reasons):
    failure = sched.parse_failed_scheduling(message)
    assert failure.nodes == nodes
    assert [(r.nodes, r.text, r.cause) for r in failure.reasons] == reasons


def test_taints_and_resources_named_in_messages():
    failure = sched.parse_failed_scheduling(
        "0/3 nodes are available: 1 node(s) had untolerated taint {gitlab/middleware: true}, 1 node(s) had untolerated "
        "taint {node.kubernetes.io/unreachable: }, 1 Insufficient ephemeral-storage.")
    assert [r.taint for r in failure.of(T)] == [{"key": "gitlab/middleware", "value": "true"},
                                                {"key": "node.kubernetes.io/unreachable"}]
    assert [r.resource for r in failure.of(R)] == ["ephemeral-storage"]
    cordoned = sched.parse_failed_scheduling("0/1 nodes are available: 1 node(s) were unschedulable.")
    assert cordoned.reasons[0].taint == {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


# ---- the pod against a node -----------------------------------------------------------------------
def node(name="node-1", labels=None, taints=None, allocatable=None, unschedulable=False):
    spec = {"taints": taints or []}
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}}, "spec": spec,
            "status": {"allocatable": allocatable or {"cpu": "4", "memory": "16Gi", "pods": "110"}}}


def affinity(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


@pytest.mark.parametrize("spec, labels, unmet", [
    ({"nodeSelector": {"disktype": "ssd"}}, {"disktype": "ssd"}, []),
    ({"nodeSelector": {"disktype": "ssd", "zone": "a"}}, {"disktype": "hdd"}, ["disktype=ssd", "zone=a"]),
    ({"affinity": affinity({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]})},
     {"zone": "c"}, ["zone in (a,b)"]),
    ({"affinity": affinity({"matchExpressions": [{"key": "gpu", "operator": "NotIn", "values": ["none"]}]})}, {}, []),
    ({"affinity": affinity({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["16"]}]})},
     {"cores": "8"}, ["cores > 16"]),
    ({"affinity": affinity({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["16"]}]})},
     {"cores": "8"}, []),
    ({"affinity": affinity({"matchExpressions": [{"key": "spot", "operator": "DoesNotExist"}]})}, {"spot": ""}, ["!spot"]),
    # terms are ORed: one matching term is enough; otherwise the closest term's unmet expressions
    ({"affinity": affinity({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]},
                                                 {"key": "ssd", "operator": "Exists"}]},
                           {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["c"]}]})},
     {"zone": "b"}, ["zone=c"]),
    ({"affinity": affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]})}, {}, []),
    ({"affinity": affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-9"]}]})}, {},
     ["metadata.name=node-9"]),
])
def test_unmet_node_requirements(spec, labels, unmet):
    assert sched.unmet_requirements({"spec": spec}, node(labels=labels)) == unmet


def test_blocking_taints_follow_the_scheduler_filter():
    tainted = node(taints=[{"key": "gitlab/middleware", "effect": "NoSchedule"},
                           {"key": "maintenance", "value": "kernel", "effect": "NoExecute", "timeAdded": "2025-05-01T10:00:00Z"},
                           {"key": "spot", "effect": "PreferNoSchedule"}])
    assert sched.blocking_taints({"spec": {}}, tainted) == [
        {"key": "gitlab/middleware", "effect": "NoSchedule"},
        {"key": "maintenance", "value": "kernel", "effect": "NoExecute", "timeAdded": "2025-05-01T10:00:00Z"}]
    tolerant = {"spec": {"tolerations": [{"key": "gitlab/middleware", "operator": "Exists"},
                                         {"key": "maintenance", "value": "other", "effect": "NoExecute"}]}}
    assert [t["key"] for t in sched.blocking_taints(tolerant, tainted)] == ["maintenance"]
    assert sched.blocking_taints({"spec": {"tolerations": [{"operator": "Exists"}]}}, tainted) == []
    assert sched.blocking_taints({"spec": {}}, node(unschedulable=True)) == [
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]


def test_pod_requests_as_the_scheduler_counts_them():
    pod = {"spec": {
        "containers": [{"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                       {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}],
        "initContainers": [{"name": "migrate", "resources": {"requests": {"cpu": "3", "memory": "256Mi"}}},
                           {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}],
        "overhead": {"cpu": "250m"}}}
    requests = sched.pod_requests(pod)
    assert requests["cpu"] == Decimal("3.25")  # the migrate init container dominates, plus overhead
    assert requests["memory"] == Decimal(1536 * 1024 ** 2)


@pytest.mark.parametrize("resource, value, text", [
    ("cpu", Decimal("0.5"), "500m"), ("cpu", Decimal(8), "8"), ("cpu", Decimal("3.5"), "3500m"),
    ("memory", Decimal(16318956 * 1024), "15.6Gi"), ("memory", Decimal(512 * 1024 ** 2), "512Mi"),
    ("pods", Decimal(110), "110"), ("nvidia.com/gpu", Decimal(2), "2"),
])
def test_quantities_shown_to_people(resource, value, text):
    assert sched.show_quantity(resource, value) == text


# ---- ownership --------------------------------------------------------------------------------------
def obj(kind, name, uid, owner=None):
    meta = {"name": name, "namespace": "dsp", "uid": uid}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "uid": owner[2], "controller": True}]
    return {"kind": kind, "metadata": meta}


def test_pods_belong_to_deployments_by_uid_not_by_name_prefix():
    # "web-6d4b" is also the name prefix of web's ReplicaSet: names alone would mix the two up.
    web, web_6d4b = obj("Deployment", "web", "u-web"), obj("Deployment", "web-6d4b", "u-web-6d4b")
    rs_web = obj("ReplicaSet", "web-6d4b9c7f5", "u-rs1", ("Deployment", "web", "u-web"))
    rs_other = obj("ReplicaSet", "web-6d4b-5c7f8d", "u-rs2", ("Deployment", "web-6d4b", "u-web-6d4b"))
    pods = [obj("Pod", "web-6d4b9c7f5-abcde", "p1", ("ReplicaSet", "web-6d4b9c7f5", "u-rs1")),
            obj("Pod", "web-6d4b-5c7f8d-fghij", "p2", ("ReplicaSet", "web-6d4b-5c7f8d", "u-rs2")),
            obj("Pod", "tool", "p3")]
    owners = Owners([rs_web, rs_other])
    assert [p["metadata"]["name"] for p in owners.pods_of(web, pods)] == ["web-6d4b9c7f5-abcde"]
    assert [p["metadata"]["name"] for p in owners.pods_of(web_6d4b, pods)] == ["web-6d4b-5c7f8d-fghij"]
    assert owners.top(pods[0]) == {"kind": "Deployment", "name": "web", "uid": "u-web"}
    assert owners.top(pods[2]) is None
    # A ReplicaSet not in the list (or without an owner) is the top itself.
    assert Owners([]).top(pods[0]) == {"kind": "ReplicaSet", "name": "web-6d4b9c7f5", "uid": "u-rs1"}


# ---- snapshots of objects at hand (as a role has them from k8s_info) ----------------------------------------
OOM_POD = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "redis-0", "namespace": "gitlab", "uid": "u1"},
           "spec": {"nodeName": "node-1", "containers": [{"name": "redis", "resources": {"limits": {"memory": "256Mi"}}}]},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                      "containerStatuses": [{"name": "redis", "ready": False, "restartCount": 3,
                                             "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                             "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}


def test_a_snapshot_of_given_objects_needs_no_client():
    result = diagnose(Snapshot(objects={"Pod": [OOM_POD]}), Scope(kind="Pod"))
    assert [f["problem"] for f in result["findings"]] == ["container_oom_killed"]
    assert result["findings"][0]["summary"] == ("Pod gitlab/redis-0: container redis was OOMKilled (exit code 137, "
                                                "3 restarts): it exceeded resources.limits.memory 256Mi")
    assert result["notes"] == []  # kinds not given are not an error, nor worth a note
    assert result["healthy"] is False


def test_each_kind_is_fetched_once_and_unreadable_kinds_become_notes():
    fetched = []

    def fetch(kind):
        fetched.append(kind)
        if kind == "Node":
            raise Unavailable("HTTP 403 Forbidden: nodes is forbidden")
        return [OOM_POD] if kind == "Pod" else []

    snapshot = Snapshot(fetch=fetch)
    assert snapshot.list("Pod") == snapshot.list("Pod") == [OOM_POD]
    assert snapshot.list("Node") == [] and not snapshot.has("Node")
    assert fetched == ["Pod", "Node"]
    result = diagnose(snapshot, Scope(kind="Pod"))
    assert result["notes"] == ["Node objects could not be read (HTTP 403 Forbidden: nodes is forbidden): the checks "
                               "that use them say less"]


def test_log_reads_are_capped_and_failures_are_kept():
    calls = []

    def read_log(pod, container, previous, lines):
        calls.append((pod["metadata"]["name"], container, previous, lines))
        if len(calls) == 2:
            raise RuntimeError("container is waiting to start")
        return "one\n\ntwo\nthree\n"

    snapshot = Snapshot(read_log=read_log, max_log_reads=2, log_lines=2)
    assert snapshot.log_tail(OOM_POD, "redis", True) == {"log_tail": ["two", "three"]}
    assert snapshot.log_tail(OOM_POD, "redis", False) == {"log_error": "container is waiting to start"}
    assert snapshot.log_tail(OOM_POD, "redis", True) == {}
    assert calls == [("redis-0", "redis", True, 2), ("redis-0", "redis", False, 2)] and snapshot.logs_skipped == 1


def test_summary_lines_put_errors_first_and_fold_pods_of_one_workload():
    def finding(name, problem, severity, owner=None):
        item = {"object": {"kind": "Pod", "namespace": "dsp", "name": name}, "problem": problem, "severity": severity,
                "summary": f"Pod dsp/{name}: {problem}"}
        if owner:
            item["owner"] = {"kind": "Deployment", "name": owner}
        return item

    lines = summary_lines([finding("web-1", "container_crash_loop", "error", "web"),
                           finding("web-2", "container_crash_loop", "error", "web"),
                           finding("web-3", "container_crash_loop", "error", "web"),
                           finding("tool", "container_crash_loop", "error"),
                           finding("web-1", "container_probe_failing", "warning", "web")])
    assert lines == ["ERROR: Pod dsp/web-1: container_crash_loop (also 2 more pods of Deployment web: web-2, web-3)",
                     "ERROR: Pod dsp/tool: container_crash_loop",
                     "WARNING: Pod dsp/web-1: container_probe_failing"]
