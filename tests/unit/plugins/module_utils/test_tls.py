"""TLS to the API server: CA verification and client certificates from kubeconfig data, as kind writes them."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.kubeops.platform.plugins.module_utils._client import K8sClient, UnreachableError
from ansible_collections.kubeops.platform.plugins.module_utils._connection import resolve_connection
from fake_k8s import FakeKube, serve_http


def _issue(subject: str, issuer_key, issuer_name, ca: bool = False, server: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                        critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _pem(key=None, cert=None) -> bytes:
    if cert is not None:
        return cert.public_bytes(serialization.Encoding.PEM)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca_key, ca_cert = _issue("kubernetes", None, None, ca=True)
    server_key, server_cert = _issue("kube-apiserver", ca_key, ca_cert.subject, server=True)
    client_key, client_cert = _issue("kubernetes-admin", ca_key, ca_cert.subject)
    folder = tmp_path_factory.mktemp("pki")
    (folder / "ca.crt").write_bytes(_pem(cert=ca_cert))
    (folder / "server.crt").write_bytes(_pem(cert=server_cert))
    (folder / "server.key").write_bytes(_pem(key=server_key))
    return {"dir": folder, "ca": _pem(cert=ca_cert), "client_cert": _pem(cert=client_cert),
            "client_key": _pem(key=client_key), "ca_key": ca_key, "ca_cert": ca_cert}


@pytest.fixture
def https_api(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["dir"] / "server.crt", pki["dir"] / "server.key")
    context.load_verify_locations(pki["dir"] / "ca.crt")
    context.verify_mode = ssl.CERT_REQUIRED  # mTLS, as kind's admin kubeconfig uses
    fake = FakeKube()
    fake.node("kind-control-plane")
    server, url = serve_http(fake, tls=context)
    yield url
    server.shutdown()


def _kind_kubeconfig(url: str, pki: dict, ca: bytes | None = None) -> dict:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {
        "current-context": "kind-kind",
        "clusters": [{"name": "kind-kind", "cluster": {"server": url, "certificate-authority-data": b64(ca or pki["ca"])}}],
        "users": [{"name": "kind-kind", "user": {"client-certificate-data": b64(pki["client_cert"]),
                                                 "client-key-data": b64(pki["client_key"])}}],
        "contexts": [{"name": "kind-kind", "context": {"cluster": "kind-kind", "user": "kind-kind"}}],
    }


def test_kind_style_kubeconfig_with_inline_ca_and_client_certificate(https_api, pki):
    client = K8sClient(resolve_connection({"kubeconfig": _kind_kubeconfig(https_api, pki)}, environ={}))
    assert [n["metadata"]["name"] for n in client.list("/api/v1/nodes")] == ["kind-control-plane"]
    client.close()


def test_wrong_ca_fails_with_a_tls_message_and_a_way_out(https_api, pki):
    other_ca = _issue("other", None, None, ca=True)[1]
    conn = resolve_connection({"kubeconfig": _kind_kubeconfig(https_api, pki, ca=_pem(cert=other_ca))}, environ={})
    with pytest.raises(UnreachableError, match=r"TLS certificate verification failed .*set ca_cert, or validate_certs: false"):
        K8sClient(conn).get("/api/v1/nodes")


def test_validate_certs_false_skips_verification_but_keeps_client_auth(https_api, pki):
    other_ca = _issue("other", None, None, ca=True)[1]
    params = {"kubeconfig": _kind_kubeconfig(https_api, pki, ca=_pem(cert=other_ca)), "validate_certs": False}
    client = K8sClient(resolve_connection(params, environ={}))
    assert client.get("/api/v1/nodes/kind-control-plane")["metadata"]["name"] == "kind-control-plane"
