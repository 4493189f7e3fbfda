"""Bulk writes over several connections keep every guarantee of one-at-a-time writes."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils import _client
from ansible_collections.kubeops.platform.plugins.modules import label, taint
from fake_k8s import ApiStatus

NODES = [f"node-{i:02d}" for i in range(40)]


@pytest.fixture
def nodes(fake):
    for name in NODES:
        fake.node(name, labels={"pool": "web"})
    return fake


def state_of(fake) -> dict:
    return {key: (obj["metadata"]["uid"], obj["metadata"]["resourceVersion"]) for key, obj in fake.objects.items()}


class Connections:
    """Counts the connections (transports) opened and holds the first writes until ``parallel`` of them
    are in flight at once, so the test fails (BrokenBarrierError) unless they really overlap."""

    def __init__(self, fake, overlap: int):
        self.fake, self.opened, self.overlapped = fake, 0, None
        self.barrier = threading.Barrier(overlap, timeout=10) if overlap > 1 else None
        self.lock = threading.Lock()

    def __call__(self, conn):
        with self.lock:
            self.opened += 1
        return self

    def request(self, method, target, headers, body):
        if method == "PATCH" and self.barrier is not None and self.overlapped is None:
            try:
                self.barrier.wait()
                self.overlapped = True
            except threading.BrokenBarrierError:
                self.overlapped = False
        return self.fake.request(method, target, headers, body)

    def close(self):
        pass


def test_results_and_state_are_the_same_with_one_or_eight_connections(fake, run_module, monkeypatch):
    outcomes = []
    for parallel in (1, 8):
        fake.objects.clear()
        for name in NODES:
            fake.node(name, labels={"pool": "web"})
        result = run_module(label.main, {"selector": "pool=web", "labels": {"zone": "a"}, "parallel": parallel},
                            diff=True)
        labels = {name: fake.get("Node", name)["metadata"]["labels"] for name in NODES}
        outcomes.append((result["results"], result["diff"], labels))
    assert outcomes[0] == outcomes[1]
    assert [r["name"] for r in outcomes[1][0]] == NODES


def test_eight_writes_are_in_flight_at_once_over_eight_connections(nodes, run_module, monkeypatch):
    connections = Connections(nodes, overlap=8)
    monkeypatch.setattr(_client, "HttpTransport", connections)
    result = run_module(taint.main, {"selector": "pool=web", "taints": ["gitlab/middleware:NoSchedule"],
                                     "parallel": 8})
    assert not result.get("failed"), result
    assert all(r["changed"] for r in result["results"]) and len(result["results"]) == 40
    assert connections.overlapped is True, "eight PATCHes were in flight at the same time"
    assert connections.opened == 1 + 8  # the task's own, plus one per worker


def test_one_writes_over_the_tasks_own_connection(nodes, run_module, monkeypatch):
    connections = Connections(nodes, overlap=1)
    monkeypatch.setattr(_client, "HttpTransport", connections)
    run_module(taint.main, {"selector": "pool=web", "taints": ["gitlab/middleware:NoSchedule"], "parallel": 1})
    assert connections.opened == 1
    patched = [r.path.rsplit("/", 1)[1] for r in nodes.log if r.method == "PATCH"]
    assert patched == NODES


def test_a_conflict_on_one_object_re_plans_only_that_object(nodes, run_module):
    def concurrent_writer(server, request):
        if request.method == "PATCH" and request.path.endswith("/node-07") and not getattr(server, "raced", False):
            server.raced = True
            server.edit("Node", "node-07", change=lambda o: o["metadata"]["labels"].update(owner="other-run"))

    nodes.before_request.append(concurrent_writer)
    result = run_module(label.main, {"selector": "pool=web", "labels": {"zone": "a"}, "parallel": 8})
    assert all(r["changed"] for r in result["results"])
    assert nodes.get("Node", "node-07")["metadata"]["labels"] == {"pool": "web", "owner": "other-run", "zone": "a"}
    reads = [r.path for r in nodes.log if r.method == "GET" and "/nodes/" in r.path]
    assert reads == ["/api/v1/nodes/node-07"]


def test_check_mode_sends_only_dry_runs_at_any_parallelism(nodes, run_module):
    before = state_of(nodes)
    result = run_module(label.main, {"selector": "pool=web", "labels": {"zone": "a"}, "parallel": 8}, check_mode=True)
    assert result["changed"] is True and len(result["results"]) == 40
    assert nodes.writes == [] and state_of(nodes) == before
    assert all(r.query.get("dryRun") == "All" for r in nodes.log if r.method == "PATCH")


def test_a_failed_write_stops_new_writes_and_reports_what_was_changed(nodes, run_module):
    def quota(server, request):
        if request.method == "PATCH" and request.path.endswith("/node-20"):
            raise ApiStatus(403, "Forbidden", 'nodes "node-20" is forbidden: User "ops" cannot patch resource "nodes"')

    nodes.before_request.append(quota)
    result = run_module(label.main, {"selector": "pool=web", "labels": {"zone": "a"}, "parallel": 4})
    assert result["failed"] is True and result["changed"] is True
    assert 'cannot patch resource "nodes"' in result["msg"] and result["status"] == 403
    reported = [r["name"] for r in result["results"]]
    changed = [n for n in NODES if nodes.get("Node", n)["metadata"]["labels"].get("zone") == "a"]
    assert reported == changed, "every object written is reported, in order, and no other"
    assert "node-20" not in changed and len(changed) < 40 and reported == sorted(reported)


@pytest.mark.parametrize("parallel", [0, 65])
def test_parallel_out_of_range_is_refused_before_any_request(nodes, run_module, parallel):
    nodes.log.clear()
    result = run_module(label.main, {"selector": "pool=web", "labels": {"zone": "a"}, "parallel": parallel})
    assert result["failed"] and f"parallel must be from 1 to 64 (1 writes one object at a time), got {parallel}" in result["msg"]
    assert nodes.log == []
