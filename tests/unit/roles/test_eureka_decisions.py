"""The decisions role kubeops.platform.eureka takes from live objects, without a cluster.

- the condition of the task "Apply what differs" (the kubeops.platform.needs_apply filter):
  whether an object needs a write. A second run must write nothing, yet drift (someone edited
  the object) and removed settings must still be applied.
- immutable.j2: the StatefulSet changes the API refuses, reported with what to do instead.
- unready.j2: why the StatefulSet is not rolled out yet.
- checks.j2: the variable checks that refuse an exposed REST API and a JVM heap that leaves too
  little memory under the container's limit, evaluated over the role's defaults and derived
  variables (or an inventory's settings) as the role evaluates them.

The templates and the condition are evaluated with Ansible's own templating, as the role does.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO_ROOT = Path(__file__).resolve().parents[3]
ROLE = REPO_ROOT / "roles" / "eureka"
TEMPLATES = ROLE / "templates"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def render(template: str, **variables):
    source = (TEMPLATES / template).read_text()
    return json.loads(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(source)))


DESIRED = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "eureka", "namespace": "eureka", "labels": {"app.kubernetes.io/instance": "eureka"}},
    "spec": {
        "replicas": 3,
        "serviceName": "eureka-peers",
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": {"app.kubernetes.io/instance": "eureka"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/instance": "eureka"}},
            "spec": {
                "tolerations": [{"key": "eureka/server", "operator": "Exists", "effect": "NoSchedule"}],
                "containers": [{
                    "name": "eureka",
                    "image": "steeltoeoss/eureka-server:4.1.1",
                    "ports": [{"name": "http", "containerPort": 8761, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "1", "memory": "1229Mi"}},
                }],
            },
        },
    },
}


def live_from(desired: dict, last_applied: dict | None = None) -> dict:
    """The object as the API returns it after an apply of ``last_applied``: defaults and status added."""
    live = copy.deepcopy(desired)
    live["metadata"].update({"resourceVersion": "4711", "generation": 2, "uid": "0c3e",
                             "annotations": {LAST_APPLIED: json.dumps(last_applied or desired, sort_keys=True)}})
    live["spec"]["revisionHistoryLimit"] = 10
    live["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    pod = live["spec"]["template"]["spec"]
    pod.update({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"})
    pod["containers"][0].update({"terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"})
    live["status"] = {"replicas": 3, "readyReplicas": 3}
    return live


def up_to_date(desired: dict, live: dict | None) -> bool:
    """Whether the task "Apply what differs" skips ``desired``, given what the read task returned."""
    (task,) = [task for task in yaml.safe_load((ROLE / "tasks" / "apply.yml").read_text())
               if task["name"] == "Apply what differs"]
    templar = Templar(loader=DataLoader(), variables={"item": [desired, {"resources": [live] if live else []}]})
    task_vars = {name: templar.template(trust_as_template(value)) for name, value in task["vars"].items()}
    templar = Templar(loader=DataLoader(), variables={**templar.available_variables, **task_vars})
    return not templar.evaluate_conditional(trust_as_template(task["when"]))


def test_object_as_applied_needs_no_write():
    assert up_to_date(DESIRED, live_from(DESIRED)) is True


def test_missing_object_is_written():
    assert up_to_date(DESIRED, None) is False


def test_object_without_last_applied_manifest_is_written():
    live = live_from(DESIRED)
    del live["metadata"]["annotations"]
    assert up_to_date(DESIRED, live) is False


def test_edited_field_is_written_back():
    live = live_from(DESIRED)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "steeltoeoss/eureka-server:edited"
    assert up_to_date(DESIRED, live) is False


def test_extra_list_entry_is_written_back():
    live = live_from(DESIRED)
    live["spec"]["template"]["spec"]["tolerations"].append({"key": "x", "operator": "Exists"})
    assert up_to_date(DESIRED, live) is False


def test_setting_removed_from_the_manifest_is_written():
    # The live object still has the tolerations the previous run set: only the last-applied
    # manifest shows that the role no longer wants them.
    previous = copy.deepcopy(DESIRED)
    wanted = copy.deepcopy(DESIRED)
    del wanted["spec"]["template"]["spec"]["tolerations"]
    assert up_to_date(wanted, live_from(previous)) is False


def test_changed_manifest_is_written():
    wanted = copy.deepcopy(DESIRED)
    wanted["spec"]["replicas"] = 5
    assert up_to_date(wanted, live_from(DESIRED)) is False


def immutable(desired: dict, live: dict | None) -> list[str]:
    results = [{"item": desired, "resources": [live] if live else []}]
    return render("immutable.j2", __eureka_live={"results": results})


def test_statefulset_changes_the_api_accepts_pass():
    wanted = copy.deepcopy(DESIRED)
    wanted["spec"]["replicas"] = 5
    wanted["spec"]["template"]["spec"]["containers"][0]["image"] = "other:1"
    assert immutable(wanted, live_from(DESIRED)) == []
    assert immutable(wanted, None) == []


def test_new_service_name_is_refused_with_what_to_do():
    wanted = copy.deepcopy(DESIRED)
    wanted["spec"]["serviceName"] = "register-server-peers"
    assert immutable(wanted, live_from(DESIRED)) == [
        "StatefulSet eureka/eureka exists with another serviceName eureka-peers -> register-server-peers, "
        "which Kubernetes does not allow to change. To replace it while the pods keep running: "
        "kubectl -n eureka delete statefulset eureka --cascade=orphan, then run again"]


@pytest.mark.parametrize(("have", "want", "message"), [
    (None, {"storage": "4Gi"}, "volumeClaimTemplates [] -> [data]"),
    ({"storage": "4Gi"}, {"storage": "8Gi"}, "claim data size 4Gi -> 8Gi"),
    ({"storage": "4Gi"}, {"storage": "4Gi", "class": "fast"}, "claim data storage class standard -> fast"),
])
def test_claim_template_changes_are_refused(have, want, message):
    def with_claim(spec: dict, claim: dict | None) -> dict:
        spec = copy.deepcopy(spec)
        if claim:
            claim_spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": claim["storage"]}}}
            if "class" in claim:
                claim_spec["storageClassName"] = claim["class"]
            spec["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": claim_spec}]
        return spec

    live = live_from(with_claim(DESIRED, have))
    if have:
        # What the API fills in: the default class, the volume mode, a status.
        live["spec"]["volumeClaimTemplates"][0]["spec"].update({"storageClassName": "standard", "volumeMode": "Filesystem"})
        live["spec"]["volumeClaimTemplates"][0]["status"] = {"phase": "Pending"}
    (problem,) = immutable(with_claim(DESIRED, want), live)
    assert f"exists with another {message}, which Kubernetes does not allow to change" in problem


def test_claim_template_as_the_api_returns_it_is_no_change():
    wanted = copy.deepcopy(DESIRED)
    wanted["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}}}]
    live = live_from(wanted)
    live["spec"]["volumeClaimTemplates"][0]["spec"].update(
        {"storageClassName": "standard", "volumeMode": "Filesystem", "resources": {"requests": {"storage": "1Gi"}}})
    assert immutable(wanted, live) == []


def unready(status: dict | None, replicas: int = 3, generation: int = 2) -> str:
    resources = [] if status is None else [
        {"metadata": {"generation": generation}, "spec": {"replicas": replicas}, "status": status}]
    return render("unready.j2", __eureka_wait_result={"resources": resources})


ROLLED_OUT = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
              "currentRevision": "eureka-7f9", "updateRevision": "eureka-7f9"}


@pytest.mark.parametrize(("status", "reason"), [
    (ROLLED_OUT, ""),
    (None, "StatefulSet not found"),
    ({**ROLLED_OUT, "observedGeneration": 1}, "waiting for the statefulset spec update to be observed"),
    ({**ROLLED_OUT, "updatedReplicas": 1, "updateRevision": "eureka-8a0"}, "rolling update: 1 pods at revision eureka-8a0"),
    ({**ROLLED_OUT, "updateRevision": "eureka-8a0"}, "rolling update: 3 pods at revision eureka-8a0"),
    ({**ROLLED_OUT, "replicas": 5}, "2 removed replicas are still terminating"),
    ({**ROLLED_OUT, "readyReplicas": 2}, "waiting for 1 pods to be ready"),
    ({"observedGeneration": 2}, "waiting for 3 pods to be ready"),
])
def test_wait_reason(status, reason):
    assert unready(status) == reason


# ---- checks.j2 -----------------------------------------------------------------------------------
def _trusted(value):
    """Variables as Ansible loads them from the role's files: their strings are templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def role_templar(inventory: str | None = None, **overrides) -> Templar:
    """The role's defaults and vars/main.yml, under an inventory's eureka.yml and ``overrides``."""
    loader = DataLoader()
    variables = {}
    files = [ROLE / "defaults" / "main.yml", ROLE / "vars" / "main.yml"]
    if inventory:
        files.append(REPO_ROOT / "inventories" / inventory / "group_vars" / "all" / "eureka.yml")
    for path in files:
        variables.update(_trusted(loader.load_from_file(str(path))))
    variables.update(_trusted(overrides))
    return Templar(loader=loader, variables=variables)


