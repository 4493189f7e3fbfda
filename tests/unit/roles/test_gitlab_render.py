"""Render the gitlab role (render-only mode, no cluster) and check what it would apply.

Each case runs the role once per session through ansible-playbook, exactly as an operator
would (the real playbook and inventories where there is one); the cases run in parallel.
Every object is validated against the Kubernetes 1.29 and 1.34 schemas (strict: unknown
fields fail), then checked for what the API does not validate: Service selectors, nodePort
range, references to Secrets, ConfigMaps and claims, placement against the inventory's
taints, and passwords kept out of ConfigMaps, env values and the play's output.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from ansible_collections.kubeops.platform.plugins.module_utils._selectors import selector_match
from ansible_collections.kubeops.platform.plugins.module_utils._tolerations import untolerated_taints
from gitlab_playbook import DEFAULTS_PLAYBOOK, REPO_ROOT, start
import local_postgres
KUBERNETES_VERSIONS = ["1.29.0", "1.34.0"]
DEFAULT_NODE_PORT_RANGE = (30000, 32767)

GIVEN_ROOT_PASSWORD = "root-Pa55word-given"
GIVEN_REDIS_PASSWORD = "redis-Pa55word-given"

# case -> ansible-playbook arguments (before -e gitlab_render_dir=...)
CASES: dict[str, list[str]] = {
    "defaults": [str(DEFAULTS_PLAYBOOK)],
    "kind": ["-i", "inventories/kind", "playbooks/gitlab.yml"],
    "example": ["-i", "inventories/example", "playbooks/gitlab.yml"],
    # The example inventory with the notebook's shared claim, SAML, and passwords given as variables.
    "example-shared-saml": [
        "-i", "inventories/example", "playbooks/gitlab.yml",
        "-e", json.dumps({
            "gitlab_storage_mode": "shared",
            "gitlab_allow_database_on_nfs": True,
            "gitlab_saml_enabled": True,
            "gitlab_saml_idp_cert": "-----BEGIN CERTIFICATE-----\nMIICnTCCAYUCBgGAzOEFWTANBgkqhkiG9w0BAQsFADAS\n-----END CERTIFICATE-----\n",
            "gitlab_saml_extra_args": {"attribute_statements": {"email": ["mail"]}, "allowed_clock_drift": 5},
            "gitlab_root_password": GIVEN_ROOT_PASSWORD,
            "gitlab_redis_password": GIVEN_REDIS_PASSWORD,
        }),
    ],
    # Defaults with the other switches: placement off or replaced, an external Redis, a
    # LoadBalancer Service with nodePorts, no storage class.
    "overrides": [
        str(DEFAULTS_PLAYBOOK),
        "-e", json.dumps({
            "gitlab_middleware_node_key": "",
            "gitlab_app_tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gitlab", "effect": "NoExecute"}],
            "gitlab_app_affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "dedicated", "operator": "In", "values": ["gitlab"]}]}]}}},
            "gitlab_redis_enabled": False,
            "gitlab_redis_host": "redis.shared.svc",
            "gitlab_redis_password": GIVEN_REDIS_PASSWORD,
            "gitlab_service_type": "LoadBalancer",
            "gitlab_service_http_node_port": 32080,
            "gitlab_storage_class": "",
            "gitlab_network_policy_enabled": True,
        }),
    ],
}
INVENTORY_OF = {"kind": "kind", "example": "example", "example-shared-saml": "example"}


# --- running ansible-playbook -----------------------------------------------------------------


@dataclass
class Render:
    case: str
    directory: Path
    output: str
    objects: list[dict] = field(default_factory=list)
    secrets: list[dict] = field(default_factory=list)

    @property
    def manifest_file(self) -> Path:
        return self.directory / "gitlab.yml"

    @property
    def secrets_file(self) -> Path:
        return self.directory / "gitlab-secrets.yml"

    def passwords(self) -> dict[str, str]:
        return {s["metadata"]["name"]: base64.b64decode(s["data"]["password"]).decode() for s in self.secrets}

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        matches = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(matches) == 1, f"{self.case}: expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def workloads(self) -> list[dict]:
        return [o for o in self.objects if o["kind"] in ("Deployment", "Job")]


def run_render(case: str, directory: Path, extra: list[str] | None = None) -> subprocess.Popen[str]:
    return start([*CASES[case], "-e", f"gitlab_render_dir={directory}", *(extra or [])], directory.parent / "home")


def collect(case: str, directory: Path, process: subprocess.Popen[str]) -> Render:
    output = process.communicate(timeout=600)[0]
    if process.returncode != 0:
        pytest.fail(f"rendering {case} failed (exit {process.returncode}):\n{output[-4000:]}")
    render = Render(case, directory, output)
    render.objects = [d for d in yaml.safe_load_all(render.manifest_file.read_text()) if d]
    render.secrets = [d for d in yaml.safe_load_all(render.secrets_file.read_text()) if d]
    return render


# Runs that must fail: many bad values at once, and an external database without its password.
REJECTED_VALUES = {
    "gitlab_service_type": "NodePort",
    "gitlab_service_http_node_port": 38000,
    "gitlab_service_ssh_node_port": 38022,
    "gitlab_app_image_tag": "latest",
    "gitlab_redis_resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "gitlab_postgres_extensions": ["pg_trgm", "btree_gist"],
    "gitlab_saml_enabled": True,
    "gitlab_root_password": "short",
    "gitlab_app_resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "gitlab_puma_workers": 1,
    "gitlab_postgres_max_connections": 50,
    "gitlab_database_storage_class": "daocloud-nfs",
    "gitlab_redis_password": 'with "quotes"',
    "gitlab_postgres_admin_user": "gitlab",
}
EXTERNAL_WITHOUT_PASSWORD = {"gitlab_postgres_enabled": False, "gitlab_postgres_host": "db.example.com"}


@dataclass
class Failure:
    directory: Path
    returncode: int
    output: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Render | Failure]:
    """Every render of this module, started together and collected once."""
    started: dict[str, tuple[Path, subprocess.Popen[str]]] = {}
    for case in CASES:
        directory = tmp_path_factory.mktemp(case) / "out"
        started[case] = (directory, run_render(case, directory))
    for name, values in (("rejected", REJECTED_VALUES), ("external", EXTERNAL_WITHOUT_PASSWORD)):
        directory = tmp_path_factory.mktemp(name) / "out"
        started[name] = (directory, run_render("defaults", directory, ["-e", json.dumps(values)]))
    results: dict[str, Render | Failure] = {}
    for name, (directory, process) in started.items():
        if name in CASES:
            results[name] = collect(name, directory, process)
        else:
            output = process.communicate(timeout=600)[0]
            results[name] = Failure(directory, process.returncode, output)
    return results


@pytest.fixture(scope="module")
def renders(runs: dict[str, Render | Failure]) -> dict[str, Render]:
    return {case: runs[case] for case in CASES}


@pytest.fixture(params=list(CASES))
def render(request: pytest.FixtureRequest, renders: dict[str, Render]) -> Render:
    return renders[request.param]


# --- schema -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_the_kubernetes_schema(render: Render, version: str) -> None:
    errors = []
    for obj in render.objects + render.secrets:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")
    assert errors == []


def test_the_expected_objects_are_rendered(renders: dict[str, Render]) -> None:
    default = renders["defaults"]
    names = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in default.objects + default.secrets)
    job = default.of_kind("Job")[0]["metadata"]["name"]
    assert names == sorted([
        "Namespace/gitlab",
        "PersistentVolumeClaim/gitlab-data",
        "PersistentVolumeClaim/gitlab-redis-data",
        "PersistentVolumeClaim/gitlab-postgresql-data",
        "Service/gitlab-redis", "Deployment/gitlab-redis",
        "Service/gitlab-postgresql", "Deployment/gitlab-postgresql",
        f"Job/{job}",
        "ConfigMap/gitlab-omnibus-config", "Service/gitlab", "Deployment/gitlab",
        "Secret/gitlab-root-password", "Secret/gitlab-postgresql-password", "Secret/gitlab-redis-password",
        "Secret/gitlab-postgresql-admin-password", "Secret/gitlab-root-seed",
    ])
    shared = renders["example-shared-saml"].of_kind("PersistentVolumeClaim")
    assert [(c["metadata"]["name"], c["spec"]["accessModes"]) for c in shared] == [("gitlab-claim", ["ReadWriteMany"])]


def test_objects_are_in_apply_order(render: Render) -> None:
    order = [o["kind"] for o in render.objects]
    assert order.index("PersistentVolumeClaim") < order.index("Deployment")
    assert order.index("Job") < order.index("ConfigMap")
    assert [o["metadata"]["name"] for o in render.of_kind("Deployment")][-1] == "gitlab"


# --- semantics the API does not check -----------------------------------------------------------


def test_every_service_selects_only_its_own_pods(render: Render) -> None:
    for service in render.of_kind("Service"):
        selected = [
            f"{w['kind']}/{w['metadata']['name']}"
            for w in render.workloads()
            if selector_match(w["spec"]["template"]["metadata"]["labels"], service["spec"]["selector"])
        ]
        assert selected == [f"Deployment/{service['metadata']['name']}"], service["metadata"]["name"]


def test_every_deployment_selector_matches_its_pod_template(render: Render) -> None:
    for deployment in render.of_kind("Deployment"):
        assert selector_match(deployment["spec"]["template"]["metadata"]["labels"], deployment["spec"]["selector"])


def test_node_ports_lie_in_the_default_range(render: Render) -> None:
    low, high = DEFAULT_NODE_PORT_RANGE
    for service in render.of_kind("Service"):
        for port in service["spec"]["ports"]:
            if "nodePort" in port:
                assert service["spec"]["type"] in ("NodePort", "LoadBalancer")
                assert low <= port["nodePort"] <= high, f"{service['metadata']['name']}: {port}"


def test_the_example_exposes_gitlab_on_fixed_node_ports(renders: dict[str, Render]) -> None:
    service = renders["example"].get("Service", "gitlab")
    assert service["spec"]["type"] == "NodePort"
    assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]} == {"http": 30800, "ssh": 30822}
    config = renders["example"].get("ConfigMap", "gitlab-omnibus-config")["data"]["gitlab.rb"]
    assert "gitlab_rails['gitlab_shell_ssh_port'] = 30822" in config


def _pod_specs(render: Render) -> list[tuple[str, dict]]:
    return [(f"{w['kind']}/{w['metadata']['name']}", w["spec"]["template"]["spec"]) for w in render.workloads()]


def test_every_secret_configmap_and_claim_reference_resolves(render: Render) -> None:
    secrets = {s["metadata"]["name"]: s["data"] for s in render.secrets}
    configmaps = {c["metadata"]["name"]: c["data"] for c in render.of_kind("ConfigMap")}
    claims = {c["metadata"]["name"] for c in render.of_kind("PersistentVolumeClaim")}
    problems = []
    for where, pod in _pod_specs(render):
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume and volume["persistentVolumeClaim"]["claimName"] not in claims:
                problems.append(f"{where}: claim {volume['persistentVolumeClaim']['claimName']}")
            if "secret" in volume:
                keys = [item["key"] for item in volume["secret"].get("items", [])]
                if any(key not in secrets.get(volume["secret"]["secretName"], {}) for key in keys):
                    problems.append(f"{where}: volume {volume['name']} -> Secret {volume['secret']}")
        for container in pod.get("initContainers", []) + pod["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {})
                if "secretKeyRef" in ref and ref["secretKeyRef"]["key"] not in secrets.get(ref["secretKeyRef"]["name"], {}):
                    problems.append(f"{where}: {env['name']} -> Secret {ref['secretKeyRef']}")
                if "configMapKeyRef" in ref and ref["configMapKeyRef"]["key"] not in configmaps.get(ref["configMapKeyRef"]["name"], {}):
                    problems.append(f"{where}: {env['name']} -> ConfigMap {ref['configMapKeyRef']}")
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in {v["name"] for v in pod.get("volumes", [])}:
                    problems.append(f"{where}: mount of unknown volume {mount['name']}")
    assert problems == []


def _inventory_nodes(inventory: str) -> dict[str, dict]:
    """Node name -> {labels, taints} as inventories/<inventory>/group_vars/all/nodes.yml declares them."""
    data = yaml.safe_load((REPO_ROOT / "inventories" / inventory / "group_vars" / "all" / "nodes.yml").read_text())
    nodes: dict[str, dict] = {}
    for rule in data.get("nodes_labels", []):
        for name in rule.get("names", []):
            nodes.setdefault(name, {"labels": {}, "taints": []})["labels"].update(rule.get("labels") or {})
    for rule in data.get("nodes_taints", []):
        for name in rule.get("names", []):
            nodes.setdefault(name, {"labels": {}, "taints": []})["taints"].extend(rule.get("taints") or [])
    return nodes


def _requirement_met(labels: dict, expression: dict) -> bool:
    key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    raise AssertionError(f"operator {operator} not handled by this test")


def _schedulable_on(pod: dict, nodes: dict[str, dict]) -> list[str]:
    """Nodes whose labels satisfy the pod's required node affinity and whose hard taints it tolerates."""
    required = pod.get("affinity", {}).get("nodeAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    eligible = []
    for name, node in sorted(nodes.items()):
        if required and not any(
            all(_requirement_met(node["labels"], e) for e in term.get("matchExpressions", []))
            for term in required["nodeSelectorTerms"]
        ):
            continue
        hard = [t for t in untolerated_taints(pod.get("tolerations"), node["taints"]) if t["effect"] != "PreferNoSchedule"]
        if not hard:
            eligible.append(name)
    return eligible


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("example", {"redis": ["node03", "node04"], "postgresql": ["node03", "node04"],
                     "gitlab": ["node05", "node06"], "init": ["node05", "node06"]}),
        ("example-shared-saml", {"redis": ["node03", "node04"], "postgresql": ["node03", "node04"],
                                 "gitlab": ["node05", "node06"], "init": ["node05", "node06"]}),
        ("kind", {"redis": ["kind-worker"], "postgresql": ["kind-worker"],
                  "gitlab": ["kind-worker2"], "init": ["kind-worker2"]}),
    ],
)
def test_pods_tolerate_the_taints_of_their_inventory_nodes(renders: dict[str, Render], case: str, expected: dict) -> None:
    nodes = _inventory_nodes(INVENTORY_OF[case])
    placed = {
        w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]: _schedulable_on(w["spec"]["template"]["spec"], nodes)
        for w in renders[case].workloads()
    }
    assert placed == expected


