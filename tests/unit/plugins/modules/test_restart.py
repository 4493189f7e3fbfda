"""kubeops.platform.restart against the fake API server and its fake controllers, on a fake clock."""

from __future__ import annotations

import re

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils._pods import is_ready
from ansible_collections.kubeops.platform.plugins.module_utils._restart_plan import RESTARTED_AT, TRIGGER_ANNOTATION
from ansible_collections.kubeops.platform.plugins.modules import restart
from fake_k8s import ApiStatus
from fake_workloads import Cluster, deployment

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


def running(cluster: Cluster, *objects: dict) -> Cluster:
    for obj in objects:
        cluster.fake.add(obj)
    cluster.settle()
    cluster.fake.log.clear()
    return cluster


def pods(fake, prefix: str = "") -> dict[str, dict]:
    return {k[3]: o for k, o in fake.objects.items() if k[1] == "pods" and k[3].startswith(prefix)}


def bare_pod(name: str = "tool", namespace: str = "apps", **meta) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}, **meta},
        "spec": {
            "serviceAccountName": "default", "serviceAccount": "default", "nodeName": "node-2", "priority": 0,
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "infinity"],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                             {"name": "kube-api-access-x7k2p",
                                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                              "readOnly": True}]}],
            "volumes": [{"name": "data", "emptyDir": {}},
                        {"name": "kube-api-access-x7k2p", "projected": {"sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt"}}]}}],
        },
        "status": {"phase": "Running", "podIP": "10.0.0.7",
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


# ---- rollout ------------------------------------------------------------------------------------
def test_rollout_restart_of_a_deployment_waits_until_rolled_out(cluster, run_module):
    fake = running(cluster, deployment("web", replicas=2)).fake
    old = sorted(pods(fake, "web-"))
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"]})
    assert result["changed"] is True
    [entry] = result["results"]
    assert (entry["kind"], entry["name"], entry["namespace"], entry["strategy"]) == ("Deployment", "web", "apps",
                                                                                     "rollout")
    assert sorted(entry["pods_replaced"]) == old
    assert entry["before"]["revision"] == "1" and entry["after"]["revision"] == "2"
    assert entry["before"]["restarted_at"] is None and RFC3339.match(entry["after"]["restarted_at"])
    assert entry["message"] == "restarted: rollout restart"
    # the one write is the annotation kubectl rollout restart sets, on the pod template
    [patch] = fake.writes
    assert patch.method == "PATCH" and patch.body["spec"] == {
        "template": {"metadata": {"annotations": {RESTARTED_AT: entry["after"]["restarted_at"]}}}}
    # returned when the rollout was complete, with every pod replaced
    status = fake.get("Deployment", "web", "apps")["status"]
    assert status["updatedReplicas"] == status["availableReplicas"] == status["replicas"] == 2
    new = pods(fake, "web-")
    assert not set(new) & set(old) and all(p["metadata"]["annotations"][RESTARTED_AT] for p in new.values())
    assert entry["duration"] == pytest.approx(sum(cluster.time.sleeps), abs=0.01)


def test_rollout_restart_of_a_statefulset_and_a_daemonset(cluster, run_module):
    fake = running(cluster, deployment("db", kind="StatefulSet", replicas=3), deployment("agent", kind="DaemonSet")).fake
    old_uids = {p["metadata"]["uid"] for p in pods(fake).values()}
    sts = run_module(restart.main, {"kind": "sts", "namespace": "apps", "names": ["db"]})
    ds = run_module(restart.main, {"kind": "DaemonSet", "namespace": "apps", "selector": "app=agent"})
    assert sts["results"][0]["kind"] == "StatefulSet" and sts["results"][0]["strategy"] == "rollout"
    assert sorted(sts["results"][0]["pods_replaced"]) == ["db-0", "db-1", "db-2"]
    assert sts["results"][0]["before"]["revision"] != sts["results"][0]["after"]["revision"]
    assert len(ds["results"][0]["pods_replaced"]) == 2
    assert not {p["metadata"]["uid"] for p in pods(fake).values()} & old_uids
    status = fake.get("StatefulSet", "db", "apps")["status"]
    assert status["currentRevision"] == status["updateRevision"] and status["readyReplicas"] == 3


def test_rollout_without_wait_returns_after_the_patch(cluster, run_module):
    fake = running(cluster, deployment("web")).fake
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "wait": False})
    assert result["changed"] is True and cluster.time.sleeps == []
    assert result["results"][0]["message"] == "restart started: rollout restart"
    assert [r.method for r in fake.writes] == ["PATCH"]


