"""playbooks/doctor.yml, run by ansible-playbook against the fake API server over HTTP.

Real runs (extra vars as a survey gives them, the module, the report, the gate), a few seconds each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fake_k8s import FakeKube, serve_http

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) or shutil.which("ansible-playbook")
TOKEN = "playbook-test-token"
MESSAGE = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."

pytestmark = pytest.mark.skipif(PLAYBOOK is None, reason="ansible-playbook is not installed")


@pytest.fixture(scope="module")
def api():
    fake = FakeKube()
    for name in ("rftest", "quiet"):
        fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    fake.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {}},
              "spec": {}, "status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"}}})
    fake.add({"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "exporter", "namespace": "rftest", "labels": {"app": "prom-test-exporter"}},
              "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "exporter:1"}]},
              "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                         "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0,
                                                "state": {"running": {}}}]}})
    fake.add({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "prom-test-exporter", "namespace": "rftest"},
              "spec": {"selector": {"k8s-app": "prom-test-exporter"}, "ports": [{"port": 32323, "protocol": "TCP"}]}})
    big = fake.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big", "namespace": "rftest"},
                    "spec": {"containers": [{"name": "main", "image": "big:1", "resources": {"requests": {"cpu": "8"}}}]},
                    "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                                   "reason": "Unschedulable", "message": MESSAGE}]}})
    fake.add({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "big.17f3a", "namespace": "rftest"},
              "involvedObject": {"kind": "Pod", "namespace": "rftest", "name": "big", "uid": big["metadata"]["uid"]},
              "reason": "FailedScheduling", "message": MESSAGE, "type": "Warning", "count": 3,
              "lastTimestamp": "2025-05-01T10:00:00Z", "source": {"component": "default-scheduler"}})
    server, url = serve_http(fake)
    yield fake, url
    server.shutdown()


def play(api, *extra: str) -> tuple[int, str]:
    _fake, url = api
    roots = [str(REPO / ".cache" / "collections"), *filter(None, os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(":"))]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=":".join(roots),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    cmd = [PLAYBOOK, "-i", str(REPO / "inventories" / "kind"), str(REPO / "playbooks" / "doctor.yml"),
           "-e", f"k8s_host={url}", "-e", f"k8s_api_key={TOKEN}", "-e", "k8s_context=", *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_doctor_playbook_reports_each_problem_with_its_fix(api):
    fake, _url = api
    writes = len(fake.writes)
    rc, out = play(api, "-e", "namespace=rftest", "-e", "kind=", "-e", "selector=")  # empty survey fields

    assert rc == 0, out
    assert '"namespace rftest: 2 error(s), 0 warning(s) (checked 2 Pod, 1 Service)"' in out
    assert ('"ERROR: Service rftest/prom-test-exporter: has no endpoints: its selector k8s-app=prom-test-exporter matches '
            'no pod in namespace rftest; closest: pods (exporter): they have no k8s-app label (they have '
            'app=prom-test-exporter)"') in out
    assert ('"ERROR: Pod rftest/big: Pending: not enough cpu: it requests 8, the largest node allocatable is 2 (node-1), '
            'so no node can ever fit it (1 of 1 nodes)"') in out
    assert '"FIX Service rftest/prom-test-exporter: Make the Service\'s spec.selector and the pods\' labels agree' in out
    assert '"FIX Pod rftest/big: Lower resources.requests.cpu in the pod template' in out
    assert len(fake.writes) == writes


def test_doctor_playbook_gates_after_printing_the_report(api):
    rc, out = play(api, "-e", "namespace=rftest", "-e", "kind=svc", "-e", "names=prom-test-exporter", "-e", "fail_on=error")

    assert rc == 2
    report, failure = out.split("TASK [Report the failure]")
    assert '"namespace rftest: 1 error(s), 0 warning(s) (checked 1 Service)"' in report
    assert "doctor found 1 error(s) (fail_on=error): ERROR: Service rftest/prom-test-exporter: has no endpoints" in failure


def test_doctor_playbook_on_a_healthy_namespace(api):
    rc, out = play(api, "-e", "namespace=quiet", "-e", "fail_on=warning")

    assert rc == 0, out
    assert '"namespace quiet: no problems found (checked nothing)"' in out


@pytest.mark.parametrize("extra, message", [
    ([], "give namespace, or all_namespaces=true to diagnose every namespace"),
    (["-e", "namespace=rftest", "-e", "all_namespaces=true", "-e", "names=a,b", "-e", "fail_on=always"],
     "give namespace or all_namespaces=true, not both; names need kind: say which kind of object they name; "
     "fail_on 'always' is not one of never, error, warning"),
])
def test_doctor_playbook_checks_the_request_first(api, extra, message):
    fake, _url = api
    requests = len(fake.log)
    rc, out = play(api, *extra)
    assert rc == 2
    assert message in out
    assert len(fake.log) == requests
