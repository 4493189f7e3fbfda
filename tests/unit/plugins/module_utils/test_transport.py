"""Building the client and talking to the API server when things go wrong: missing or bad
certificate files, timeouts, proxies with credentials, tls-server-name, and connections that break."""

from __future__ import annotations

import base64
import json
import socket
import threading

import pytest
from pki import issue, pem
from test_connection import kubeconfig, run_command, write_plugin

from ansible_collections.kubeops.platform.plugins.module_utils import _client
from ansible_collections.kubeops.platform.plugins.module_utils._client import K8sClient, UnreachableError
from ansible_collections.kubeops.platform.plugins.module_utils._connection import ConfigError, resolve_connection
from ansible_collections.kubeops.platform.plugins.modules import label
from fake_k8s import FakeKube, serve_http


def client_for(params: dict) -> K8sClient:
    return K8sClient(resolve_connection(params, environ={}, run_command=run_command))


# ---- certificate settings ----------------------------------------------------------------------
def test_a_missing_ca_file_option_is_named_with_the_option():
    with pytest.raises(ConfigError, match=r"cannot load the CA certificate /nonexistent/ca.crt \(from option ca_cert\): "
                                          r"No such file or directory"):
        client_for({"host": "https://10.0.0.1:6443", "api_key": "t", "ca_cert": "/nonexistent/ca.crt"})


def test_a_missing_kubeconfig_ca_file_names_the_kubeconfig_setting(tmp_path):
    config = tmp_path / "config"
    config.write_text(json.dumps(kubeconfig(**{"certificate-authority": "pki/ca.crt"})))
    with pytest.raises(ConfigError, match=rf"cannot load the CA certificate {tmp_path}/pki/ca.crt \(from "
                                          rf"certificate-authority of cluster 'c1' in {config}\)"):
        client_for({"kubeconfig": str(config)})


def test_ca_data_that_is_not_pem_is_refused():
    bad = base64.b64encode(b"not a certificate").decode()
    with pytest.raises(ConfigError, match=r"cannot load the CA certificate \(from certificate-authority-data of cluster "
                                          r"'c1' in kubeconfig option\): not a valid PEM CA certificate"):
        client_for({"kubeconfig": kubeconfig(**{"certificate-authority-data": bad})})


def test_ca_data_that_is_not_base64_is_refused():
    with pytest.raises(ConfigError, match=r"certificate-authority-data of cluster 'c1' in kubeconfig option is not "
                                          r"valid base64"):
        client_for({"kubeconfig": kubeconfig(**{"certificate-authority-data": "***"})})


def test_a_missing_client_key_is_named_apart_from_the_certificate(tmp_path, pki):
    cert = tmp_path / "client.crt"
    cert.write_bytes(pki["client_cert"])
    with pytest.raises(ConfigError, match=rf"cannot load the client key {tmp_path}/client.key \(from option client_key\)"):
        client_for({"host": "https://10.0.0.1:6443", "client_cert": str(cert), "client_key": str(tmp_path / "client.key")})


def test_a_client_key_that_does_not_match_the_certificate_is_refused(tmp_path, pki):
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    cert.write_bytes(pki["client_cert"])
    key.write_bytes(pem(key=issue("other", None, None)[0]))
    with pytest.raises(ConfigError, match=r"cannot load the client certificate and key .*client.crt, .*client.key "
                                          r"\(from option client_cert\): not a valid PEM"):
        client_for({"host": "https://10.0.0.1:6443", "client_cert": str(cert), "client_key": str(key)})


def test_an_exec_plugin_returning_a_certificate_without_key_is_refused(tmp_path):
    plugin = write_plugin(tmp_path / "cert-only",
                          'echo \'{"kind": "ExecCredential", "status": '
                          '{"clientCertificateData": "-----BEGIN CERTIFICATE-----"}}\'\n')
    with pytest.raises(ConfigError, match=r"exec credential plugin '.*cert-only' returned clientCertificateData without "
                                          r"clientKeyData"):
        client_for({"kubeconfig": kubeconfig(user={"exec": {"command": plugin}})})


