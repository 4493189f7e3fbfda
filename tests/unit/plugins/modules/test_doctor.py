"""kubeops.platform.doctor against the fake API server, with objects and events as real clusters report them.

Event messages, container states and conditions are copied from what the scheduler, the kubelet,
the persistent volume controller and the workload controllers write. Every test also checks that
the module read each kind with one LIST (and never one request per object).
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import yaml

from ansible_collections.kubeops.platform.plugins.module_utils._problems import CATALOGUE
from ansible_collections.kubeops.platform.plugins.modules import doctor
from fake_k8s import ApiStatus

NS = "dsp"
T0 = "2025-05-01T10:00:00Z"
T1 = "2025-05-01T10:05:00Z"
RS_HASH = "6d4b9c7f5"


# ---- objects ----------------------------------------------------------------------------------------
@pytest.fixture
def kube(fake):
    """The fake with a namespace and three nodes."""
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for index in (1, 2, 3):
        add_node(fake, f"node-{index}")
    return fake


def add_node(fake, name, cpu="4", memory="16318956Ki", pods="110", labels=None, taints=None, unschedulable=False):
    spec = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return fake.add({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                           **(labels or {})}},
                     "spec": spec,
                     "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
                                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})


def ref(owner: dict) -> list[dict]:
    return [{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
             "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]


def container_status(name="main", ready=True, restarts=0, state=None, last=None, image="registry.example.com/app:1.4"):
    status = {"name": name, "ready": ready, "restartCount": restarts, "image": image, "started": ready,
              "state": state or {"running": {"startedAt": T0}}}
    if last:
        status["lastState"] = {"terminated": last}
    return status


def add_pod(fake, name, labels=None, owner=None, containers=None, statuses=None, phase="Running", ready=True,
            node="node-1", conditions=None, namespace=NS, **spec):
    containers = containers or [{"name": "main", "image": "registry.example.com/app:1.4"}]
    if statuses is None:
        statuses = [container_status(c["name"], ready=ready) for c in containers]
    if conditions is None:
        conditions = [{"type": "PodScheduled", "status": "True"},
                      {"type": "Ready", "status": "True" if ready else "False"}]
    meta = {"name": name, "namespace": namespace, "labels": labels or {"app": name}}
    if owner is not None:
        meta["ownerReferences"] = ref(owner)
    body = {"containers": containers, "restartPolicy": "Always", **spec}
    if node:
        body["nodeName"] = node
    status = {"phase": phase, "conditions": conditions, "containerStatuses": statuses}
    return fake.add({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": body, "status": status})


def pending_pod(fake, name, message, owner=None, **spec):
    """A pod the scheduler could not place, with its FailedScheduling event and PodScheduled condition."""
    pod = add_pod(fake, name, owner=owner, node=None, phase="Pending", statuses=[],
                  conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                               "message": message}], **spec)
    add_event(fake, pod, "FailedScheduling", message, source="default-scheduler", count=4)
    return pod


def add_event(fake, obj, reason, message, kind="Warning", count=1, source="kubelet", field_path=None, at=T1):
    meta = obj["metadata"]
    involved = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "namespace": meta.get("namespace"),
                "name": meta["name"], "uid": meta["uid"]}
    if field_path:
        involved["fieldPath"] = field_path
    return fake.add({"apiVersion": "v1", "kind": "Event",
                     "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta.get("namespace")},
                     "involvedObject": involved, "reason": reason, "message": message, "type": kind, "count": count,
                     "source": {"component": source}, "firstTimestamp": T0, "lastTimestamp": at,
                     "reportingComponent": source})


def add_deployment(fake, name, replicas=2, labels=None, status=None, conditions=None, template_spec=None):
    labels = labels or {"app": name}
    status = {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
              "availableReplicas": replicas, **(status or {})}
    if conditions:
        status["conditions"] = conditions
    deployment = fake.add({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": template_spec or {"containers": [{"name": "main", "image": "registry.example.com/app:1.4"}]}}},
        "status": status})
    hashed = {**labels, "pod-template-hash": RS_HASH}
    replicaset = fake.add({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{name}-{RS_HASH}", "namespace": NS, "labels": hashed, "ownerReferences": ref(deployment)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": hashed},
                 "template": {"metadata": {"labels": hashed}, "spec": deployment["spec"]["template"]["spec"]}},
        "status": {}})
    return deployment, replicaset


def add_service(fake, name, selector, ports=None, **spec):
    ports = ports or [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    body = {"ports": ports, **spec}
    if selector is not None:
        body["selector"] = selector
    return fake.add({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS}, "spec": body})


def add_slice(fake, service, ready=0, not_ready=0):
    endpoints = [{"addresses": [f"10.244.1.{i}"], "conditions": {"ready": True}} for i in range(ready)]
    endpoints += [{"addresses": [f"10.244.2.{i}"], "conditions": {"ready": False}} for i in range(not_ready)]
    fake.add({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": f"{service}-abc12", "namespace": NS, "labels": {"kubernetes.io/service-name": service}},
              "addressType": "IPv4", "endpoints": endpoints})


def add_claim(fake, name, storage_class="standard", phase="Pending"):
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
    if storage_class is not ...:
        spec["storageClassName"] = storage_class
    return fake.add({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": NS},
                     "spec": spec, "status": {"phase": phase}})


def add_class(fake, name, mode="Immediate", default=False, provisioner="rancher.io/local-path"):
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    fake.add({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
              "metadata": {"name": name, "annotations": annotations}, "provisioner": provisioner,
              "reclaimPolicy": "Delete", "volumeBindingMode": mode})


# ---- running the module -----------------------------------------------------------------------------
def diagnose(run_module, **args):
    return run_module(doctor.main, {"namespace": NS, **args})


def only(result, problem):
    found = [f for f in result["findings"] if f["problem"] == problem]
    assert len(found) == 1, result["summary"]
    return found[0]


def reads(fake) -> Counter:
    """Every request was a GET, each path read once: one LIST per kind, plus the namespace."""
    assert all(r.method == "GET" for r in fake.log)
    paths = Counter(r.path for r in fake.log)
    assert all(n == 1 for n in paths.values()), paths
    return paths


def lists(fake) -> set[str]:
    return {r.path.rsplit("/", 1)[-1] for r in fake.log if r.path != f"/api/v1/namespaces/{NS}"}


# ---- Services ---------------------------------------------------------------------------------------
def test_service_whose_selector_matches_no_pod_names_the_closest_labels(kube, run_module):
    # The runbook's "connection refused": the Service selects k8s-app, the Deployment labels its pods app.
    _dep, rs = add_deployment(kube, "prom-test-exporter", replicas=1)
    add_pod(kube, f"prom-test-exporter-{RS_HASH}-x2k4p", owner=rs,
            labels={"app": "prom-test-exporter", "pod-template-hash": RS_HASH},
            containers=[{"name": "exporter", "image": "prom/exporter:1.2", "ports": [{"containerPort": 32323}]}])
    add_pod(kube, "redis-0", labels={"app": "redis"})
    add_service(kube, "prom-test-exporter", {"k8s-app": "prom-test-exporter"},
                ports=[{"name": "prom-test-exporter", "port": 32323, "targetPort": 32323, "protocol": "TCP"}])
    add_slice(kube, "prom-test-exporter")
    kube.log.clear()

    result = diagnose(run_module, kind="Service", names=["prom-test-exporter"])

    assert result["changed"] is False and result["healthy"] is False
    finding = only(result, "service_selector_matches_nothing")
    assert finding["object"] == {"kind": "Service", "namespace": NS, "name": "prom-test-exporter"}
    assert finding["severity"] == "error"
    assert finding["summary"] == (
        "Service dsp/prom-test-exporter: has no endpoints: its selector k8s-app=prom-test-exporter matches no pod in "
        f"namespace dsp; closest: pods of Deployment prom-test-exporter (prom-test-exporter-{RS_HASH}-x2k4p): they "
        "have no k8s-app label (they have app=prom-test-exporter)")
    assert finding["evidence"]["endpoints"] == {"ready": 0, "not_ready": 0}
    closest = finding["evidence"]["closest"][0]
    assert closest["labels"] == {"app": "prom-test-exporter"}  # pod-template-hash says nothing here
    assert "change the selector to app=prom-test-exporter" in finding["fix"]
    assert result["summary"] == ["ERROR: " + finding["summary"]]
    assert result["counts"] == {"service_selector_matches_nothing": 1}
    reads(kube)
    assert lists(kube) == {"services", "pods", "endpointslices", "replicasets", "deployments", "statefulsets"}


def test_service_selecting_pods_of_several_workloads_is_a_warning(kube, run_module):
    # The notebook's gitlab Service selects only app=gitlab, which the redis and postgres pods carry too.
    for name in ("gitlab", "redis", "postgres"):
        _dep, rs = add_deployment(kube, name, replicas=1, labels={"app": "gitlab", "tier": name})
        add_pod(kube, f"{name}-{RS_HASH}-abcde", owner=rs, labels={"app": "gitlab", "tier": name},
                containers=[{"name": name, "image": f"{name}:1", "ports": [{"containerPort": 8080, "name": "http"}]}])
    add_service(kube, "gitlab", {"app": "gitlab"}, ports=[{"port": 80, "targetPort": "http", "protocol": "TCP"}])
    kube.log.clear()

    result = diagnose(run_module, kind="svc")

    finding = only(result, "service_selects_several_workloads")
    assert finding["severity"] == "warning"
    assert finding["summary"] == (
        "Service dsp/gitlab: its selector app=gitlab matches pods of 3 workloads: Deployment gitlab (1 pod), "
        "Deployment postgres (1 pod), Deployment redis (1 pod); traffic goes to all of them")
    assert result["healthy"] is True  # a warning: it answers, only not as intended
    reads(kube)


def test_service_whose_pods_are_none_ready_says_why(kube, run_module):
    _dep, rs = add_deployment(kube, "web", replicas=1, status={"readyReplicas": 0, "availableReplicas": 0})
    waiting = {"waiting": {"reason": "CrashLoopBackOff",
                           "message": f"back-off 5m0s restarting failed container=main pod=web-{RS_HASH}-x7k2p_dsp(0b1c)"}}
    add_pod(kube, f"web-{RS_HASH}-x7k2p", owner=rs, ready=False, labels={"app": "web", "pod-template-hash": RS_HASH},
            containers=[{"name": "main", "image": "web:1", "ports": [{"containerPort": 8080}]}],
            statuses=[container_status(ready=False, restarts=7, state=waiting,
                                       last={"exitCode": 1, "reason": "Error", "finishedAt": T1})])
    add_service(kube, "web", {"app": "web"})
    add_slice(kube, "web", not_ready=1)

    result = diagnose(run_module, kind="Service", names=["web"], logs=False)

    finding = only(result, "service_no_ready_pods")
    assert finding["summary"].startswith("Service dsp/web: has no ready endpoints: its selector matches 1 pod, none "
                                         f"Ready: web-{RS_HASH}-x7k2p Running (CrashLoopBackOff: back-off 5m0s")
    assert finding["evidence"]["endpoints"] == {"ready": 0, "not_ready": 1}
    # Only the Service was asked about: its pods' own findings are for kind Pod or a namespace run.
    assert [f["object"]["kind"] for f in result["findings"]] == ["Service"]


def test_service_target_ports_by_name_and_number(kube, run_module):
    add_pod(kube, "api", labels={"app": "api"},
            containers=[{"name": "api", "image": "api:2", "ports": [{"containerPort": 9000, "name": "web"}]}])
    add_service(kube, "api", {"app": "api"}, ports=[
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"},
        {"name": "web", "port": 9000, "targetPort": "web", "protocol": "TCP"}])

    result = diagnose(run_module, kind="Service")

    missing = only(result, "service_target_port_missing")
    assert missing["summary"] == ("Service dsp/api: has no endpoints for port http (80/TCP): targetPort 'http' is not "
                                  "the name of a port of the selected pods' containers (they declare api: 9000/TCP (web))")
    undeclared = only(result, "service_target_port_not_declared")
    assert undeclared["severity"] == "warning"
    assert "sends traffic to port 9090, which no container of the selected pods declares" in undeclared["summary"]
    assert len(result["findings"]) == 2


def test_service_without_selector_and_a_healthy_service_are_not_findings(kube, run_module):
    add_pod(kube, "db", labels={"app": "db"}, containers=[{"name": "db", "image": "pg:16", "ports": [{"containerPort": 5432}]}])
    add_service(kube, "db", {"app": "db"}, ports=[{"port": 5432, "targetPort": 5432, "protocol": "TCP"}])
    add_service(kube, "external-db", None, ports=[{"port": 5432, "protocol": "TCP"}])  # Endpoints managed by hand
    add_slice(kube, "db", ready=1)

    result = diagnose(run_module, kind="Service")

    assert result["findings"] == [] and result["healthy"] is True
    assert result["checked"] == {"Service": 2}
    assert result["summary"] == []


def test_service_of_a_deployment_scaled_to_zero(kube, run_module):
    add_deployment(kube, "worker", replicas=0)
    add_service(kube, "worker", {"app": "worker"})

    finding = only(diagnose(run_module, kind="Service"), "service_backend_scaled_to_zero")

    assert finding["summary"] == ("Service dsp/worker: has no endpoints: its selector app=worker matches the pods of "
                                  "Deployment worker, which is scaled to 0")


# ---- Pending pods -----------------------------------------------------------------------------------
def test_pending_pod_insufficient_cpu_and_memory_with_the_request_and_best_node(kube, run_module):
    # The runbook's message, on a cluster of 7 nodes of which 3 carry the pod's node selector.
    for index in (4, 5, 6, 7):
        add_node(kube, f"node-{index}", labels={"disktype": "hdd"})
    kube.edit("Node", "node-1", change=lambda n: n["metadata"]["labels"].update(disktype="ssd"))
    kube.edit("Node", "node-2", change=lambda n: (n["metadata"]["labels"].update(disktype="ssd"),
                                                  n["status"]["allocatable"].update(cpu="6", memory="8Gi")))
    kube.edit("Node", "node-3", change=lambda n: (n["metadata"]["labels"].update(disktype="ssd"),
                                                  n["status"]["allocatable"].update(cpu="3500m", memory="64Gi")))
    message = "0/7 nodes are available: 2 Insufficient memory, 3 Insufficient cpu, 4 node(s) didn't match node selector."
    pending_pod(kube, "esb-admin", message, nodeSelector={"disktype": "ssd"},
                containers=[{"name": "main", "image": "esb:3", "resources": {"requests": {"cpu": "8", "memory": "16Gi"},
                                                                             "limits": {"memory": "32Gi"}}}])
    kube.log.clear()

    result = diagnose(run_module, kind="Pod", names=["esb-admin"])

    finding = only(result, "pod_unschedulable_resources")
    assert finding["summary"] == (
        "Pod dsp/esb-admin: Pending: not enough memory: it requests 16Gi, the largest node allocatable is 64Gi "
        "(node-3), the rest is reserved by other pods' requests; not enough cpu: it requests 8, the largest node "
        "allocatable is 6 (node-2), so no node can ever fit it (3 of 7 nodes)")
    assert finding["evidence"]["reasons"] == {"Insufficient memory": 2, "Insufficient cpu": 3,
                                              "node(s) didn't match node selector": 4}
    assert finding["evidence"]["event"] == message and finding["evidence"]["times"] == 4
    assert finding["fix"].startswith("Lower resources.requests.cpu in the pod template")
    # The four nodes the selector keeps it off are not the problem.
    assert [f["problem"] for f in result["findings"]] == ["pod_unschedulable_resources"]
    reads(kube)
    assert lists(kube) == {"pods", "events", "nodes"}  # no claims to look at, no owner to resolve


def test_pending_pod_whose_node_selector_no_node_matches_names_the_labels(kube, run_module):
    kube.edit("Node", "node-1", change=lambda n: n["metadata"]["labels"].update(disktype="hdd"))
    kube.edit("Node", "node-2", change=lambda n: n["metadata"]["labels"].update(disktype="hdd"))
    message = ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes "
               "are available: 3 Preemption is not helpful for scheduling.")
    pending_pod(kube, "nginx-select-node1", message, nodeSelector={"node": "node1", "disktype": "ssd"})

    finding = only(diagnose(run_module, kind="Pod"), "pod_unschedulable_node_selector")

    assert finding["summary"] == (
        "Pod dsp/nginx-select-node1: Pending: no node matches its node selector node=node1 and disktype=ssd; no node "
        "has the label node; nodes have disktype=hdd (node-1, node-2) (3 of 3 nodes)")
    assert finding["evidence"]["node_labels"] == {"node": {}, "disktype": {"hdd": ["node-1", "node-2"]}}
    assert finding["fix"].startswith("Label the node the pod should run on (kubectl label nodes NODE node=node1 "
                                     "disktype=ssd, module kubeops.platform.label")


def test_pending_pod_with_required_node_affinity(kube, run_module):
    kube.edit("Node", "node-3", change=lambda n: n["metadata"]["labels"].update({"topology.kubernetes.io/zone": "b"}))
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a", "c"]}]}]}}}
    pending_pod(kube, "zonal", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
                affinity=affinity)

    finding = only(diagnose(run_module, kind="Pod"), "pod_unschedulable_node_selector")

    assert finding["evidence"]["requires"] == ["topology.kubernetes.io/zone in (a,c)"]
    assert "nodes have topology.kubernetes.io/zone=b (node-3)" in finding["summary"]


def test_pending_pod_pinned_to_a_tainted_node_names_the_taint_and_the_toleration(kube, run_module):
    kube.edit("Node", "node-3", change=lambda n: n["spec"].update(
        taints=[{"key": "gitlab/middleware", "effect": "NoSchedule"},
                {"key": "maintenance", "value": "kernel", "effect": "PreferNoSchedule"}]))
    message = ("0/3 nodes are available: 1 node(s) had untolerated taint {gitlab/middleware: }, 2 node(s) didn't "
               "match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful "
               "for scheduling.")
    pending_pod(kube, "redis", message, nodeSelector={"kubernetes.io/hostname": "node-3"},
                tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                              "tolerationSeconds": 300}])

    result = diagnose(run_module, kind="Pod")

    finding = only(result, "pod_unschedulable_taints")
    assert finding["summary"] == ("Pod dsp/redis: Pending: the pod does not tolerate taint gitlab/middleware:NoSchedule "
                                  "on node-3 (1 of 3 nodes)")
    assert finding["evidence"]["taints"] == {"gitlab/middleware:NoSchedule": ["node-3"]}  # PreferNoSchedule only scores
    assert "add the toleration {key: gitlab/middleware, operator: Exists, effect: NoSchedule}" in finding["fix"]
    assert "kubectl taint nodes NODE gitlab/middleware-" in finding["fix"]
    assert [f["problem"] for f in result["findings"]] == ["pod_unschedulable_taints"]


def test_pending_pod_on_cordoned_and_control_plane_nodes(kube, run_module):
    kube.edit("Node", "node-1", change=lambda n: n["spec"].update(
        taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]))
    kube.edit("Node", "node-2", change=lambda n: n["spec"].update(unschedulable=True))
    kube.edit("Node", "node-3", change=lambda n: n["spec"].update(unschedulable=True, taints=[
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": T0}]))
    message = ("0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
               "2 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for "
               "scheduling.")
    pending_pod(kube, "web", message)

    finding = only(diagnose(run_module, kind="Pod"), "pod_unschedulable_taints")

    assert finding["evidence"]["taints"] == {"node-role.kubernetes.io/control-plane:NoSchedule": ["node-1"],
                                             "node.kubernetes.io/unschedulable:NoSchedule": ["node-2", "node-3"]}
    assert "The node is a control-plane node" in finding["fix"]
    assert "the node is cordoned: kubectl uncordon NODE" in finding["fix"]


def test_pending_pod_with_an_unbound_claim_brings_the_claims_finding(kube, run_module):
    add_class(kube, "standard", default=True)
    claim = add_claim(kube, "gitlab-data", storage_class="fast")
    add_event(kube, claim, "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found',
              source="persistentvolume-controller", count=12)
    message = ("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are "
               "available: 3 Preemption is not helpful for scheduling.")
    pending_pod(kube, "gitlab", message, volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "gitlab-data"}}])
    kube.log.clear()

    result = diagnose(run_module, kind="Pod", names=["gitlab"])

    assert [f["problem"] for f in result["findings"]] == ["pod_unschedulable_volumes", "pvc_storage_class_not_found"]
    pod = result["findings"][0]
    assert pod["summary"] == ("Pod dsp/gitlab: Pending: PersistentVolumeClaim gitlab-data is not bound (Pending: "
                              "StorageClass fast does not exist; classes there: standard)")
    assert pod["evidence"]["claims"] == {"gitlab-data": "Pending"}
    claim_finding = result["findings"][1]
    assert claim_finding["evidence"]["events"] == {"ProvisioningFailed": 'storageclass.storage.k8s.io "fast" not found'}
    assert claim_finding["evidence"]["default_class"] == "standard"
    assert "Set storageClassName to an existing class (standard)" in claim_finding["fix"]
    reads(kube)


def test_the_newest_scheduler_event_counts_in_either_event_api_shape(kube, run_module):
    old = "0/3 nodes are available: 3 Insufficient cpu."
    new = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    pod = pending_pod(kube, "web", old, nodeSelector={"disktype": "ssd"})  # a core/v1 event at T1
    # What events.k8s.io/v1 writes (today's scheduler), as the core/v1 API shows it: no lastTimestamp.
    kube.add({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.18a2b3c4d5e6f7a8", "namespace": NS},
              "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": NS, "name": "web",
                                 "uid": pod["metadata"]["uid"]},
              "reason": "FailedScheduling", "message": new, "type": "Warning", "action": "Scheduling",
              "eventTime": "2025-05-01T10:06:00.123456Z", "firstTimestamp": None, "lastTimestamp": None,
              "series": {"count": 7, "lastObservedTime": "2025-05-01T10:09:00.654321Z"},
              "reportingComponent": "default-scheduler", "reportingInstance": "default-scheduler-kind-control-plane",
              "source": {}})

    finding = only(diagnose(run_module, kind="Pod"), "pod_unschedulable_node_selector")

    assert finding["evidence"]["event"] == new and finding["evidence"]["times"] == 7


def test_pending_pod_too_many_pods(kube, run_module):
    pending_pod(kube, "batch-77", "0/3 nodes are available: 3 Too many pods. preemption: 0/3 nodes are available: 3 "
                                  "No preemption victims found for incoming pod.")

    finding = only(diagnose(run_module, kind="Pod"), "pod_unschedulable_too_many_pods")

    assert finding["summary"] == ("Pod dsp/batch-77: Pending: the nodes already run as many pods as they allow "
                                  "(110 per node) (3 of 3 nodes)")


def test_pending_pod_for_other_reasons_repeats_the_scheduler(kube, run_module):
    pending_pod(kube, "ingress", "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports.")

    finding = only(diagnose(run_module, kind="Pod"), "pod_unschedulable")

    assert finding["summary"] == "Pod dsp/ingress: Pending: 3 node(s) didn't have free ports for the requested pod ports"
    assert "hostPort" in finding["fix"]


def test_nodes_that_cannot_be_read_leave_the_schedulers_words(kube, run_module):
    def forbid_nodes(_fake, request):
        if request.path == "/api/v1/nodes":
            raise ApiStatus(403, "Forbidden", 'nodes is forbidden: User "system:serviceaccount:dsp:ops" cannot list '
                                              'resource "nodes" in API group "" at the cluster scope')

    kube.before_request.append(forbid_nodes)
    pending_pod(kube, "redis", "0/3 nodes are available: 3 node(s) had untolerated taint {gitlab/middleware: }.")

    result = diagnose(run_module, kind="Pod")

    finding = only(result, "pod_unschedulable_taints")
    assert finding["evidence"]["taints"] == {"gitlab/middleware": []}
    assert result["notes"] == ['Node objects could not be read (HTTP 403 Forbidden: nodes is forbidden: User '
                               '"system:serviceaccount:dsp:ops" cannot list resource "nodes" in API group "" at the '
                               'cluster scope): the checks that use them say less']


# ---- containers ----------------------------------------------------------------------------------------
def test_oom_killed_in_a_crash_loop_names_the_limit(kube, run_module):
    _dep, rs = add_deployment(kube, "esb", replicas=2, status={"readyReplicas": 0, "availableReplicas": 0})
    containers = [{"name": "esb", "image": "esb:3", "resources": {"limits": {"cpu": "8", "memory": "32Gi"},
                                                                  "requests": {"cpu": "2", "memory": "32Gi"}}}]
    oom = {"exitCode": 137, "reason": "OOMKilled", "startedAt": T0, "finishedAt": T1}
    crash = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container=esb"}}
    for suffix in ("x7k2p", "q9w8e"):
        add_pod(kube, f"esb-{RS_HASH}-{suffix}", owner=rs, ready=False, containers=containers,
                statuses=[container_status("esb", ready=False, restarts=5, state=crash, last=oom)])

    result = diagnose(run_module, kind="Deployment", names=["esb"])

    ooms = [f for f in result["findings"] if f["problem"] == "container_oom_killed"]
    assert len(ooms) == 2
    assert ooms[0]["summary"] == (f"Pod dsp/esb-{RS_HASH}-q9w8e: container esb was OOMKilled (exit code 137, 5 restarts): "
                                  "it exceeded resources.limits.memory 32Gi")
    assert ooms[0]["owner"] == {"kind": "Deployment", "name": "esb"} and ooms[0]["container"] == "esb"
    assert ooms[0]["evidence"]["memory_limit"] == "32Gi"
    assert "raise resources.limits.memory (now 32Gi)" in ooms[0]["fix"]
    workload = only(result, "workload_unavailable")
    assert workload["summary"].startswith("Deployment dsp/esb: 0 of 2 pods available")
    assert workload["summary"].endswith("pod findings: container_oom_killed x2")
    # Two pods of one Deployment with the same problem make one summary line.
    assert result["summary"][1] == "ERROR: " + ooms[0]["summary"] + f" (also 1 more pod of Deployment esb: esb-{RS_HASH}-x7k2p)"
    assert len(result["summary"]) == 2
    assert result["checked"] == {"Deployment": 1, "Pod": 2}


def test_oom_killed_container_running_again_is_a_warning(kube, run_module):
    add_pod(kube, "cache", containers=[{"name": "redis", "image": "redis:7.2", "resources": {"limits": {"memory": "1Gi"}}}],
            statuses=[container_status("redis", restarts=1, last={"exitCode": 137, "reason": "OOMKilled",
                                                                  "finishedAt": T0})])

    finding = only(diagnose(run_module, kind="Pod"), "container_oom_killed")

    assert finding["severity"] == "warning"
    assert finding["summary"].endswith("it exceeded resources.limits.memory 1Gi; it is running again")


def test_crash_loop_with_exit_code_and_liveness_probe(kube, run_module):
    crash = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=app"}}
    pod = add_pod(kube, "app", ready=False, statuses=[container_status(
        "main", ready=False, restarts=12, state=crash, last={"exitCode": 137, "reason": "Error", "finishedAt": T1})])
    add_event(kube, pod, "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500",
              field_path="spec.containers{main}", count=36)
    add_event(kube, pod, "BackOff", "Back-off restarting failed container main in pod app_dsp(6b1d)",
              field_path="spec.containers{main}", count=51)

    finding = only(diagnose(run_module, kind="Pod", logs=False), "container_crash_loop")

    assert finding["summary"] == ("Pod dsp/app: container main is crash-looping (CrashLoopBackOff, 12 restarts, last "
                                  "exit code 137): the kubelet kills it after its liveness probe fails (Liveness probe "
                                  "failed: HTTP probe failed with statuscode: 500)")
    assert finding["evidence"]["exit_code"] == 137 and "log_tail" not in finding["evidence"]


def crash_looping(kube, name, exit_code=1):
    crash = {"waiting": {"reason": "CrashLoopBackOff", "message": f"back-off 5m0s restarting failed container=main pod={name}"}}
    return add_pod(kube, name, ready=False, statuses=[container_status(
        "main", ready=False, restarts=4, state=crash, last={"exitCode": exit_code, "reason": "Error", "finishedAt": T1})])


def test_crash_loop_reads_the_last_lines_of_the_previous_container(kube, run_module):
    crash_looping(kube, "eureka-0")
    kube.previous_pod_logs[(NS, "eureka-0", "main")] = (
        "Starting EurekaServerApplication\n\nAPPLICATION FAILED TO START\n"
        "Description: Failed to bind properties under 'eureka.client.service-url'\n")
    kube.log.clear()

    finding = only(diagnose(run_module, kind="Pod", log_lines=3), "container_crash_loop")

    assert finding["evidence"]["log_tail"] == ["APPLICATION FAILED TO START",
                                               "Description: Failed to bind properties under 'eureka.client.service-url'"]
    assert finding["summary"] == ("Pod dsp/eureka-0: container main is crash-looping (CrashLoopBackOff, 4 restarts, last "
                                  "exit code 1): the application exited with an error; last log line: Description: "
                                  "Failed to bind properties under 'eureka.client.service-url'")
    log_reads = [r for r in kube.log if r.path.endswith("/log")]
    assert [(r.path, r.query) for r in log_reads] == [
        (f"/api/v1/namespaces/{NS}/pods/eureka-0/log", {"container": "main", "tailLines": "3", "previous": "true"})]


def test_log_reads_are_capped_and_optional(kube, run_module):
    for index in range(12):
        crash_looping(kube, f"worker-{index:02d}")
        kube.previous_pod_logs[(NS, f"worker-{index:02d}", "main")] = "panic: runtime error\n"
    kube.log.clear()

    result = diagnose(run_module, kind="Pod")

    assert len([r for r in kube.log if r.path.endswith("/log")]) == 10
    with_logs = [f for f in result["findings"] if "log_tail" in f["evidence"]]
    assert len(with_logs) == 10
    assert result["notes"] == ["log lines were read for the first 10 containers only; 2 more were not read"]

    kube.log.clear()
    diagnose(run_module, kind="Pod", logs=False)
    assert not [r for r in kube.log if r.path.endswith("/log")]


def test_a_log_that_cannot_be_read_is_evidence_not_a_failure(kube, run_module):
    crash_looping(kube, "fresh")  # no previous container log kept

    finding = only(diagnose(run_module, kind="Pod"), "container_crash_loop")

    assert finding["evidence"]["log_error"] == 'previous terminated container "main" in pod "fresh" not found'


def test_image_pull_back_off_says_the_tag_does_not_exist(kube, run_module):
    image = "registry.k8s.io/kubeops-it/does-not-exist:0.0.1"
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
    pod = add_pod(kube, "bad-image", ready=False, containers=[{"name": "main", "image": image}],
                  statuses=[container_status("main", ready=False, state=waiting, image=image)])
    add_event(kube, pod, "Failed", f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull '
                                   f'and unpack image "{image}": failed to resolve reference "{image}": {image}: not found',
              field_path="spec.containers{main}", count=3)
    add_event(kube, pod, "Failed", "Error: ErrImagePull", field_path="spec.containers{main}", count=3, at=T0)

    finding = only(diagnose(run_module, kind="Pod"), "container_image_pull_failed")

    assert finding["summary"] == (f"Pod dsp/bad-image: container main image {image} cannot be pulled (ImagePullBackOff): "
                                  "the image or its tag does not exist")
    assert finding["evidence"]["event"].startswith(f'Failed to pull image "{image}": rpc error: code = NotFound')


def test_image_pull_refused_by_the_registry(kube, run_module):
    waiting = {"waiting": {"reason": "ErrImagePull", "message": "failed to pull and unpack image "
                           "\"registry.example.com/private/app:1\": failed to resolve reference: unexpected status "
                           "from HEAD request: 401 Unauthorized"}}
    add_pod(kube, "private", ready=False, statuses=[container_status("main", ready=False, state=waiting)])

    finding = only(diagnose(run_module, kind="Pod"), "container_image_pull_failed")

    assert finding["summary"].endswith("the registry refused the pull (credentials)")
    assert "imagePullSecrets" in finding["fix"]


@pytest.mark.parametrize("message, missing, summary", [
    ('secret "gitlab-db" not found', {"kind": "Secret", "name": "gitlab-db"},
     "container main cannot be created: Secret gitlab-db does not exist (CreateContainerConfigError)"),
    ("couldn't find key password in Secret dsp/gitlab-db", {"kind": "Secret", "name": "gitlab-db", "key": "password"},
     "container main cannot be created: Secret gitlab-db has no key password (CreateContainerConfigError)"),
    ('configmap "eureka-config" not found', {"kind": "ConfigMap", "name": "eureka-config"},
     "container main cannot be created: ConfigMap eureka-config does not exist (CreateContainerConfigError)"),
    ("couldn't find key defaultZone in ConfigMap dsp/eureka-config",
     {"kind": "ConfigMap", "name": "eureka-config", "key": "defaultZone"},
     "container main cannot be created: ConfigMap eureka-config has no key defaultZone (CreateContainerConfigError)"),
])
def test_create_container_config_error_names_what_is_missing(kube, run_module, message, missing, summary):
    waiting = {"waiting": {"reason": "CreateContainerConfigError", "message": message}}
    add_pod(kube, "web", ready=False, statuses=[container_status("main", ready=False, state=waiting)])

    finding = only(diagnose(run_module, kind="Pod"), "container_config_error")

    assert finding["summary"] == "Pod dsp/web: " + summary
    assert finding["evidence"]["missing"] == missing
    assert f"{missing['kind']} {missing['name']} in namespace dsp" in finding["fix"]


def test_readiness_probe_failing_keeps_the_container_not_ready(kube, run_module):
    pod = add_pod(kube, "gitlab", ready=False, statuses=[container_status("gitlab", ready=False)],
                  containers=[{"name": "gitlab", "image": "gitlab/gitlab-ce:18.0.1-ce.0"}])
    add_event(kube, pod, "Unhealthy", 'Readiness probe failed: Get "http://10.244.1.5:80/-/readiness": dial tcp '
                                      "10.244.1.5:80: connect: connection refused", field_path="spec.containers{gitlab}",
              count=90)

    finding = only(diagnose(run_module, kind="Pod"), "container_probe_failing")

    assert finding["summary"] == ('Pod dsp/gitlab: container gitlab is not Ready: Readiness probe failed: Get '
                                  '"http://10.244.1.5:80/-/readiness": dial tcp 10.244.1.5:80: connect: connection refused')
    assert finding["evidence"]["times"] == 90


def test_old_probe_failures_of_a_ready_container_are_not_findings(kube, run_module):
    pod = add_pod(kube, "gitlab", statuses=[container_status("main", state={"running": {"startedAt": T1}})])
    add_event(kube, pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503",
              field_path="spec.containers{main}", at=T0)

    assert diagnose(run_module, kind="Pod")["findings"] == []


def test_run_container_error(kube, run_module):
    waiting = {"waiting": {"reason": "RunContainerError", "message": 'failed to create containerd task: failed to create '
                           'shim task: OCI runtime create failed: runc create failed: unable to start container process: '
                           'exec: "/app/start.sh": stat /app/start.sh: no such file or directory: unknown'}}
    add_pod(kube, "starter", ready=False, statuses=[container_status("main", ready=False, state=waiting)])

    finding = only(diagnose(run_module, kind="Pod"), "container_start_failed")

    assert finding["summary"].startswith("Pod dsp/starter: container main cannot start (RunContainerError): failed to create")


# ---- sandboxes and volumes ---------------------------------------------------------------------------
def test_sandbox_without_an_ip_address_is_ip_pool_exhaustion(kube, run_module):
    creating = {"waiting": {"reason": "ContainerCreating"}}
    pod = add_pod(kube, "gitlab", ready=False, phase="Pending", node="node-2",
                  statuses=[container_status("main", ready=False, state=creating)])
    add_event(kube, pod, "FailedCreatePodSandBox",
              "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to set up sandbox container network "
              "for pod : networkPlugin cni failed to set up pod network: failed to request 1 IPv4 addresses. IPAM "
              "allocated only 0", count=27)

    result = diagnose(run_module, kind="Pod")

    finding = only(result, "pod_ip_exhausted")
    assert finding["summary"].startswith("Pod dsp/gitlab: no IP address for the pod on node node-2: the pod network's IP "
                                         "pool is exhausted (Failed to create pod sandbox:")
    assert "cni.projectcalico.org/ipv4pools" in finding["fix"] and "dce.daocloud.io/parcel.net.value" in finding["fix"]
    assert finding["evidence"]["times"] == 27


def test_other_sandbox_errors_and_sandboxes_that_came_up_later(kube, run_module):
    creating = {"waiting": {"reason": "ContainerCreating"}}
    stuck = add_pod(kube, "stuck", ready=False, phase="Pending", statuses=[container_status(ready=False, state=creating)])
    add_event(kube, stuck, "FailedCreatePodSandBox", 'Failed to create pod sandbox: rpc error: code = Unknown desc = '
              'failed to setup network for sandbox "4f1c": plugin type="calico" failed (add): error getting ClusterInformation: '
              "connection is unauthorized: Unauthorized")
    recovered = add_pod(kube, "recovered")
    add_event(kube, recovered, "FailedCreatePodSandBox", "Failed to create pod sandbox: failed to request 1 IPv4 "
                                                         "addresses. IPAM allocated only 0", at=T0)

    result = diagnose(run_module, kind="Pod")

    assert [(f["object"]["name"], f["problem"]) for f in result["findings"]] == [("stuck", "pod_sandbox_failed")]


def test_volume_that_cannot_be_mounted_names_the_missing_configmap(kube, run_module):
    pod = add_pod(kube, "eureka-0", ready=False, phase="Pending",
                  statuses=[container_status(ready=False, state={"waiting": {"reason": "ContainerCreating"}})])
    add_event(kube, pod, "FailedMount", 'MountVolume.SetUp failed for volume "config" : configmap "eureka-config" not found',
              count=9)

    finding = only(diagnose(run_module, kind="Pod"), "pod_volume_mount_failed")

    assert finding["evidence"]["missing"] == {"kind": "ConfigMap", "name": "eureka-config"}
    assert finding["fix"].startswith("Create the ConfigMap eureka-config in namespace dsp")


# ---- pods that ended ------------------------------------------------------------------------------------
def test_evicted_failed_and_stuck_terminating_pods(kube, run_module):
    _dep, rs = add_deployment(kube, "web", replicas=1)
    add_pod(kube, f"web-{RS_HASH}-aaaaa", owner=rs, phase="Failed", ready=False, statuses=[], conditions=[])
    kube.edit("Pod", f"web-{RS_HASH}-aaaaa", NS, lambda p: p["status"].update(
        reason="Evicted", message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 91Mi. "
                                  "Container main was using 1500Mi, request is 0, has larger consumption of memory."))
    add_pod(kube, f"web-{RS_HASH}-bbbbb", owner=rs)
    add_pod(kube, "pinned", phase="Failed", ready=False, statuses=[], conditions=[])
    kube.edit("Pod", "pinned", NS, lambda p: p["status"].update(
        reason="OutOfcpu", message="Pod was rejected: Node didn't have enough resource: cpu, requested: 8000, used: 0, "
                                   "capacity: 4000"))
    add_pod(kube, "old")
    kube.edit("Pod", "old", NS, lambda p: p["metadata"].update(
        deletionTimestamp=T0, deletionGracePeriodSeconds=30, finalizers=["example.com/hold"]))

    result = diagnose(run_module, kind="Pod")

    by_pod = {f["object"]["name"]: f for f in result["findings"]}
    assert set(by_pod) == {f"web-{RS_HASH}-aaaaa", "pinned", "old"}
    assert by_pod[f"web-{RS_HASH}-aaaaa"]["problem"] == "pod_evicted"
    assert by_pod["pinned"]["problem"] == "pod_failed" and by_pod["pinned"]["severity"] == "error"
    assert by_pod["pinned"]["summary"].startswith("Pod dsp/pinned: failed: OutOfcpu: Pod was rejected")
    assert by_pod["old"]["problem"] == "pod_stuck_terminating"
    assert "finalizers example.com/hold hold it" in by_pod["old"]["summary"]
    assert "kubeops.platform.force_delete" in by_pod["old"]["fix"]


def test_failed_job_with_its_pods_exit_code(kube, run_module):
    job = kube.add({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "gitlab-init", "namespace": NS},
                    "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [
                        {"name": "init", "image": "gitlab/gitlab-ce:18.0.1-ce.0"}]}}},
                    "status": {"failed": 2, "conditions": [{"type": "Failed", "status": "True",
                                                            "reason": "BackoffLimitExceeded",
                                                            "message": "Job has reached the specified backoff limit"}]}})
    for suffix in ("7xk2p", "9qw8e"):
        add_pod(kube, f"gitlab-init-{suffix}", owner=job, phase="Failed", ready=False, restartPolicy="Never",
                containers=[{"name": "init", "image": "gitlab/gitlab-ce:18.0.1-ce.0"}],
                statuses=[container_status("init", ready=False, state={"terminated": {
                    "exitCode": 1, "reason": "Error", "finishedAt": T1}})])
    kube.pod_logs[(NS, "gitlab-init-7xk2p", "init")] = "Recipe: gitlab::default\nSTDERR: psql: error: connection refused\n"

    result = diagnose(run_module, kind="Job")

    failed = only(result, "job_failed")
    assert failed["summary"] == ("Job dsp/gitlab-init: failed (BackoffLimitExceeded: Job has reached the specified "
                                 "backoff limit); pod findings: container_failed x2")
    pods = [f for f in result["findings"] if f["problem"] == "container_failed"]
    assert pods[0]["summary"] == ("Pod dsp/gitlab-init-7xk2p: container init failed with exit code 1 (the application "
                                  "exited with an error); last log line: STDERR: psql: error: connection refused")
    assert pods[1]["evidence"]["log_tail"] == []  # the container wrote nothing
    assert pods[0]["owner"] == {"kind": "Job", "name": "gitlab-init"}


def test_failed_attempts_of_a_job_that_completed_are_not_findings(kube, run_module):
    job = kube.add({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": NS},
                    "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "m"}]}}},
                    "status": {"succeeded": 1, "failed": 1,
                               "conditions": [{"type": "Complete", "status": "True"}]}})
    add_pod(kube, "migrate-aaaaa", owner=job, phase="Failed", ready=False, restartPolicy="Never",
            statuses=[container_status("main", ready=False, state={"terminated": {"exitCode": 2, "reason": "Error"}})])

    assert diagnose(run_module)["findings"] == []


# ---- claims ---------------------------------------------------------------------------------------------
def test_claim_waiting_for_its_first_consumer_is_only_a_note(kube, run_module):
    add_class(kube, "standard", mode="WaitForFirstConsumer", default=True)
    claim = add_claim(kube, "cache-data")
    add_event(kube, claim, "WaitForFirstConsumer", "waiting for first consumer to be created before binding",
              kind="Normal", source="persistentvolume-controller")

    result = diagnose(run_module, kind="pvc")

    assert result["findings"] == [] and result["healthy"] is True
    assert result["notes"] == ["PersistentVolumeClaim dsp/cache-data waits for its first consumer (StorageClass "
                               "standard, WaitForFirstConsumer): no pod uses it yet"]


def test_claim_without_a_class_and_no_default(kube, run_module):
    add_class(kube, "nfs-client")
    claim = add_claim(kube, "gitlab-claim", storage_class=...)
    add_event(kube, claim, "FailedBinding", "no persistent volumes available for this claim and no storage class is set",
              kind="Normal", source="persistentvolume-controller", count=14)

    finding = only(diagnose(run_module, kind="PersistentVolumeClaim"), "pvc_no_storage_class")

    assert finding["summary"] == (
        "PersistentVolumeClaim dsp/gitlab-claim: Pending: it names no StorageClass and there is no default class, so "
        "only a matching PersistentVolume created by hand can bind it (no persistent volumes available for this claim "
        "and no storage class is set)")
    assert finding["evidence"]["storage_classes"] == ["nfs-client"]


def test_claim_whose_provisioning_fails_and_one_still_provisioning(kube, run_module):
    add_class(kube, "ebs", provisioner="ebs.csi.aws.com")
    failing = add_claim(kube, "data", storage_class="ebs")
    add_event(kube, failing, "ProvisioningFailed", 'failed to provision volume with StorageClass "ebs": rpc error: code = '
              "Internal desc = Could not create volume: UnauthorizedOperation", source="ebs.csi.aws.com")
    waiting = add_claim(kube, "logs", storage_class="ebs")
    add_event(kube, waiting, "ExternalProvisioning", "Waiting for a volume to be created either by the external "
              "provisioner 'ebs.csi.aws.com' or manually by the system administrator.", kind="Normal",
              source="persistentvolume-controller")
    add_claim(kube, "bound", storage_class="ebs", phase="Bound")
    lost = add_claim(kube, "old", storage_class="ebs", phase="Lost")
    kube.edit("PersistentVolumeClaim", "old", NS, lambda c: c["spec"].update(volumeName="pvc-0b1c"))
    assert lost

    result = diagnose(run_module, kind="PersistentVolumeClaim")

    assert {f["object"]["name"]: f["problem"] for f in result["findings"]} == {
        "data": "pvc_provisioning_failed", "logs": "pvc_pending", "old": "pvc_lost"}
    assert only(result, "pvc_pending")["severity"] == "warning"
    assert only(result, "pvc_lost")["summary"] == "PersistentVolumeClaim dsp/old: Lost: its PersistentVolume pvc-0b1c is gone"


# ---- workloads --------------------------------------------------------------------------------------------
def test_stuck_rollout_with_its_pods_image_pull_errors(kube, run_module):
    conditions = [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                  {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                   "message": f'ReplicaSet "web-{RS_HASH}" has timed out progressing.'}]
    _dep, rs = add_deployment(kube, "web", replicas=2, conditions=conditions,
                              status={"readyReplicas": 0, "availableReplicas": 0, "unavailableReplicas": 2})
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "web:nope"'}}
    for suffix in ("abcde", "fghij"):
        add_pod(kube, f"web-{RS_HASH}-{suffix}", owner=rs, ready=False, containers=[{"name": "main", "image": "web:nope"}],
                statuses=[container_status(ready=False, state=waiting, image="web:nope")])
    kube.log.clear()

    result = diagnose(run_module, kind="deploy", names=["web"])

    stuck = only(result, "rollout_stuck")
    assert stuck["summary"] == (
        f'Deployment dsp/web: rollout stuck: ReplicaSet "web-{RS_HASH}" has timed out progressing. (deployment exceeded '
        f'its progress deadline (ReplicaSet "web-{RS_HASH}" has timed out progressing.)); pods: web-{RS_HASH}-abcde '
        f'Running (ImagePullBackOff: Back-off pulling image "web:nope"), web-{RS_HASH}-fghij Running (ImagePullBackOff: '
        'Back-off pulling image "web:nope"); pod findings: container_image_pull_failed x2')
    assert stuck["evidence"]["pods"] == {f"web-{RS_HASH}-abcde": ["container_image_pull_failed"],
                                         f"web-{RS_HASH}-fghij": ["container_image_pull_failed"]}
    assert result["counts"] == {"container_image_pull_failed": 2, "rollout_stuck": 1}
    reads(kube)
    assert lists(kube) == {"deployments", "replicasets", "pods", "events"}


def test_pods_that_cannot_be_created_name_the_quota(kube, run_module):
    conditions = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                   "message": f'pods "web-{RS_HASH}-" is forbidden: exceeded quota: compute'}]
    _dep, rs = add_deployment(kube, "web", replicas=2, conditions=conditions,
                              status={"readyReplicas": 0, "availableReplicas": 0})
    add_event(kube, rs, "FailedCreate", f'Error creating: pods "web-{RS_HASH}-7xk2p" is forbidden: exceeded quota: compute, '
              "requested: limits.cpu=2, used: limits.cpu=8, limited: limits.cpu=8", source="replicaset-controller",
              count=17)

    result = diagnose(run_module, kind="Deployment")

    created = only(result, "workload_create_failed")
    assert created["summary"] == (f'Deployment dsp/web: its pods cannot be created: Error creating: pods "web-{RS_HASH}-7xk2p" '
                                  "is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=8, "
                                  "limited: limits.cpu=8")
    assert only(result, "workload_unavailable")["severity"] == "error"


def test_statefulset_partly_available_is_a_warning_and_a_healthy_one_nothing(kube, run_module):
    sts = kube.add({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "register-server", "namespace": NS},
                    "spec": {"replicas": 3, "serviceName": "register-server", "selector": {"matchLabels": {"app": "eureka"}},
                             "template": {"metadata": {"labels": {"app": "eureka"}}, "spec": {"containers": [
                                 {"name": "eureka", "image": "eureka:2"}]}}},
                    "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": 2, "availableReplicas": 2,
                               "currentRevision": "register-server-5d8f", "updateRevision": "register-server-5d8f"}})
    for index in range(3):
        add_pod(kube, f"register-server-{index}", owner=sts, labels={"app": "eureka"}, ready=index < 2,
                statuses=[container_status("eureka", ready=index < 2)])
    healthy = kube.add({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": NS},
                        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {
                            "app": "agent"}}, "spec": {"containers": [{"name": "agent", "image": "agent:1"}]}}},
                        "status": {"observedGeneration": 1, "desiredNumberScheduled": 1, "numberAvailable": 1,
                                   "updatedNumberScheduled": 1}})
    add_pod(kube, "agent-x7k2p", owner=healthy, labels={"app": "agent"})

    result = diagnose(run_module)

    finding = only(result, "workload_unavailable")
    assert finding["severity"] == "warning" and finding["object"]["kind"] == "StatefulSet"
    assert finding["summary"] == ("StatefulSet dsp/register-server: 2 of 3 pods available (waiting for 1 pods to be "
                                  "ready); pods: register-server-2 Running (NotReady: container eureka is not ready)")
    assert result["healthy"] is True
    assert result["checked"] == {"StatefulSet": 1, "DaemonSet": 1, "Pod": 4}


# ---- targeting, gating, errors ----------------------------------------------------------------------------
def test_a_whole_namespace_is_read_with_one_list_per_kind(kube, run_module):
    _dep, rs = add_deployment(kube, "web", replicas=500)
    for index in range(500):
        add_pod(kube, f"web-{RS_HASH}-{index:05d}", owner=rs, labels={"app": "web", "pod-template-hash": RS_HASH})
    add_service(kube, "web", {"app": "web"}, ports=[{"port": 80, "targetPort": 8080, "protocol": "TCP"}])
    add_claim(kube, "data", phase="Bound")
    kube.log.clear()

    result = diagnose(run_module)

    assert result["findings"] == [] and result["checked"]["Pod"] == 500
    paths = reads(kube)
    assert len(paths) == 11  # the namespace, and ten LISTs
    assert lists(kube) == {"deployments", "replicasets", "pods", "events", "statefulsets", "daemonsets", "jobs",
                           "services", "endpointslices", "persistentvolumeclaims"}


def test_selector_with_kind_narrows_that_list_on_the_server(kube, run_module):
    add_pod(kube, "a", labels={"app": "a", "tier": "web"})
    add_pod(kube, "b", labels={"app": "b", "tier": "db"})
    kube.log.clear()

    result = diagnose(run_module, kind="Pod", selector="tier in (web)")

    assert result["checked"] == {"Pod": 1}
    pods = [r for r in kube.log if r.path.endswith("/pods")]
    assert [r.query.get("labelSelector") for r in pods] == ["tier=web"]


def test_names_and_selector_diagnose_both_as_in_every_module(kube, run_module):
    add_pod(kube, "a", labels={"tier": "web"})
    add_pod(kube, "b", labels={"tier": "db"})
    add_pod(kube, "c", labels={"tier": "db"})
    kube.log.clear()

    result = diagnose(run_module, kind="Pod", names=["c"], selector="tier=web")

    assert result["checked"] == {"Pod": 2}
    # Named objects are not filtered out by the server: the LIST carries no selector then.
    assert all("labelSelector" not in r.query for r in kube.log)


def test_blank_selector_does_not_narrow(kube, run_module):
    add_pod(kube, "a")
    add_pod(kube, "b")

    result = diagnose(run_module, kind="Pod", selector="  ")

    assert result["checked"] == {"Pod": 2}
    assert all("labelSelector" not in r.query for r in kube.log)


def test_selector_without_kind_narrows_every_kind_and_warns_when_nothing_matches(kube, run_module):
    add_pod(kube, "a", labels={"app": "gitlab"})
    add_service(kube, "gitlab", {"app": "gitlab"}, ports=[{"port": 80, "protocol": "TCP"}])
    add_service(kube, "other", {"app": "nothing"})

    result = diagnose(run_module, selector="app=gitlab")
    assert result["checked"] == {"Pod": 1}  # the Services carry no app label themselves
    assert result["warnings"] == []

    empty = diagnose(run_module, selector="app=nope")
    assert empty["warnings"] == ["label selector 'app=nope' matched no object in namespace dsp"]


def test_names_that_do_not_exist_are_findings(kube, run_module):
    add_service(kube, "web", {"app": "web"})
    add_pod(kube, "web-1", labels={"app": "web"}, containers=[{"name": "main", "image": "w", "ports": [{"containerPort": 8080}]}])

    result = diagnose(run_module, kind="Service", names=["web", "gitlab"])

    finding = only(result, "not_found")
    assert finding["object"] == {"kind": "Service", "namespace": NS, "name": "gitlab"}
    assert finding["summary"] == "Service dsp/gitlab: does not exist in namespace dsp"
    assert result["missing"] == ["gitlab"]


def test_all_namespaces_reads_cluster_wide_lists(kube, run_module):
    add_pod(kube, "a")
    kube.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    add_pod(kube, "b", namespace="other", ready=False, statuses=[container_status(ready=False, state={
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "x" not found'}})])
    kube.log.clear()

    result = run_module(doctor.main, {"all_namespaces": True, "kind": "Pod"})

    assert [f["object"]["namespace"] for f in result["findings"]] == ["other"]
    assert [r.path for r in kube.log] == ["/api/v1/pods", "/api/v1/events"]


@pytest.mark.parametrize("fail_on, failed", [("error", True), ("warning", True), ("never", False)])
def test_fail_on_gates_with_the_summary_lines(kube, run_module, fail_on, failed):
    add_service(kube, "prom", {"k8s-app": "prom"})

    result = diagnose(run_module, fail_on=fail_on)

    assert result.get("failed", False) is failed
    assert result["findings"][0]["problem"] == "service_selector_matches_nothing"
    if failed:
        assert result["msg"] == (f"doctor found 1 error(s) (fail_on={fail_on}): ERROR: Service dsp/prom: has no endpoints: "
                                 "its selector k8s-app=prom matches no pod in namespace dsp (the namespace has no "
                                 "running pods)")


def test_fail_on_warning_fails_for_warnings_only_then(kube, run_module):
    add_deployment(kube, "worker", replicas=0)
    add_service(kube, "worker", {"app": "worker"})

    assert diagnose(run_module, fail_on="error").get("failed") is None
    warned = diagnose(run_module, fail_on="warning")
    assert warned["failed"] is True and warned["msg"].startswith("doctor found 1 warning(s) (fail_on=warning): WARNING: ")


def test_check_mode_reads_the_same_and_writes_nothing(kube, run_module):
    add_service(kube, "prom", {"k8s-app": "prom"})

    normal = diagnose(run_module)
    checked = run_module(doctor.main, {"namespace": NS}, check_mode=True)

    assert checked["findings"] == normal["findings"] and checked["changed"] is False
    assert kube.writes == []


@pytest.mark.parametrize("args, message", [
    ({"namespace": NS, "all_namespaces": True}, "give namespace 'dsp' or all_namespaces: true, not both"),
    ({}, "give namespace, or all_namespaces: true to diagnose every namespace"),
    ({"namespace": NS, "names": ["web"]}, "names web need kind: say which kind of object they name"),
    ({"namespace": NS, "kind": "ReplicaSet"}, "kind 'ReplicaSet' is not diagnosed: choose one of Deployment, StatefulSet, "
                                              "DaemonSet, Job, Service, PersistentVolumeClaim, Pod (or leave it "
                                              "empty for all of them)"),
    ({"namespace": NS, "selector": "app in (a"}, "label selector 'app in (a' is invalid: missing ')' after values of 'app'"),
    ({"namespace": NS, "log_lines": 0}, "log_lines 0 must be between 1 and 1000"),
])
def test_bad_targeting_fails_before_any_request(kube, run_module, args, message):
    kube.log.clear()
    result = run_module(doctor.main, args)
    assert result["failed"] is True and result["msg"] == message
    assert kube.log == []


def test_a_namespace_that_does_not_exist_fails_instead_of_looking_healthy(kube, run_module):
    result = run_module(doctor.main, {"namespace": "dps"})
    assert result["failed"] is True and result["msg"] == "namespace 'dps' does not exist"


def test_pods_that_cannot_be_listed_fail_the_task(kube, run_module):
    def forbid(_fake, request):
        if request.path.endswith("/pods"):
            raise ApiStatus(403, "Forbidden", 'pods is forbidden: User "ops" cannot list resource "pods"')

    kube.before_request.append(forbid)
    result = diagnose(run_module, kind="Pod")
    assert result["failed"] is True
    assert result["msg"] == ('list Pod in namespace dsp: pods is forbidden: User "ops" cannot list resource "pods" '
                             "(HTTP 403 Forbidden)")


# ---- documentation ------------------------------------------------------------------------------------------
def test_every_problem_code_is_documented_with_its_severity_and_fix():
    notes = " ".join(" ".join(note.split()) for note in yaml.safe_load(doctor.DOCUMENTATION)["notes"])
    for problem in CATALOGUE:
        severity = problem.severity + (f"; {problem.milder}" if problem.milder else "")
        entry = f"C({problem.code}) ({severity}): {problem.meaning} Fix: {problem.fix}"
        assert " ".join(entry.split()) in notes, problem.code


def test_the_module_is_in_the_action_group():
    from pathlib import Path

    runtime = yaml.safe_load((Path(__file__).resolve().parents[4] / "meta" / "runtime.yml").read_text())
    assert "doctor" in runtime["action_groups"]["k8s"]
