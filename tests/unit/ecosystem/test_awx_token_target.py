"""Integration target awx_token, run end to end against the RBAC-enforcing API server.

The target normally runs on the cluster `make integration` reaches. Here the same role runs
against rbac_cluster.py's server with an administrator's kubeconfig: the ServiceAccounts, roles
and bindings it creates are stored and then enforced, TokenRequests issue tokens for the stored
accounts, and the fake controllers run the workloads. So the target's own logic (renaming the
manifests, the token-only runs, the refusals it expects, its cleanup) is tested without a cluster.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from fake_k8s import Reply
from rbac_cluster import BIN, JSON, REPO_ROOT, ClusterLoop, RbacApiServer, collections_path, grants, serve

TARGETS = REPO_ROOT / "tests" / "integration" / "targets"
ADMIN_TOKEN = "admin-token-for-the-awx-token-target"
TOKEN_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/serviceaccounts/([^/?]+)/token$")
RBAC_KINDS = [("v1", "ServiceAccount", "serviceaccounts", True),
              ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
              ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
              ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True)]


class ClusterRbac(RbacApiServer):
    """RBAC from the stored ServiceAccounts, roles and bindings; the administrator may do anything."""

    def __init__(self):
        super().__init__([])
        for spec in RBAC_KINDS:
            self.register_kind(*spec)
        self.tokens[ADMIN_TOKEN] = "kubernetes-admin"

    def respond(self, method, target, headers, body):
        authorization = next((value for name, value in headers if name.lower() == "authorization"), "")
        if authorization == f"Bearer {ADMIN_TOKEN}":
            match = TOKEN_PATH.match(target.split("?")[0])
            if method == "POST" and match:
                return self._token_request(*match.groups())
            return super(RbacApiServer, self).respond(method, target, headers, body)
        with self._lock:
            stored = [obj for obj in self.objects.values() if obj.get("kind") in {k for _g, k, _p, _n in RBAC_KINDS}]
            self.grants = grants(stored)
        return super().respond(method, target, headers, body)

    def _token_request(self, namespace: str, name: str) -> Reply:
        account = self.get("ServiceAccount", name, namespace)
        if account is None:
            return Reply(404, "Not Found", JSON, json.dumps({"kind": "Status", "code": 404, "reason": "NotFound",
                                                             "message": f'serviceaccounts "{name}" not found'}).encode())
        token = self.issue_token(account)
        return Reply(201, "Created", JSON, json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                                       "status": {"token": token}}).encode())


@pytest.fixture(scope="module")
def target_run(tmp_path_factory):
    api = ClusterRbac()
    for name in ("node-1", "node-2"):
        api.node(name)
    home = tmp_path_factory.mktemp("awx-target")
    server, url, ca_file = serve(api, home / "pki")
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "admin",
        "clusters": [{"name": "fake", "cluster": {"server": url, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "admin", "user": {"token": ADMIN_TOKEN}}],
        "contexts": [{"name": "admin", "context": {"cluster": "fake", "user": "admin"}}]}))
    (home / "inventory").write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (home / "play.yml").write_text(yaml.safe_dump([{"name": "Integration target awx_token", "hosts": "localhost",
                                                    "gather_facts": True, "roles": ["awx_token"]}]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "AWX_"))}
    env.update(KUBECONFIG=str(kubeconfig), HOME=str(home), TMPDIR=str(home), ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_ROLES_PATH=str(TARGETS), ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}")
    try:
        with ClusterLoop(api, ("node-1", "node-2")) as loop:
            result = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(home / "inventory"), str(home / "play.yml")],
                                    env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1500, check=False)
    finally:
        server.shutdown()
    assert loop.error is None, loop.error
    return api, result


def test_the_target_passes(target_run):
    _api, result = target_run
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", result.stdout)
    assert recap, result.stdout[-3000:]


def test_the_refusals_came_from_the_smaller_accounts(target_run):
    api, _result = target_run
    refused = {(user.rsplit(":", 1)[1], attrs.verb, attrs.full_resource) for user, attrs in api.refused}
    assert ("kubeops-taint", "get", "deployments") in refused
    assert ("kubeops-eureka", "get", "namespaces") in refused
    assert all(account in {"kubeops-taint", "kubeops-eureka", "kubeops-doctor"} for account, _v, _r in refused), refused


def test_the_target_leaves_nothing_behind(target_run):
    api, _result = target_run
    left = sorted(f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
                  for obj in api.objects.values()
                  if obj["kind"] != "Node" and obj["kind"] != "Event"
                  and (obj["metadata"].get("namespace", "").startswith("awx-token")
                       or obj["metadata"]["name"].startswith(("awx-token", "kubeops-"))))
    assert left == []
    for name in ("node-1", "node-2"):
        node = api.get("Node", name)
        assert not [k for k in node["metadata"].get("labels", {}) if k.startswith("kubeops-awx-token/")]
        assert not [t for t in node["spec"].get("taints") or [] if t["key"].startswith("kubeops-awx-token/")]
