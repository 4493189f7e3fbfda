"""The benchmark scripts' own logic: the check that a run really changed the nodes, the verdicts
of the scale mode, the profile's phase arithmetic, and the stand-in cluster of their --fake mode.
No timing is asserted: the scripts measure, these tests check what they conclude from measurements."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import nodes_bench  # noqa: E402
import task_profile  # noqa: E402
from _cluster import FakeCluster, lacking  # noqa: E402

from ansible_collections.kubeops.platform.plugins.module_utils._client import (  # noqa: E402
    ApiError,
    K8sClient,
    UnreachableError,
)
from ansible_collections.kubeops.platform.plugins.module_utils._connection import resolve_connection  # noqa: E402


def node(name: str, labels: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints} if taints else {}}


NODES = [
    node("n0", {"k": "v"}, [{"key": "k", "value": "v", "effect": "NoSchedule"}]),
    node("n1", {"k": "old"}, [{"key": "k", "value": "old", "effect": "NoSchedule"}]),
    node("n2", {}, [{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]),
    node("n3", {"k": ""}, [{"key": "k", "effect": "NoSchedule"}]),
]


@pytest.mark.parametrize(("names", "label", "taint", "expected"), [
    (["n0"], ("k", "v"), None, []),
    (["n0", "n1", "n2"], ("k", "v"), None, ["n1", "n2"]),
    (["n0", "n1", "n2"], None, ("k", "v", "NoSchedule"), ["n1", "n2"]),  # n2: the right value, another effect
    (["n3"], ("k", ""), ("k", "", "NoSchedule"), []),  # a taint without a value has the value ""
    (["n0", "gone"], ("k", "v"), None, ["gone"]),  # a node that is not there does not carry anything
])
def test_lacking_names_every_node_without_the_change(names, label, taint, expected):
    assert lacking(NODES, names, label, taint) == expected


def rows(*per_size: tuple[int, float, float, float, float]) -> list[nodes_bench.ScaleRow]:
    # (N, start-up, ours, kubectl taint, kubectl label); parallel 1 does not enter any verdict
    return [nodes_bench.ScaleRow(n, startup, ours, ours * 3, taint, label)
            for n, startup, ours, taint, label in per_size]


def verdicts(targets) -> dict[str, bool]:
    return {target.name.split(":")[0].split(",")[0]: target.met for target in targets}


def test_scale_targets_met():
    # N=500: 5.0 <= (10 + 1.5) / 2; per node (5.0 - 1.5) / 500 = 7 ms against (2.5 - 1.5) / 50 = 20 ms;
    # (9 - 8) / 10 = 0.1 s a task over ping
    measured = rows((50, 1.5, 2.5, 0.6, 0.6), (500, 1.5, 5.0, 5.0, 5.0))
    targets = nodes_bench.scale_targets(measured, pings=8.0, taints=9.0, tasks=10)
    assert verdicts(targets) == {"N=500": True, "cost per node": True,
                                 "10 single-node taint tasks vs 10 ping tasks": True}


def test_scale_targets_missed():
    # N=500: 7.5 > 11.5 / 2; per node 12 ms against 10 ms (more than 10% up); 0.2 s a task over ping
    measured = rows((50, 1.5, 2.0, 0.6, 0.6), (500, 1.5, 7.5, 5.0, 5.0))
    targets = nodes_bench.scale_targets(measured, pings=8.0, taints=10.0, tasks=10)
    assert verdicts(targets) == {"N=500": False, "cost per node": False,
                                 "10 single-node taint tasks vs 10 ping tasks": False}


def test_scale_targets_judge_the_largest_size_and_need_two_sizes_for_the_trend():
    targets = nodes_bench.scale_targets(rows((200, 1.0, 2.4, 2.0, 2.0)), pings=None, taints=None, tasks=10)
    assert [t.name for t in targets] == ["N=200: ours / (kubectl taint + label + empty play)"]
    assert targets[0].met is True  # 2.4 <= (4.0 + 1.0) / 2


@pytest.mark.parametrize(("text", "expected"), [("500,50,200", [50, 200, 500]), ("50, 50", [50])])
def test_scale_sizes_are_sorted_and_unique(text, expected):
    assert nodes_bench.sizes(text) == expected


@pytest.mark.parametrize("text", ["0,50", "fifty", ""])
def test_scale_sizes_refuse_what_is_not_a_node_count(text):
    with pytest.raises(Exception, match="--scale takes node counts"):
        nodes_bench.sizes(text)


def test_profile_phases_split_the_process_time():
    report = {"started": 100.05, "finished": 100.60, "spent": {
        "import_runtime": 0.20, "import_module": 0.10, "arguments": 0.01, "kubeconfig": 0.02, "tls_context": 0.01,
        "connect": 0.03, "tcp": 0.005, "request_GET": 0.02, "request_PATCH": 0.03, "exit_json": 0.01, "main": 0.15}}
    spent = task_profile.phases(report, launched=100.0, ended=100.65)
    assert spent["python"] == pytest.approx(0.05)
    assert spent["tls_handshake"] == pytest.approx(0.025)
    assert spent["rest"] == pytest.approx(0.02)  # main less what was measured inside it
    assert spent["exit"] == pytest.approx(0.05)
    assert spent["total"] == pytest.approx(0.65)
    assert set(spent) == {key for key, _what, _ping in task_profile.PHASES} | {"total"}


def test_slowest_imports_come_first():
    stderr = ("import time: self [us] | cumulative | imported package\n"
              "import time:       120 |        120 |   json.decoder\n"
              "import time:      4000 |      90000 | ansible.module_utils.basic\n"
              "import time:       900 |       1500 |     yaml\n")
    lines = task_profile.slowest_imports(stderr, Path("payload.zip"), count=2).splitlines()
    assert [line.split()[-1] for line in lines[2:]] == ["ansible.module_utils.basic", "yaml"]


# ---- the stand-in cluster of --fake -------------------------------------------------------------------
@pytest.fixture
def fake_cluster(tmp_path):
    cluster = FakeCluster(tmp_path)
    yield cluster
    cluster.close()


def test_fake_cluster_serves_the_fake_over_tls_with_the_kubeconfig_it_writes(fake_cluster):
    fake_cluster.fake.node("kubeops-bench-0", labels={"kubeops-bench": "true"})
    client = K8sClient(resolve_connection({"kubeconfig": str(fake_cluster.kubeconfig)}, environ={}))
    try:
        assert client.conn.server.startswith("https://127.0.0.1:")
        listed = client.list("/api/v1/nodes", "kubeops-bench=true")
        assert [n["metadata"]["name"] for n in listed] == ["kubeops-bench-0"]
        assert client.get("/api")["versions"] == ["v1"]
        groups = {g["name"]: g["preferredVersion"]["groupVersion"] for g in client.get("/apis")["groups"]}
        assert groups["apps"] == "apps/v1"
        for group_version in groups.values():  # only what the fake really serves is listed
            assert client.get(f"/apis/{group_version}")["groupVersion"] == group_version
        client.patch("/api/v1/nodes/kubeops-bench-0", {"metadata": {"labels": {"k": "v"}}})
        with pytest.raises(ApiError, match="HTTP 404"):
            client.get("/api/v1/nodes/kubeops-bench-1")
    finally:
        client.close()
    assert fake_cluster.fake.get("Node", "kubeops-bench-0")["metadata"]["labels"]["k"] == "v"


def test_fake_cluster_requires_a_client_certificate(fake_cluster):
    config = json.loads(fake_cluster.kubeconfig.read_text())
    del config["users"][0]["user"]["client-certificate-data"], config["users"][0]["user"]["client-key-data"]
    config["users"][0]["user"]["token"] = "anyone"
    anonymous = fake_cluster.kubeconfig.with_name("anonymous")
    anonymous.write_text(json.dumps(config))
    client = K8sClient(resolve_connection({"kubeconfig": str(anonymous)}, environ={}))
    try:
        with pytest.raises(UnreachableError, match="certificate required"):
            client.get("/api/v1/nodes")
    finally:
        client.close()


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not on PATH")
def test_kubectl_taints_and_labels_by_selector_through_the_fake_cluster(fake_cluster, tmp_path):
    for index in range(3):
        fake_cluster.fake.node(f"kubeops-bench-{index}", labels={"kubeops-bench": "true"})
    fake_cluster.fake.node("other", labels={})
    kubectl = ["kubectl", "--kubeconfig", str(fake_cluster.kubeconfig), "--cache-dir", str(tmp_path / "cache")]
    for args in (["taint", "nodes", "-l", "kubeops-bench=true", "kubeops-bench/k=v:NoSchedule"],
                 ["label", "nodes", "-l", "kubeops-bench=true", "kubeops-bench/k=v"]):
        proc = subprocess.run([*kubectl, *args], capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
    nodes = [fake_cluster.fake.get("Node", name) for name in ("kubeops-bench-0", "kubeops-bench-1", "kubeops-bench-2",
                                                              "other")]
    names = [n["metadata"]["name"] for n in nodes]
    assert lacking(nodes, names, ("kubeops-bench/k", "v"), ("kubeops-bench/k", "v", "NoSchedule")) == ["other"]