def test_default_placement_keeps_pods_off_unprepared_nodes(renders: dict[str, Render]) -> None:
    bare = {"plain-node": {"labels": {}, "taints": []}}
    for _kind, pod in _pod_specs(renders["defaults"]):
        assert _schedulable_on(pod, bare) == []


def test_placement_can_be_switched_off_or_replaced(renders: dict[str, Render]) -> None:
    render = renders["overrides"]
    postgres = render.get("Deployment", "gitlab-postgresql")["spec"]["template"]["spec"]
    assert "affinity" not in postgres and "tolerations" not in postgres
    nodes = {
        "plain": {"labels": {}, "taints": []},
        "dedicated": {"labels": {"dedicated": "gitlab"}, "taints": ["dedicated=gitlab:NoExecute"]},
        "application": {"labels": {"gitlab/application": ""}, "taints": ["gitlab/application:NoSchedule"]},
    }
    assert _schedulable_on(postgres, nodes) == ["plain"]
    assert _schedulable_on(render.get("Deployment", "gitlab")["spec"]["template"]["spec"], nodes) == ["dedicated"]
    assert _schedulable_on(render.of_kind("Job")[0]["spec"]["template"]["spec"], nodes) == ["application"]


def test_an_external_redis_replaces_the_bundled_one(renders: dict[str, Render]) -> None:
    render = renders["overrides"]
    assert not [o for o in render.objects if "redis" in o["metadata"]["name"]]
    config = render.get("ConfigMap", "gitlab-omnibus-config")["data"]["gitlab.rb"]
    assert "gitlab_rails['redis_host'] = 'redis.shared.svc'" in config.splitlines()
    assert render.passwords()["gitlab-redis-password"] == GIVEN_REDIS_PASSWORD
    assert "storageClassName" in render.of_kind("PersistentVolumeClaim")[0]["spec"]
    assert render.of_kind("PersistentVolumeClaim")[0]["spec"]["storageClassName"] == ""
    service = render.get("Service", "gitlab")
    assert service["spec"]["type"] == "LoadBalancer"
    assert [p.get("nodePort") for p in service["spec"]["ports"]] == [32080, None]