def test_twenty_deployments_by_one_selector_are_watched_with_one_list_per_look(cluster, run_module):
    fake = running(cluster, *(deployment(f"svc{i:02d}", replicas=1, labels={"tier": "api"}) for i in range(20))).fake
    result = run_module(restart.main, {"namespace": "apps", "selector": "tier=api", "max_objects": 20})
    assert len(result["results"]) == 20 and all(r["changed"] for r in result["results"])
    deployment_reads = [r for r in fake.log if r.method == "GET" and "/deployments" in r.path]
    assert all(r.path == "/apis/apps/v1/namespaces/apps/deployments" for r in deployment_reads), "no GET per object"
    assert len(deployment_reads) == 1 + len(cluster.time.sleeps) + 1  # the selection, then one LIST per look


def test_poll_interval_starts_sub_second_and_backs_off(cluster, run_module):
    running(cluster, deployment("web"))
    cluster.time.on_sleep = lambda: None  # the cluster stands still: nothing ever changes
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "wait_timeout": 5})
    assert result["failed"] is True
    sleeps = cluster.time.sleeps
    assert sleeps[:7] == pytest.approx([0.1, 0.15, 0.225, 0.3375, 0.50625, 0.759375, 1.0])
    assert all(s == 1.0 for s in sleeps[7:-1]) and 0 < sleeps[-1] <= 1.0, "the last pause stops at the deadline"
    assert sum(sleeps) == pytest.approx(5.0)


# ---- trigger ------------------------------------------------------------------------------------
def test_trigger_restarts_once_per_value(cluster, run_module):
    fake = running(cluster, deployment("web")).fake
    args = {"namespace": "apps", "names": ["web"], "trigger": "sha256:aaa"}
    first = run_module(restart.main, args)
    assert first["changed"] is True
    assert fake.get("Deployment", "web", "apps")["metadata"]["annotations"][TRIGGER_ANNOTATION] == "sha256:aaa"
    writes = len(fake.writes)
    second = run_module(restart.main, args)
    assert second["changed"] is False and len(fake.writes) == writes
    assert second["results"][0]["message"] == "trigger unchanged since the last restart: not restarted"
    assert second["results"][0]["pods_replaced"] == []
    third = run_module(restart.main, {**args, "trigger": "sha256:bbb"})
    assert third["changed"] is True


def test_without_trigger_every_run_restarts(cluster, run_module):
    running(cluster, deployment("web"))
    assert run_module(restart.main, {"namespace": "apps", "names": ["web"]})["changed"] is True
    second = run_module(restart.main, {"namespace": "apps", "names": ["web"]})
    assert second["changed"] is True
    assert second["results"][0]["before"]["restarted_at"] != second["results"][0]["after"]["restarted_at"]


def test_a_concurrent_run_that_recorded_the_same_trigger_wins_without_a_second_restart(cluster, run_module):
    fake = running(cluster, deployment("web")).fake

    def other_play(server, request):
        if request.method == "PATCH" and not getattr(other_play, "done", False):
            other_play.done = True
            server.edit("Deployment", "web", "apps",
                        change=lambda o: o["metadata"].setdefault("annotations", {}).update({TRIGGER_ANNOTATION: "v2"}))

    fake.before_request.append(other_play)
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "trigger": "v2"})
    assert result["changed"] is False
    assert [r.method for r in fake.writes] == ["PATCH"], "the guarded patch got 409; the re-read showed v2"


