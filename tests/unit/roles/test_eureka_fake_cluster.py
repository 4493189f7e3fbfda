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

from fake_k8s import FakeKube, serve_http
from fake_workloads import Cluster
from gitlab_playbook import REPO_ROOT, start

NAMESPACE = "eureka"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
BROKEN_IMAGE = "steeltoeoss/eureka-server:0.0.0-missing"


class DiscoverableFake(FakeKube):
    """The fake with the root discovery documents kubernetes.core's dynamic client reads first."""

    def __init__(self):
        super().__init__()
        self.register_kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True)

    def _handle(self, req):
        parts = [p for p in req.path.split("/") if p]
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            groups: dict[str, list[str]] = {}
            for group_version, _plural in self.kinds:
                if "/" in group_version:
                    group, version = group_version.split("/")
                    if version not in groups.setdefault(group, []):
                        groups[group].append(version)
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": group, "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                 "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]}}
                for group, versions in groups.items()]}
        return super()._handle(req)


class RunningCluster:
    """Steps the fake's controllers in the background, and completes every Job's pod at once."""

    def __init__(self, fake: DiscoverableFake):
        self.fake = fake
        self.cluster = Cluster(fake, nodes=("node-1", "node-2", "node-3"))
        self.cluster.broken_images[BROKEN_IMAGE] = ("ImagePullBackOff", f'Back-off pulling image "{BROKEN_IMAGE}"')
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self.cluster.step()
            with self.fake._lock:
                for obj in self.fake.objects.values():
                    if obj.get("kind") == "Job" and not (obj.get("status") or {}).get("conditions"):
                        obj["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
                        obj["metadata"]["resourceVersion"] = str(next(self.fake._rv))


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    fake = DiscoverableFake()
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
    yield fake, kubeconfig, inventory
    running.stop.set()
    server.shutdown()


SMALL = {"eureka_wait_poll_interval": 1, "eureka_timeout": 60, "eureka_peer_check_timeout": 60,
         "eureka_resources": {"requests": {"cpu": "100m", "memory": "384Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}}


def play(api, *args: str, expect_failure: bool = False, **variables) -> tuple[int, list]:
    """Run playbooks/eureka.yml; returns (changed count of the recap, requests it sent), or with
    expect_failure, (-1, the playbook's output) once it has failed."""
    fake, kubeconfig, inventory = api
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
    assert "StatefulSet eureka/eureka not Ready after 4s" in output
    assert re.search(r"pod eureka-\d: Pending on node-\d - Ready=False.*eureka waiting: ImagePullBackOff "
                     rf"\(Back-off pulling image \\?\"{re.escape(BROKEN_IMAGE)}\\?\"\)", output), output[-3000:]
