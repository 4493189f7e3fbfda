"""Every playbook talks to the cluster the inventory names, and to no other.

The kubeconfig in KUBECONFIG has two clusters: its current-context points to another cluster
(a second fake API server that only records what it is sent), and the kind inventory names the
right one (``k8s_context: kind-kind``), whose API server accepts only that context's token.
Each playbook runs once, in order, against the same cluster with its controllers running:

roles with connection variables of their own (refused) -> site.yml -> nodes.yml with another
taint rule -> taint.yml -> label.yml -> restart.yml -> force_delete.yml -> doctor.yml ->
gitlab.yml with gitlab_state=absent gitlab_purge=true -> the eureka role removed by a play whose
module_defaults name the cluster under group/kubernetes.core.k8s.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fake_cluster import ApiServer, ClusterLoop
from fake_k8s import now, serve_http
from gitlab_playbook import start

FILES = Path(__file__).resolve().parent / "files"
NODES = ("kind-control-plane", "kind-worker", "kind-worker2", "kind-worker3")
TOKEN = "token-of-the-kind-kind-context"
# Small waits: the fake cluster settles in a few ticks.
FAST = {"gitlab_wait_poll_interval": 1, "gitlab_middleware_timeout": 60, "gitlab_init_timeout": 60,
        "gitlab_app_timeout": 60, "eureka_wait_poll_interval": 1, "eureka_timeout": 60,
        "eureka_peer_check_timeout": 60, "eureka_replicas": 2}
ROLE_VARIABLES = {"nodes_context": "kind-kind", "gitlab_kubeconfig": "~/.kube/config", "gitlab_context": "kind-kind",
                  "eureka_kubeconfig": "~/.kube/config"}

# name -> ansible-playbook arguments after the inventory, in the order they run.
SCENARIOS: dict[str, list[str]] = {
    "role_variables": [str(FILES / "connection_variables.yml"), "-e", json.dumps(ROLE_VARIABLES)],
    "site": ["playbooks/site.yml"],
    "nodes": ["playbooks/nodes.yml", "-e", json.dumps(
        {"nodes_taints": [{"names": ["kind-worker3"], "taints": ["example.com/spare:PreferNoSchedule"]}]})],
    "taint": ["playbooks/taint.yml", "-e", "nodes=kind-worker3", "-e", "taints=example.com/maintenance:NoSchedule"],
    "label": ["playbooks/label.yml", "-e", "nodes=kind-worker3", "-e", "labels=tier=spare"],
    "restart": ["playbooks/restart.yml", "-e", "namespace=gitlab", "-e", "names=gitlab-redis", "-e", "wait_timeout=60"],
    "force_delete": ["playbooks/force_delete.yml", "-e", "kind=PersistentVolumeClaim", "-e", "namespace=gitlab",
                     "-e", "names=stuck", "-e", "remove_finalizers=true", "-e", "timeout=1"],
    "doctor": ["playbooks/doctor.yml", "-e", "namespace=gitlab"],
    "gitlab_purge": ["playbooks/gitlab.yml", "-e", "gitlab_state=absent", "-e", "gitlab_purge=true"],
    "core_group": [str(FILES / "core_group.yml")],
}


@dataclass
class Run:
    returncode: int
    output: str
    requests: list  # what the cluster the inventory names was sent
    elsewhere: list  # what the kubeconfig's current-context cluster was sent


def _kubeconfig(right: str, other: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "kind-kind", "cluster": {"server": right}},
                     {"name": "other", "cluster": {"server": other}}],
        "users": [{"name": "kind-kind", "user": {"token": TOKEN}},
                  {"name": "other", "user": {"token": "token-of-the-other-cluster"}}],
        "contexts": [{"name": "kind-kind", "context": {"cluster": "kind-kind", "user": "kind-kind"}},
                     {"name": "other", "context": {"cluster": "other", "user": "other"}}],
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """Run every scenario once; yields (the named cluster's API, {scenario: Run})."""
    right, other = ApiServer(), ApiServer()
    for api in (right, other):
        for name in NODES:
            api.node(name, labels={"kubernetes.io/hostname": name})
    right_server, right_url = serve_http(right, expect_token=TOKEN)
    other_server, other_url = serve_http(other)
    home = tmp_path_factory.mktemp("connection")
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(_kubeconfig(right_url, other_url)))

    def before(name: str) -> None:
        if name == "force_delete":
            with right._lock:
                right.add({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": "stuck", "namespace": "gitlab", "finalizers": ["example.com/hold"],
                                        "deletionTimestamp": now()}, "spec": {}})

    runs: dict[str, Run] = {}
    try:
        with ClusterLoop(right, nodes=NODES[1:]):
            for name, args in SCENARIOS.items():
                before(name)
                logged = len(right.log), len(other.log)
                process = start(["-i", "inventories/kind", *args, "-e", json.dumps(FAST)], home,
                                {"KUBECONFIG": str(kubeconfig)})
                try:
                    output = process.communicate(timeout=900)[0]
                except subprocess.TimeoutExpired:
                    process.kill()
                    raise
                runs[name] = Run(process.returncode, output, right.log[logged[0]:], other.log[logged[1]:])
        yield right, runs
    finally:
        right_server.shutdown()
        other_server.shutdown()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_run_succeeds_and_talks_only_to_the_named_cluster(cluster, scenario: str) -> None:
    run = cluster[1][scenario]
    assert run.returncode == 0, run.output[-4000:]
    assert [f"{r.method} {r.path}" for r in run.elsewhere] == [], "requests went to the current-context's cluster"
    if scenario != "role_variables":
        assert run.requests, "the named cluster got no request"


