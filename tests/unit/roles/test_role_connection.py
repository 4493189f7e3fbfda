"""Every k8s task of a role uses exactly the connection its play names.

Two ways a role could silently talk to another cluster, both rejected here:

- A task-level ``kubeconfig: "{{ x | default(omit) }}"``: ansible-core drops the play's
  ``module_defaults`` value for an option the task names, even when it renders to omit.
- ``module_defaults`` on a role's block or task: ansible-core merges the module_defaults of play,
  block and task as a list of dicts with ``dict.update``, so a role's dict for
  ``group/kubeops.platform.k8s`` (or ``group/kubernetes.core.k8s``, or one module) replaces the
  play's whole dict for that key, and the play's kubeconfig, context, host and token are gone.

The playbook runs in test_playbook_connection.py show the effect; these checks keep the cause out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLES = REPO / "roles"
CONNECTION_OPTIONS = {"kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert"}
K8S_MODULES = ("kubernetes.core.", "kubeops.platform.")
ROLE_FILES = sorted(p for p in ROLES.glob("*/*/*.yml") if p.parts[-2] in ("tasks", "handlers"))


def _tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always"):
            yield from _tasks(node.get(key))


def _module_defaults(node):
    """Every module_defaults value anywhere in a file (blocks, tasks, include/import ``apply``)."""
    if isinstance(node, list):
        for item in node:
            yield from _module_defaults(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "module_defaults":
                yield from value if isinstance(value, list) else [value]
            else:
                yield from _module_defaults(value)


def _k8s_key(key: str) -> bool:
    # A bare name may resolve to a k8s module through the collections keyword.
    return key.startswith("group/") or key.startswith(K8S_MODULES) or "." not in key


@pytest.mark.parametrize("path", ROLE_FILES, ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}/{p.name}")
def test_no_task_sets_connection_options(path):
    offenders = []
    for task in _tasks(yaml.safe_load(path.read_text()) or []):
        for action, args in task.items():
            if action.startswith(K8S_MODULES) and isinstance(args, dict):
                offenders += [f"{task.get('name', action)}: {opt}" for opt in CONNECTION_OPTIONS & set(args)]
    assert not offenders, f"the play's module_defaults set these; a task must not: {offenders}"


@pytest.mark.parametrize("path", ROLE_FILES, ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}/{p.name}")
def test_no_role_sets_module_defaults_that_replace_the_plays(path):
    offenders = []
    for defaults in _module_defaults(yaml.safe_load(path.read_text()) or []):
        if not isinstance(defaults, dict):
            offenders.append(repr(defaults))  # a template could hold any key
            continue
        offenders += [key for key in defaults if _k8s_key(key)]
    assert not offenders, f"these replace the play's module_defaults for the same key: {offenders}"


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir()))
def test_no_role_declares_connection_variables(role):
    """The connection is the play's; a role variable for it would split a play across clusters."""
    names = {f"{role}_{option}" for option in CONNECTION_OPTIONS}
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    declared = {name for spec in specs.values() for name in spec.get("options", {})}
    defaults = set(yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {})
    assert names & (declared | defaults) == set()


def _uses_k8s(play: dict) -> bool:
    if play.get("roles"):
        return True
    return any(action.startswith(K8S_MODULES) for task in _tasks(play.get("tasks") or []) for action in task)


@pytest.mark.parametrize("path", sorted((REPO / "playbooks").glob("*.yml")), ids=lambda p: p.name)
def test_every_play_that_talks_to_the_cluster_names_it_from_the_inventory(path):
    for play in yaml.safe_load(path.read_text()):
        if "import_playbook" in play or "ansible.builtin.import_playbook" in play or not _uses_k8s(play):
            continue
        defaults = play.get("module_defaults") or {}
        group = defaults.get("group/kubeops.platform.k8s")
        assert isinstance(group, dict), f"{play['name']}: no module_defaults for group/kubeops.platform.k8s"
        assert set(group) == CONNECTION_OPTIONS, play["name"]
        for option, value in group.items():
            assert value.startswith(f"{{{{ k8s_{option} | default(omit"), f"{play['name']}: {option}: {value}"
        assert set(defaults) == {"group/kubeops.platform.k8s"}, play["name"]
