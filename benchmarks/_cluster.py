"""What the benchmark scripts share: their error type, the cluster check, bench nodes, playbook runs,
and a stand-in cluster for ``--fake`` runs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_LABEL = "kubeops-bench"  # every bench node carries kubeops-bench=true
NODE_PREFIX = "kubeops-bench-"  # and a name starting with this: only such nodes are ever deleted
FAKE_CONTEXT = "kubeops-fake"
FAKE_NOTICE = ("--fake: against the unit tests' in-memory API server on 127.0.0.1, on this machine. This shows "
               "that the benchmark works end to end; its numbers say nothing about a real cluster.")


class BenchError(Exception):
    """A problem that stops the benchmark with a message for the operator."""


def kubernetes_client(context: str | None):
    """The ``kubernetes.client`` module, configured for the KUBECONFIG cluster once it answers within 5 s."""
    try:
        from kubernetes import client, config
    except ImportError as exc:
        raise BenchError(f"the kubernetes Python client is not installed for {sys.executable} ({exc})") from exc
    where = os.environ.get("KUBECONFIG", "~/.kube/config")
    try:
        config.load_kube_config(context=context)
        # Raw: only whether it answers matters, not that every version field is there.
        client.VersionApi().get_code(_request_timeout=5, _preload_content=False)
    except Exception as exc:  # any failure here means the same thing: no cluster to measure
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BenchError(f"no Kubernetes cluster answers (KUBECONFIG={where}, reason: {reason})") from exc
    return client


# ---- bench nodes ------------------------------------------------------------------------------------
def create_nodes(api, names: list[str]) -> None:
    """Create bare Node objects (the API accepts them without a kubelet), a few requests at a time."""
    def create(name: str) -> None:
        api.create_node({"apiVersion": "v1", "kind": "Node",
                         "metadata": {"name": name, "labels": {BENCH_LABEL: "true"}}})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, names))


def list_nodes(api) -> list[dict]:
    """Every bench node as the API server returns it (raw JSON: no model classes for hundreds of nodes)."""
    raw = api.list_node(label_selector=f"{BENCH_LABEL}=true", _preload_content=False)
    return [n for n in json.loads(raw.data)["items"] if n["metadata"]["name"].startswith(NODE_PREFIX)]


def delete_nodes(api) -> int:
    """Delete every bench node (this run's and any left by an interrupted one); how many were deleted."""
    from kubernetes.client.exceptions import ApiException

    def delete(name: str) -> int:
        try:
            api.delete_node(name)
            return 1
        except ApiException as exc:
            if exc.status != 404:
                raise
            return 0

    # A node that carries the label by accident but not the name prefix is not ours to delete.
    names = [n["metadata"]["name"] for n in list_nodes(api)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(delete, names))


def lacking(nodes: list[dict], names: list[str], label: tuple[str, str] | None = None,
            taint: tuple[str, str, str] | None = None) -> list[str]:
    """The given node names that do not carry ``label`` (key, value) or ``taint`` (key, value, effect)."""
    by_name = {n["metadata"]["name"]: n for n in nodes}
    missing = []
    for name in names:
        node = by_name.get(name)
        labels = (node or {}).get("metadata", {}).get("labels") or {}
        taints = ((node or {}).get("spec") or {}).get("taints") or []
        if node is None or (label and labels.get(label[0]) != label[1]) or (taint and not any(
                (t.get("key"), t.get("value", ""), t.get("effect")) == taint for t in taints)):
            missing.append(name)
    return missing


def check_applied(api, what: str, names: list[str], label: tuple[str, str] | None = None,
                  taint: tuple[str, str, str] | None = None) -> None:
    """Fail unless every named node carries the label or taint: a fast run that did nothing cannot pass."""
    missing = lacking(list_nodes(api), names, label, taint)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        change = f"label {label[0]}={label[1]}" if label else f"taint {taint[0]}={taint[1]}:{taint[2]}"
        raise BenchError(f"{what}: {len(missing)} of {len(names)} nodes do not carry {change}: {shown}")


# ---- ansible-playbook ---------------------------------------------------------------------------------
def find_ansible_playbook(given: str | None) -> str:
    found = given or shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) \
        or shutil.which("ansible-playbook")
    if not found:
        raise BenchError("ansible-playbook not found next to this Python or on PATH; use --ansible-playbook")
    return found


