"""Role kubeops.platform.eureka in render-only mode: the manifests it would apply.

Each configuration runs playbooks/eureka.yml once with ``eureka_render_dir`` (the role's real
validation, templates and checks, no cluster), and the tests read the files it writes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from gitlab_playbook import start

REPO_ROOT = Path(__file__).resolve().parents[3]
KUBERNETES_VERSIONS = ["1.27.0", kubernetes_validate.utils.latest_version()]
CLUSTER_DOMAIN = "cluster.local"


class RenderError(Exception):
    """The playbook failed; the message is its output."""


@dataclass
class Rendered:
    files: dict[str, list[dict]]

    @property
    def objects(self) -> list[dict]:
        return [doc for docs in self.files.values() for doc in docs]

    def one(self, kind: str, name: str | None = None) -> dict:
        found = [o for o in self.objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
        return found[0]


def _inventory(directory: Path) -> Path:
    inventory = directory / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"k8s_api": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))
    return inventory


def start_render(directory: Path, inventory: Path | None = None, **variables) -> subprocess.Popen[str]:
    """Start the role in render-only mode with these variables, writing under ``directory``."""
    extra = directory / "vars.json"
    extra.write_text(json.dumps({**variables, "eureka_render_dir": str(directory / "manifests")}))
    return start(["-i", str(inventory or _inventory(directory)), str(REPO_ROOT / "playbooks" / "eureka.yml"),
                  "-e", f"@{extra}",
                  # Every inventory, the example's too, runs the modules with the test's Python.
                  "-e", f"ansible_python_interpreter={sys.executable}"],
                 directory / "home", {"ANSIBLE_DEPRECATION_WARNINGS": "0"})


def collect(directory: Path, process: subprocess.Popen[str]) -> Rendered:
    """The manifests the run wrote; RenderError when it failed."""
    output = process.communicate(timeout=600)[0]
    if process.returncode != 0:
        raise RenderError(output)
    return Rendered({path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
                     for path in sorted((directory / "manifests").glob("*.yml"))})


# Every configuration the tests read, rendered once and side by side (each render is an
# ansible-playbook run of a few seconds).
CONFIGS: dict[str, tuple[Path | None, dict]] = {
    "default": (None, {}),
    # The same again, in another run: names derived from the configuration must not change.
    "default_again": (None, {}),
    "one_with_storage": (None, {"eureka_replicas": 1, "eureka_storage_enabled": True,
                                "eureka_storage_mount_path": "/Charts", "eureka_storage_size": "4Gi",
                                "eureka_storage_class": "daocloud-nfs"}),
    "five_placed": (None, {
        "eureka_replicas": 5, "eureka_node_key": "eureka/server", "eureka_application_name": "registry",
        "eureka_log_level": "WARN", "eureka_eviction_interval_ms": 5000,
        "eureka_spring_properties": {"eureka": {"server": {"enable-self-preservation": False,
                                                           "renewal-percent-threshold": 0.49,
                                                           "response-cache-update-interval-ms": 1000}},
                                     "logging": {"level": {"org.springframework": "DEBUG"}}}}),
    "example": (REPO_ROOT / "inventories" / "example", {}),
    "kind": (REPO_ROOT / "inventories" / "kind", {}),
    # The kind inventory's commented opt-in, switched on.
    "kind_exposed": (REPO_ROOT / "inventories" / "kind", {"eureka_service_type": "NodePort", "eureka_service_node_port": 30761,
                                                          "eureka_expose_unauthenticated_api": True}),
    # Every check of the variables at once: the role reports all problems in one message.
    "bad": (None, {"eureka_service_type": "NodePort", "eureka_service_node_port": 38001,
                   "eureka_management_port": 8761,
                   "eureka_env": [{"name": "SPRING_APPLICATION_JSON", "value": "{}"},
                                  {"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=80"}],
                   "eureka_image_tag": "latest", "eureka_headless_service_name": "eureka",
                   "eureka_replicas": 0,
                   "eureka_resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}),
}
REPLICAS = {1: "one_with_storage", 3: "default", 5: "five_placed"}


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Rendered | RenderError]:
    # Directories first, in this thread (mktemp is not thread-safe), then every run at once.
    started = {}
    for name, (inventory, variables) in CONFIGS.items():
        directory = tmp_path_factory.mktemp(name)
        started[name] = (directory, start_render(directory, inventory, **variables))
    results: dict[str, Rendered | RenderError] = {}
    for name, (directory, process) in started.items():
        try:
            results[name] = collect(directory, process)
        except RenderError as exc:
            results[name] = exc
    return results


@pytest.fixture(scope="module")
def rendered(renders):
    """The manifests of a configuration in CONFIGS (its render must have succeeded)."""
    def _get(name: str) -> Rendered:
        result = renders[name]
        if isinstance(result, RenderError):
            pytest.fail(f"rendering {name} failed:\n{result}")
        return result
    return _get


def server_env(rendered: Rendered) -> list[dict]:
    return rendered.one("StatefulSet")["spec"]["template"]["spec"]["containers"][0]["env"]


def spring_properties(rendered: Rendered, pod_name: str) -> dict:
    """SPRING_APPLICATION_JSON as pod ``pod_name`` sees it, after the kubelet's $(VAR) expansion."""
    env = server_env(rendered)
    names = [entry["name"] for entry in env]
    assert names.index("EUREKA_POD_NAME") < names.index("SPRING_APPLICATION_JSON"), \
        "$(EUREKA_POD_NAME) is only expanded from variables defined before it"
    raw = next(entry["value"] for entry in env if entry["name"] == "SPRING_APPLICATION_JSON")
    return json.loads(raw.replace("$(EUREKA_POD_NAME)", pod_name))