def test_a_relative_exec_command_is_found_beside_the_kubeconfig(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    write_plugin(tmp_path / "bin" / "get-token", 'echo \'{"kind": "ExecCredential", "status": {"token": "rel"}}\'\n')
    config = tmp_path / "config"
    config.write_text(json.dumps(kubeconfig(user={"exec": {"command": "./bin/get-token"}})))
    monkeypatch.chdir("/")
    assert resolve_connection({"kubeconfig": str(config)}, environ={}, run_command=run_command).token == "rel"


def test_a_module_fails_cleanly_naming_the_missing_file(capsys):
    from ansible.module_utils.testing import patch_module_args

    args = {"host": "https://10.0.0.1:6443", "api_key": "secret-token", "ca_cert": "/nonexistent/ca.crt",
            "names": ["n1"], "labels": {"a": "b"}}
    with patch_module_args(args), pytest.raises(SystemExit):
        label.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"].startswith("cannot load the CA certificate /nonexistent/ca.crt (from option ca_cert)")


# ---- tls-server-name --------------------------------------------------------------------------------
@pytest.fixture
def named_https_api(pki, tmp_path):
    """An API server whose certificate names only kubernetes.default.svc, not the address it is reached at."""
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    ca_key = pki["ca_key"]
    server_key, _cert = issue("kube-apiserver", ca_key, pki["ca_cert"].subject)
    builder = (x509.CertificateBuilder().subject_name(_cert.subject).issuer_name(pki["ca_cert"].subject)
               .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(_cert.not_valid_before_utc).not_valid_after(_cert.not_valid_after_utc)
               .add_extension(x509.SubjectAlternativeName([x509.DNSName("kubernetes.default.svc")]), critical=False))
    cert = builder.sign(ca_key, hashes.SHA256())
    (tmp_path / "s.crt").write_bytes(pem(cert=cert))
    (tmp_path / "s.key").write_bytes(pem(key=server_key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")
    fake = FakeKube()
    fake.node("n1")
    server, url = serve_http(fake, tls=context)
    yield url
    server.shutdown()


def test_tls_server_name_is_the_name_the_certificate_is_checked_against(named_https_api, pki):
    ca = base64.b64encode(pki["ca"]).decode()
    config = kubeconfig(server=named_https_api, **{"certificate-authority-data": ca})
    with pytest.raises(UnreachableError, match="TLS certificate verification failed"):
        client_for({"kubeconfig": config}).get("/api/v1/nodes/n1")
    config["clusters"][0]["cluster"]["tls-server-name"] = "kubernetes.default.svc"
    assert client_for({"kubeconfig": config}).get("/api/v1/nodes/n1")["metadata"]["name"] == "n1"


# ---- proxies --------------------------------------------------------------------------------------
class TunnelProxy:
    """An HTTP CONNECT proxy that records the CONNECT request headers and tunnels to the target."""

    def __init__(self):
        self.connects: list[dict] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
        target = lines[0].split()[1]
        self.connects.append({k.lower(): v.strip() for k, _colon, v in (line.partition(":") for line in lines[1:])})
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


@pytest.fixture
def proxied_api():
    fake = FakeKube()
    fake.node("n1")
    server, url = serve_http(fake)
    proxy = TunnelProxy()
    yield url, proxy
    proxy.close()
    server.shutdown()


def test_credentials_in_the_proxy_url_are_sent_to_the_proxy(proxied_api):
    url, proxy = proxied_api
    proxy_url = proxy.url.replace("http://", "http://ops%40corp:s3cret@")
    client = client_for({"host": url, "api_key": "t", "proxy": proxy_url})
    assert client.get("/api/v1/nodes/n1")["metadata"]["name"] == "n1"
    assert proxy.connects[0]["proxy-authorization"] == "Basic " + base64.b64encode(b"ops@corp:s3cret").decode()


def test_proxy_headers_of_kubernetes_core_are_sent_to_the_proxy(proxied_api):
    url, proxy = proxied_api
    client = client_for({"host": url, "api_key": "t", "proxy": proxy.url,
                         "proxy_headers": {"proxy_basic_auth": "u:p", "user_agent": "ops-bastion"}})
    client.get("/api/v1/nodes/n1")
    assert proxy.connects[0]["proxy-authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert proxy.connects[0]["user-agent"] == "ops-bastion"


def test_proxy_credentials_never_appear_in_error_messages():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = client_for({"host": "https://10.0.0.1:6443", "api_key": "t", "proxy": f"http://u:s3cret@127.0.0.1:{port}"})
    with pytest.raises(UnreachableError) as failure:
        client.get("/version")
    assert "s3cret" not in str(failure.value) and f"through proxy http://127.0.0.1:{port}" in str(failure.value)


# ---- timeouts and broken connections -------------------------------------------------------------
class ScriptedServer:
    """Answers requests as scripted: 'ok' (200, keep-alive), 'ok-then-close' (200, then closes the
    idle connection), 'drop' (reads the request and closes without answering), 'hang' (never answers)."""

    def __init__(self, script: list[str]):
        self.script = list(script)
        self.requests: list[str] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        buffer = b""
        while self.script:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(4096)
                if not data:
                    return conn.close()
                buffer += data
            head, _blank, buffer = buffer.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length")), 0)
            while len(buffer) < length:
                buffer += conn.recv(4096)
            buffer = buffer[length:]
            self.requests.append(head.split(b"\r\n")[0].decode())
            action = self.script.pop(0)
            if action == "hang":
                threading.Event().wait(5)
                return conn.close()
            if action == "drop":
                return conn.close()
            body = b'{"kind": "Node", "metadata": {"name": "n1"}}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            if action == "ok-then-close":
                return conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def scripted():
    servers = []

    def make(*script: str) -> ScriptedServer:
        servers.append(ScriptedServer(list(script)))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_a_patch_whose_connection_breaks_after_sending_is_not_sent_again(scripted):
    server = scripted("ok", "drop", "ok")
    client = client_for({"host": server.url})
    client.get("/api/v1/nodes/n1")
    with pytest.raises(UnreachableError, match=r"the connection broke after PATCH /api/v1/nodes/n1 was sent, so it may "
                                               r"or may not have been applied: it was not sent again"):
        client.patch("/api/v1/nodes/n1", {"metadata": {"labels": {"a": "b"}}})
    assert server.requests == ["GET /api/v1/nodes/n1 HTTP/1.1", "PATCH /api/v1/nodes/n1 HTTP/1.1"]


def test_a_get_whose_kept_alive_connection_breaks_is_sent_again_on_a_new_one(scripted):
    server = scripted("ok", "drop", "ok")
    client = client_for({"host": server.url})
    client.get("/api/v1/nodes/n1")
    assert client.get("/api/v1/nodes/n1")["metadata"]["name"] == "n1"
    assert len(server.requests) == 3 and server.connections == 2


def test_an_idle_connection_the_server_closed_is_replaced_before_a_patch_is_sent(scripted):
    server = scripted("ok-then-close", "ok")
    client = client_for({"host": server.url})
    client.get("/api/v1/nodes/n1")
    for _attempt in range(50):  # until the close has reached this side
        if _client._dropped(client.transport._http):
            break
        threading.Event().wait(0.01)
    assert client.patch("/api/v1/nodes/n1", {"metadata": {"labels": {"a": "b"}}})["metadata"]["name"] == "n1"
    assert server.requests[-1] == "PATCH /api/v1/nodes/n1 HTTP/1.1" and server.connections == 2


def test_a_read_timeout_states_the_timeout_used(scripted, monkeypatch):
    monkeypatch.setattr(_client, "READ_TIMEOUT", 0.2)
    server = scripted("hang")
    with pytest.raises(UnreachableError, match=r"no answer within 0.2s \(read timed out\)"):
        client_for({"host": server.url}).get("/version")


def test_a_connect_timeout_states_the_timeout_used(monkeypatch):
    def never(*_args, **_kwargs):
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", never)
    with pytest.raises(UnreachableError, match=rf"no connection within {_client.CONNECT_TIMEOUT}s \(connect timed out\)"):
        client_for({"host": "https://10.0.0.1:6443", "api_key": "t"}).get("/version")


# ---- a refused client certificate -------------------------------------------------------------------
def test_a_certificate_refused_after_the_handshake_is_reported_as_the_servers_alert_not_a_broken_pipe(pki):
    """TLS 1.3: the server judges the client certificate after the client's handshake is done, so
    the client's first write can meet a closed connection; the alert the server sent says why."""
    import ssl
    import types

    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(pki["dir"] / "server.crt", pki["dir"] / "server.key")
    server_tls.load_verify_locations(pki["dir"] / "ca.crt")
    server_tls.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))

    def refuse() -> None:
        conn, _address = listener.accept()
        try:
            server_tls.wrap_socket(conn, server_side=True).recv(1)
        except (ssl.SSLError, OSError):
            pass  # no client certificate: the alert went out
        conn.close()

    server = threading.Thread(target=refuse)
    server.start()
    client_tls = ssl.create_default_context(cadata=pki["ca"].decode())
    client_tls.check_hostname = False
    client_tls.verify_flags &= ~ssl.VERIFY_X509_STRICT  # the test certificates carry no key identifiers
    sock = client_tls.wrap_socket(socket.create_connection(listener.getsockname()))
    server.join(10)
    broken = None
    for _attempt in range(50):  # the first write after the hang-up draws the reset, a later one fails
        try:
            sock.sendall(b"GET /api HTTP/1.1\r\nHost: k\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError) as exc:
            broken = exc
            break
        threading.Event().wait(0.02)
    assert broken is not None
    reported = _client._tls_alert(types.SimpleNamespace(sock=sock), broken)
    sock.close()
    listener.close()
    assert isinstance(reported, ssl.SSLError) and "certificate required" in str(reported)
    assert _client._tls_alert(types.SimpleNamespace(sock=None), broken) is broken
