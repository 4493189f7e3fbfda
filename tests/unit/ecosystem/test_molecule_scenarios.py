"""The molecule scenarios under extensions/molecule: shared playbooks, the allow-list, the pools, kind's ports.

The scenarios' own runs need a cluster (and Docker for kind); what is checked here runs without:
the two scenarios share prepare, converge and verify (no copies), the existing-cluster scenario
refuses a context that is not on its allow-list before it sends a single request, picks the first
schedulable workers when no node is named, and the kind configuration publishes every nodePort
the kind inventory gives a Service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml

from fake_k8s import FakeKube, serve_http
from rbac_cluster import DiscoveryFake

REPO_ROOT = Path(__file__).resolve().parents[3]
MOLECULE = REPO_ROOT / "extensions" / "molecule"
SHARED = ("prepare", "converge", "verify")


def _scenario(name: str) -> dict:
    return yaml.safe_load((MOLECULE / name / "molecule.yml").read_text())


def test_both_scenarios_run_the_same_prepare_converge_and_verify():
    for name in ("default", "cluster"):
        playbooks = _scenario(name)["ansible"]["playbooks"]
        for step in SHARED:
            path = (MOLECULE / name / playbooks[step]).resolve()
            assert path == MOLECULE / "utils" / "playbooks" / f"{step}.yml", (name, step, path)
            assert path.is_file()
            # A scenario's own copy would be run by nobody and drift.
            assert not (MOLECULE / name / f"{step}.yml").exists()
    assert (MOLECULE / "cluster" / _scenario("cluster")["ansible"]["playbooks"]["destroy"]).resolve() \
        == MOLECULE / "utils" / "playbooks" / "cleanup.yml"


def test_verify_checks_the_environment_and_runs_no_integration_target():
    text = (MOLECULE / "utils" / "playbooks" / "verify.yml").read_text()
    assert "targets/site/tasks/verify.yml" in text
    assert "include_role" not in text and "roles_path" not in (MOLECULE / "default" / "molecule.yml").read_text()


def test_the_kind_configuration_publishes_the_kind_inventorys_node_ports():
    group_vars = {}
    for path in (REPO_ROOT / "inventories" / "kind" / "group_vars" / "all").glob("*.yml"):
        group_vars.update(yaml.safe_load(path.read_text()) or {})
    ports = [group_vars[key] for key in ("eureka_service_node_port", "gitlab_service_http_node_port",
                                         "gitlab_service_ssh_node_port") if group_vars.get(key)]
    # None by default (Eureka's API is unauthenticated; GitLab is port-forwarded): then the opt-in's port.
    ports = ports or [30761]
    template = jinja2.Template((MOLECULE / "default" / "templates" / "kind-config.yml.j2").read_text(),
                               trim_blocks=True, lstrip_blocks=True)
    config = yaml.safe_load(template.render(create_node_ports=ports, create_port_offset=0))
    control_plane, *workers = config["nodes"]
    assert [n["role"] for n in workers] == ["worker"] * 3
    mapped = {(m["containerPort"], m["hostPort"], m["listenAddress"]) for m in control_plane["extraPortMappings"]}
    assert mapped == {(port, port, "127.0.0.1") for port in ports}
    # The ports the docs tell users to open.
    docs = (REPO_ROOT / "docs" / "bootstrap.md").read_text()
    assert all(f"localhost:{port}" in docs for port in ports)


# ---- the existing-cluster scenario's checks, run for real against the fake API server ------------------
@pytest.fixture(scope="module")
def api():
    fake = DiscoveryFake()
    fake.node("cp", labels={"node-role.kubernetes.io/control-plane": ""},
              taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    fake.node("a-cordoned", labels={})
    fake.edit("Node", "a-cordoned", change=lambda n: n["spec"].update(unschedulable=True))
    fake.node("b-gpu", taints=[{"key": "nvidia.com/gpu", "effect": "NoSchedule"}])
    fake.node("c-worker", taints=[{"key": "gitlab/middleware", "effect": "NoSchedule"}])  # left by an earlier run
    fake.node("d-worker")
    fake.node("e-worker")
    server, url = serve_http(fake)
    yield fake, url
    server.shutdown()


def _create(api, tmp_path: Path, context: str, **env: str) -> subprocess.CompletedProcess:
    """Run the existing-cluster scenario's create.yml as molecule would (its inventory links)."""
    _fake, url = api
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "c", "cluster": {"server": url}}], "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}]}))
    inventory = tmp_path / "inventory"
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text((REPO_ROOT / "inventories" / "kind" / "hosts.yml").read_text())
    (inventory / "group_vars").symlink_to(REPO_ROOT / "inventories" / "kind" / "group_vars")
    (inventory / "host_vars" / "localhost.yml").write_text((MOLECULE / "cluster" / "host_vars" / "localhost.yml").read_text())
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "MOLECULE_"))}
    environment.update(KUBECONFIG=str(kubeconfig), HOME=str(tmp_path), ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
                       ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".cache" / "collections"), ANSIBLE_NOCOLOR="1", **env)
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(MOLECULE / "cluster" / "create.yml"),
         "-e", json.dumps({"molecule_instance_config": str(tmp_path / "instance.yml")})],
        env=environment, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("allowed", ["", "kind-.*,staging", "prod"])
