"""A module_defaults block written for kubernetes.core (group/kubernetes.core.k8s) may carry every
connection option kubernetes.core's modules take: ours accept them all, so such a block never fails
their tasks with "Unsupported parameters"."""

from __future__ import annotations

import pytest

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubeops.platform.plugins.modules import annotate, force_delete, label, restart, taint

# What a play's module_defaults for kubernetes.core typically holds, beyond host and api_key.
KUBERNETES_CORE_DEFAULTS = {
    "validate_certs": False, "no_proxy": "kube.test", "proxy_headers": {"user_agent": "ops"},
    "persist_config": False, "impersonate_user": "ops-bot", "impersonate_groups": ["ops"],
}

TASKS = [
    (label.main, {"names": ["node-1"], "labels": {"a": "b"}}),
    (annotate.main, {"names": ["node-1"], "annotations": {"a": "b"}}),
    (taint.main, {"names": ["node-1"], "taints": ["a=b:NoSchedule"]}),
    (restart.main, {"namespace": "apps", "names": ["web"]}),
    (force_delete.main, {"namespace": "apps", "names": ["web-0"]}),
]


def test_the_defaults_cover_the_interesting_options_of_kubernetes_core():
    assert {"persist_config", "proxy_headers", "no_proxy", "impersonate_user"} <= set(AUTH_ARG_SPEC)


@pytest.mark.parametrize(("main", "args"), TASKS, ids=lambda v: getattr(v, "__module__", "").rsplit(".", 1)[-1])
def test_kubernetes_core_connection_options_are_accepted(fake, run_module, main, args):
    fake.node("node-1")
    result = run_module(main, {**KUBERNETES_CORE_DEFAULTS, **args, "missing": "ignore"}, check_mode=True)
    assert "Unsupported parameters" not in result.get("msg", ""), result
    assert not result.get("failed"), result
    assert fake.log and fake.log[0].headers["impersonate-user"] == ["ops-bot"]
