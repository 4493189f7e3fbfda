"""The decisions role kubeops.platform.eureka takes from live objects, without a cluster.

- the condition of the task "Apply what differs" (the kubeops.platform.needs_apply filter):
  whether an object needs a write. A second run must write nothing, yet drift (someone edited
  the object) and removed settings must still be applied.
- immutable.j2: the StatefulSet changes the API refuses, reported with what to do instead.
- unready.j2: why the StatefulSet is not rolled out yet.

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

ROLE = Path(__file__).resolve().parents[3] / "roles" / "eureka"
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
    ({**ROLLED_OUT, "observedGeneration": 1}, "update not yet observed"),
    ({**ROLLED_OUT, "updatedReplicas": 1, "updateRevision": "eureka-8a0"}, "1/3 servers updated"),
    ({**ROLLED_OUT, "updateRevision": "eureka-8a0"}, "rolling update to eureka-8a0 not finished"),
    ({**ROLLED_OUT, "replicas": 5}, "removed servers still terminating"),
    ({**ROLLED_OUT, "readyReplicas": 2}, "2/3 servers Ready"),
    ({"observedGeneration": 2}, "0/3 servers updated"),
])
def test_wait_reason(status, reason):
    assert unready(status) == reason
