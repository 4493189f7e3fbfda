"""kubeops.platform.force_delete against the fake API server, on a fake clock."""

from __future__ import annotations

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils import _rollout
from ansible_collections.kubeops.platform.plugins.modules import force_delete
from fake_k8s import now


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = lambda: None

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep()


@pytest.fixture
def clock(fake, monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(_rollout, "monotonic", lambda: clock.now)
    monkeypatch.setattr(_rollout, "sleep", clock.sleep)
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gitlab"}})
    return clock


def pod(fake, name="redis-0", terminating=False, finalizers=None):
    fake.add({"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": name, "namespace": "gitlab", "labels": {"app": "redis"},
                           **({"finalizers": finalizers} if finalizers else {})},
              "spec": {"nodeName": "node03", "containers": [{"name": "redis", "image": "redis:7.2"}]},
              "status": {"phase": "Running"}})
    if terminating:  # a graceful deletion the kubelet of a lost node never finishes
        fake.edit("Pod", name, "gitlab", change=lambda o: o["metadata"].update(
            deletionTimestamp=now(), deletionGracePeriodSeconds=30))


def pvc(fake, name="gitlab-data", finalizers=("kubernetes.io/pvc-protection",), terminating=False):
    fake.add({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
              "metadata": {"name": name, "namespace": "gitlab", "labels": {"app": "gitlab"},
                           "finalizers": list(finalizers)},
              "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}})
    if terminating:
        fake.edit("PersistentVolumeClaim", name, "gitlab", change=lambda o: o["metadata"].update(
            deletionTimestamp=now()))


PVC = {"kind": "PersistentVolumeClaim", "namespace": "gitlab"}


# ---- pods -------------------------------------------------------------------------------------
def test_a_pod_stuck_terminating_is_deleted_with_grace_period_zero(fake, clock, run_module):
    pod(fake, terminating=True)
    result = run_module(force_delete.main, {"namespace": "gitlab", "names": ["redis-0"]})
    assert result["changed"] is True
    assert result["results"] == [{"kind": "Pod", "name": "redis-0", "namespace": "gitlab", "changed": True,
                                  "was_terminating": True, "deleted": True, "finalizers_removed": [], "gone": True,
                                  "message": "deleted"}]
    [delete] = fake.writes
    assert delete.method == "DELETE" and delete.body["gracePeriodSeconds"] == 0
    assert delete.body["preconditions"]["uid"]
    assert fake.get("Pod", "redis-0", "gitlab") is None and clock.sleeps == []


def test_a_live_pod_goes_at_once_and_a_second_run_changes_nothing(fake, clock, run_module):
    pod(fake)
    assert run_module(force_delete.main, {"namespace": "gitlab", "names": ["redis-0"]})["changed"] is True
    writes = len(fake.writes)
    again = run_module(force_delete.main, {"namespace": "gitlab", "names": ["redis-0"]})
    assert again["changed"] is False and len(fake.writes) == writes
    assert again["results"] == [{"kind": "Pod", "name": "redis-0", "namespace": "gitlab", "changed": False,
                                 "was_terminating": False, "deleted": False, "finalizers_removed": [], "gone": True,
                                 "message": "already absent"}]
    assert again["missing"] == ["redis-0"] and again["warnings"] == []


def test_missing_fail_still_catches_a_typo(fake, clock, run_module):
    result = run_module(force_delete.main, {"namespace": "gitlab", "names": ["redsi-0"], "missing": "fail"})
    assert result["failed"] is True and result["msg"] == "Pod not found in namespace gitlab: redsi-0"


# ---- finalizers -------------------------------------------------------------------------------
def test_a_terminating_pvc_held_by_a_finalizer_has_it_removed_with_a_warning(fake, clock, run_module):
    pvc(fake, finalizers=["example.com/backup-hold"], terminating=True)
    result = run_module(force_delete.main, {**PVC, "names": ["gitlab-data"], "remove_finalizers": True,
                                            "timeout": 5})
    assert result["changed"] is True
    [entry] = result["results"]
    assert entry["finalizers_removed"] == ["example.com/backup-hold"] and entry["gone"] is True
    assert entry["deleted"] is False and entry["message"] == "finalizers example.com/backup-hold removed"
    [patch] = fake.writes
    assert patch.method == "PATCH" and patch.content_type == "application/merge-patch+json"
    assert patch.body["metadata"]["finalizers"] is None and patch.body["metadata"]["resourceVersion"]
    assert result["warnings"] == [
        "removed finalizers example.com/backup-hold from PersistentVolumeClaim gitlab/gitlab-data: what they "
        "protected may be left behind (its controller's cleanup of external resources or dependent objects is "
        "skipped)"]
    assert sum(clock.sleeps) == pytest.approx(5), "waited the timeout before removing the finalizer"
    assert fake.get("PersistentVolumeClaim", "gitlab-data", "gitlab") is None


def test_a_live_pvc_is_deleted_but_its_finalizers_need_allow_live(fake, clock, run_module):
    pvc(fake)
    args = {**PVC, "names": ["gitlab-data"], "remove_finalizers": True, "timeout": 3}
    first = run_module(force_delete.main, args)
    assert first["failed"] is True
    assert first["msg"] == (
        "PersistentVolumeClaim gitlab/gitlab-data was not terminating before this task and is still there after 3s, "
        "held by finalizers kubernetes.io/pvc-protection: finalizers are not removed from a live object without "
        "allow_live: true (they protect: a pod may still be using the claim's volume)")
    assert [r.method for r in fake.writes] == ["DELETE"]
    assert fake.get("PersistentVolumeClaim", "gitlab-data", "gitlab")["metadata"]["deletionTimestamp"]
    # now it is stuck terminating: the same task goes on to remove the finalizer
    second = run_module(force_delete.main, args)
    assert second["changed"] is True and second["results"][0]["finalizers_removed"] == ["kubernetes.io/pvc-protection"]
    assert "a pod may still be using the claim's volume" in second["warnings"][0]
    assert fake.get("PersistentVolumeClaim", "gitlab-data", "gitlab") is None


def test_allow_live_removes_the_finalizers_of_a_live_object_in_one_run(fake, clock, run_module):
    pvc(fake, finalizers=["example.com/hold"])
    result = run_module(force_delete.main, {**PVC, "names": ["gitlab-data"], "remove_finalizers": True,
                                            "allow_live": True, "timeout": 1})
    assert result["changed"] is True
    assert result["results"][0]["deleted"] is True and result["results"][0]["finalizers_removed"] == ["example.com/hold"]
    assert result["results"][0]["message"] == "deleted, then finalizers example.com/hold removed"
    assert [r.method for r in fake.writes] == ["DELETE", "PATCH"]
    assert fake.get("PersistentVolumeClaim", "gitlab-data", "gitlab") is None


def test_without_remove_finalizers_a_held_object_fails_naming_its_finalizers(fake, clock, run_module):
    pvc(fake, terminating=True)
    result = run_module(force_delete.main, {**PVC, "names": ["gitlab-data"], "timeout": 2})
    assert result["failed"] is True
    assert result["msg"] == (
        "PersistentVolumeClaim gitlab/gitlab-data is still there after 2s, held by finalizers "
        "kubernetes.io/pvc-protection: set remove_finalizers: true to remove them (what they protect may be left "
        "behind: a pod may still be using the claim's volume)")
    assert fake.writes == []
    assert result["results"][0]["gone"] is False and result["results"][0]["message"] == "still there"


def test_an_object_released_by_its_controller_while_waiting_keeps_its_finalizers_untouched(fake, clock, run_module):
    pvc(fake)

    def controller_releases():
        if len(clock.sleeps) == 3:
            fake.request("PATCH", "/api/v1/namespaces/gitlab/persistentvolumeclaims/gitlab-data",
                         [("Content-Type", "application/merge-patch+json")], b'{"metadata": {"finalizers": null}}')

    clock.on_sleep = controller_releases
    result = run_module(force_delete.main, {**PVC, "names": ["gitlab-data"], "remove_finalizers": True,
                                            "allow_live": True, "timeout": 60})
    assert result["changed"] is True
    assert result["results"][0]["finalizers_removed"] == [] and result["results"][0]["message"] == "deleted"
    assert result["warnings"] == []
    assert sum(clock.sleeps) < 1, "returned as soon as it was gone"


def test_a_namespace_stuck_terminating_is_finalized(fake, clock, run_module):
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old-gitlab"}})
    fake.request("DELETE", "/api/v1/namespaces/old-gitlab", [], None)
    assert fake.get("Namespace", "old-gitlab")["status"]["phase"] == "Terminating"
    fake.log.clear()
    result = run_module(force_delete.main, {"kind": "Namespace", "names": ["old-gitlab"], "remove_finalizers": True,
                                            "timeout": 1})
    assert result["changed"] is True
    assert result["results"][0]["finalizers_removed"] == ["kubernetes"]
    [finalize] = fake.writes
    assert (finalize.method, finalize.path) == ("PUT", "/api/v1/namespaces/old-gitlab/finalize")
    assert finalize.body["spec"]["finalizers"] == [] and finalize.body["metadata"]["resourceVersion"]
    assert "objects still in the namespace stay behind, orphaned" in result["warnings"][0]
    assert fake.get("Namespace", "old-gitlab") is None


def test_a_conflict_while_removing_finalizers_is_retried_on_a_fresh_read(fake, clock, run_module):
    pvc(fake, finalizers=["a.example.com/x"], terminating=True)

    def another_controller(server, request):
        if request.method == "PATCH" and not getattr(another_controller, "done", False):
            another_controller.done = True
            server.edit("PersistentVolumeClaim", "gitlab-data", "gitlab",
                        change=lambda o: o["metadata"].setdefault("labels", {}).update(seen="yes"))

    fake.before_request.append(another_controller)
    result = run_module(force_delete.main, {**PVC, "names": ["gitlab-data"], "remove_finalizers": True,
                                            "timeout": 0})
    assert result["changed"] is True
    assert [r.method for r in fake.log if r.method != "GET"] == ["PATCH", "PATCH"]
    assert fake.get("PersistentVolumeClaim", "gitlab-data", "gitlab") is None


def test_custom_kind_by_selector(fake, clock, run_module):
    fake.register_kind("example.com/v1", "Widget", "widgets", True)
    for name in ("w1", "w2"):
        fake.add({"apiVersion": "example.com/v1", "kind": "Widget",
                  "metadata": {"name": name, "namespace": "gitlab", "labels": {"app": "legacy"},
                               "finalizers": ["widgets.example.com/cleanup"]}})
    result = run_module(force_delete.main, {"api_version": "example.com/v1", "kind": "Widget", "namespace": "gitlab",
                                            "selector": "app=legacy", "remove_finalizers": True, "allow_live": True,
                                            "timeout": 1})
    assert [(r["name"], r["finalizers_removed"], r["gone"]) for r in result["results"]] == [
        ("w1", ["widgets.example.com/cleanup"], True), ("w2", ["widgets.example.com/cleanup"], True)]
    assert len(result["warnings"]) == 2


# ---- check mode and diff ----------------------------------------------------------------------
def test_check_mode_writes_nothing_and_says_what_would_happen(fake, clock, run_module):
    pod(fake, terminating=True)
    pvc(fake, "stuck", finalizers=["example.com/hold"], terminating=True)
    pvc(fake, "live")
    before = {k: dict(v) for k, v in fake.objects.items()}
    pods = run_module(force_delete.main, {"namespace": "gitlab", "names": ["redis-0"]}, check_mode=True)
    assert pods["changed"] is True and pods["results"][0]["message"] == "would delete"
    pvcs = run_module(force_delete.main, {**PVC, "names": ["stuck", "live"], "remove_finalizers": True},
                      check_mode=True)
    stuck, live = pvcs["results"]
    assert stuck["message"] == ("already terminating, then remove finalizers example.com/hold if it is still there "
                                "after 60s")
    assert stuck["finalizers_removed"] == ["example.com/hold"] and stuck["changed"] is True
    assert live["message"] == "would delete" and live["finalizers_removed"] == []
    assert pvcs["warnings"] == ["PersistentVolumeClaim gitlab/live is not terminating: if it is still there after 60s, "
                                "its finalizers kubernetes.io/pvc-protection are not removed without allow_live: true"]
    assert fake.writes == [] and clock.sleeps == []
    assert fake.objects == before
    assert {(r.method, r.dry_run) for r in fake.log if r.method != "GET"} == {("DELETE", True), ("PATCH", True)}


def test_diff_shows_the_object_and_its_finalizers_going(fake, clock, run_module):
    pvc(fake, finalizers=["example.com/hold"], terminating=True)
    result = run_module(force_delete.main, {**PVC, "names": ["gitlab-data"], "remove_finalizers": True,
                                            "timeout": 0}, diff=True)
    assert result["diff"] == [{"before_header": "PersistentVolumeClaim gitlab/gitlab-data",
                               "after_header": "PersistentVolumeClaim gitlab/gitlab-data",
                               "before": {"exists": True, "terminating": True, "finalizers": ["example.com/hold"]},
                               "after": {"exists": False}}]


def test_negative_timeout_is_refused_before_any_request(fake, run_module):
    result = run_module(force_delete.main, {"namespace": "gitlab", "names": ["x"], "timeout": -1})
    assert result["failed"] is True and result["msg"] == "timeout must be 0 or more seconds, got -1"
    assert fake.log == []


def test_deleting_a_running_pod_at_once_warns_as_kubectl_does(fake, clock, run_module):
    pod(fake)
    fake.edit("Pod", "redis-0", "gitlab", change=lambda o: o["metadata"].update(ownerReferences=[
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "redis", "uid": "s1", "controller": True}]))
    checked = run_module(force_delete.main, {"namespace": "gitlab", "names": ["redis-0"]}, check_mode=True)
    assert checked["warnings"][0].startswith("pods Pod gitlab/redis-0 would be deleted at once: immediate deletion "
                                             "does not wait for confirmation that the containers have stopped")
    assert "belong to a StatefulSet, whose replacement starts under the same name" in checked["warnings"][0]
    result = run_module(force_delete.main, {"namespace": "gitlab", "names": ["redis-0"]})
    assert "pods Pod gitlab/redis-0 were deleted at once" in result["warnings"][0]


def test_an_unscheduled_pod_goes_without_a_warning(fake, clock, run_module):
    pod(fake)
    fake.edit("Pod", "redis-0", "gitlab", change=lambda o: o["spec"].pop("nodeName"))
    assert run_module(force_delete.main, {"namespace": "gitlab", "names": ["redis-0"]})["warnings"] == []
