"""kubeops.platform.taint against the fake API server."""

from __future__ import annotations

import pytest

from ansible_collections.kubeops.platform.plugins.modules import taint

MIDDLEWARE = {"key": "gitlab/middleware", "effect": "NoSchedule"}


def taints_of(fake, name):
    return (fake.get("Node", name).get("spec") or {}).get("taints") or []


def test_adds_taint_from_kubectl_string_then_is_idempotent(fake, run_module):
    fake.node("node03")
    first = run_module(taint.main, {"names": ["node03"], "taints": ["gitlab/middleware=:NoSchedule"]})
    assert first["changed"] is True
    assert first["results"] == [{"name": "node03", "changed": True, "before": [], "after": [MIDDLEWARE]}]
    assert taints_of(fake, "node03") == [MIDDLEWARE]

    writes = len(fake.writes)
    rv = fake.get("Node", "node03")["metadata"]["resourceVersion"]
    second = run_module(taint.main, {"names": ["node03"], "taints": ["gitlab/middleware:NoSchedule"]})
    assert second["changed"] is False
    assert len(fake.writes) == writes, "an unchanged node must not be written"
    assert fake.get("Node", "node03")["metadata"]["resourceVersion"] == rv


def test_selector_taints_every_matching_node_with_one_list(fake, run_module):
    for i in range(5):
        fake.node(f"pool-{i}", labels={"pool": "gpu"})
    fake.node("other", labels={"pool": "cpu"})
    result = run_module(taint.main, {"selector": "pool=gpu", "taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]})
    assert sorted(r["name"] for r in result["results"]) == [f"pool-{i}" for i in range(5)]
    assert taints_of(fake, "other") == []
    reads = [r for r in fake.log if r.method == "GET"]
    assert len(reads) == 1 and reads[0].query["labelSelector"] == "pool=gpu"


def test_value_change_updates_in_place_and_keeps_time_added(fake, run_module):
    fake.node("n1", taints=[{"key": "a", "value": "1", "effect": "NoExecute", "timeAdded": "2024-01-01T00:00:00Z"},
                            {"key": "b", "effect": "NoSchedule"}])
    result = run_module(taint.main, {"names": ["n1"], "taints": ["a=2:NoExecute"]})
    assert result["changed"] is True
    assert taints_of(fake, "n1") == [
        {"key": "a", "value": "2", "effect": "NoExecute", "timeAdded": "2024-01-01T00:00:00Z"},
        {"key": "b", "effect": "NoSchedule"},
    ]


def test_absent_key_alone_removes_every_effect(fake, run_module):
    fake.node("n1", taints=[{"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoExecute"},
                            {"key": "b", "effect": "NoSchedule"}])
    run_module(taint.main, {"names": ["n1"], "taints": ["a"], "state": "absent"})
    assert taints_of(fake, "n1") == [{"key": "b", "effect": "NoSchedule"}]


def test_absent_with_effect_removes_only_that_effect(fake, run_module):
    fake.node("n1", taints=[{"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoExecute"}])
    run_module(taint.main, {"names": ["n1"], "taints": ["a:NoExecute"], "state": "absent"})
    assert taints_of(fake, "n1") == [{"key": "a", "effect": "NoSchedule"}]


def test_removing_last_taint_clears_the_field(fake, run_module):
    fake.node("n1", taints=[MIDDLEWARE])
    result = run_module(taint.main, {"names": ["n1"], "taints": ["gitlab/middleware"], "state": "absent"})
    assert result["results"][0]["after"] == []
    assert "taints" not in fake.get("Node", "n1")["spec"]


def test_exact_with_prefixes_leaves_other_taints_alone(fake, run_module):
    system = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-01-01T00:00:00Z"}
    fake.node("n1", taints=[system, {"key": "gitlab/old", "effect": "NoSchedule"}])
    run_module(taint.main, {"names": ["n1"], "taints": ["gitlab/application:NoSchedule"], "state": "exact",
                            "prefixes": ["gitlab/"]})
    assert taints_of(fake, "n1") == [system, {"key": "gitlab/application", "effect": "NoSchedule"}]


def test_exact_without_prefixes_replaces_whole_set(fake, run_module):
    fake.node("n1", taints=[{"key": "x", "effect": "NoSchedule"}])
    run_module(taint.main, {"names": ["n1"], "taints": ["y:NoExecute"], "state": "exact"})
    assert taints_of(fake, "n1") == [{"key": "y", "effect": "NoExecute"}]


def test_check_mode_uses_dry_run_and_writes_nothing(fake, run_module):
    fake.node("n1")
    before = fake.get("Node", "n1")
    result = run_module(taint.main, {"names": ["n1"], "taints": ["a=1:NoSchedule"]}, check_mode=True)
    assert result["changed"] is True
    assert result["results"][0]["after"] == [{"key": "a", "value": "1", "effect": "NoSchedule"}]
    assert fake.get("Node", "n1") == before
    assert fake.writes == []
    assert [r.query.get("dryRun") for r in fake.log if r.method == "PATCH"] == ["All"]


def test_diff_shows_before_and_after_per_changed_node(fake, run_module):
    fake.node("n1")
    fake.node("n2", taints=[{"key": "a", "value": "1", "effect": "NoSchedule"}])
    result = run_module(taint.main, {"names": ["n1", "n2"], "taints": ["a=1:NoSchedule"]}, diff=True)
    expected = {"before_header": "Node n1", "after_header": "Node n1", "before": {"taints": []},
                "after": {"taints": [{"key": "a", "value": "1", "effect": "NoSchedule"}]}}
    assert result["diff"] == [expected]
    # In a loop, Ansible's output finds diffs inside each entry of 'results'.
    assert [r.get("diff") for r in result["results"]] == [expected, None]


def test_diff_renders_in_ansible_output(fake, run_module):
    from ansible.plugins.callback import CallbackBase

    fake.node("n1", taints=[{"key": "b", "effect": "NoSchedule"}])
    result = run_module(taint.main, {"names": ["n1"], "taints": ["a=1:NoExecute"]}, diff=True)
    text = CallbackBase()._get_diff(result["diff"])
    assert "before: Node n1" in text and "after: Node n1" in text
    added = [line for line in text.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any('"key": "a"' in line for line in added), text


def test_no_diff_without_diff_mode(fake, run_module):
    fake.node("n1")
    result = run_module(taint.main, {"names": ["n1"], "taints": ["a:NoSchedule"]})
    assert "diff" not in result
    assert "diff" not in result["results"][0]


def test_conflict_is_retried_with_a_fresh_read_and_keeps_the_other_writer(fake, run_module):
    fake.node("n1", taints=[{"key": "a", "effect": "NoSchedule"}])

    def concurrent_writer(server, request):
        if request.method == "PATCH" and not getattr(concurrent_writer, "done", False):
            concurrent_writer.done = True
            server.edit("Node", "n1", change=lambda o: o["spec"]["taints"].append({"key": "other", "effect": "NoExecute"}))

    fake.before_request.append(concurrent_writer)
    result = run_module(taint.main, {"names": ["n1"], "taints": ["mine:NoSchedule"]})
    assert result["changed"] is True
    assert taints_of(fake, "n1") == [{"key": "a", "effect": "NoSchedule"}, {"key": "other", "effect": "NoExecute"},
                                     {"key": "mine", "effect": "NoSchedule"}]
    patches = [r for r in fake.log if r.method == "PATCH"]
    assert len(patches) == 2, "first patch gets 409, second one succeeds"


def test_gives_up_after_repeated_conflicts(fake, run_module):
    fake.node("n1")
    fake.before_request.append(
        lambda server, req: req.method == "PATCH" and server.edit("Node", "n1", change=lambda o: None))
    result = run_module(taint.main, {"names": ["n1"], "taints": ["a:NoSchedule"]})
    assert result["failed"] is True
    assert "kept changing while being updated (5 conflicts in a row)" in result["msg"]


@pytest.mark.parametrize(
    "taints, message",
    [
        (["gitlab/middleware=:NoExcute"],
         "taint effect 'NoExcute' is not one of NoSchedule, PreferNoSchedule, NoExecute (did you mean 'NoExecute'?)"),
        (["-bad:NoSchedule"], "taint key '-bad' is invalid"),
        ([f"k={'v' * 64}:NoSchedule"], "must be 63 characters or fewer"),
        (["gitlab/middleware"], "effect"),
    ],
)
def test_bad_taint_fails_before_any_request(fake, run_module, taints, message):
    fake.node("n1")
    result = run_module(taint.main, {"names": ["n1"], "taints": taints})
    assert result["failed"] is True
    assert message in result["msg"]
    assert fake.log == []


def test_missing_named_node_fails_before_writing_the_others(fake, run_module):
    fake.node("n1")
    result = run_module(taint.main, {"names": ["n1", "ghost"], "taints": ["a:NoSchedule"]})
    assert result["failed"] is True
    assert result["msg"] == "Node not found: ghost"
    assert result["missing"] == ["ghost"]
    assert fake.writes == []


def test_missing_warn_goes_on_with_the_rest(fake, run_module):
    fake.node("n1")
    result = run_module(taint.main, {"names": ["n1", "ghost"], "taints": ["a:NoSchedule"], "missing": "warn"})
    assert result["changed"] is True
    assert result["missing"] == ["ghost"]
    assert "Node not found: ghost" in result["warnings"]


def test_selector_matching_nothing_warns_by_default(fake, run_module):
    result = run_module(taint.main, {"selector": "pool=none", "taints": ["a:NoSchedule"]})
    assert result["changed"] is False
    assert result["warnings"] == ["label selector 'pool=none' matched no Node"]


def test_selector_matching_nothing_can_fail(fake, run_module):
    result = run_module(taint.main, {"selector": "pool=none", "taints": ["a:NoSchedule"], "missing": "fail"})
    assert result["failed"] is True
    assert result["msg"] == "label selector 'pool=none' matched no Node"


def test_names_and_selector_union_acts_once_per_node(fake, run_module):
    fake.node("a", labels={"pool": "x"})
    fake.node("b", labels={"pool": "x"})
    fake.node("c")
    result = run_module(taint.main, {"names": ["a", "c"], "selector": "pool=x", "taints": ["t:NoSchedule"]})
    assert sorted(r["name"] for r in result["results"]) == ["a", "b", "c"]
    assert len([r for r in fake.log if r.method == "PATCH"]) == 3


def test_malformed_selector_fails_before_any_request(fake, run_module):
    result = run_module(taint.main, {"selector": "app in (a", "taints": ["t:NoSchedule"]})
    assert result["failed"] is True
    assert "app in (a" in result["msg"]
    assert fake.log == []


def test_every_write_is_guarded_by_resource_version(fake, run_module):
    node = fake.node("n1")
    run_module(taint.main, {"names": ["n1"], "taints": ["t:NoSchedule"]})
    patch = next(r for r in fake.log if r.method == "PATCH")
    assert patch.content_type == "application/merge-patch+json"
    assert patch.body["metadata"]["resourceVersion"] == node["metadata"]["resourceVersion"]
