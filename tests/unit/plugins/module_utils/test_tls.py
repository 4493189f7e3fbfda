"""TLS to the API server: CA verification and client certificates from kubeconfig data, as kind writes them."""

from __future__ import annotations

import base64

import pytest
from pki import issue, pem

from ansible_collections.kubeops.platform.plugins.module_utils._client import K8sClient, UnreachableError
from ansible_collections.kubeops.platform.plugins.module_utils._connection import resolve_connection


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
    other_ca = issue("other", None, None, ca=True)[1]
    conn = resolve_connection({"kubeconfig": _kind_kubeconfig(https_api, pki, ca=pem(cert=other_ca))}, environ={})
    with pytest.raises(UnreachableError, match=r"TLS certificate verification failed .*set ca_cert, or validate_certs: false"):
        K8sClient(conn).get("/api/v1/nodes")


def test_validate_certs_false_skips_verification_but_keeps_client_auth(https_api, pki):
    other_ca = issue("other", None, None, ca=True)[1]
    params = {"kubeconfig": _kind_kubeconfig(https_api, pki, ca=pem(cert=other_ca)), "validate_certs": False}
    client = K8sClient(resolve_connection(params, environ={}))
    assert client.get("/api/v1/nodes/kind-control-plane")["metadata"]["name"] == "kind-control-plane"