# ---- check mode and diff ------------------------------------------------------------------------
@pytest.mark.parametrize("kind, names, strategy", [
    ("Deployment", ["web"], None), ("Deployment", ["web"], "scale"), ("Deployment", ["web"], "delete_pods"),
    ("Pod", ["tool"], None),
])
def test_check_mode_writes_nothing_and_says_what_would_restart(cluster, run_module, kind, names, strategy):
    fake = running(cluster, deployment("web", replicas=2), bare_pod()).fake
    before = {k: dict(v) for k, v in fake.objects.items()}
    args = {"kind": kind, "namespace": "apps", "names": names}
    if strategy:
        args["strategy"] = strategy
    result = run_module(restart.main, args, check_mode=True)
    assert result["changed"] is True
    [entry] = result["results"]
    assert entry["message"].startswith("would restart: ")
    assert entry["pods_replaced"] == sorted(pods(fake, names[0]))
    assert fake.writes == [] and cluster.time.sleeps == []
    assert fake.objects == before
    assert all(r.dry_run for r in fake.log if r.method != "GET")


def test_diff_shows_the_restart_fields(cluster, run_module):
    running(cluster, deployment("web"))
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "trigger": "t1"}, diff=True)
    [diff] = result["diff"]
    assert diff["before_header"] == "Deployment apps/web"
    assert diff["before"]["trigger"] is None and diff["after"]["trigger"] == "t1"
    assert diff["before"]["restarted_at"] is None and diff["after"]["restarted_at"]


# ---- waiting fails with what is pending ---------------------------------------------------------
def test_rollout_that_cannot_complete_fails_at_wait_timeout_naming_the_pods(cluster, run_module):
    fake = running(cluster, deployment("web", replicas=2)).fake
    fake.edit("Deployment", "web", "apps", change=lambda o: o["spec"]["template"]["spec"]["containers"][0].update(
        image="registry.example.com/web:nope"))
    cluster.broken_images["registry.example.com/web:nope"] = (
        "ImagePullBackOff", 'Back-off pulling image "registry.example.com/web:nope"')
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "wait_timeout": 30})
    assert result["failed"] is True
    assert result["msg"].startswith("timed out after 30s waiting for the rollout: Deployment apps/web: "
                                    "0 of 2 updated replicas are available; pods not ready: web-")
    assert 'Pending (ImagePullBackOff: Back-off pulling image "registry.example.com/web:nope")' in result["msg"]
    [pending] = result["pending"]
    assert pending["waiting_for"] == "0 of 2 updated replicas are available"
    assert {p["reason"] for p in pending["pods"]} == {"ImagePullBackOff"} and len(pending["pods"]) == 2
    assert result["changed"] is True and result["results"][0]["changed"] is True
    assert sum(cluster.time.sleeps) == pytest.approx(30)


def test_progress_deadline_exceeded_fails_without_waiting_for_the_timeout(cluster, run_module):
    running(cluster, deployment("web"))
    cluster.broken_images["nginx:1.27"] = ("CrashLoopBackOff", "back-off 5m0s restarting failed container")

    def later():
        cluster.step()
        if cluster.ticks > 8:
            cluster.deadline_exceeded.add(("apps", "web"))

    cluster.time.on_sleep = later
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "wait_timeout": 600})
    assert result["failed"] is True
    assert result["msg"].startswith("the restart of Deployment apps/web cannot complete: Deployment apps/web: "
                                    "deployment exceeded its progress deadline")
    assert "Pending (CrashLoopBackOff: back-off 5m0s restarting failed container)" in result["msg"]
    assert sum(cluster.time.sleeps) < 10


