"""playbooks/eureka.yml end to end against the in-memory API server (tests/unit/fake_k8s.py).

The real playbook, role and kubernetes.core modules run over HTTP against the fake, whose
workload controllers (fake_workloads.py) start the StatefulSet's pods and report its rollout; a
stand-in Job controller completes the peer check. What a user relies on:

- the first run creates everything and waits until the servers are Ready;
- a second run reports no change and sends no write at all (reads only), so nothing is rewritten;
- --check sends only dry runs; scaling 3 -> 5 rewrites the peer list and runs a new peer check;
- a field edited by hand is set back on the next run, and nothing else is rewritten;
- a server that never becomes Ready fails the run with each pod's state and the reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import pytest
import yaml

from fake_cluster import ApiServer
from fake_k8s import serve_http
from fake_workloads import Cluster
from gitlab_playbook import REPO_ROOT, start

NAMESPACE = "eureka"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
BROKEN_IMAGE = "steeltoeoss/eureka-server:0.0.0-missing"


class RunningCluster:
    """Steps the fake's controllers in the background, and completes every Job at once; with
    ``failing_checks``, a Job's pod fails instead, logging what the peer check logs then."""

    def __init__(self, fake: ApiServer):
        self.fake = fake
        self.failing_checks = False
        self.cluster = Cluster(fake, nodes=("node-1", "node-2", "node-3"))
        self.cluster.broken_images[BROKEN_IMAGE] = ("ImagePullBackOff", f'Back-off pulling image "{BROKEN_IMAGE}"')
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self.cluster.step()
            with self.fake._lock:
                for obj in list(self.fake.objects.values()):
                    if obj.get("kind") == "Job" and not (obj.get("status") or {}).get("conditions"):
                        if self.failing_checks:
                            self._fail(obj)
                            continue
                        obj["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
                        obj["metadata"]["resourceVersion"] = str(next(self.fake._rv))

    def _fail(self, job: dict) -> None:
        name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
        container = job["spec"]["template"]["spec"]["containers"][0]["name"]
        pod = self.fake.add({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-x1", "namespace": namespace, "creationTimestamp": "2026-01-01T00:00:00Z",
                         "labels": {**job["spec"]["template"]["metadata"]["labels"], "job-name": name},
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                              "uid": job["metadata"]["uid"], "controller": True}]},
            "spec": {**job["spec"]["template"]["spec"], "nodeName": "node-1"}})
        self.fake.pod_logs[(namespace, pod["metadata"]["name"], container)] = (
            "after 60s, servers still miss peers (server:missing peer): eureka-2:eureka-0\n")
        self.fake.edit("Pod", pod["metadata"]["name"], namespace, lambda p: p.update(status={
            "phase": "Failed", "containerStatuses": [{"name": container, "ready": False, "restartCount": 0,
                                                      "state": {"terminated": {"reason": "Error", "exitCode": 1}}}]}))
        self.fake.edit("Job", name, namespace, lambda j: j.update(status={"failed": 1, "conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"}]}))


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    fake = ApiServer()
    server, url = serve_http(fake)
    running = RunningCluster(fake)
    running.thread.start()
    directory = tmp_path_factory.mktemp("fake-cluster")
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "fake", "user": {}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}))
    inventory = directory / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"k8s_api": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))
    yield fake, kubeconfig, inventory, running
    running.stop.set()
    server.shutdown()


