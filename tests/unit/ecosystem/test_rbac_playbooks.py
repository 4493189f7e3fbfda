"""Every job template's playbook, run with its own ServiceAccount's token and nothing else.

The API server (rbac_cluster.py) enforces the RBAC of extensions/rbac/ as a kube-apiserver does,
and each playbook runs as an AWX job with the Bearer Token credential runs it: K8S_AUTH_HOST,
K8S_AUTH_API_KEY, K8S_AUTH_SSL_CA_CERT and K8S_AUTH_VERIFY_SSL over HTTPS, HOME and KUBECONFIG
pointing at an empty directory. What this shows:

- each playbook succeeds with its own account (so the manifests grant enough), and every rule
  of every role is used by some run or listed below with the reason it is not exercised here
  (so they grant nothing the code does not ask for);
- a playbook run with a smaller account fails with the API server's own "forbidden" message,
  naming the verb and the resource, and changes nothing.
"""

from __future__ import annotations

import pytest

from fake_workloads import deployment
from rbac_table import load_manifests
from rbac_cluster import (
    REPO_ROOT,
    ClusterLoop,
    RbacApiServer,
    Run,
    credential_environment,
    run_playbook,
    serve,
    service_accounts,
    username,
    write_inventory,
)

NODES = ("node-1", "node-2", "node-3")
FAST_GITLAB = {"gitlab_wait_poll_interval": 1, "gitlab_middleware_timeout": 60, "gitlab_init_timeout": 60,
               "gitlab_app_timeout": 60}
FAST_EUREKA = {"eureka_wait_poll_interval": 1, "eureka_timeout": 60, "eureka_peer_check_timeout": 60,
               "eureka_replicas": 2}

# (role, rule index, verb, resource) granted on purpose but not reached by the runs below.
NOT_EXERCISED = {
    # Failure paths: the roles collect pods, events and the log tail only when a wait fails
    # (tests/unit/roles drive those failures).
    **{("kubeops-platform:gitlab", 5, verb, resource): "diagnosis after a failed wait"
       for verb in ("get", "list") for resource in ("pods", "events")},
    ("kubeops-platform:gitlab", 6, "list", "replicasets"): "diagnosis after a failed wait (a Deployment's pods)",
    ("kubeops-platform:gitlab", 7, "get", "pods/log"): "diagnosis of a failed init Job",
    **{("kubeops-platform:gitlab", 8, verb, "networkpolicies"): "gitlab_network_policy_enabled, off by default"
       for verb in ("get", "list", "create", "patch", "delete")},
    **{("kubeops-platform:eureka", 6, verb, resource): "diagnosis after a failed wait"
       for verb in ("get", "list") for resource in ("pods", "events")},
    ("kubeops-platform:eureka", 7, "get", "pods/log"): "diagnosis of a failed peer check",
    ("kubeops-platform:eureka", 5, "delete", "persistentvolumeclaims"):
        "eureka_purge of the claims eureka_storage_enabled makes, which the fake StatefulSet controller does not provision",
    # doctor reads these only for the problem they explain (tests/unit/plugins cover each finding).
    ("kubeops-platform:doctor", 1, "list", "nodes"): "a pod Pending with a FailedScheduling event",
    ("kubeops-platform:doctor", 2, "list", "storageclasses"): "a Pending claim",
    ("kubeops-platform:doctor", 3, "list", "endpointslices"): "a Service in the namespace",
    ("kubeops-platform:doctor", 6, "get", "pods/log"): "a crash-looping container",
}


def _rules(docs: list[dict]) -> set[tuple[str, int, str, str]]:
    return {(doc["metadata"]["name"], index, verb, resource)
            for doc in docs if doc["kind"] == "ClusterRole"
            for index, rule in enumerate(doc["rules"]) for verb in rule["verbs"] for resource in rule["resources"]}


def _pod(name: str, namespace: str = "apps", **meta) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}, **meta},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}], "nodeName": "node-3"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