def test_no_password_in_configmaps_env_values_or_play_output(render: Render) -> None:
    passwords = render.passwords()
    # Root, GitLab's database role, the database superuser, Redis, and the copy of the root one
    # for GitLab's first start.
    assert len(passwords) == 5 and all(len(p) >= 16 for p in passwords.values())
    assert passwords["gitlab-root-seed"] == passwords["gitlab-root-password"]
    manifests = render.manifest_file.read_text()
    for name, password in passwords.items():
        assert password not in manifests, f"{name}'s password appears in {render.manifest_file.name}"
        assert password not in render.output, f"{name}'s password appears in the play's output"
    for _kind, pod in _pod_specs(render):
        for container in pod.get("initContainers", []) + pod["containers"]:
            for env in container.get("env", []):
                if re.search(r"PASS|AUTH|SECRET|TOKEN", env["name"]):
                    assert "valueFrom" in env and "secretKeyRef" in env["valueFrom"], f"{container['name']}: {env['name']}"
            # Scripts may hand a variable to a program's environment ("PGPASSWORD=$X psql"), never
            # a value to its arguments, where ps shows it: no --requirepass, no $(VAR) expansion.
            command_line = " ".join(container.get("command", []) + container.get("args", []))
            assert not re.search(r"requirepass|\$\(|--password", command_line), f"{container['name']}: {command_line}"


