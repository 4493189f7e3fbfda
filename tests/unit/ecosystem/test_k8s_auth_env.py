"""kubernetes.core and kubeops.platform side by side under only the AWX credential variables.

The playbook of integration target awx_token (files/side_by_side.yml: a kubernetes.core.k8s_info
and a kubeops.platform.label task) runs against the RBAC-enforcing API server over HTTPS with only
K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_SSL_CA_CERT and K8S_AUTH_VERIFY_SSL set. Each variable
is shown to count, for both collections alike: the token authenticates both (and a wrong one
fails both), the CA is what both verify the server with (another CA fails both), and
K8S_AUTH_VERIFY_SSL=false turns verification off for both.
"""

from __future__ import annotations

import pytest

from rbac_cluster import (
    REPO_ROOT,
    RbacApiServer,
    credential_environment,
    run_playbook,
    serve,
    service_accounts,
    username,
    write_pki,
    write_inventory,
)
from rbac_table import load_manifests

PLAYBOOK = REPO_ROOT / "tests" / "integration" / "targets" / "awx_token" / "files" / "side_by_side.yml"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    docs = load_manifests()
    api = RbacApiServer(docs)
    api.node("node-1")
    home = tmp_path_factory.mktemp("credential")
    server, url, ca_file = serve(api, home / "pki")
    other_ca, _context = write_pki(home / "other-pki")
    account = service_accounts(docs)["playbooks/label.yml"]
    yield {"api": api, "url": url, "ca": ca_file, "other_ca": other_ca, "home": home, "account": account,
           "token": api.issue_token(account), "inventory": write_inventory(home)}
    server.shutdown()


def _run(cluster, token=None, ca=None, verify="true", expect_failure=False):
    env = credential_environment(cluster["home"], cluster["url"], token or cluster["token"], ca or cluster["ca"], verify)
    api = cluster["api"]
    seen = len(api.granted)
    run = run_playbook(api, PLAYBOOK, env, cluster["inventory"], {"node": "node-1", "expect_failure": expect_failure})
    agents = {request.headers.get("user-agent", [""])[0].split("/")[0] for request in run.requests}
    users = {user for user, *_rest in api.granted[seen:]}
    return run, agents, users


def test_both_authenticate_with_the_token_and_verify_with_the_ca(cluster):
    run, agents, users = _run(cluster)
    assert run.returncode == 0, run.output[-3000:]
    # Both collections' requests reached the server as the ServiceAccount.
    assert {"kubeops.platform", "OpenAPI-Generator"} <= agents, agents
    assert users == {username(cluster["account"])}
    assert run.writes() == [], "the label task runs in check mode"


def test_a_wrong_token_fails_both(cluster):
    run, _agents, users = _run(cluster, token="not-a-token", expect_failure=True)
    assert run.returncode == 0, run.output[-3000:]  # the playbook asserts that both tasks failed
    assert users == set()
    assert run.output.count("Unauthorized") >= 2, run.output[-3000:]


def test_another_ca_fails_both(cluster):
    run, _agents, users = _run(cluster, ca=cluster["other_ca"], expect_failure=True)
    assert run.returncode == 0, run.output[-3000:]
    assert users == set()
    assert run.output.count("CERTIFICATE_VERIFY_FAILED") + run.output.count("certificate verify failed") >= 2, \
        run.output[-3000:]


def test_verify_ssl_false_turns_verification_off_for_both(cluster):
    run, agents, users = _run(cluster, ca=cluster["other_ca"], verify="false")
    assert run.returncode == 0, run.output[-3000:]
    assert {"kubeops.platform", "OpenAPI-Generator"} <= agents
    assert users == {username(cluster["account"])}