SMALL = {"eureka_wait_poll_interval": 1, "eureka_timeout": 60, "eureka_peer_check_timeout": 60,
         "eureka_resources": {"requests": {"cpu": "100m", "memory": "384Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}}


def play(api, *args: str, expect_failure: bool = False, **variables) -> tuple[int, list]:
    """Run playbooks/eureka.yml; returns (changed count of the recap, requests it sent), or with
    expect_failure, (-1, the playbook's output) once it has failed."""
    fake, kubeconfig, inventory, _running = api
    extra = kubeconfig.parent / "vars.json"
    extra.write_text(json.dumps({**SMALL, **variables, "k8s_kubeconfig": str(kubeconfig)}))
    before = len(fake.log)
    process = start(["-i", str(inventory), str(REPO_ROOT / "playbooks" / "eureka.yml"), "-e", f"@{extra}", *args],
                    kubeconfig.parent / "home", {"KUBECONFIG": str(kubeconfig)})
    try:
        output = process.communicate(timeout=900)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    if expect_failure:
        assert process.returncode != 0, output[-2000:]
        return -1, output
    assert process.returncode == 0, output[-6000:]
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert recap, output[-2000:]
    return int(recap.group(1)), fake.log[before:]


def versions(fake) -> dict[str, str]:
    return {f"{obj['kind']}/{obj['metadata']['name']}": obj["metadata"]["resourceVersion"]
            for (_gv, _plural, namespace, _name), obj in fake.objects.items()
            if namespace == NAMESPACE and obj["kind"] in {"Service", "StatefulSet", "PodDisruptionBudget", "Job"}}


def peer_list(fake) -> list[str]:
    env = fake.get("StatefulSet", "eureka", NAMESPACE)["spec"]["template"]["spec"]["containers"][0]["env"]
    raw = next(e["value"] for e in env if e["name"] == "SPRING_APPLICATION_JSON")
    return json.loads(raw)["eureka"]["client"]["serviceUrl"]["defaultZone"].split(",")


def jobs(fake) -> list[str]:
    return sorted(o["metadata"]["name"] for o in fake.objects.values() if o["kind"] == "Job")


def test_deploy_rerun_check_scale_repair_and_diagnose(api):
    fake = api[0]

    changed = play(api)[0]
    assert changed > 0
    sts = fake.get("StatefulSet", "eureka", NAMESPACE)
    assert sts["status"]["readyReplicas"] == 3
    assert {"eureka", "eureka-peers"} <= {o["metadata"]["name"] for o in fake.objects.values() if o["kind"] == "Service"}
    assert len(peer_list(fake)) == 3
    (first_check,) = jobs(fake)

    # The same configuration again: no change, not one write, nothing rewritten.
    settled = versions(fake)
    changed, requests = play(api)
    assert changed == 0
    assert [f"{r.method} {r.path}" for r in requests if r.method in WRITES] == []
    assert versions(fake) == settled

    # Check mode: the change is reported, only dry runs are sent.
    changed, requests = play(api, "--check", eureka_replicas=5)
    assert changed > 0
    assert [f"{r.method} {r.path}" for r in requests if r.method in WRITES and not r.dry_run] == []
    assert versions(fake) == settled

    # Someone edits the headless Service by hand; then scale to five. The run sets the Service
    # back, every server lists the five, a new check ran and the old one is gone.
    fake.edit("Service", "eureka-peers", NAMESPACE, change=lambda obj: obj["spec"].update({"publishNotReadyAddresses": False}))
    changed, requests = play(api, eureka_replicas=5)
    assert changed > 0
    assert fake.get("Service", "eureka-peers", NAMESPACE)["spec"]["publishNotReadyAddresses"] is True
    assert fake.get("Service", "eureka", NAMESPACE)["metadata"]["resourceVersion"] == settled["Service/eureka"]
    assert peer_list(fake) == [
        f"http://eureka-{i}.eureka-peers.{NAMESPACE}.svc.cluster.local:8761/eureka/" for i in range(5)]
    assert fake.get("StatefulSet", "eureka", NAMESPACE)["status"]["readyReplicas"] == 5
    (second_check,) = jobs(fake)
    assert second_check != first_check

    # An image that cannot be pulled: the wait gives up and shows why, pod by pod.
    output = play(api, expect_failure=True, eureka_replicas=5, eureka_image_tag="0.0.0-missing", eureka_timeout=4)[1]
    # The explanation is the doctor's: the stuck rollout, each pod's finding and the fixes.
    assert "StatefulSet eureka/eureka not Ready after 4s (waiting for 5 pods to be ready)" in output
    assert re.search(r"ERROR: StatefulSet eureka/eureka: rollout stuck: .* eureka-\d Pending \(ImagePullBackOff: "
                     rf"Back-off pulling image \\?\"{re.escape(BROKEN_IMAGE)}\\?\"\)", output), output[-3000:]
    assert re.search(rf"ERROR: Pod eureka/eureka-\d: container eureka image {re.escape(BROKEN_IMAGE)} cannot be "
                     r"pulled \(ImagePullBackOff\)", output)
    assert re.search(r"FIX Pod eureka/eureka-\d and 4 more: Correct the image name or tag", output)

    # The servers are back, but they never list each other: the peer check fails, and the run
    # shows the Job's diagnosis and the check's own log.
    api[3].failing_checks = True
    try:
        output = play(api, expect_failure=True)[1]
    finally:
        api[3].failing_checks = False
    assert re.search(r"The peer check eureka-peer-check[-\w]* failed: the servers did not all register with each "
                     r"other within 60s", output), output[-3000:]
    assert re.search(r"ERROR: Job eureka/eureka-peer-check[-\w]*: failed \(BackoffLimitExceeded: Job has reached "
                     r"the specified backoff limit\)", output), output[-3000:]
    assert "log: after 60s, servers still miss peers (server:missing peer): eureka-2:eureka-0" in output, output[-6000:]
