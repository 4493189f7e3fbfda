"""What the benchmark scripts share: their error type and the check that a cluster answers."""

from __future__ import annotations

import os
import sys


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
        client.VersionApi().get_code(_request_timeout=5)
    except Exception as exc:  # any failure here means the same thing: no cluster to measure
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BenchError(f"no Kubernetes cluster answers (KUBECONFIG={where}, reason: {reason})") from exc
    return client