@pytest.mark.parametrize("replicas", sorted(REPLICAS))
def test_manifests_validate_strictly(rendered, replicas):
    result = rendered(REPLICAS[replicas])
    assert [o["kind"] for o in result.objects] == [
        "Namespace", "Service", "Service", "PodDisruptionBudget", "StatefulSet", "Job"]
    for version in KUBERNETES_VERSIONS:
        for obj in result.objects:
            kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("replicas", sorted(REPLICAS))
def test_every_server_lists_every_server_by_its_stable_name(rendered, replicas):
    result = rendered(REPLICAS[replicas])
    sts = result.one("StatefulSet")
    name, service, namespace = sts["metadata"]["name"], sts["spec"]["serviceName"], sts["metadata"]["namespace"]
    assert sts["spec"]["replicas"] == replicas
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    hosts = [f"{name}-{i}.{service}.{namespace}.svc.{CLUSTER_DOMAIN}" for i in range(replicas)]
    for index, host in enumerate(hosts):
        props = spring_properties(result, f"{name}-{index}")
        zone = props["eureka"]["client"]["serviceUrl"]["defaultZone"].split(",")
        assert zone == [f"http://{peer}:8761/eureka/" for peer in hosts]
        assert props["eureka"]["instance"]["hostname"] == host
        assert props["eureka"]["server"]["myUrl"] == zone[index], "a server must recognise its own entry"
        assert props["eureka"]["client"]["register-with-eureka"] is True
        assert props["eureka"]["client"]["fetch-registry"] is True
        assert props["server"]["port"] == 8761


@pytest.mark.parametrize("replicas", sorted(REPLICAS))
def test_headless_service_is_the_statefulset_service_and_selects_its_pods(rendered, replicas):
    result = rendered(REPLICAS[replicas])
    sts = result.one("StatefulSet")
    headless = result.one("Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert headless["spec"]["selector"].items() <= pod_labels.items()

    client = result.one("Service", "eureka")
    assert client["metadata"]["name"] != headless["metadata"]["name"]
    assert client["spec"]["type"] == "ClusterIP"
    assert client["spec"]["selector"] == headless["spec"]["selector"]
    # The peer check's pods must not receive the servers' traffic.
    job_labels = result.one("Job")["spec"]["template"]["metadata"]["labels"]
    assert not client["spec"]["selector"].items() <= job_labels.items()


def test_no_volume_by_default(rendered):
    sts = rendered("default").one("StatefulSet")["spec"]
    assert "volumeClaimTemplates" not in sts
    assert "volumes" not in sts["template"]["spec"]
    assert "volumeMounts" not in sts["template"]["spec"]["containers"][0]


def test_optional_claim_per_server(rendered):
    sts = rendered("one_with_storage").one("StatefulSet")
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "daocloud-nfs",
                             "resources": {"requests": {"storage": "4Gi"}}}
    assert sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] == [
        {"name": claim["metadata"]["name"], "mountPath": "/Charts"}]