def test_a_context_that_is_not_allowed_is_refused_before_any_request(api, tmp_path, allowed):
    fake = api[0]
    before = len(fake.log)
    result = _create(api, tmp_path, "production", MOLECULE_ALLOWED_CONTEXTS=allowed)
    assert result.returncode != 0
    assert "Refusing to run against 'production': it matches none of molecule_allowed_contexts" in result.stdout
    assert "MOLECULE_ALLOWED_CONTEXTS" in result.stdout
    assert fake.log[before:] == []
    assert not (tmp_path / "instance.yml").exists()


def test_an_allowed_context_gets_the_first_schedulable_workers(api, tmp_path):
    result = _create(api, tmp_path, "kind-test", MOLECULE_ALLOWED_CONTEXTS="staging, kind-.*")
    assert result.returncode == 0, result.stdout[-3000:]
    assert ("Cluster kind-test: redis and postgres on c-worker, gitlab-ce on d-worker; "
            "namespaces molecule-gitlab and molecule-eureka") in result.stdout
    assert (tmp_path / "instance.yml").is_file()


def test_named_nodes_must_exist(api, tmp_path):
    result = _create(api, tmp_path, "kind-test", MOLECULE_ALLOWED_CONTEXTS="kind-test",
                     MOLECULE_MIDDLEWARE_NODES="e-worker", MOLECULE_APPLICATION_NODES="node-9")
    assert result.returncode != 0
    assert "not in the cluster: ['node-9']" in result.stdout


# ---- make molecule-cluster's probe: the cluster the scenario would use ---------------------------------
def _run_probe(environ: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "run-integration.py"), "--probe"],
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": environ.pop("HOME"), **environ},
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_probe_takes_the_cluster_from_the_awx_credential_variables(tmp_path):
    fake = FakeKube()
    server, url = serve_http(fake, expect_token="token")  # anything else is answered 401, unseen by the fake
    try:
        answer = _run_probe({"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none"),
                             "K8S_AUTH_HOST": url, "K8S_AUTH_API_KEY": "token", "K8S_AUTH_VERIFY_SSL": "false"})
    finally:
        server.shutdown()
    assert (answer.returncode, answer.stdout.split(" (")[0]) == (0, f"Kubernetes API at {url} answers"), answer.stderr
    assert fake.log, "the probe did not send the credential's token"


def test_the_probe_says_which_cluster_did_not_answer(tmp_path):
    answer = _run_probe({"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none"), "K8S_AUTH_HOST": "http://127.0.0.1:9"})
    assert answer.returncode == 1
    assert answer.stdout.startswith("no Kubernetes cluster answers (K8S_AUTH_HOST=http://127.0.0.1:9, reason: ")