def checks(inventory: str | None = None, **overrides) -> list[str]:
    templar = role_templar(inventory, **overrides)
    return json.loads(templar.template(trust_as_template((TEMPLATES / "checks.j2").read_text())))


def jvm_heap(inventory: str | None = None, **overrides) -> dict | None:
    return role_templar(inventory, **overrides).template(trust_as_template("{{ __eureka_jvm_heap }}"))


def jvm(limit: str | None, *entries: tuple[str, str]) -> dict:
    """eureka_resources with this memory limit (None: no limit) and eureka_env with these entries."""
    resources = {"requests": {"cpu": "100m", "memory": "256Mi"}}
    if limit:
        resources["limits"] = {"cpu": "1", "memory": limit}
    return {"eureka_resources": resources, "eureka_env": [{"name": name, "value": value} for name, value in entries]}


def heap_problems(problems: list[str]) -> list[str]:
    return [p for p in problems if "JVM heap" in p]


@pytest.mark.parametrize(("limit", "entries", "heap", "refused"), [
    # The kind inventory's former settings: 307Mi of heap leaves 205Mi of 512Mi.
    ("512Mi", [("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=60 -XX:+UseSerialGC")],
     {"option": "-XX:MaxRAMPercentage=60", "mib": 307.2}, True),
    ("640Mi", [("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=40 -XX:+UseSerialGC")],
     {"option": "-XX:MaxRAMPercentage=40", "mib": 256.0}, False),
    ("512Mi", [("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=37.5")], {"option": "-XX:MaxRAMPercentage=37.5", "mib": 192.0}, False),
    ("512Mi", [("JAVA_TOOL_OPTIONS", "-Xmx400m")], {"option": "-Xmx400m", "mib": 400}, True),
    ("1741Mi", [("JDK_JAVA_OPTIONS", "-Xmx1g")], {"option": "-Xmx1g", "mib": 1024}, False),
    ("512Mi", [("JAVA_TOOL_OPTIONS", "-XX:MaxHeapSize=134217728")], {"option": "-XX:MaxHeapSize=134217728", "mib": 128.0}, False),
    # -Xmx wins over the percentage; JDK_JAVA_OPTIONS come after JAVA_TOOL_OPTIONS.
    ("512Mi", [("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=60 -Xmx128m")], {"option": "-Xmx128m", "mib": 128}, False),
    ("512Mi", [("JAVA_TOOL_OPTIONS", "-Xmx128m"), ("JDK_JAVA_OPTIONS", "-Xmx480m")], {"option": "-Xmx480m", "mib": 480}, True),
    # The role cannot tell: no cap, a variable the JVM does not read, no memory limit to take a share of.
    ("512Mi", [("JAVA_TOOL_OPTIONS", "-XX:+UseSerialGC")], None, False),
    ("512Mi", [("JAVA_OPTS", "-Xmx480m")], None, False),
    (None, [("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=90")], None, False),
])
def test_jvm_heap_cap_is_read_from_the_environment(limit, entries, heap, refused):
    variables = jvm(limit, *entries)
    assert jvm_heap(**variables) == heap
    assert bool(heap_problems(checks(**variables))) is refused