def test_notebook_image_and_ports_through_the_example_inventory(rendered):
    result = rendered("example")
    for version in KUBERNETES_VERSIONS:
        for obj in result.objects:
            kubernetes_validate.validate(obj, version, strict=True)
    sts = result.one("StatefulSet", "register-server")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "10.29.3.30:30004/api/eureka:0.1.0"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000, "management": 8001}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/actuator/health", "port": "management"}
    props = spring_properties(result, "register-server-2")
    assert props["server"]["port"] == 8000
    assert props["management"]["server"]["port"] == 8001
    assert props["eureka"]["instance"]["hostname"] == (
        f"register-server-2.register-server-peers.register.svc.{CLUSTER_DOMAIN}")
    # The notebook's NodePort is an explicit opt-in now: in-cluster only.
    service = result.one("Service", "register-server")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "daocloud-nfs"


# What the image's development settings are replaced by, in SPRING_APPLICATION_JSON (which Spring
# ranks above the image's application.properties): Eureka's own intervals, INFO logging, and
# self-preservation on unless an inventory turns it off (kind does, for a laptop that sleeps).
@pytest.mark.parametrize(("config", "self_preservation"), [("default", True), ("example", True), ("kind", False)])
def test_production_properties_by_default(rendered, config, self_preservation):
    result = rendered(config)
    props = spring_properties(result, result.one("StatefulSet")["metadata"]["name"] + "-0")
    assert props["logging"]["level"] == {"com.netflix.eureka": "INFO"}
    server = props["eureka"]["server"]
    assert server["eviction-interval-timer-in-ms"] == 60000
    assert server["response-cache-update-interval-ms"] == 30000
    assert server["enable-self-preservation"] is self_preservation


def test_extra_spring_properties_override_the_generated_ones(rendered):
    props = spring_properties(rendered("five_placed"), "eureka-0")
    # The role's variables replace the defaults, and eureka_spring_properties wins over both.
    assert props["logging"]["level"] == {"com.netflix.eureka": "WARN", "org.springframework": "DEBUG"}
    assert props["eureka"]["server"]["eviction-interval-timer-in-ms"] == 5000
    assert props["eureka"]["server"]["response-cache-update-interval-ms"] == 1000
    assert props["eureka"]["server"]["enable-self-preservation"] is False
    assert props["eureka"]["server"]["renewal-percent-threshold"] == 0.49
    assert props["spring"]["application"]["name"] == "registry"
    # Merged, not replaced: the peer settings are still there.
    assert props["eureka"]["server"]["myUrl"].startswith("http://eureka-0.")


