"""Connection settings and the HTTP transport, over real sockets against the fake API server."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import stat
import textwrap

import pytest
import yaml

from ansible_collections.kubeops.platform.plugins.doc_fragments.k8s_auth import ModuleDocFragment
from ansible_collections.kubeops.platform.plugins.module_utils._client import K8sClient, UnreachableError
from ansible_collections.kubeops.platform.plugins.module_utils._connection import (
    ENV_FALLBACKS,
    ConfigError,
    auth_argument_spec,
    resolve_connection,
)
from fake_k8s import FakeKube, serve_http


def kubeconfig(server="https://10.0.0.1:6443", user=None, current="dev", **cluster_extra):
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "c1", "cluster": {"server": server, **cluster_extra}},
                     {"name": "c2", "cluster": {"server": "https://prod.example.com:6443"}}],
        "users": [{"name": "u1", "user": user or {"token": "dev-token"}},
                  {"name": "u2", "user": {"token": "prod-token"}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c1", "user": "u1"}},
                     {"name": "prod", "context": {"cluster": "c2", "user": "u2"}}],
    }


def test_doc_fragment_documents_exactly_the_declared_options():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    declared = auth_argument_spec(object)
    assert set(documented) == set(declared)
    for name, spec in declared.items():
        assert documented[name]["type"] == spec["type"], name
        assert documented[name].get("aliases", []) == spec.get("aliases", []), name
        if "options" in spec:
            assert set(documented[name]["suboptions"]) == set(spec["options"]), name
            for sub, sub_spec in spec["options"].items():
                env = sub_spec["fallback"][1][0]
                assert f"E({env})" in " ".join(documented[name]["suboptions"][sub]["description"]), (name, sub)
        else:
            assert f"E({ENV_FALLBACKS[name]})" in " ".join(documented[name]["description"]), name


def test_every_connection_option_of_kubernetes_core_is_accepted():
    """A module_defaults block written for group/kubernetes.core.k8s never fails our tasks."""
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

    ours = auth_argument_spec(object)
    for name, spec in AUTH_ARG_SPEC.items():
        assert name in ours, name
        assert set(spec.get("aliases", [])) <= set(ours[name].get("aliases", [])), name
        assert ours[name].get("type", "str") == spec.get("type", "str"), name
        assert set(spec.get("options", {})) == set(ours[name].get("options", {})), name
        assert bool(spec.get("no_log")) == bool(ours[name].get("no_log")), name


def test_env_fallbacks_use_the_kubernetes_core_names():
    spec = auth_argument_spec("fallback-fn")
    assert spec["host"]["fallback"] == ("fallback-fn", ["K8S_AUTH_HOST"])
    assert spec["api_key"]["fallback"] == ("fallback-fn", ["K8S_AUTH_API_KEY"])
    assert spec["validate_certs"]["fallback"] == ("fallback-fn", ["K8S_AUTH_VERIFY_SSL"])
    assert spec["ca_cert"]["fallback"] == ("fallback-fn", ["K8S_AUTH_SSL_CA_CERT"])
    assert spec["api_key"]["no_log"] and spec["password"]["no_log"]


def test_host_and_api_key_need_no_kubeconfig(tmp_path):
    conn = resolve_connection({"host": "10.1.1.1:6443", "api_key": "abc", "validate_certs": False},
                              environ={"KUBECONFIG": str(tmp_path / "absent")})
    assert (conn.server, conn.token, conn.verify) == ("https://10.1.1.1:6443", "abc", False)


def test_bare_host_without_credentials_like_kubectl_proxy(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    conn = resolve_connection({"host": "http://127.0.0.1:8001"}, environ={})
    assert (conn.server, conn.token, conn.username) == ("http://127.0.0.1:8001", None, None)


def test_kubeconfig_dict_current_context_and_explicit_context():
    assert resolve_connection({"kubeconfig": kubeconfig()}, environ={}).token == "dev-token"
    prod = resolve_connection({"kubeconfig": kubeconfig(), "context": "prod"}, environ={})
    assert (prod.server, prod.token) == ("https://prod.example.com:6443", "prod-token")


def test_unknown_context_lists_the_available_ones():
    with pytest.raises(ConfigError, match=r"context 'stage' not found in kubeconfig option \(available: dev, prod\)"):
        resolve_connection({"kubeconfig": kubeconfig(), "context": "stage"}, environ={})


def test_kubeconfig_file_with_inline_certificates_and_relative_paths(tmp_path):
    ca = base64.b64encode(b"CA PEM").decode()
    user = {"client-certificate-data": base64.b64encode(b"CERT").decode(), "client-key": "keys/user.key"}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig(user=user, **{"certificate-authority-data": ca})))
    conn = resolve_connection({"kubeconfig": str(path)}, environ={})
    assert conn.ca_data == b"CA PEM"
    assert conn.cert_data == b"CERT"
    assert conn.key_file == str(tmp_path / "keys" / "user.key")


def test_kubeconfig_env_with_several_files_first_definition_wins(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text(yaml.safe_dump({"current-context": "prod", "clusters": [], "users": [], "contexts": []}))
    second.write_text(yaml.safe_dump(kubeconfig()))
    conn = resolve_connection({}, environ={"KUBECONFIG": f"{first}:{second}"})
    assert conn.token == "prod-token"


def test_explicit_options_override_the_kubeconfig():
    conn = resolve_connection({"kubeconfig": kubeconfig(), "api_key": "override", "validate_certs": False,
                               "impersonate_groups": ["ops,admins", "audit"]}, environ={})
    assert (conn.token, conn.verify) == ("override", False)
    assert conn.impersonate_groups == ["ops", "admins", "audit"]


def test_missing_kubeconfig_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"kubeconfig file .*/nope does not exist"):
        resolve_connection({"kubeconfig": str(tmp_path / "nope")}, environ={})


def test_nothing_configured_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="no Kubernetes connection configured: set the kubeconfig or host option"):
        resolve_connection({}, environ={})


def run_command(args, environ_update=None):
    """The contract of AnsibleModule.run_command, for tests below the module level."""
    proc = subprocess.run(args, env={**os.environ, **(environ_update or {})}, capture_output=True, text=True,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


def write_plugin(path, body: str):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


TOKEN_PLUGIN = textwrap.dedent("""\
    echo "{\\"apiVersion\\": \\"client.authentication.k8s.io/v1\\", \\"kind\\": \\"ExecCredential\\",
           \\"status\\": {\\"token\\": \\"exec-$CLUSTER_NAME\\"}}"