# ---- recreate -----------------------------------------------------------------------------------
def test_recreate_brings_a_bare_pod_back_with_the_same_name_labels_and_spec(cluster, run_module):
    fake = cluster.fake
    fake.add(bare_pod("tool", annotations={"team": "ops"}))
    old = fake.get("Pod", "tool", "apps")
    result = run_module(restart.main, {"kind": "Pod", "namespace": "apps", "names": ["tool"]})
    assert result["changed"] is True
    [entry] = result["results"]
    assert entry["strategy"] == "recreate" and entry["pods_replaced"] == ["tool"]
    new = fake.get("Pod", "tool", "apps")
    assert new["metadata"]["uid"] != old["metadata"]["uid"] == entry["before"]["uid"]
    assert entry["after"]["uid"] == new["metadata"]["uid"]
    assert new["metadata"]["labels"] == old["metadata"]["labels"]
    assert new["metadata"]["annotations"] == {"team": "ops"}
    assert new["spec"]["containers"][0]["command"] == ["sleep", "infinity"]
    assert new["status"]["phase"] == "Running", "waited until the new pod was ready"
    [delete, create] = fake.writes
    assert delete.method == "DELETE" and delete.body["preconditions"] == {"uid": old["metadata"]["uid"]}
    sent = create.body
    assert create.method == "POST" and "status" not in sent and "nodeName" not in sent["spec"]
    assert not {"uid", "resourceVersion", "creationTimestamp"} & set(sent["metadata"])
    assert [v["name"] for v in sent["spec"]["volumes"]] == ["data"], "the token volume is injected anew"
    assert sent["spec"]["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]


def test_recreate_waits_for_a_graceful_deletion_before_creating(cluster, run_module):
    fake = cluster.fake
    fake.add(bare_pod("tool"))
    result = run_module(restart.main, {"kind": "Pod", "namespace": "apps", "names": ["tool"], "grace_period": 10})
    assert result["changed"] is True
    delete = next(r for r in fake.writes if r.method == "DELETE")
    assert delete.body["gracePeriodSeconds"] == 10
    assert len(cluster.time.sleeps) >= 1, "the pod stayed terminating until the kubelet finished it"


def test_recreate_that_cannot_create_returns_the_manifest(cluster, run_module):
    fake = cluster.fake
    fake.add(bare_pod("tool"))

    def quota(server, request):
        if request.method == "POST":
            raise ApiStatus(403, "Forbidden", 'pods "tool" is forbidden: exceeded quota: compute, requested: pods=1')

    fake.before_request.append(quota)
    result = run_module(restart.main, {"kind": "Pod", "namespace": "apps", "names": ["tool"]})
    assert result["failed"] is True
    assert result["msg"].startswith("Pod apps/tool was deleted, but creating it again failed: create Pod apps/tool "
                                    "again: pods \"tool\" is forbidden: exceeded quota")
    assert "Its manifest is in 'manifests'" in result["msg"]
    [manifest] = result["manifests"]
    assert manifest["metadata"]["name"] == "tool" and manifest["spec"]["containers"][0]["image"] == "busybox:1.36"
    assert "kube-api-access" not in str(manifest) and "serviceAccountToken" not in str(manifest)
    assert fake.get("Pod", "tool", "apps") is None


def test_recreate_timing_out_on_a_pod_held_by_a_finalizer_returns_the_manifest(cluster, run_module):
    fake = cluster.fake
    fake.add(bare_pod("tool", finalizers=["example.com/hold"]))
    result = run_module(restart.main, {"kind": "Pod", "namespace": "apps", "names": ["tool"], "wait_timeout": 3})
    assert result["failed"] is True
    assert result["msg"].startswith("timed out after 3s waiting for the old pods to go before creating them again: "
                                    "Pod apps/tool: the old pod is still terminating (held by finalizers "
                                    "example.com/hold)")
    assert "are not created again: their manifests are in 'manifests'" in result["msg"]
    assert result["manifests"][0]["metadata"]["finalizers"] == ["example.com/hold"]
    assert [r.method for r in fake.writes] == ["DELETE"]


def test_recreate_records_the_trigger_on_the_new_pod(cluster, run_module):
    fake = cluster.fake
    fake.add(bare_pod("tool"))
    args = {"kind": "Pod", "namespace": "apps", "names": ["tool"], "trigger": "cfg-1"}
    assert run_module(restart.main, args)["changed"] is True
    assert fake.get("Pod", "tool", "apps")["metadata"]["annotations"][TRIGGER_ANNOTATION] == "cfg-1"
    writes = len(fake.writes)
    assert run_module(restart.main, args)["changed"] is False
    assert len(fake.writes) == writes


# ---- scale --------------------------------------------------------------------------------------
def test_scale_goes_to_zero_waits_for_the_pods_and_restores_the_replica_count(cluster, run_module):
    fake = running(cluster, deployment("esb-admin", replicas=3)).fake
    old = sorted(pods(fake, "esb-admin-"))
    seen_zero = []
    cluster.time.on_sleep = lambda: (cluster.step(), seen_zero.append(len(pods(fake, "esb-admin-"))))
    result = run_module(restart.main, {"namespace": "apps", "names": ["esb-admin"], "strategy": "scale",
                                       "trigger": "t"})
    assert result["changed"] is True
    [entry] = result["results"]
    assert entry["message"] == "restarted: scaled to 0 and back to 3"
    assert sorted(entry["pods_replaced"]) == old and entry["after"]["replicas"] == 3
    assert 0 in seen_zero, "scaled back only once every pod was gone"
    patches = [r.body for r in fake.writes]
    assert patches[0]["spec"] == {"replicas": 0} and patches[0]["metadata"]["resourceVersion"]
    assert patches[1] == {"spec": {"replicas": 3}, "metadata": {"annotations": {TRIGGER_ANNOTATION: "t"}}}
    dep = fake.get("Deployment", "esb-admin", "apps")
    assert dep["spec"]["replicas"] == 3 and dep["status"]["availableReplicas"] == 3
    assert not set(pods(fake, "esb-admin-")) & set(old)


def test_scale_restores_the_replicas_when_the_pods_do_not_go(cluster, run_module):
    fake = running(cluster, deployment("web", replicas=2)).fake
    stuck = sorted(pods(fake, "web-"))[0]
    fake.edit("Pod", stuck, "apps", change=lambda o: o["metadata"].update(finalizers=["example.com/hold"]))
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "strategy": "scale", "wait_timeout": 4})
    assert result["failed"] is True
    assert result["msg"].startswith(f"timed out after 4s waiting for the pods to go after scaling to 0: "
                                    f"Deployment apps/web: pods still there: {stuck}; pods not ready: {stuck} "
                                    "Terminating (Finalizers: example.com/hold)")
    assert result["msg"].endswith("; replicas restored: Deployment apps/web to 2")
    assert fake.get("Deployment", "web", "apps")["spec"]["replicas"] == 2