def test_kind_inventory_keeps_the_api_in_the_cluster_unless_told(rendered):
    for config in ("kind", "kind_exposed"):
        for version in KUBERNETES_VERSIONS:
            for obj in rendered(config).objects:
                kubernetes_validate.validate(obj, version, strict=True)
    client = rendered("kind").one("Service", "eureka")
    assert client["spec"]["type"] == "ClusterIP"
    assert "nodePort" not in client["spec"]["ports"][0]
    exposed = rendered("kind_exposed").one("Service", "eureka")
    assert exposed["spec"]["type"] == "NodePort"
    assert exposed["spec"]["ports"][0]["nodePort"] == 30761
    # A heap that leaves room under the limit: 40% of 640Mi.
    container = rendered("kind").one("StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "640Mi"
    assert {"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=40 -XX:+UseSerialGC"} in container["env"]


def test_placement_from_a_node_key(rendered):
    pod = rendered("five_placed").one("StatefulSet")["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"key": "eureka/server", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "eureka/server", "operator": "Exists"}]}]}
    assert "preferredDuringSchedulingIgnoredDuringExecution" in pod["affinity"]["podAntiAffinity"]
    # The peer check runs where the servers may run, but is not spread like them.
    job_pod = rendered("five_placed").one("Job")["spec"]["template"]["spec"]
    assert job_pod["tolerations"] == pod["tolerations"]
    assert job_pod["affinity"] == {"nodeAffinity": pod["affinity"]["nodeAffinity"]}


def test_peer_check_job_is_named_after_its_servers(rendered):
    three, five = rendered("default").one("Job"), rendered("five_placed").one("Job")
    assert three["metadata"]["name"].startswith("eureka-peer-check-")
    assert five["metadata"]["name"] != three["metadata"]["name"]
    assert five["spec"]["template"]["spec"]["containers"][0]["env"][0] == {
        "name": "SERVERS",
        "value": " ".join(f"eureka-{i}.eureka-peers.eureka.svc.{CLUSTER_DOMAIN}" for i in range(5))}


def test_peer_check_job_name_is_stable(rendered):
    again = rendered("default_again")
    assert again.one("Job")["metadata"]["name"] == rendered("default").one("Job")["metadata"]["name"]


@pytest.mark.parametrize("message", [
    "eureka_service_node_port 38001 is outside the cluster's NodePort range 30000-32767: "
    "the API server would reject the Service",
    "eureka_management_port equals eureka_port \\(8761\\): leave it null to serve the actuator on the server port",
    "eureka_env sets SPRING_APPLICATION_JSON, which the role sets itself: put Spring properties in eureka_spring_properties",
    "eureka_image_tag 'latest' is not a pinned version: use an exact tag such as 4.1.1 or 0.1.0",
    "eureka_headless_service_name and eureka_service_name are both 'eureka': the headless Service",
    "eureka_replicas 0 must be at least 1",
    "eureka_resources: the memory request 2Gi is above its limit 1Gi",
    re.escape("eureka_service_type is NodePort: that publishes Eureka's REST API, which has no authentication, on a port of "
              "every node") + ".*" + re.escape("say yes explicitly: eureka_expose_unauthenticated_api: true"),
    re.escape("eureka_env caps the JVM heap at 819Mi (-XX:MaxRAMPercentage=80) under the memory limit 1024Mi of "
              "eureka_resources, leaving 204Mi for the rest of the JVM") + ".*"
    + re.escape("the rule is at least eureka_jvm_min_non_heap (320Mi) outside the heap"),
])
def test_bad_variables_fail_before_anything_is_written(renders, message):
    failure = renders["bad"]
    assert isinstance(failure, RenderError), "the role accepted bad variables"
    with pytest.raises(RenderError, match=message):
        raise failure
    assert "Write the manifests" not in str(failure)


@pytest.fixture(scope="module")
def peer_check_script(rendered):
    job = rendered("default").one("Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["/bin/sh", "-c"]
    return container["command"][2], {entry["name"]: entry["value"] for entry in container["env"]}


def _run_peer_check(tmp_path: Path, script: str, env: dict[str, str], answers: dict[str, list[str]],
                    timeout: int) -> subprocess.CompletedProcess:
    """The Job's script under /bin/sh with a fake curl that answers each server with its hostNames."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    registry = {server.split(".")[0]: json.dumps({"applications": {"application": [
        {"name": "EUREKASERVER", "instance": [{"hostName": host, "status": "UP"} for host in hosts]}]}}, indent=2)
        for server, hosts in answers.items()}
    fake = bin_dir / "curl"
    fake.write_text("#!/bin/sh\nfor last; do :; done\ncase \"$last\" in\n" + "".join(
        f"  http://{server}.*) cat <<'EOF'\n{body}\nEOF\n  ;;\n" for server, body in registry.items())
        + "  *) echo 'curl: (7) Failed to connect' >&2; exit 7 ;;\nesac\n")
    fake.chmod(0o755)
    sleep = bin_dir / "sleep"
    sleep.write_text("#!/bin/sh\nexit 0\n")
    sleep.chmod(0o755)
    return subprocess.run(["/bin/sh", "-c", script],
                          env={**env, "CHECK_TIMEOUT": str(timeout), "PATH": f"{bin_dir}:{os.environ['PATH']}"},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_peer_check_passes_when_every_server_lists_all(tmp_path, peer_check_script):
    script, env = peer_check_script
    servers = env["SERVERS"].split()
    result = _run_peer_check(tmp_path, script, env, {s: servers for s in servers}, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "every server lists all 3 servers: eureka-0=3/3 eureka-1=3/3 eureka-2=3/3"


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_peer_check_fails_naming_the_missing_peers(tmp_path, peer_check_script):
    script, env = peer_check_script
    servers = env["SERVERS"].split()
    # eureka-2 has not replicated eureka-0's registration; eureka-1 does not answer at all.
    answers = {servers[0]: servers, servers[2]: servers[1:]}
    result = _run_peer_check(tmp_path, script, env, answers, timeout=0)
    assert result.returncode == 1
    assert ("after 0s, servers still miss peers (server:missing peer): "
            "eureka-1:eureka-0 eureka-1:eureka-1 eureka-1:eureka-2 eureka-2:eureka-0") in result.stdout