class Playbooks:
    """Writes one playbook per measurement into ``workdir`` and times ansible-playbook on it (on localhost)."""

    def __init__(self, workdir: Path, playbook_cmd: str, connection: dict):
        self.workdir, self.playbook_cmd, self.connection = workdir, playbook_cmd, connection
        self.env = dict(os.environ)
        if "ANSIBLE_CONFIG" not in self.env and (REPO / "ansible.cfg").exists():
            self.env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
        self.env.setdefault("ANSIBLE_NOCOLOR", "1")
        self.inventory = workdir / "hosts.yml"
        self.inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
        self._count = 0

    def write(self, tasks: list[dict]) -> Path:
        self._count += 1
        path = self.workdir / f"play-{self._count}.yml"
        play = [{"name": "Benchmark", "hosts": "localhost", "gather_facts": False,
                 "module_defaults": {"group/kubeops.platform.k8s": self.connection}, "tasks": tasks}]
        path.write_text(json.dumps(play, indent=1))  # JSON is valid YAML
        return path

    def run(self, label: str, tasks: list[dict], env: dict | None = None) -> float:
        """Wall time of one ansible-playbook run, from start to exit; BenchError when it fails."""
        path = self.write(tasks)
        start = time.perf_counter()
        proc = subprocess.run([self.playbook_cmd, "-i", str(self.inventory), str(path)],
                              env={**self.env, **(env or {})}, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise BenchError(f"ansible-playbook failed for '{label}' (exit {proc.returncode}):\n{tail}")
        print(f"  {label:<50} {elapsed:8.2f}s", flush=True)
        return elapsed


# ---- a stand-in cluster for --fake ----------------------------------------------------------------------
# Discovery roots the fake does not serve itself; each group version is listed only if the fake serves it.
_GROUP_VERSIONS = ("apps/v1", "batch/v1", "networking.k8s.io/v1", "storage.k8s.io/v1", "policy/v1",
                   "rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1", "coordination.k8s.io/v1",
                   "discovery.k8s.io/v1", "autoscaling/v1", "autoscaling/v2", "scheduling.k8s.io/v1")
_HOP_HEADERS = {"connection", "content-length", "date", "host", "keep-alive", "server", "transfer-encoding"}


class FakeCluster:
    """The unit tests' in-memory API server (tests/unit/fake_k8s.py) served as kind serves a cluster.

    A front server on 127.0.0.1 speaks TLS and requires a client certificate, answers the discovery
    roots ``/api`` and ``/apis`` (kubectl and the kubernetes client start there) and passes every
    other request to the fake. ``kubeconfig`` is a file with the CA, the client certificate and key
    and the current context ``kubeops-fake``: kubectl, the kubernetes client and the modules all
    connect with it exactly as they would to a cluster.
    """

    def __init__(self, workdir: Path):
        sys.path.insert(0, str(REPO / "tests" / "unit"))
        from fake_k8s import FakeKube, serve_http

        self.fake = FakeKube()
        self._backend, backend_url = serve_http(self.fake)
        _no_delay(self._backend.socket)
        host, port = backend_url.split("://", 1)[1].rsplit(":", 1)
        ca, server_cert, server_key, client_cert, client_key = _certificates()
        tls_dir = workdir / "fake-tls"
        tls_dir.mkdir(mode=0o700)
        (tls_dir / "server.crt").write_bytes(server_cert)
        (tls_dir / "server.key").write_bytes(server_key)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(tls_dir / "server.crt", tls_dir / "server.key")
        tls.load_verify_locations(cadata=ca.decode())
        tls.verify_mode = ssl.CERT_REQUIRED
        self._front = _front_server((host, int(port)), _discovery((host, int(port))), tls)
        self.url = f"https://127.0.0.1:{self._front.server_address[1]}"
        self.kubeconfig = workdir / "kubeconfig"
        b64 = _base64
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": FAKE_CONTEXT,
            "clusters": [{"name": FAKE_CONTEXT, "cluster": {"server": self.url,
                                                            "certificate-authority-data": b64(ca)}}],
            "users": [{"name": FAKE_CONTEXT, "user": {"client-certificate-data": b64(client_cert),
                                                      "client-key-data": b64(client_key)}}],
            "contexts": [{"name": FAKE_CONTEXT, "context": {"cluster": FAKE_CONTEXT, "user": FAKE_CONTEXT}}],
        }, indent=1))
        self.kubeconfig.chmod(0o600)

    def close(self) -> None:
        self._front.shutdown()
        self._front.server_close()
        self._backend.shutdown()