""")


def test_exec_credential_plugin_provides_the_token(tmp_path):
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": write_plugin(tmp_path / "get-token", TOKEN_PLUGIN),
                     "env": [{"name": "CLUSTER_NAME", "value": "dev"}]}}
    assert resolve_connection({"kubeconfig": kubeconfig(user=user)}, environ={}, run_command=run_command).token == "exec-dev"


def test_failing_exec_plugin_reports_its_stderr(tmp_path):
    user = {"exec": {"command": write_plugin(tmp_path / "broken", "echo 'token expired, run: login' >&2\nexit 3\n")}}
    with pytest.raises(ConfigError, match=r"exec credential plugin '.*broken' exited 3: token expired, run: login"):
        resolve_connection({"kubeconfig": kubeconfig(user=user)}, environ={}, run_command=run_command)


def test_missing_exec_plugin_shows_the_install_hint():
    user = {"exec": {"command": "no-such-login-helper", "installHint": "Install it from your cloud's CLI."}}
    with pytest.raises(ConfigError, match=r"'no-such-login-helper' was not found or is not executable. Install it from"):
        resolve_connection({"kubeconfig": kubeconfig(user=user)}, environ={}, run_command=run_command)


def test_unsupported_auth_provider_points_to_exec():
    user = {"auth-provider": {"name": "gcp", "config": {}}}
    with pytest.raises(ConfigError, match="auth-provider 'gcp' .* is not supported; use an exec credential plugin"):
        resolve_connection({"kubeconfig": kubeconfig(user=user)}, environ={})


def test_in_cluster_service_account(tmp_path, monkeypatch):
    from ansible_collections.kubeops.platform.plugins.module_utils import _connection

    (tmp_path / "token").write_text("sa-token\n")
    monkeypatch.setattr(_connection, "IN_CLUSTER_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    conn = resolve_connection({}, environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"})
    assert (conn.server, conn.token) == ("https://10.96.0.1:443", "sa-token")


@pytest.fixture
def http_api():
    fake = FakeKube()
    fake.node("node03", labels={"gitlab/middleware": ""})
    server, url = serve_http(fake, expect_token="secret")
    yield fake, url
    server.shutdown()


def test_real_http_round_trip_with_token_and_keep_alive(http_api):
    fake, url = http_api
    client = K8sClient(resolve_connection({"host": url, "api_key": "secret"}, environ={}))
    nodes = client.list("/api/v1/nodes", label_selector="gitlab/middleware")
    assert [n["metadata"]["name"] for n in nodes] == ["node03"]
    patched = client.patch("/api/v1/nodes/node03", {"metadata": {"labels": {"a": "b"}}})
    assert patched["metadata"]["labels"] == {"gitlab/middleware": "", "a": "b"}
    first_socket = client.transport._http.sock
    client.get("/api/v1/nodes/node03")
    assert client.transport._http.sock is first_socket, "requests reuse one connection"
    client.close()


def test_http_errors_carry_the_api_message(http_api):
    url = http_api[1]
    client = K8sClient(resolve_connection({"host": url, "api_key": "secret"}, environ={}))
    with pytest.raises(Exception, match=r'get Node ghost: nodes "ghost" not found \(HTTP 404 Not Found\)'):
        client.get("/api/v1/nodes/ghost", action="get Node ghost")
    wrong = K8sClient(resolve_connection({"host": url, "api_key": "wrong"}, environ={}))
    with pytest.raises(Exception, match=r"Unauthorized \(HTTP 401 Unauthorized\)"):
        wrong.get("/api/v1/nodes")


def test_impersonation_headers_are_sent(http_api):
    fake, url = http_api
    client = K8sClient(resolve_connection({"host": url, "api_key": "secret", "impersonate_user": "alice",
                                           "impersonate_groups": ["ops", "dev"]}, environ={}))
    client.get("/api/v1/nodes/node03")
    headers = fake.log[-1].headers
    assert headers["impersonate-user"] == ["alice"]
    assert headers["impersonate-group"] == ["ops", "dev"]


def test_closed_port_fails_fast_naming_the_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = K8sClient(resolve_connection({"host": f"https://127.0.0.1:{port}", "api_key": "x"}, environ={}))
    with pytest.raises(UnreachableError, match=rf"cannot reach the Kubernetes API at https://127.0.0.1:{port}: connection refused"):
        client.get("/version")


def test_unresolvable_host_is_named():
    client = K8sClient(resolve_connection({"host": "https://no-such-host.invalid:6443", "api_key": "x"}, environ={}))
    with pytest.raises(UnreachableError, match=r"cannot resolve host name 'no-such-host.invalid'"):
        client.get("/version")


def test_module_reads_k8s_auth_environment(monkeypatch, http_api, capsys):
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.kubeops.platform.plugins.modules import label

    fake, url = http_api
    monkeypatch.setenv("K8S_AUTH_HOST", url)
    monkeypatch.setenv("K8S_AUTH_API_KEY", "secret")
    with patch_module_args({"names": ["node03"], "labels": {"via": "env"}}), pytest.raises(SystemExit):
        label.main()
    result = json.loads(capsys.readouterr().out)
    assert result["changed"] is True, result
    assert "secret" not in json.dumps(result)
    assert fake.get("Node", "node03")["metadata"]["labels"]["via"] == "env"


def test_module_runs_exec_plugins_through_ansible(tmp_path, capsys):
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.kubeops.platform.plugins.modules import label

    fake = FakeKube()
    fake.node("node03")
    server, url = serve_http(fake, expect_token="exec-prod")
    user = {"exec": {"command": write_plugin(tmp_path / "get-token", TOKEN_PLUGIN),
                     "env": [{"name": "CLUSTER_NAME", "value": "prod"}]}}
    try:
        with patch_module_args({"kubeconfig": kubeconfig(server=url, user=user), "names": ["node03"],
                                "labels": {"via": "exec"}}), pytest.raises(SystemExit):
            label.main()
    finally:
        server.shutdown()
    result = json.loads(capsys.readouterr().out)
    assert result["changed"] is True, result
    assert fake.get("Node", "node03")["metadata"]["labels"] == {"via": "exec"}