def test_redis_reads_its_password_from_a_config_file_in_its_secret(render: Render) -> None:
    if not render.of_kind("Deployment") or "gitlab-redis" not in {d["metadata"]["name"] for d in render.of_kind("Deployment")}:
        pytest.skip("Redis runs outside the role here")
    redis = _container(render, "Deployment", "gitlab-redis", "redis")
    assert redis["args"][:2] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    assert {"name": "config", "mountPath": "/usr/local/etc/redis", "readOnly": True} in redis["volumeMounts"]
    secret = next(s for s in render.secrets if s["metadata"]["name"] == "gitlab-redis-password")
    password = base64.b64decode(secret["data"]["password"]).decode()
    assert base64.b64decode(secret["data"]["redis.conf"]).decode() == f'requirepass "{password}"\n'


def test_the_root_password_is_a_file_for_the_seed_not_an_environment_variable(render: Render) -> None:
    gitlab = _container(render, "Deployment", "gitlab", "gitlab")
    assert "GITLAB_ROOT_PASSWORD" not in {e["name"] for e in gitlab["env"]}
    # GitLab's pod mounts a copy made for the seed, optional: once the copy is deleted the
    # directory is empty, gitlab.rb skips it, and the pod template (so the pod) stays the same.
    volumes = {v["name"]: v for v in render.get("Deployment", "gitlab")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["initial-root-password"]["secret"] == {
        "secretName": "gitlab-root-seed", "items": [{"key": "password", "path": "password"}], "defaultMode": 0o400,
        "optional": True}
    config = render.get("ConfigMap", "gitlab-omnibus-config")["data"]["gitlab.rb"]
    assert ("gitlab_rails['initial_root_password'] = File.read(initial_root_password_file) if "
            "File.exist?(initial_root_password_file)") in config
    assert "initial_root_password_file = '/run/secrets/gitlab-initial-root/password'" in config
    secrets = {s["metadata"]["name"]: s for s in render.secrets}
    assert "first seeds its database" in secrets["gitlab-root-password"]["metadata"]["annotations"]["kubeops.platform/password-use"]
    assert secrets["gitlab-root-seed"]["data"] == secrets["gitlab-root-password"]["data"]


def test_once_gitlab_has_seeded_its_database_the_copy_for_the_seed_is_not_made_again(
        renders: dict[str, Render], tmp_path_factory: pytest.TempPathFactory) -> None:
    # The root Secret kept, its copy gone (deleted after GitLab's first start): nothing brings the
    # copy back, and no other manifest changes, so GitLab is not restarted.
    first = renders["defaults"]
    directory = tmp_path_factory.mktemp("seeded") / "out"
    directory.mkdir()
    (directory / first.manifest_file.name).write_text(first.manifest_file.read_text())
    kept = [s for s in first.secrets if s["metadata"]["name"] != "gitlab-root-seed"]
    (directory / first.secrets_file.name).write_text(yaml.safe_dump_all(kept))
    seeded = collect("defaults", directory, run_render("defaults", directory))
    assert sorted(s["metadata"]["name"] for s in seeded.secrets) == [
        "gitlab-postgresql-admin-password", "gitlab-postgresql-password", "gitlab-redis-password", "gitlab-root-password"]
    assert seeded.manifest_file.read_text() == first.manifest_file.read_text()


def test_a_new_password_rolls_the_pods_that_read_it(renders: dict[str, Render]) -> None:
    def checksums(render: Render) -> dict[str, str]:
        return {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"]["checksum/credentials"]
                for d in render.of_kind("Deployment") if d["metadata"]["name"] in ("gitlab", "gitlab-redis")}

    generated, given = checksums(renders["example"]), checksums(renders["example-shared-saml"])
    assert set(generated) == {"gitlab", "gitlab-redis"}
    assert generated["gitlab-redis"] != given["gitlab-redis"] and generated["gitlab"] != given["gitlab"]
    for render in renders.values():
        for value in checksums(render).values():
            assert all(password not in value for password in render.passwords().values())


def test_the_secrets_file_is_readable_by_its_owner_only(render: Render) -> None:
    assert render.secrets_file.stat().st_mode & 0o077 == 0


# --- workloads ----------------------------------------------------------------------------------


def _container(render: Render, kind: str, name: str, container: str) -> dict:
    pod = render.get(kind, name)["spec"]["template"]["spec"]
    return next(c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == container)


def _version(image: str) -> tuple[int, ...]:
    tag = image.rsplit(":", 1)[1]
    return tuple(int(part) for part in re.match(r"^(\d+(?:\.\d+)*)", tag).group(1).split("."))


def test_images_are_pinned_to_versions_gitlab_supports(render: Render) -> None:
    images = {c["image"] for _kind, pod in _pod_specs(render) for c in pod.get("initContainers", []) + pod["containers"]}
    assert all(":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest") for image in images), images
    assert _version(_container(render, "Deployment", "gitlab-postgresql", "postgresql")["image"]) >= (16,)
    redis_images = {c["image"] for _kind, pod in _pod_specs(render) for c in pod.get("initContainers", []) + pod["containers"]
                    if c["image"].rsplit("/", 1)[-1].startswith("redis:")}
    assert redis_images and all(_version(image) >= (7, 2) for image in redis_images)
    assert re.search(r":\d+\.\d+\.\d+-ce\.0$", _container(render, "Deployment", "gitlab", "gitlab")["image"])