@pytest.mark.parametrize(("limit", "options", "message"), [
    ("512Mi", "-XX:MaxRAMPercentage=60 -XX:+UseSerialGC",
     "eureka_env caps the JVM heap at 307Mi (-XX:MaxRAMPercentage=60) under the memory limit 512Mi of eureka_resources, "
     "leaving 204Mi for the rest of the JVM (metaspace, code cache, thread stacks, buffers); the rule is at least "
     "eureka_jvm_min_non_heap (320Mi) outside the heap, or the kernel OOMKills the server: use -XX:MaxRAMPercentage=37 "
     "or less at this limit, or a memory limit of 800Mi or more at this percentage"),
    ("512Mi", "-Xmx400m",
     "eureka_env caps the JVM heap at 400Mi (-Xmx400m) under the memory limit 512Mi of eureka_resources, "
     "leaving 112Mi for the rest of the JVM (metaspace, code cache, thread stacks, buffers); the rule is at least "
     "eureka_jvm_min_non_heap (320Mi) outside the heap, or the kernel OOMKills the server: use -Xmx192m or less, "
     "or a memory limit of 720Mi or more"),
])
def test_jvm_heap_that_leaves_too_little_is_refused_with_the_fix(limit, options, message):
    assert checks(**jvm(limit, ("JAVA_TOOL_OPTIONS", options))) == [message]


