"""restart and force_delete in batches (like serial, inside one task) and over several connections."""

from __future__ import annotations

from test_force_delete import Clock, pvc
from test_restart import running

from ansible_collections.kubeops.platform.plugins.module_utils import _rollout
from ansible_collections.kubeops.platform.plugins.modules import force_delete, restart
from fake_workloads import deployment

NAMES = [f"svc{i}" for i in range(6)]


def rolled_out(fake, name: str) -> bool:
    dep = fake.get("Deployment", name, "apps")
    status = dep.get("status") or {}
    return (status.get("observedGeneration") == dep["metadata"]["generation"]
            and status.get("updatedReplicas") == status.get("availableReplicas") == dep["spec"]["replicas"])


def restarted(fake, name: str) -> bool:
    template = fake.get("Deployment", name, "apps")["spec"]["template"]["metadata"]
    return bool((template.get("annotations") or {}).get("kubectl.kubernetes.io/restartedAt"))


def test_a_batch_starts_only_when_the_previous_one_rolled_out(cluster, run_module):
    fake = running(cluster, *(deployment(n, replicas=1, labels={"tier": "api"}) for n in NAMES)).fake
    seen = []

    def at_each_restart(server, request):
        if request.method == "PATCH" and "/deployments/" in request.path:
            name = request.path.rsplit("/", 1)[1]
            earlier = NAMES[:NAMES.index(name) // 2 * 2]
            seen.append((name, all(rolled_out(server, n) for n in earlier)))

    fake.before_request.append(at_each_restart)
    result = run_module(restart.main, {"namespace": "apps", "selector": "tier=api", "batch_size": 2,
                                       "batch_pause": 5})
    assert not result.get("failed"), result
    assert [name for name, _ok in seen] == NAMES
    assert all(ok for _name, ok in seen), seen
    assert cluster.time.sleeps.count(5) == 2, "a pause between batches, not after the last"


def test_the_first_batch_that_does_not_become_healthy_stops_the_task(cluster, run_module):
    fake = running(cluster, *(deployment(n, replicas=1, labels={"tier": "api"}) for n in NAMES)).fake
    cluster.broken_images["nginx:broken"] = ("ImagePullBackOff", 'Back-off pulling image "nginx:broken"')
    fake.edit("Deployment", "svc2", "apps", change=lambda o: o["spec"]["template"]["spec"]["containers"][0].update(
        image="nginx:broken"))
    cluster.settle()
    result = run_module(restart.main, {"namespace": "apps", "selector": "tier=api", "batch_size": 2,
                                       "wait_timeout": 30})
    assert result["failed"] is True
    assert "stopped after batch 2 of 3: Deployment apps/svc4, Deployment apps/svc5 not restarted" in result["msg"]
    assert [restarted(fake, n) for n in NAMES] == [True, True, True, True, False, False]
    messages = {r["name"]: r["message"] for r in result["results"]}
    assert messages["svc4"] == messages["svc5"] == "not restarted: batch 2 of 3 did not complete"


def test_batch_size_needs_wait_and_batch_pause_needs_batch_size(cluster, run_module):
    no_wait = run_module(restart.main, {"namespace": "apps", "names": ["a"], "batch_size": 2, "wait": False})
    assert no_wait["failed"] and "batch_size needs wait: true" in no_wait["msg"]
    pause = run_module(restart.main, {"namespace": "apps", "names": ["a"], "batch_pause": 3})
    assert pause["failed"] and "batch_pause applies between batches: set batch_size too" in pause["msg"]


def test_results_are_the_same_over_one_or_eight_connections(cluster, run_module):
    fake = running(cluster, *(deployment(n, replicas=2, labels={"tier": "api"}) for n in NAMES)).fake
    outcomes = []
    for parallel in (1, 8):
        result = run_module(restart.main, {"namespace": "apps", "selector": "tier=api", "strategy": "delete_pods",
                                           "parallel": parallel})
        outcomes.append([(r["name"], r["changed"], len(r["pods_replaced"]), r["message"]) for r in result["results"]])
    assert outcomes[0] == outcomes[1] == [(n, True, 2, "restarted: pods deleted for the controller to replace")
                                          for n in NAMES]
    assert all(rolled_out(fake, n) for n in NAMES)


def test_force_delete_stops_at_the_first_batch_that_leaves_objects_behind(fake, run_module, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(_rollout, "monotonic", lambda: clock.now)
    monkeypatch.setattr(_rollout, "sleep", clock.sleep)
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gitlab"}})
    for name in ("a-0", "a-1", "b-0", "b-1"):
        pvc(fake, name=name, finalizers=() if name != "a-1" else ("example.com/hold",))
    result = run_module(force_delete.main, {"kind": "PersistentVolumeClaim", "namespace": "gitlab",
                                            "names": ["a-0", "a-1", "b-0", "b-1"], "batch_size": 2, "timeout": 5})
    assert result["failed"] is True
    assert "held by finalizers example.com/hold" in result["msg"]
    assert "stopped after batch 1 of 2: PersistentVolumeClaim gitlab/b-0, PersistentVolumeClaim gitlab/b-1 not deleted" \
        in result["msg"]
    assert fake.get("PersistentVolumeClaim", "a-0", "gitlab") is None
    for name in ("b-0", "b-1"):
        assert not fake.get("PersistentVolumeClaim", name, "gitlab")["metadata"].get("deletionTimestamp")
    messages = {r["name"]: r["message"] for r in result["results"]}
    assert messages["b-0"] == "not deleted: batch 1 of 2 did not complete"