def test_the_example_pulls_from_the_private_registry(renders: dict[str, Render]) -> None:
    images = {c["image"] for _kind, pod in _pod_specs(renders["example"]) for c in pod.get("initContainers", []) + pod["containers"]}
    assert all(image.startswith("10.29.3.30:30004/gitlab/") for image in images), images


def test_pods_run_hardened_and_the_databases_as_their_images_users(render: Render) -> None:
    for where, pod in _pod_specs(render):
        assert pod["automountServiceAccountToken"] is False, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
    for name in ("gitlab-redis", "gitlab-postgresql"):
        if not any(d["metadata"]["name"] == name for d in render.of_kind("Deployment")):
            continue
        pod = render.get("Deployment", name)["spec"]["template"]["spec"]
        assert {k: pod["securityContext"][k] for k in ("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup")} \
            == {"runAsUser": 999, "runAsGroup": 999, "runAsNonRoot": True, "fsGroup": 999}
        assert pod["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    for job in render.of_kind("Job"):
        assert job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    gitlab = render.get("Deployment", "gitlab")["spec"]["template"]["spec"]
    assert all(c["securityContext"]["runAsNonRoot"] for c in gitlab["initContainers"])


def test_the_example_keeps_the_databases_off_nfs(renders: dict[str, Render]) -> None:
    classes = {c["metadata"]["name"]: c["spec"]["storageClassName"] for c in renders["example"].of_kind("PersistentVolumeClaim")}
    assert classes == {"gitlab-data": "daocloud-nfs", "gitlab-redis-data": "local-path", "gitlab-postgresql-data": "local-path"}


def test_the_network_policy_admits_only_gitlab_and_the_init_job(renders: dict[str, Render]) -> None:
    assert renders["defaults"].of_kind("NetworkPolicy") == []
    render = renders["overrides"]  # policy on; Redis runs outside the role there
    (policy,) = render.of_kind("NetworkPolicy")
    postgres_pod = render.get("Deployment", "gitlab-postgresql")["spec"]["template"]["metadata"]["labels"]
    assert selector_match(postgres_pod, policy["spec"]["podSelector"])
    peers = policy["spec"]["ingress"][0]["from"][0]["podSelector"]
    admitted = [w["metadata"]["name"] for w in render.workloads()
                if selector_match(w["spec"]["template"]["metadata"]["labels"], peers)]
    assert sorted(admitted) == sorted(["gitlab"] + [j["metadata"]["name"] for j in render.of_kind("Job")])
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": "postgresql", "protocol": "TCP"}]


def test_stateful_workloads_never_run_two_pods_on_one_volume(render: Render) -> None:
    for deployment in render.of_kind("Deployment"):
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_middleware_probes_use_their_own_clients(render: Render) -> None:
    if render.of_kind("Deployment")[0]["metadata"]["name"] == "gitlab-redis":
        redis = _container(render, "Deployment", "gitlab-redis", "redis")
        assert "redis-cli" in " ".join(redis["readinessProbe"]["exec"]["command"])
        assert "redis-cli" in " ".join(redis["livenessProbe"]["exec"]["command"])
    postgres = _container(render, "Deployment", "gitlab-postgresql", "postgresql")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert postgres[probe]["exec"]["command"][0] == "pg_isready"


def test_gitlab_probes_work_from_the_kubelet_and_allow_a_long_first_start(render: Render) -> None:
    gitlab = _container(render, "Deployment", "gitlab", "gitlab")
    startup = gitlab["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 15 * 60
    config = render.get("ConfigMap", "gitlab-omnibus-config")["data"]["gitlab.rb"]
    whitelist = re.search(r"monitoring_whitelist'\] = \[(.*)\]", config).group(1)
    # The health endpoints answer monitoring_whitelist only: the probes ask from inside the pod.
    assert "'127.0.0.0/8'" in whitelist
    for probe, path in (("readinessProbe", "/-/readiness"), ("livenessProbe", "/-/liveness"), ("startupProbe", "/-/liveness")):
        url = gitlab[probe]["exec"]["command"][-1]
        assert re.fullmatch(rf"http://127\.0\.0\.1:\d+{re.escape(path)}", url), url


def test_gitlab_keeps_whole_directories_and_a_memory_shm(render: Render) -> None:
    pod = render.get("Deployment", "gitlab")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in _container(render, "Deployment", "gitlab", "gitlab")["volumeMounts"]}
    assert {"/etc/gitlab", "/var/opt/gitlab", "/dev/shm"} <= set(mounts)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "persistentVolumeClaim" in volumes[mounts["/etc/gitlab"]["name"]]
    assert "persistentVolumeClaim" in volumes[mounts["/var/opt/gitlab"]["name"]]
    assert volumes[mounts["/dev/shm"]["name"]]["emptyDir"]["medium"] == "Memory"


def test_gitlab_waits_for_postgres_and_redis_before_starting(render: Render) -> None:
    pod = render.get("Deployment", "gitlab")["spec"]["template"]["spec"]
    scripts = " ".join(" ".join(c["command"]) for c in pod["initContainers"])
    assert "pg_isready" in scripts and "redis-cli" in scripts


def test_omnibus_config_disables_bundled_services_and_reads_passwords_from_env(render: Render) -> None:
    config = render.get("ConfigMap", "gitlab-omnibus-config")["data"]["gitlab.rb"]
    for line in ("postgresql['enable'] = false", "redis['enable'] = false", "prometheus_monitoring['enable'] = false",
                 "gitlab_rails['db_password'] = ENV['GITLAB_DB_PASSWORD']",
                 "gitlab_rails['redis_password'] = ENV['GITLAB_REDIS_PASSWORD']",
                 ):
        assert line in config.splitlines()


def _omnibus_settings(render: Render) -> dict[str, str]:
    """The plain `key['name'] = value` lines of the rendered gitlab.rb."""
    config = render.get("ConfigMap", "gitlab-omnibus-config")["data"]["gitlab.rb"]
    return dict(re.findall(r"^(\w+\['\w+'\]) = (.+)$", config, re.MULTILINE))


# case -> (Puma workers, threads, Sidekiq concurrency, PostgreSQL max_connections). GitLab's guidance:
# Puma single mode below ~4 GB and at least 2 workers in clustered mode, about 1 GB per worker and at
# most one per CPU, Sidekiq concurrency 10 when memory-constrained (20 by default); the database
# must allow 2 x (Puma processes x (threads + 10) + concurrency + 11) connections.
SIZING = {
    "defaults": ("0", "4", "10", 100),      # 1 CPU, 4Gi: 2 x (14 + 21) = 70 connections
    "kind": ("0", "4", "10", 100),          # 2 CPUs, 4Gi
    "example": ("4", "4", "20", 200),       # 4 CPUs, 8Gi: 5 workers fit, 4 CPUs; 2 x (4 x 14 + 31) = 174
}


@pytest.mark.parametrize("case", list(SIZING))
def test_gitlab_is_sized_for_its_container_not_the_node(renders: dict[str, Render], case: str) -> None:
    render = renders[case]
    workers, threads, concurrency, max_connections = SIZING[case]
    settings = _omnibus_settings(render)
    assert (settings["puma['worker_processes']"], settings["puma['max_threads']"], settings["sidekiq['concurrency']"]) \
        == (workers, threads, concurrency)
    processes = max(int(workers), 1)
    needed = 2 * (processes * (int(threads) + 10) + int(concurrency) + 11)
    postgres = _container(render, "Deployment", "gitlab-postgresql", "postgresql")
    assert postgres["args"] == ["-c", f"max_connections={max_connections}"]
    assert max_connections >= needed + 20
    memory_constrained = workers == "0"
    assert ("MALLOC_CONF" in settings.get("gitlab_rails['env']", "")) == memory_constrained


def test_logs_fit_their_volume(render: Render) -> None:
    settings = _omnibus_settings(render)
    size_mb = int(settings["logging['svlogd_size']"].split(" * ")[0])
    files = int(settings["logging['svlogd_num']"])
    assert (settings["logging['logrotate_size']"], int(settings["logging['logrotate_rotate']"])) == (f"'{size_mb}M'", files)
    volume = next(v for v in render.get("Deployment", "gitlab")["spec"]["template"]["spec"]["volumes"] if v["name"] == "logs")
    limit_mb = int(volume["emptyDir"]["sizeLimit"].removesuffix("Gi")) * 1024
    assert 20 * (files + 1) * size_mb <= limit_mb  # about 20 services log there


def test_saml_is_rendered_only_when_enabled(renders: dict[str, Render]) -> None:
    assert "omniauth" not in renders["example"].get("ConfigMap", "gitlab-omnibus-config")["data"]["gitlab.rb"]
    config = renders["example-shared-saml"].get("ConfigMap", "gitlab-omnibus-config")["data"]["gitlab.rb"]
    assert "gitlab_rails['omniauth_allow_single_sign_on'] = ['saml']" in config
    assert "idp_sso_target_url: 'http://10.29.3.30:30035/auth/realms/dx-arch/protocol/saml/clients/gitlab'," in config
    assert "idp_cert: '-----BEGIN CERTIFICATE-----\nMIICnTCCAYUCBgGAzOEFWTANBgkqhkiG9w0BAQsFADAS\n-----END CERTIFICATE-----\n'," in config
    assert "attribute_statements: { email: ['mail'] }," in config
    assert "label: 'DX-ARCH'," in config


def test_the_config_checksum_follows_the_rendered_config_only(renders: dict[str, Render]) -> None:
    for render in renders.values():
        config = render.get("ConfigMap", "gitlab-omnibus-config")["data"]["gitlab.rb"]
        annotations = render.get("Deployment", "gitlab")["spec"]["template"]["metadata"]["annotations"]
        assert annotations["checksum/config"] == hashlib.sha256(config.encode()).hexdigest()
    checksums = {r.get("Deployment", "gitlab")["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for r in renders.values()}
    assert len(checksums) == len(renders)


def test_the_init_job_is_named_after_a_hash_of_its_manifest(render: Render) -> None:
    job = render.of_kind("Job")[0]
    name = job["metadata"]["name"]
    assert re.fullmatch(r"gitlab-init-[0-9a-f]{10}", name)
    unnamed = json.loads(json.dumps(job))
    unnamed["metadata"]["name"] = "gitlab-init"
    assert name.endswith(hashlib.sha256(json.dumps(unnamed, sort_keys=True).encode()).hexdigest()[:10])


def test_the_init_job_waits_creates_the_extensions_and_exits(render: Render) -> None:
    job = render.of_kind("Job")[0]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["activeDeadlineSeconds"] > 0
    assert "redis-cli" in " ".join(pod["initContainers"][0]["command"])
    script = pod["containers"][0]["command"][-1]
    assert "until pg_isready" in script
    for extension in ("pg_trgm", "btree_gist", "amcheck"):
        assert f'CREATE EXTENSION IF NOT EXISTS "{extension}";' in script
    # Not the GitLab image's entrypoint: that one never exits.
    assert "gitlab-ce" not in pod["containers"][0]["image"]
    # The superuser's password is for this Job alone; GitLab gets only its own role's.
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["ADMIN_USER"]["value"] == "postgres" and env["APP_USER"]["value"] == "gitlab"
    assert env["ADMIN_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "gitlab-postgresql-admin-password"
    assert env["APP_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "gitlab-postgresql-password"
    postgres = _container(render, "Deployment", "gitlab-postgresql", "postgresql")
    postgres_env = {e["name"]: e for e in postgres["env"]}
    assert postgres_env["POSTGRES_USER"]["value"] == "postgres"
    assert postgres_env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "gitlab-postgresql-admin-password"
    gitlab_env = json.dumps(_container(render, "Deployment", "gitlab", "gitlab")["env"])
    assert "gitlab-postgresql-admin-password" not in gitlab_env


# --- runs that change inputs ------------------------------------------------------------------------


def test_a_second_render_reuses_the_passwords_and_changes_nothing(renders: dict[str, Render]) -> None:
    first = renders["defaults"]
    before = {p: p.read_text() for p in (first.manifest_file, first.secrets_file)}
    second = collect("defaults", first.directory, run_render("defaults", first.directory))
    assert {p: p.read_text() for p in before} == before
    assert second.passwords() == first.passwords()
    assert re.search(r"changed=0\b", second.output), second.output[-2000:]


@pytest.mark.parametrize(
    ("values", "refusal"),
    [
        ({"gitlab_root_password": "another-root-password"},
         "gitlab_root_password differs from the initial root password kept in Secret gitlab/gitlab-root-password"),
        ({"gitlab_postgres_password": "another-db-password"},
         "gitlab_postgres_password differs from the password kept in Secret gitlab/gitlab-postgresql-password"),
        ({"gitlab_postgres_password": "another-db-password", "gitlab_postgres_password_rotated": True}, None),
        ({"gitlab_postgres_admin_password": "another-admin-password"},
         "gitlab_postgres_admin_password differs from the password kept in Secret gitlab/gitlab-postgresql-admin-password"),
        ({"gitlab_redis_password": "another-redis-password"}, None),
    ],
    ids=["root", "postgres", "postgres-rotated", "postgres-admin", "redis"],
)
def test_a_kept_password_changes_only_where_the_change_reaches_its_server(
        renders: dict[str, Render], tmp_path_factory: pytest.TempPathFactory, values: dict, refusal: str | None) -> None:
    # A short directory: Ansible's local RPC socket lives under it, and socket paths are limited to 107 bytes.
    directory = tmp_path_factory.mktemp("pw") / "out"
    directory.mkdir()
    for path in (renders["defaults"].manifest_file, renders["defaults"].secrets_file):
        (directory / path.name).write_text(path.read_text())
    process = run_render("defaults", directory, ["-e", json.dumps(values)])
    if refusal is None:
        changed = collect("defaults", directory, process)
        name = next(iter(values))
        assert changed.passwords()[f"gitlab-{'postgresql' if 'postgres' in name else 'redis'}-password"] == values[name]
        return
    output = process.communicate(timeout=600)[0]
    assert process.returncode != 0 and refusal in output, output[-3000:]
    assert (directory / "gitlab-secrets.yml").read_text() == renders["defaults"].secrets_file.read_text()
    assert all(password not in output for password in renders["defaults"].passwords().values())


def test_given_passwords_are_used(renders: dict[str, Render]) -> None:
    render = renders["example-shared-saml"]
    assert render.passwords()["gitlab-root-password"] == GIVEN_ROOT_PASSWORD
    assert render.passwords()["gitlab-redis-password"] == GIVEN_REDIS_PASSWORD
    assert render.passwords()["gitlab-postgresql-password"] not in (GIVEN_ROOT_PASSWORD, GIVEN_REDIS_PASSWORD)


def test_rejected_values_stop_the_role_before_anything_is_written(runs: dict[str, Render | Failure]) -> None:
    for name in ("rejected", "external"):
        assert runs[name].returncode != 0
        assert not runs[name].directory.exists()


@pytest.mark.parametrize(
    "message",
    [
        "gitlab_service_http_node_port 38000 is outside the cluster's NodePort range 30000-32767: the API server would reject the Service",
        "gitlab_service_ssh_node_port 38022 is outside the cluster's NodePort range 30000-32767",
        "gitlab_app_image_tag 'latest' is not a pinned version",
        "gitlab_redis_resources: the cpu request 2 is above its limit 1",
        "gitlab_postgres_extensions lacks amcheck, which GitLab requires",
        "gitlab_postgres_admin_user and gitlab_postgres_user are both 'gitlab': GitLab must not connect as the database superuser",
        "gitlab_saml_enabled needs gitlab_saml_idp_sso_target_url",
        "gitlab_root_password is shorter than 8 characters",
        "gitlab_app_resources: the memory limit 2Gi is below 3Gi, the least GitLab runs in",
        "gitlab_puma_workers 1: GitLab's clustered mode needs at least 2 workers; use 0 for single mode",
        "gitlab_postgres_max_connections 50 is below the 70 connections GitLab opens with 1 Puma workers of 4 threads",
        "PostgreSQL and Redis would keep their data on NFS or a shared volume (their storage class is daocloud-nfs)",
        "gitlab_redis_password must not contain a double quote or a backslash",
    ],
)
def test_bad_values_are_rejected_with_the_rule_they_break(runs: dict[str, Render | Failure], message: str) -> None:
    assert message in runs["rejected"].output


def test_an_external_database_needs_its_password(runs: dict[str, Render | Failure]) -> None:
    assert (
        "postgres run outside this role (gitlab_*_enabled is false): set gitlab_postgres_password to the password"
        in runs["external"].output
    )


# --- documentation --------------------------------------------------------------------------------


def test_every_variable_is_specified_defaulted_and_documented() -> None:
    role = REPO_ROOT / "roles" / "gitlab"
    specified = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    readme = (role / "README.md").read_text()
    assert sorted(specified) == sorted(defaults)
    assert [name for name in specified if f"| `{name}` |" not in readme] == []
    for name, spec in specified.items():
        if "default" in spec:
            assert spec["default"] == defaults[name], name


# --- the init Job's SQL, run by a real PostgreSQL -------------------------------------------------


def _run_init_script(render: Render, server: local_postgres.Server) -> subprocess.CompletedProcess:
    """The prepare-database container's script, with its environment resolved as the kubelet would."""
    container = render.of_kind("Job")[0]["spec"]["template"]["spec"]["containers"][0]
    secrets = render.passwords()
    env = {e["name"]: e["value"] if "value" in e else secrets[e["valueFrom"]["secretKeyRef"]["name"]]
           for e in container["env"]}
    env.update(PGHOST="127.0.0.1", PGPORT=str(server.port), PATH=os.environ["PATH"])
    return subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(local_postgres.missing() is not None, reason=str(local_postgres.missing()))
@pytest.mark.parametrize("initialised_as", ["postgres", "gitlab"], ids=["new-database", "earlier-role-version"])
def test_the_init_job_leaves_gitlab_an_ordinary_role_that_owns_its_database(
        renders: dict[str, Render], initialised_as: str) -> None:
    # A data directory the postgres image initialised with POSTGRES_USER=postgres (this role), or with
    # POSTGRES_USER=gitlab (earlier versions of it, where GitLab connected as the superuser).
    render = renders["defaults"]
    passwords = render.passwords()
    admin, app = passwords["gitlab-postgresql-admin-password"], passwords["gitlab-postgresql-password"]
    server = local_postgres.Server(initialised_as, admin if initialised_as == "postgres" else app, "gitlabhq_production")
    try:
        for attempt in ("first", "again"):
            result = _run_init_script(render, server)
            assert result.returncode == 0, f"{attempt} run:\n{result.stdout}\n{result.stderr}"
            assert "database prepared" in result.stdout
        assert admin not in result.stdout + result.stderr and app not in result.stdout + result.stderr
        as_gitlab = server.psql("gitlab", app, "gitlabhq_production", "SELECT rolsuper, rolcreaterole, rolcreatedb "
                                "FROM pg_roles WHERE rolname = current_user")
        assert as_gitlab == "f|f|f", "GitLab's role is an ordinary one"
        owner = server.psql("postgres", admin, "gitlabhq_production",
                            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
        assert owner == "gitlab"
        assert server.psql("postgres", admin, "gitlabhq_production", "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "t"
        extensions = server.psql("gitlab", app, "gitlabhq_production", "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension")
        assert extensions == "amcheck,btree_gist,pg_trgm,plpgsql"
        # What GitLab's migrations do: create tables in the public schema.
        server.psql("gitlab", app, "gitlabhq_production", "CREATE TABLE schema_migrations (version text); DROP TABLE schema_migrations")
    finally:
        server.stop()
