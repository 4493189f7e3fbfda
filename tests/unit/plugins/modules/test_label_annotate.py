"""kubeops.platform.label and kubeops.platform.annotate against the fake API server."""

from __future__ import annotations

import pytest

from ansible_collections.kubeops.platform.plugins.modules import annotate, label
from fake_k8s import ApiStatus


def labels_of(fake, kind, name, namespace=None):
    return fake.get(kind, name, namespace)["metadata"].get("labels") or {}


@pytest.fixture
def gitlab_ns(fake):
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gitlab"}})
    for name, labels in (("redis", {"app": "gitlab", "tier": "cache"}), ("web", {"app": "gitlab", "tier": "frontend"})):
        fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "gitlab", "labels": labels}})
    return fake


def test_label_node_like_the_notebook_then_idempotent(fake, run_module):
    fake.node("node03", labels={"kubernetes.io/hostname": "node03"})
    first = run_module(label.main, {"names": ["node03"], "labels": {"gitlab/middleware": ""}})
    assert first["changed"] is True
    assert first["results"] == [{
        "kind": "Node", "name": "node03", "changed": True,
        "before": {"kubernetes.io/hostname": "node03"},
        "after": {"kubernetes.io/hostname": "node03", "gitlab/middleware": ""},
    }]
    writes = len(fake.writes)
    second = run_module(label.main, {"names": ["node03"], "labels": {"gitlab/middleware": ""}})
    assert second["changed"] is False
    assert len(fake.writes) == writes


def test_null_value_removes_and_overwrite_updates(fake, run_module):
    fake.node("n1", labels={"release": "canary", "old": "x"})
    run_module(label.main, {"names": ["n1"], "labels": {"release": "stable", "old": None}})
    assert labels_of(fake, "Node", "n1") == {"release": "stable"}


def test_absent_accepts_a_list_of_keys_and_ignores_values(fake, run_module):
    fake.node("n1", labels={"a": "1", "b": "2", "c": "3"})
    run_module(label.main, {"names": ["n1"], "labels": ["a"], "state": "absent"})
    run_module(label.main, {"names": ["n1"], "labels": {"b": "anything"}, "state": "absent"})
    assert labels_of(fake, "Node", "n1") == {"c": "3"}


def test_exact_limited_to_prefixes_never_touches_system_labels(fake, run_module):
    fake.node("n1", labels={"kubernetes.io/hostname": "n1", "gitlab/middleware": "", "team": "x"})
    result = run_module(label.main, {"names": ["n1"], "labels": {"gitlab/application": ""}, "state": "exact",
                                     "prefixes": ["gitlab/"]})
    assert result["changed"] is True
    assert labels_of(fake, "Node", "n1") == {"kubernetes.io/hostname": "n1", "team": "x", "gitlab/application": ""}


def test_exact_without_prefixes_makes_the_whole_set(fake, run_module):
    fake.node("n1", labels={"a": "1", "b": "2"})
    run_module(label.main, {"names": ["n1"], "labels": {"b": "2"}, "state": "exact"})
    assert labels_of(fake, "Node", "n1") == {"b": "2"}


def test_exact_key_outside_prefixes_is_rejected(fake, run_module):
    fake.node("n1")
    result = run_module(label.main, {"names": ["n1"], "labels": {"team": "x"}, "state": "exact", "prefixes": ["gitlab/"]})
    assert result["failed"] is True
    assert result["msg"].startswith("label 'team' is outside the managed prefixes gitlab/")
    assert fake.log == []


def test_namespaced_kind_by_selector_across_one_namespace(gitlab_ns, run_module):
    result = run_module(label.main, {"kind": "ConfigMap", "namespace": "gitlab", "selector": "app=gitlab,tier!=cache",
                                     "labels": {"team": "platform"}})
    assert [(r["namespace"], r["name"]) for r in result["results"]] == [("gitlab", "web")]
    assert labels_of(gitlab_ns, "ConfigMap", "web", "gitlab")["team"] == "platform"
    assert "team" not in labels_of(gitlab_ns, "ConfigMap", "redis", "gitlab")


def test_names_of_a_namespaced_kind_need_a_namespace(gitlab_ns, run_module):
    result = run_module(label.main, {"kind": "ConfigMap", "names": ["web"], "labels": {"a": "b"}})
    assert result["failed"] is True
    assert result["msg"] == "namespace is required to target ConfigMap objects by name"