def _base64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _discovery(backend: tuple[str, int]) -> dict[str, bytes]:
    """The answers for /api and /apis, listing the group versions the fake serves."""
    import http.client

    conn = http.client.HTTPConnection(*backend, timeout=10)
    served = []
    try:
        for group_version in _GROUP_VERSIONS:
            conn.request("GET", f"/apis/{group_version}")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                served.append(group_version)
    finally:
        conn.close()
    groups: dict[str, list[dict]] = {}
    for group_version in served:
        group, version = group_version.split("/")
        groups.setdefault(group, []).append({"groupVersion": group_version, "version": version})
    return {
        "/api": json.dumps({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}).encode(),
        "/apis": json.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": group, "versions": versions, "preferredVersion": versions[0]}
            for group, versions in groups.items()]}).encode(),
    }


def _front_server(backend: tuple[str, int], discovery: dict[str, bytes], tls: ssl.SSLContext):
    import http.client
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        upstream: http.client.HTTPConnection | None = None

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            answer = discovery.get(urlsplit(self.path).path.rstrip("/")) if self.command == "GET" else None
            if answer is not None:
                status, reason, headers, data = 200, "OK", [("Content-Type", "application/json")], answer
            else:
                # One upstream keep-alive connection per client connection, as the client's own.
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(*backend, timeout=120)
                self.upstream.request(self.command, self.path, body=body, headers={
                    k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS})
                response = self.upstream.getresponse()
                status, reason, data = response.status, response.reason, response.read()
                headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS]
            self.send_response(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def finish(self) -> None:
            super().finish()
            if self.upstream is not None:
                self.upstream.close()

        def log_message(self, *_args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address) -> None:
            if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is no error
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Front)
    _no_delay(server.socket)
    # The handshake happens in each connection's thread, not in the accepting one.
    server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _no_delay(listening: socket.socket) -> None:
    """TCP_NODELAY for every connection the socket accepts (Linux passes it on to them).

    The HTTP servers send headers and body in two writes; without it, Nagle's algorithm holds the
    body until the client's delayed ACK, some 40 ms per request.
    """
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _certificates() -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """PEM (CA, server cert, server key, client cert, client key), as kind issues them for a cluster."""
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:
        raise BenchError(f"--fake needs the cryptography package for {sys.executable} ({exc}); run make deps") from exc

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def issue(subject: str, key, issuer_key, issuer: x509.Name | None, usage=None, ip: str | None = None):
        builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer or name(subject))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=usage is None, path_length=None), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       (issuer_key or key).public_key()), critical=False))
        if usage is None:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False), critical=True)
        else:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if ip:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                            critical=False)
        return builder.sign(issuer_key or key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    def pem_key(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _key in range(3))
    ca = issue("kubeops-fake-ca", ca_key, None, None)
    server = issue("kube-apiserver", server_key, ca_key, name("kubeops-fake-ca"), ExtendedKeyUsageOID.SERVER_AUTH,
                   ip="127.0.0.1")
    client = issue("kubernetes-admin", client_key, ca_key, name("kubeops-fake-ca"), ExtendedKeyUsageOID.CLIENT_AUTH)
    return ca, server, pem_key(server_key), client, pem_key(client_key)
