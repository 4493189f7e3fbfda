"""Roles must take the connection from module_defaults, never from task-level options.

A task-level ``kubeconfig: "{{ x | default(omit) }}"`` replaces what the play's
``module_defaults`` for ``group/kubeops.platform.k8s`` set (ansible-core drops the default
when the task names the option), so a role would silently talk to another cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
CONNECTION_OPTIONS = {"kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert"}
K8S_MODULES = ("kubernetes.core.", "kubeops.platform.")


def _tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always"):
            yield from _tasks(node.get(key))


@pytest.mark.parametrize("path", sorted(ROLES.glob("*/tasks/*.yml")), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_no_task_sets_connection_options(path):
    offenders = []
    for task in _tasks(yaml.safe_load(path.read_text()) or []):
        for action, args in task.items():
            if action.startswith(K8S_MODULES) and isinstance(args, dict):
                offenders += [f"{task.get('name', action)}: {opt}" for opt in CONNECTION_OPTIONS & set(args)]
    assert not offenders, f"set these through the block's module_defaults instead: {offenders}"