def test_custom_kind_is_found_by_discovery_and_unknown_kind_is_named(fake, run_module):
    fake.register_kind("example.com/v1", "Widget", "widgets", True)
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    fake.add({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"}})
    ok = run_module(label.main, {"api_version": "example.com/v1", "kind": "Widget", "namespace": "ns", "names": ["w"],
                                 "labels": {"a": "b"}})
    assert ok["changed"] is True
    bad = run_module(label.main, {"api_version": "example.com/v1", "kind": "Widgit", "namespace": "ns", "names": ["w"],
                                  "labels": {"a": "b"}})
    assert bad["failed"] is True
    assert bad["msg"] == "kind 'Widgit' is not served under api_version 'example.com/v1' (did you mean 'Widget'?)"
    assert fake.writes[-1].method == "PATCH" and len(fake.writes) == 1


@pytest.mark.parametrize(
    "labels, message",
    [
        ({"app": "v" * 64}, "label 'app' value"),
        ({"gitlab/-bad": "x"}, "label key 'gitlab/-bad' is invalid"),
        ({"k" * 64: "x"}, "must be 63 characters or fewer"),
        ({"app": 5}, "quote"),
        ({"app": "a b"}, "label 'app' value 'a b' is invalid"),
    ],
)
def test_bad_labels_fail_before_any_request(fake, run_module, labels, message):
    fake.node("n1")
    result = run_module(label.main, {"names": ["n1"], "labels": labels})
    assert result["failed"] is True
    assert message in result["msg"]
    assert fake.log == []


def test_check_mode_label_is_a_server_dry_run(fake, run_module):
    fake.node("n1")
    result = run_module(label.main, {"names": ["n1"], "labels": {"a": "b"}}, check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["diff"] == [{"before_header": "Node n1", "after_header": "Node n1",
                               "before": {"labels": {}}, "after": {"labels": {"a": "b"}}}]
    assert fake.writes == []
    assert labels_of(fake, "Node", "n1") == {}


def test_concurrent_label_writer_is_not_lost(fake, run_module):
    fake.node("n1", labels={"a": "1"})

    def other_play(server, request):
        if request.method == "PATCH" and not other_play.done:
            other_play.done = True
            server.edit("Node", "n1", change=lambda o: o["metadata"]["labels"].update({"theirs": "1"}))

    other_play.done = False
    fake.before_request.append(other_play)
    run_module(label.main, {"names": ["n1"], "labels": {"mine": "1"}, "state": "exact", "prefixes": ["mine"]})
    assert labels_of(fake, "Node", "n1") == {"a": "1", "theirs": "1", "mine": "1"}


def test_annotate_sets_any_string_value_and_removes(fake, run_module):
    fake.node("n1")
    value = "gitlab-ipv4-gitlab2,gitlab-ipv6-gitlab2 with spaces / and {json: true}"
    first = run_module(annotate.main, {"names": ["n1"], "annotations": {"dce.daocloud.io/parcel.net.value": value}})
    assert first["changed"] is True
    assert fake.get("Node", "n1")["metadata"]["annotations"] == {"dce.daocloud.io/parcel.net.value": value}
    again = run_module(annotate.main, {"names": ["n1"], "annotations": {"dce.daocloud.io/parcel.net.value": value}})
    assert again["changed"] is False
    run_module(annotate.main, {"names": ["n1"], "annotations": ["dce.daocloud.io/parcel.net.value"], "state": "absent"})
    assert "annotations" not in fake.get("Node", "n1")["metadata"] or not fake.get("Node", "n1")["metadata"]["annotations"]


def test_annotation_total_size_limit_counts_existing_annotations(fake, run_module):
    fake.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "annotations": {"big": "x" * 200_000}}})
    result = run_module(annotate.main, {"names": ["n1"], "annotations": {"more": "y" * 70_000}})
    assert result["failed"] is True
    assert "262144" in result["msg"]
    assert fake.writes == []


def test_annotation_value_must_be_a_string(fake, run_module):
    fake.node("n1")
    result = run_module(annotate.main, {"names": ["n1"], "annotations": {"replicas": 3}})
    assert result["failed"] is True
    assert result["msg"] == "annotation 'replicas' value 3 must be a string: quote it in YAML"


def test_api_rejection_reports_partial_results(fake, run_module):
    fake.node("a")
    fake.node("b")

    def rbac(server, request):
        if request.method == "PATCH" and request.path.endswith("/b"):
            raise ApiStatus(403, "Forbidden", 'nodes "b" is forbidden: User "ci" cannot patch resource "nodes"')

    fake.before_request.append(rbac)
    result = run_module(label.main, {"names": ["a", "b"], "labels": {"x": "1"}})
    assert result["failed"] is True
    assert "forbidden" in result["msg"]
    assert result["changed"] is True
    assert [r["name"] for r in result["results"]] == ["a"]


KUBELET_LABELS = {"kubernetes.io/hostname": "n1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "beta.kubernetes.io/arch": "amd64", "node-role.kubernetes.io/control-plane": "",
                  "node.kubernetes.io/exclude-from-external-load-balancers": "", "topology.k8s.io/zone": "a"}


def test_exact_without_prefixes_keeps_kubernetes_own_labels(fake, run_module):
    fake.node("n1", labels={**KUBELET_LABELS, "team": "x", "gitlab/middleware": ""})
    result = run_module(label.main, {"names": ["n1"], "labels": {"gitlab/application": ""}, "state": "exact"})
    assert result["changed"] is True
    assert labels_of(fake, "Node", "n1") == {**KUBELET_LABELS, "gitlab/application": ""}


def test_exact_removes_kubernetes_labels_only_under_a_prefix_naming_their_domain(fake, run_module):
    fake.node("n1", labels={**KUBELET_LABELS, "node-role.kubernetes.io/worker": ""})
    run_module(label.main, {"names": ["n1"], "labels": {"node-role.kubernetes.io/infra": ""}, "state": "exact",
                            "prefixes": ["node-role.kubernetes.io/"]})
    expected = {k: v for k, v in KUBELET_LABELS.items() if not k.startswith("node-role.")}
    assert labels_of(fake, "Node", "n1") == {**expected, "node-role.kubernetes.io/infra": ""}


def test_exact_annotations_keep_those_of_kubeadm_and_controllers(fake, run_module):
    system = {"node.alpha.kubernetes.io/ttl": "0", "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd.sock",
              "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
    fake.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "annotations": {**system, "owner": "x"}}})
    run_module(annotate.main, {"names": ["n1"], "annotations": {"owner.kubeops.io/team": "platform"}, "state": "exact"})
    assert fake.get("Node", "n1")["metadata"]["annotations"] == {**system, "owner.kubeops.io/team": "platform"}