def test_scale_reports_loudly_when_even_the_restore_fails(cluster, run_module):
    fake = running(cluster, deployment("web", replicas=2)).fake
    calls = []

    def flaky(server, request):
        if request.method == "PATCH":
            calls.append(request.body)
            if len(calls) > 1:
                raise ApiStatus(503, "ServiceUnavailable", "etcdserver: request timed out")

    fake.before_request.append(flaky)
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "strategy": "scale"})
    assert result["failed"] is True
    assert "Deployment apps/web is LEFT AT 0 REPLICAS" in result["msg"]
    assert result["msg"].endswith("run kubectl scale deployment web -n apps --replicas=2")
    assert len(calls) == 3, "scale down, scale back (failed), restore (failed)"


def test_scale_of_a_workload_at_zero_is_no_restart(cluster, run_module):
    fake = running(cluster, deployment("idle", replicas=0)).fake
    result = run_module(restart.main, {"namespace": "apps", "names": ["idle"], "strategy": "scale"})
    assert result["changed"] is False and fake.writes == []
    assert result["results"][0]["message"] == "scaled to 0 replicas: no pods to restart"


# ---- delete_pods --------------------------------------------------------------------------------
def test_delete_pods_lets_the_controller_replace_them(cluster, run_module):
    fake = running(cluster, deployment("web", replicas=2), deployment("other", replicas=1)).fake
    old = sorted(pods(fake, "web-"))
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "strategy": "delete_pods",
                                       "grace_period": 0})
    assert result["changed"] is True
    assert sorted(result["results"][0]["pods_replaced"]) == old
    deletes = [r for r in fake.writes if r.method == "DELETE"]
    assert sorted(r.path.rsplit("/", 1)[1] for r in deletes) == old, "only the workload's own pods"
    assert all(r.body["gracePeriodSeconds"] == 0 and r.body["preconditions"]["uid"] for r in deletes)
    now = pods(fake, "web-")
    assert len(now) == 2 and not set(now) & set(old) and all(is_ready(p) for p in now.values())


