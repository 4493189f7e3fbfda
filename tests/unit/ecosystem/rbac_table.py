"""The permissions table of docs/awx.md, generated from extensions/rbac/.

    .venv/bin/python tests/unit/ecosystem/rbac_table.py            # print the table
    .venv/bin/python tests/unit/ecosystem/rbac_table.py --write    # replace it in docs/awx.md

test_rbac_manifests.py fails when docs/awx.md and the manifests disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
RBAC_DIR = REPO_ROOT / "extensions" / "rbac"
DOC = REPO_ROOT / "docs" / "awx.md"
BEGIN = "<!-- permissions table: generated from extensions/rbac by tests/unit/ecosystem/rbac_table.py -->"
END = "<!-- end of permissions table -->"


def load_manifests() -> list[dict]:
    """The objects of extensions/rbac/*.yml, in the order kubectl apply -f creates them (each file is a List)."""
    return [item for path in sorted(RBAC_DIR.glob("*.yml")) for item in yaml.safe_load(path.read_text())["items"]]


def _rules(rules: list[dict]) -> str:
    parts = []
    for rule in rules:
        groups = [g for g in rule["apiGroups"] if g]
        names = [f"{r}.{groups[0]}" if groups else r for r in rule["resources"]]
        parts.append(f"{', '.join(f'`{n}`' for n in names)}: {', '.join(rule['verbs'])}")
    return "; ".join(parts)


def table() -> str:
    docs = load_manifests()
    roles = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "ClusterRole"}
    accounts = [doc for doc in docs if doc["kind"] == "ServiceAccount"]
    bindings: dict[str, list[tuple[str, str]]] = {}
    for doc in docs:
        if doc["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            scope = f"namespace `{doc['metadata']['namespace']}`" if doc["kind"] == "RoleBinding" else "cluster-wide"
            for subject in doc["subjects"]:
                bindings.setdefault(subject["name"], []).append((doc["roleRef"]["name"], scope))
    # The template whose own account a role is named for (kubeops-platform:X for kubeops-X).
    owner = {role: account["metadata"]["annotations"]["kubeops.platform/job-template"]
             for account in accounts for role, _scope in bindings.get(account["metadata"]["name"], [])
             if role.split(":", 1)[1] == account["metadata"]["name"].removeprefix("kubeops-")}
    lines = ["| job template | playbook | ServiceAccount | granted | permissions |", "|---|---|---|---|---|"]
    for account in accounts:
        meta = account["metadata"]
        template, playbook = meta["annotations"]["kubeops.platform/job-template"], meta["annotations"]["kubeops.platform/playbook"]
        granted, permissions = [], []
        for role, scope in bindings.get(meta["name"], []):
            granted.append(f"`{role}` {scope}")
            permissions.append(_rules(roles[role]["rules"]) if owner[role] == template else f"those of *{owner[role]}*")
        lines.append(f"| {template} | `{playbook}` | `{meta['namespace']}/{meta['name']}` | {'; '.join(granted)} | "
                     f"{'; '.join(permissions)} |")
    return "\n".join(lines)


def documented() -> str:
    text = DOC.read_text()
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.DOTALL)
    if not match:
        raise AssertionError(f"{DOC} has no permissions table between {BEGIN!r} and {END!r}")
    return match.group(1)


def write() -> None:
    text = DOC.read_text()
    DOC.write_text(text.replace(documented(), table()))


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        print(table())
