"""Fixtures of the transport tests: a PKI and an API server that requires client certificates."""

from __future__ import annotations

import ssl

import pytest
from pki import issue, pem

from fake_k8s import FakeKube, serve_http


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca_key, ca_cert = issue("kubernetes", None, None, ca=True)
    server_key, server_cert = issue("kube-apiserver", ca_key, ca_cert.subject, server=True)
    client_key, client_cert = issue("kubernetes-admin", ca_key, ca_cert.subject)
    folder = tmp_path_factory.mktemp("pki")
    (folder / "ca.crt").write_bytes(pem(cert=ca_cert))
    (folder / "server.crt").write_bytes(pem(cert=server_cert))
    (folder / "server.key").write_bytes(pem(key=server_key))
    return {"dir": folder, "ca": pem(cert=ca_cert), "client_cert": pem(cert=client_cert),
            "client_key": pem(key=client_key), "ca_key": ca_key, "ca_cert": ca_cert}


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