def test_a_deployments_pods_are_found_by_owner_uids_not_by_names(cluster, run_module):
    """A ReplicaSet named like the Deployment's, selecting the same labels but not owned by it, keeps its pods."""
    fake = running(cluster, deployment("web", replicas=1),
                   deployment("web-legacy", kind="ReplicaSet", replicas=1,
                              selector={"matchLabels": {"app": "web", "legacy": "yes"}},
                              template={"metadata": {"labels": {"app": "web", "legacy": "yes"}},
                                        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}})).fake
    legacy = {n for n, p in pods(fake, "web-").items() if p["metadata"]["labels"].get("legacy")}
    assert legacy, "the legacy ReplicaSet runs a pod"
    result = run_module(restart.main, {"namespace": "apps", "names": ["web"], "strategy": "delete_pods"})
    deleted = {r.path.rsplit("/", 1)[1] for r in fake.writes if r.method == "DELETE"}
    assert deleted and not deleted & legacy
    assert not set(result["results"][0]["pods_replaced"]) & legacy


def test_delete_pods_of_a_replicaset_is_its_default(cluster, run_module):
    rs = deployment("batch", kind="ReplicaSet", replicas=2)
    fake = running(cluster, rs).fake
    result = run_module(restart.main, {"kind": "rs", "namespace": "apps", "names": ["batch"]})
    assert result["results"][0]["strategy"] == "delete_pods" and len(result["results"][0]["pods_replaced"]) == 2
    assert fake.get("ReplicaSet", "batch", "apps")["status"]["readyReplicas"] == 2


def test_a_controlled_pod_is_deleted_and_its_statefulset_brings_it_back(cluster, run_module):
    fake = running(cluster, deployment("db", kind="StatefulSet", replicas=2)).fake
    old_uid = fake.get("Pod", "db-1", "apps")["metadata"]["uid"]
    result = run_module(restart.main, {"kind": "Pod", "namespace": "apps", "names": ["db-1"]})
    assert result["results"][0]["strategy"] == "delete_pods"
    new = fake.get("Pod", "db-1", "apps")
    assert new["metadata"]["uid"] != old_uid and is_ready(new)
    assert fake.get("Pod", "db-0", "apps")["metadata"]["uid"] != old_uid


# ---- refusals, before any write -----------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    ({"kind": "Job", "names": ["init"]},
     "kind 'Job' cannot be restarted: a Job is not restarted: its pods run to completion once. Re-create it instead"),
    ({"kind": "CronJob", "names": ["backup"]},
     "kind 'CronJob' cannot be restarted: a CronJob is not restarted: to run it now, create a Job from it"),
    ({"kind": "Service", "names": ["web"]},
     "kind 'Service' cannot be restarted: choose one of Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod"),
    ({"kind": "Pod", "names": ["tool"], "strategy": "rollout"},
     "strategy 'rollout' does not fit a Pod: a bare Pod has no rollout; use strategy recreate"),
    ({"names": ["web"], "strategy": "recreate"},
     "strategy 'recreate' does not fit a Deployment: recreate is for bare Pods; for a Deployment use rollout, "
     "scale or delete_pods"),
    ({"kind": "DaemonSet", "names": ["agent"], "strategy": "scale"},
     "strategy 'scale' does not fit a DaemonSet: a DaemonSet has no replica count (one pod per node)"),
    ({"kind": "ReplicaSet", "names": ["x"], "strategy": "rollout"},
     "strategy 'rollout' does not fit a ReplicaSet: only a Deployment rolls out"),
    ({"names": ["web"], "grace_period": 0},
     "grace_period applies to the strategies that delete pods (delete_pods, recreate), not to rollout"),
    ({"names": ["web"], "wait_timeout": 0}, "wait_timeout must be a positive number of seconds, got 0"),
    ({"kind": "Pod", "names": ["tool"], "grace_period": -1},
     "grace_period must be 0 (delete at once) or more seconds, got -1"),
])
def test_a_strategy_or_kind_that_does_not_fit_is_refused_before_any_request(fake, run_module, args, message):
    result = run_module(restart.main, {"namespace": "apps", **args})
    assert result["failed"] is True
    assert result["msg"].startswith(message)
    assert fake.log == []