def test_jvm_floor_is_a_setting():
    variables = jvm("512Mi", ("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=60"))
    assert heap_problems(checks(**variables))
    assert checks(**variables, eureka_jvm_min_non_heap="200Mi") == []


@pytest.mark.parametrize(("inventory", "heap"), [
    # No heap cap in eureka_env: the image and the JVM's default (25% of the limit) decide.
    (None, None),
    ("example", None),
    ("kind", {"option": "-XX:MaxRAMPercentage=40", "mib": 256.0}),
])
def test_every_inventory_passes_the_checks(inventory, heap):
    assert checks(inventory) == []
    assert jvm_heap(inventory) == heap


@pytest.mark.parametrize(("service_type", "where"), [
    ("NodePort", "on a port of every node"),
    ("LoadBalancer", "through a load balancer and on a port of every node"),
])
def test_publishing_the_api_needs_an_explicit_yes(service_type, where):
    assert checks(eureka_service_type=service_type) == [
        f"eureka_service_type is {service_type}: that publishes Eureka's REST API, which has no authentication, {where}, "
        "where whoever reaches it reads every registered instance and can register or cancel instances. Keep ClusterIP "
        "(kubectl port-forward svc/eureka for the dashboard), or say yes explicitly: eureka_expose_unauthenticated_api: true, "
        "after restricting who can reach that port"]
    assert checks(eureka_service_type=service_type, eureka_expose_unauthenticated_api=True) == []


@pytest.mark.parametrize("name", ["eureka_eviction_interval_ms", "eureka_response_cache_update_interval_ms"])
def test_eureka_intervals_must_be_positive(name):
    assert checks(**{name: 0}) == [f"{name} must be a positive number of milliseconds: Eureka's timers refuse 0"]