def test_roles_refuse_connection_variables_of_their_own_before_any_request(cluster) -> None:
    run = cluster[1]["role_variables"]
    assert run.requests == [] and run.elsewhere == []
    for message in ("nodes refused: nodes_context is set, but the role takes its connection from the play only",
                    "gitlab refused: gitlab_kubeconfig and gitlab_context are set, but the role takes its connection",
                    "eureka refused: eureka_kubeconfig is set, but the role takes its connection from the play only"):
        assert message in run.output
    assert "module_defaults for group/kubeops.platform.k8s in your own play, or K8S_AUTH_* environment variables" \
        in run.output


def _object(api: ApiServer, kind: str, name: str, namespace: str | None = None) -> dict | None:
    with api._lock:
        found = api.get(kind, name, namespace)
    return None if found is None or found["metadata"].get("deletionTimestamp") else found


def _names(api: ApiServer, kind: str, namespace: str) -> list[str]:
    with api._lock:
        return sorted(o["metadata"]["name"] for (_gv, _plural, ns, _name), o in api.objects.items()
                      if o["kind"] == kind and ns == namespace and not o["metadata"].get("deletionTimestamp"))


def test_each_run_did_its_work_on_the_named_cluster(cluster) -> None:
    right, runs = cluster
    assert all(run.returncode == 0 for run in runs.values()), {n: r.output[-2000:] for n, r in runs.items() if r.returncode}
    worker = _object(right, "Node", "kind-worker")
    assert "gitlab/middleware" in worker["metadata"]["labels"]
    assert {"key": "gitlab/middleware", "effect": "NoSchedule"} in worker["spec"]["taints"]
    spare = _object(right, "Node", "kind-worker3")
    assert spare["metadata"]["labels"]["tier"] == "spare"
    assert {(t["key"], t["effect"]) for t in spare["spec"]["taints"]} == {
        ("example.com/spare", "PreferNoSchedule"), ("example.com/maintenance", "NoSchedule")}
    redis = [r for r in runs["restart"].requests if r.method == "PATCH" and r.path.endswith("/deployments/gitlab-redis")]
    assert redis, "restart.yml did not restart gitlab-redis"
    restart_patch = json.dumps(redis[-1].body)
    assert "kubectl.kubernetes.io/restartedAt" in restart_patch
    assert "stuck" not in _names(right, "PersistentVolumeClaim", "gitlab")
    # doctor.yml read the gitlab namespace of the named cluster (and wrote nothing).
    assert any(r.method == "GET" and "/namespaces/gitlab/pods" in r.path for r in runs["doctor"].requests)
    assert [r for r in runs["doctor"].requests if r.method != "GET"] == []
    # gitlab_purge: the workloads, claims and Secrets are gone; the namespace stays.
    for kind in ("Deployment", "Service", "ConfigMap", "PersistentVolumeClaim", "Secret"):
        assert _names(right, kind, "gitlab") == [], kind
    assert _object(right, "Namespace", "gitlab") is not None
    # site.yml deployed Eureka; the play with group/kubernetes.core.k8s removed it.
    assert any(r.method == "POST" and r.path.endswith("/statefulsets") for r in runs["site"].requests)
    assert any(r.method == "DELETE" and r.path.endswith("/statefulsets/eureka") for r in runs["core_group"].requests)
    assert _names(right, "StatefulSet", "eureka") == [] and _names(right, "Service", "eureka") == []
