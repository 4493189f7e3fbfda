"""extensions/rbac/: valid manifests, one account per job template, every rule explained, docs/awx.md in agreement."""

from __future__ import annotations

import json
import re

import kubernetes_validate
import pytest

from rbac_cluster import REPO_ROOT, grants, service_accounts, username
from rbac_table import RBAC_DIR, documented, load_manifests, table

DOCS = load_manifests()
# The playbooks that are job templates (docs/awx.md): every playbook.
PLAYBOOKS = sorted(f"playbooks/{p.name}" for p in (REPO_ROOT / "playbooks").glob("*.yml"))


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_manifest_is_valid_and_labelled(doc):
    kubernetes_validate.validate(doc, "1.30", strict=True)
    assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kubeops.platform"
    if doc["kind"] == "ServiceAccount":
        assert doc["automountServiceAccountToken"] is False, "AWX uses the token from outside the cluster"


def test_every_playbook_has_its_own_account_bound_to_roles():
    accounts = service_accounts(DOCS)
    assert sorted(accounts) == PLAYBOOKS
    granted = grants(DOCS)
    for playbook, account in accounts.items():
        assert granted.get(username(account)), f"{playbook}: {account['metadata']['name']} is bound to nothing"
    names = [a["metadata"]["name"] for a in accounts.values()]
    assert len(set(names)) == len(names)


def test_every_rule_says_why_it_is_needed():
    for path in sorted(RBAC_DIR.glob("*.yml")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.strip().startswith("- apiGroups:"):
                assert lines[number - 1].strip().startswith("#"), f"{path.name}:{number + 1}: no comment above the rule"


def test_no_rule_grants_everything_or_secrets_cluster_wide():
    granted = grants(DOCS)
    for user, user_grants in granted.items():
        for grant in user_grants:
            for rule in grant.rules:
                assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], (user, rule)
                assert not (grant.namespace is None and "secrets" in rule["resources"]), (user, rule)
                assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), (user, rule)


def test_docs_awx_lists_exactly_these_permissions():
    assert documented() == table(), "docs/awx.md differs: run .venv/bin/python tests/unit/ecosystem/rbac_table.py --write"


def test_the_job_template_names_match_the_docs():
    text = (REPO_ROOT / "docs" / "awx.md").read_text()
    surveys = text[text.index("## Job templates and surveys"):]
    for playbook, account in service_accounts(DOCS).items():
        template = account["metadata"]["annotations"]["kubeops.platform/job-template"]
        assert f"| {template} | `{playbook}` |" in surveys, f"docs/awx.md has no job template row for {template}"


def test_doctor_lists_exactly_the_kinds_the_module_reads():
    doctor = pytest.importorskip("ansible_collections.kubeops.platform.plugins.module_utils._doctor")
    role = next(d for d in DOCS if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "kubeops-platform:doctor")
    listed = {(rule["apiGroups"][0], resource) for rule in role["rules"] if rule["verbs"] == ["list"]
              for resource in rule["resources"]}
    read = {(api_version.rpartition("/")[0], plural) for api_version, plural, _namespaced in doctor.READ_KINDS.values()}
    assert listed == read


def test_namespace_names_occur_only_as_namespaces():
    """The awx_token integration target renames them by replacing these whole JSON strings."""
    for doc in DOCS:
        text = json.dumps(doc)
        allowed = json.dumps(doc["metadata"].get("namespace")), json.dumps(
            doc["metadata"]["name"] if doc["kind"] == "Namespace" else None)
        subjects = [json.dumps(s.get("namespace")) for s in doc.get("subjects") or []]
        for name in ('"kubeops-awx"', '"gitlab"', '"eureka"'):
            occurrences = len(re.findall(re.escape(name), text))
            expected = sum(1 for value in (*allowed, *subjects) if value == name)
            assert occurrences == expected, f"{doc['kind']} {doc['metadata']['name']}: {name} outside a namespace field"