def test_per_object_refusals_come_before_any_write(cluster, run_module):
    fake = running(
        cluster,
        deployment("web", replicas=1),
        deployment("ondelete", kind="StatefulSet", replicas=1, updateStrategy={"type": "OnDelete"}),
        {**deployment("paused", replicas=1), "spec": {**deployment("paused")["spec"], "paused": True}},
    ).fake
    result = run_module(restart.main, {"kind": "StatefulSet", "namespace": "apps", "names": ["ondelete"]})
    assert result["msg"] == ("StatefulSet apps/ondelete uses updateStrategy OnDelete: a rollout restart would not "
                             "replace its pods; use strategy delete_pods")
    result = run_module(restart.main, {"namespace": "apps", "names": ["web", "paused"]})
    assert result["msg"].startswith("Deployment apps/paused is paused: a rollout restart would not start until it is "
                                    "resumed")
    rs = next(k[3] for k in fake.objects if k[1] == "replicasets" and k[3].startswith("web-"))
    result = run_module(restart.main, {"kind": "ReplicaSet", "namespace": "apps", "names": [rs], "strategy": "scale"})
    assert result["msg"] == (f"ReplicaSet apps/{rs} is managed by Deployment web, which would undo the scale; restart "
                             "the Deployment, or use strategy delete_pods")
    pod = next(iter(pods(fake, "web-")))
    result = run_module(restart.main, {"kind": "Pod", "namespace": "apps", "names": [pod], "strategy": "recreate"})
    assert result["msg"].startswith(f"Pod apps/{pod} is owned by ReplicaSet {rs}: recreate is for bare Pods")
    result = run_module(restart.main, {"kind": "Pod", "namespace": "apps", "names": [pod], "trigger": "x"})
    assert result["msg"].startswith(f"Pod apps/{pod} is replaced by a new pod from ReplicaSet {rs}, so the trigger "
                                    "cannot be recorded on it")
    assert fake.writes == []


def test_a_bare_pod_is_never_deleted_for_a_controller_that_does_not_exist(cluster, run_module):
    fake = cluster.fake
    fake.add(bare_pod("tool"))
    result = run_module(restart.main, {"kind": "Pod", "namespace": "apps", "names": ["tool"],
                                       "strategy": "delete_pods"})
    assert result["msg"] == ("Pod apps/tool has no controller: deleting it would lose it for good; "
                             "use strategy recreate")
    assert fake.writes == []


@pytest.mark.parametrize("missing, failed, warned", [
    (None, True, False), ("warn", False, True), ("ignore", False, False),
])
def test_missing_workload_follows_the_missing_option(cluster, run_module, missing, failed, warned):
    running(cluster, deployment("web", replicas=1))
    args = {"namespace": "apps", "names": ["web", "gone"]}
    if missing:
        args["missing"] = missing
    result = run_module(restart.main, args)
    assert result.get("failed", False) is failed
    assert result["missing"] == ["gone"]
    assert bool(result["warnings"]) is warned
    if failed:
        assert result["msg"] == "Deployment not found in namespace apps: gone"
        assert cluster.fake.writes == []
    else:
        assert [r["name"] for r in result["results"]] == ["web"]


# ---- static pods ----------------------------------------------------------------------------------
def mirror_pod(name: str = "kube-apiserver-node-1") -> dict:
    pod = bare_pod(name, "apps", annotations={"kubernetes.io/config.mirror": "4f5c2a", "kubernetes.io/config.source": "file"},
                   ownerReferences=[{"apiVersion": "v1", "kind": "Node", "name": "node-1", "uid": "n1", "controller": True}])
    pod["spec"]["nodeName"] = "node-1"
    return pod


@pytest.mark.parametrize("strategy", [None, "delete_pods", "recreate"])
def test_a_mirror_pod_is_refused_with_how_to_restart_it_on_its_node(cluster, run_module, strategy):
    fake = cluster.fake
    fake.add(mirror_pod())
    fake.log.clear()
    uid = fake.get("Pod", "kube-apiserver-node-1", "apps")["metadata"]["uid"]
    args = {"kind": "Pod", "namespace": "apps", "names": ["kube-apiserver-node-1"]}
    result = run_module(restart.main, {**args, **({"strategy": strategy} if strategy else {})})
    assert result["failed"] is True
    assert "is the mirror of a static pod, run by the kubelet of node-1" in result["msg"]
    assert "staticPodPath (usually /etc/kubernetes/manifests)" in result["msg"]
    assert fake.writes == [] and fake.get("Pod", "kube-apiserver-node-1", "apps")["metadata"]["uid"] == uid
