"""playbooks/restart.yml and playbooks/force_delete.yml, run by ansible-playbook against the fake API server.

The fake serves HTTP on 127.0.0.1 and its controllers tick in a thread, so these are real runs
(extra vars, validation, the module, the summary), a few seconds each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fake_k8s import FakeKube, now, serve_http
from fake_workloads import Cluster, deployment

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) or shutil.which("ansible-playbook")
TOKEN = "playbook-test-token"  # long enough that no_log masking does not hide parts of the output

pytestmark = pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook is not installed")


@pytest.fixture(scope="module")
def api():
    fake = FakeKube()
    cluster = Cluster(fake)
    server, url = serve_http(fake)
    stop = threading.Event()

    def tick():
        while not stop.wait(0.1):
            cluster.step()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    fake.add(deployment("web", replicas=2))
    yield fake, url
    stop.set()
    thread.join()
    server.shutdown()


def play(api, playbook: str, *extra: str) -> tuple[int, str]:
    _fake, url = api
    roots = [str(REPO / ".cache" / "collections"), *filter(None, os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(":"))]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=":".join(roots),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    cmd = [PLAYBOOK, "-i", str(REPO / "inventories" / "kind"), str(REPO / "playbooks" / playbook),
           "-e", f"k8s_host={url}", "-e", f"k8s_api_key={TOKEN}", "-e", "k8s_context=", *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_restart_playbook_restarts_and_summarises(api):
    rc, out = play(api, "restart.yml", "-e", "namespace=apps", "-e", "names=web")
    assert rc == 0, out
    assert '"Deployment apps/web: restarted: rollout restart, 2 pods replaced in ' in out


def test_restart_playbook_in_check_mode_says_what_would_happen(api):
    fake, _url = api
    version = fake.get("Deployment", "web", "apps")["metadata"]["generation"]
    rc, out = play(api, "restart.yml", "-e", "namespace=apps", "-e", "selector=app=web", "-e", "strategy=scale",
                   "--check")
    assert rc == 0, out
    assert '"Deployment apps/web: would restart: scaled to 0 and back to 2, 2 pods replaced"' in out
    assert fake.get("Deployment", "web", "apps")["metadata"]["generation"] == version


@pytest.mark.parametrize("extra, message", [
    ([], "choose the workloads: give names (separated by commas) or selector"),
    (["-e", "selector=app=web"], "give namespace (or all_namespaces=true to restart what the selector matches"),
    (["-e", "names=web", "-e", "strategy=bounce", "-e", "wait_timeout=0", "-e", "grace_period=soon",
      "-e", "missing=maybe"],
     "give namespace: names are looked up in one namespace; strategy 'bounce' is not one of rollout, recreate, "
     "scale, delete_pods; grace_period 'soon' is not a whole number of seconds (0 or more); wait_timeout '0' is not "
     "a whole number of seconds (1 or more); missing 'maybe' is not one of fail, warn, ignore"),
])
def test_restart_playbook_checks_the_request_first(api, extra, message):
    fake, _url = api
    writes = len(fake.writes)
    rc, out = play(api, "restart.yml", *extra)
    assert rc == 2
    assert message in out
    assert "Restart the workloads" not in out and len(fake.writes) == writes


def test_restart_playbook_failure_still_summarises_then_fails(api):
    rc, out = play(api, "restart.yml", "-e", "namespace=apps", "-e", "names=web", "-e", "strategy=recreate")
    assert rc == 2
    assert '"nothing was restarted"' in out
    assert "strategy 'recreate' does not fit a Deployment" in out.split("Report the failure")[1]


def test_force_delete_playbook_removes_finalizers_and_reports_absent_objects(api):
    fake, _url = api
    fake.add({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
              "metadata": {"name": "data", "namespace": "apps", "finalizers": ["example.com/hold"],
                           "deletionTimestamp": now()}, "spec": {}})
    rc, out = play(api, "force_delete.yml", "-e", "kind=PersistentVolumeClaim", "-e", "namespace=apps",
                   "-e", "names=data,gone", "-e", "remove_finalizers=true", "-e", "timeout=1")
    assert rc == 0, out
    assert '"PersistentVolumeClaim apps/data: finalizers example.com/hold removed"' in out
    assert '"PersistentVolumeClaim apps/gone: already absent"' in out
    assert fake.get("PersistentVolumeClaim", "data", "apps") is None


@pytest.mark.parametrize("extra, message", [
    (["-e", "kind=PersistentVolumeClaim", "-e", "selector=app=x"],
     "give namespace (or all_namespaces=true to act on what the selector matches in every namespace)"),
    (["-e", "names=p", "-e", "namespace=apps", "-e", "allow_live=true", "-e", "timeout=-5"],
     "timeout '-5' is not a whole number of seconds (0 or more); allow_live only applies with remove_finalizers=true"),
])
def test_force_delete_playbook_checks_the_request_first(api, extra, message):
    rc, out = play(api, "force_delete.yml", *extra)
    assert rc == 2
    assert message in out


def test_force_delete_playbook_across_namespaces_only_when_asked_and_within_max_objects(api):
    fake, _url = api
    for namespace in ("ns-a", "ns-b"):
        fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        fake.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "namespace": namespace,
                                                                  "labels": {"stray": "yes"}},
                  "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}, "status": {"phase": "Pending"}})
    rc, out = play(api, "force_delete.yml", "-e", "selector=stray=yes", "-e", "all_namespaces=true",
                   "-e", "max_objects=1")
    assert rc != 0 and "2 Pod objects matching 'stray=yes' across all namespaces, more than max_objects (1)" in out
    assert fake.get("Pod", "stray", "ns-a") is not None and fake.get("Pod", "stray", "ns-b") is not None
    rc, out = play(api, "force_delete.yml", "-e", "selector=stray=yes", "-e", "all_namespaces=true")
    assert rc == 0, out
    assert fake.get("Pod", "stray", "ns-a") is None and fake.get("Pod", "stray", "ns-b") is None
