"""Every module refuses, before any request, a target wider than the task says: an empty selector,
every namespace, more objects than max_objects; each names the explicit way to go ahead."""

from __future__ import annotations

import pytest

from ansible_collections.kubeops.platform.plugins.modules import annotate, force_delete, label, restart, taint


def state_of(fake) -> dict:
    """uid, resourceVersion and deletionTimestamp of every stored object."""
    return {key: (obj["metadata"].get("uid"), obj["metadata"].get("resourceVersion"),
                  obj["metadata"].get("deletionTimestamp")) for key, obj in fake.objects.items()}


@pytest.fixture
def pods(fake):
    for namespace in ("gitlab", "dsp"):
        fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        for i in range(3):
            fake.add({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": f"web-{i}", "namespace": namespace, "labels": {"app": "web"}},
                      "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "nginx:1.27"}]},
                      "status": {"phase": "Running"}})
    for name in ("node-1", "node-2"):
        fake.node(name, labels={"kubernetes.io/hostname": name})
    return fake


EMPTY_SELECTOR = [
    (label.main, {"selector": "", "labels": {"team": "a"}}),
    (label.main, {"selector": "  ", "labels": {"team": "a"}}),
    (annotate.main, {"selector": "", "annotations": {"team": "a"}}),
    (taint.main, {"selector": "", "taints": ["gitlab/middleware:NoSchedule"]}),
    (force_delete.main, {"kind": "Pod", "selector": ""}),
    (force_delete.main, {"kind": "Pod", "namespace": "gitlab", "selector": ""}),
    (restart.main, {"kind": "Pod", "namespace": "gitlab", "selector": ""}),
]


@pytest.mark.parametrize(("main", "args"), EMPTY_SELECTOR, ids=lambda v: getattr(v, "__module__", str(v)))
def test_an_empty_selector_is_refused_before_any_request(pods, run_module, main, args):
    before = state_of(pods)
    pods.log.clear()
    result = run_module(main, args)
    assert result["failed"] is True
    assert "selector is empty, which would match every" in result["msg"]
    assert "all: true" in result["msg"]
    assert pods.log == [] and state_of(pods) == before


def test_all_true_is_the_explicit_way_to_label_every_node(pods, run_module):
    result = run_module(label.main, {"all": True, "labels": {"team": "a"}})
    assert [r["name"] for r in result["results"]] == ["node-1", "node-2"]
    assert all(pods.get("Node", n)["metadata"]["labels"]["team"] == "a" for n in ("node-1", "node-2"))


def test_all_takes_no_names_or_selector(pods, run_module):
    result = run_module(label.main, {"all": True, "names": ["node-1"], "labels": {"team": "a"}})
    assert result["failed"] and "takes neither names nor selector" in result["msg"]


NO_NAMESPACE = [
    (force_delete.main, {"kind": "Pod", "selector": "app=web"}),
    (force_delete.main, {"kind": "Pod", "all": True}),
    (restart.main, {"kind": "Pod", "selector": "app=web", "strategy": "recreate"}),
    (label.main, {"kind": "Pod", "selector": "app=web", "labels": {"team": "a"}}),
    (annotate.main, {"kind": "Pod", "selector": "app=web", "annotations": {"team": "a"}}),
]


@pytest.mark.parametrize(("main", "args"), NO_NAMESPACE, ids=lambda v: getattr(v, "__module__", str(v)))
def test_a_namespaced_kind_without_namespace_is_refused(pods, run_module, main, args):
    before = state_of(pods)
    pods.log.clear()
    result = run_module(main, args)
    assert result["failed"] is True
    assert "would choose Pod objects in every namespace" in result["msg"]
    assert "all_namespaces: true" in result["msg"]
    assert pods.log == [] and state_of(pods) == before


def test_all_namespaces_acts_across_namespaces_when_asked(pods, run_module):
    result = run_module(label.main, {"kind": "Pod", "selector": "app=web", "all_namespaces": True,
                                     "labels": {"team": "a"}})
    assert sorted((r["namespace"], r["name"]) for r in result["results"]) == [
        (ns, f"web-{i}") for ns in ("dsp", "gitlab") for i in range(3)]


@pytest.mark.parametrize(("args", "message"), [
    ({"kind": "Pod", "namespace": "gitlab", "all_namespaces": True, "selector": "app=web"}, "not both"),
    ({"kind": "Node", "namespace": "gitlab", "selector": "app=web"}, "Node objects are not namespaced"),
    ({"kind": "Node", "all_namespaces": True, "selector": "app=web"}, "remove all_namespaces"),
])
def test_contradictory_namespace_options_are_refused(pods, run_module, args, message):
    result = run_module(label.main, {**args, "labels": {"team": "a"}})
    assert result["failed"] and message in result["msg"]


def test_force_delete_refuses_more_matches_than_max_objects_and_deletes_nothing(pods, run_module):
    before = state_of(pods)
    result = run_module(force_delete.main, {"kind": "Pod", "selector": "app=web", "all_namespaces": True,
                                            "max_objects": 5})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("6 Pod objects matching 'app=web' across all namespaces, more than max_objects (5)")
    assert "set max_objects: 6 (0 for no limit)" in result["msg"]
    assert "Pod dsp/web-0" in result["msg"]
    assert pods.writes == [] and state_of(pods) == before


def test_the_default_max_objects_guards_restart_too(pods, run_module):
    for i in range(3, 12):
        pods.add({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": f"web-{i}", "namespace": "gitlab", "labels": {"app": "web"}},
                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})
    result = run_module(restart.main, {"kind": "Pod", "namespace": "gitlab", "selector": "app=web"})
    assert result["failed"] is True and "12 Pod objects matching 'app=web' in namespace gitlab" in result["msg"]
    assert "more than max_objects (10)" in result["msg"] and "and 2 more" in result["msg"]
    assert pods.writes == []


def test_max_objects_zero_means_no_limit_and_names_are_not_limited(pods, run_module):
    result = run_module(force_delete.main, {"kind": "Pod", "selector": "app=web", "all_namespaces": True,
                                            "max_objects": 0}, check_mode=True)
    assert len(result["results"]) == 6 and result["changed"] is True
    named = run_module(force_delete.main, {"kind": "Pod", "namespace": "gitlab", "names": ["web-0", "web-1", "web-2"],
                                           "max_objects": 1}, check_mode=True)
    assert len(named["results"]) == 3 and not named.get("failed")
    assert pods.writes == []