def _seed(api: RbacApiServer, docs: list[dict]) -> None:
    """What exists before the jobs run: the bundle's namespaces, nodes, workloads, stuck objects."""
    for doc in docs:
        if doc["kind"] == "Namespace":
            api.add(doc)
    api.node("node-1", labels={"pool": "gitlab"})
    api.node("node-2", labels={"pool": "gitlab"})
    api.node("node-3", labels={"pool": "general"})
    api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    api.add({"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "old", "labels": {"purpose": "old"}, "finalizers": ["example.com/archive"]}})
    # What keeps a namespace Terminating: an object the namespace controller cannot delete.
    api.add({"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "archived", "namespace": "old", "finalizers": ["example.com/archive"]}})
    api.add(deployment("web", replicas=2))
    api.add(deployment("cache", replicas=1, kind="StatefulSet"))
    api.add(deployment("agent", kind="DaemonSet"))
    api.add(_pod("debug"))
    api.add(_pod("stuck", finalizers=["example.com/hold"]))
    api.add(deployment("legacy", replicas=1, kind="ReplicaSet"))
    api.add({"apiVersion": "v1", "kind": "PersistentVolume",
             "metadata": {"name": "old-volume", "labels": {"released": "true"}, "finalizers": ["kubernetes.io/pv-protection"]},
             "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/old"}}})
    api.add({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "old-claim", "namespace": "apps", "finalizers": ["kubernetes.io/pvc-protection"]},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})


# name -> (playbook, account's playbook, extra vars, ansible-playbook arguments)
RUNS = {
    "taint": ("taint.yml", "taint.yml", {"nodes": "node-1,node-2", "taints": "gitlab/middleware:NoSchedule"}, ()),
    "taint_selector": ("taint.yml", "taint.yml", {"selector": "pool=general", "taints": "dedicated=general:PreferNoSchedule"}, ()),
    "label": ("label.yml", "label.yml", {"nodes": "node-1", "selector": "pool=general", "labels": "tier=backend"}, ()),
    "nodes": ("nodes.yml", "nodes.yml", {
        "nodes_labels": [{"names": ["node-1"], "labels": {"gitlab/middleware": ""}},
                         {"selector": "pool=general", "labels": {"gitlab/general": ""}}],
        "nodes_taints": [{"names": ["node-2"], "taints": ["gitlab/application:NoSchedule"]}]}, ()),
    "nodes_check": ("nodes.yml", "nodes.yml", {
        "nodes_labels": [{"names": ["node-2"], "labels": {"gitlab/application": ""}}], "nodes_taints": []},
        ("--check", "--diff")),
    "restart_rollout": ("restart.yml", "restart.yml", {"namespace": "apps", "names": "web", "selector": "tier=none",
                                                       "wait_timeout": 30}, ()),
    "restart_scale": ("restart.yml", "restart.yml", {"namespace": "apps", "kind": "StatefulSet", "names": "cache", "selector": "app=cache",
                                                     "strategy": "scale", "wait_timeout": 30}, ()),
    "restart_scale_replicaset": ("restart.yml", "restart.yml", {"namespace": "apps", "kind": "ReplicaSet", "names": "legacy",
                                                                "strategy": "scale", "wait_timeout": 30}, ()),
    "restart_daemonset": ("restart.yml", "restart.yml", {"namespace": "apps", "kind": "DaemonSet", "names": "agent", "selector": "app=agent",
                                                         "wait_timeout": 30}, ()),
    "restart_pods": ("restart.yml", "restart.yml", {"namespace": "apps", "kind": "Pod", "selector": "app=web",
                                                    "strategy": "delete_pods", "wait_timeout": 30}, ()),
    "restart_replicaset": ("restart.yml", "restart.yml", {"namespace": "apps", "kind": "ReplicaSet", "selector": "app=web",
                                                          "strategy": "delete_pods", "wait_timeout": 30}, ()),
    "restart_recreate": ("restart.yml", "restart.yml", {"namespace": "apps", "kind": "Pod", "names": "debug",
                                                        "wait_timeout": 30}, ()),
    "force_delete_pod": ("force_delete.yml", "force_delete.yml", {"namespace": "apps", "selector": "app=stuck", "timeout": 1,
                                                                  "remove_finalizers": True, "allow_live": True}, ()),
    "force_delete_claim": ("force_delete.yml", "force_delete.yml", {
        "kind": "PersistentVolumeClaim", "namespace": "apps", "selector": "!gone", "timeout": 1,
        "remove_finalizers": True, "allow_live": True}, ()),
    "force_delete_namespace": ("force_delete.yml", "force_delete.yml", {
        "kind": "Namespace", "selector": "purpose=old", "timeout": 1, "remove_finalizers": True, "allow_live": True}, ()),
    "force_delete_volume": ("force_delete.yml", "force_delete.yml", {
        "kind": "PersistentVolume", "selector": "released=true", "timeout": 1, "remove_finalizers": True, "allow_live": True}, ()),
    "gitlab": ("gitlab.yml", "gitlab.yml", FAST_GITLAB, ()),
    "gitlab_again": ("gitlab.yml", "gitlab.yml", FAST_GITLAB, ()),
    # A new configuration, a bigger claim, a new Redis password, a Service edited by hand (below).
    "gitlab_changed": ("gitlab.yml", "gitlab.yml", {**FAST_GITLAB, "gitlab_external_url": "https://gitlab.example.com",
                                                    "gitlab_app_storage_size": "40Gi",
                                                    "gitlab_redis_password": "Changed-redis-password-1234"}, ()),
    "gitlab_absent": ("gitlab.yml", "gitlab.yml", {**FAST_GITLAB, "gitlab_state": "absent", "gitlab_purge": True}, ()),
    "eureka": ("eureka.yml", "eureka.yml", FAST_EUREKA, ()),
    # One more server, and a Service edited by hand (below).
    "eureka_scaled": ("eureka.yml", "eureka.yml", {**FAST_EUREKA, "eureka_replicas": 3}, ()),
    "eureka_absent": ("eureka.yml", "eureka.yml", {**FAST_EUREKA, "eureka_state": "absent", "eureka_purge": True}, ()),
    # Smaller accounts.
    "taint_as_doctor": ("taint.yml", "doctor.yml", {"nodes": "node-3", "taints": "spot:NoSchedule"}, ()),
    "restart_as_taint": ("restart.yml", "taint.yml", {"namespace": "apps", "names": "web"}, ()),
    "gitlab_as_eureka": ("gitlab.yml", "eureka.yml", FAST_GITLAB, ()),
    "site_as_gitlab": ("site.yml", "gitlab.yml", {"nodes_labels": [{"names": ["node-1"], "labels": {"gitlab/middleware": ""}}],
                                                  **FAST_GITLAB, **FAST_EUREKA}, ()),
}


def _relabel(obj: dict) -> None:
    obj["metadata"]["labels"]["app.kubernetes.io/part-of"] = "edited-by-hand"


# Someone changes managed objects by hand before these runs: the role sets them back (a patch).
HAND_EDITS = {
    "gitlab_changed": lambda api: api.edit("Service", "gitlab", "gitlab", change=_relabel),
    "eureka_scaled": lambda api: (api.edit("Service", "eureka-peers", "eureka", change=_relabel),
                                  api.edit("PodDisruptionBudget", "eureka", "eureka", change=_relabel)),
}
if (REPO_ROOT / "playbooks" / "doctor.yml").is_file():
    RUNS["doctor"] = ("doctor.yml", "doctor.yml", {"namespace": "apps"}, ())


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> dict:
    docs = load_manifests()
    accounts = service_accounts(docs)
    api = RbacApiServer(docs)
    _seed(api, docs)
    home = tmp_path_factory.mktemp("awx")
    server, url, ca_file = serve(api, home / "pki")
    inventory = write_inventory(home)
    runs: dict[str, Run] = {}
    refused: dict[str, list] = {}
    try:
        with ClusterLoop(api, NODES) as loop:
            for name, (playbook, account, variables, args) in RUNS.items():
                env = credential_environment(home, url, api.issue_token(accounts[f"playbooks/{account}"]), ca_file)
                if name in HAND_EDITS:
                    HAND_EDITS[name](api)
                seen = len(api.refused)
                runs[name] = run_playbook(api, REPO_ROOT / "playbooks" / playbook, env, inventory, variables, *args)
                refused[name] = api.refused[seen:]
    finally:
        server.shutdown()
    assert loop.error is None, f"the fake cluster's controllers stopped: {loop.error!r}"
    return {"api": api, "docs": docs, "accounts": accounts, "runs": runs, "refused": refused}


@pytest.mark.parametrize("name", [n for n in RUNS if "_as_" not in n])
def test_each_playbook_succeeds_with_its_own_account_and_the_credential_variables_only(jobs, name):
    run = jobs["runs"][name]
    assert run.returncode == 0, run.output[-4000:]
    assert jobs["refused"][name] == []


def test_the_runs_did_their_work(jobs):
    api, runs = jobs["api"], jobs["runs"]
    assert {t["key"] for t in api.get("Node", "node-1")["spec"]["taints"]} == {"gitlab/middleware"}
    assert api.get("Node", "node-3")["spec"]["taints"][0]["key"] == "dedicated"
    assert api.get("Node", "node-3")["metadata"]["labels"]["tier"] == "backend"
    assert "gitlab/general" in api.get("Node", "node-3")["metadata"]["labels"]
    assert "gitlab/application" not in api.get("Node", "node-2")["metadata"]["labels"], "check mode wrote"
    assert runs["restart_rollout"].writes() and runs["restart_recreate"].writes()
    assert api.get("Pod", "stuck", "apps") is None and api.get("PersistentVolumeClaim", "old-claim", "apps") is None
    assert api.get("Namespace", "old") is None
    assert runs["gitlab_again"].changed == 0 and runs["gitlab_again"].writes() == []
    left = [key for key in api.objects if key[2] in ("gitlab", "eureka") and key[1] != "events"]
    assert left == [], "state=absent with purge leaves nothing of what the roles created"


def test_the_site_account_holds_exactly_the_roles_of_the_playbooks_site_imports(jobs):
    import yaml

    site = yaml.safe_load((REPO_ROOT / "playbooks" / "site.yml").read_text())
    imported = [play["ansible.builtin.import_playbook"] for play in site if "ansible.builtin.import_playbook" in play]
    assert imported == ["nodes.yml", "gitlab.yml", "eureka.yml"]
    grants = jobs["api"].grants
    site_grants = {(g.role, g.namespace) for g in grants[username(jobs["accounts"]["playbooks/site.yml"])]}
    expected = {(g.role, g.namespace) for playbook in imported
                for g in grants[username(jobs["accounts"][f"playbooks/{playbook}"])]}
    assert site_grants == expected


@pytest.mark.parametrize("name, message", [
    # doctor only lists nodes: the GET of a named node is refused.
    ("taint_as_doctor", 'nodes "node-3" is forbidden: User "system:serviceaccount:kubeops-awx:kubeops-doctor" '
                        'cannot get resource "nodes" in API group "" at the cluster scope'),
    # The first request is refused: nothing is read or written.
    ("restart_as_taint", 'deployments.apps "web" is forbidden: User "system:serviceaccount:kubeops-awx:kubeops-taint" '
                         'cannot get resource "deployments" in API group "apps" in the namespace "apps"'),
    ("gitlab_as_eureka", 'namespaces "gitlab" is forbidden: User "system:serviceaccount:kubeops-awx:kubeops-eureka" '
                         'cannot get resource "namespaces" in API group "" in the namespace "gitlab"'),
    ("site_as_gitlab", 'nodes "node-1" is forbidden: User "system:serviceaccount:kubeops-awx:kubeops-gitlab" '
                       'cannot get resource "nodes" in API group "" at the cluster scope'),
])
def test_a_smaller_account_fails_with_the_api_message_before_any_write(jobs, name, message):
    run = jobs["runs"][name]
    assert run.returncode != 0
    assert message in run.output.replace('\\"', '"'), run.output[-3000:]
    # One refusal ends the run, and no write reached the API before it.
    assert len(jobs["refused"][name]) == 1
    assert run.writes() == []


def test_every_granted_rule_is_used_or_explained(jobs):
    granted = {(grant.role, index, attrs.verb, attrs.full_resource) for _user, attrs, grant, index in jobs["api"].granted}
    declared = _rules(jobs["docs"])
    unused = declared - granted - set(NOT_EXERCISED)
    if "playbooks/doctor.yml" not in {f"playbooks/{RUNS[n][0]}" for n in RUNS}:
        unused = {rule for rule in unused if rule[0] != "kubeops-platform:doctor"}
    assert not unused, ("rules that no run needed: remove them, or list them in NOT_EXERCISED with the reason: "
                        + "; ".join(f"{role} rule {index}: {verb} {resource}" for role, index, verb, resource in sorted(unused)))
    assert set(NOT_EXERCISED) <= declared, "NOT_EXERCISED lists rules the manifests do not have"
    assert not set(NOT_EXERCISED) & granted, "NOT_EXERCISED lists rules a run used: drop them from the list"
