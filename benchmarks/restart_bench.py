#!/usr/bin/env python
"""Benchmark: how soon kubeops.platform.restart returns after a rollout completes, against kubernetes.core.

Creates Deployments labelled ``kubeops-bench=restart`` in namespace ``kubeops-bench-restart``,
then times ansible-playbook runs that restart them and wait for the rollout:

  a) 1 Deployment:   kubeops.platform.restart (rollout, wait)   vs  kubernetes.core.k8s patch + k8s_info wait
  b) N Deployments:  one kubeops.platform.restart selector task vs  a k8s patch loop + a k8s_info wait loop
     and the same selector task with parallel: 1 (one Deployment after the other) against the default

A watcher thread reads the Deployments every 20 ms and notes the moment the rollout is actually
complete (the kubectl rollout status criteria, on a generation newer than before the run). The
report shows, per run, the wall time, when the rollout completed and how long after that the
play returned (the poll overhead). Targets: kubeops.platform returns within 2 s of completion,
and restarts N Deployments by selector at least 10x faster than the kubernetes.core loop.

    .venv/bin/python benchmarks/restart_bench.py [--deployments 20] [--context kind-kind]
    .venv/bin/python benchmarks/restart_bench.py --fake     # no cluster: the unit tests' API server
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _cluster import FAKE_NOTICE, BenchError, FakeCluster, Playbooks, find_ansible_playbook, kubernetes_client

NAMESPACE = "kubeops-bench-restart"
LABEL = "kubeops-bench=restart"
IMAGE = "registry.k8s.io/pause:3.10"
RETURN_WITHIN = 2.0  # seconds after the rollout completed
SPEEDUP_TARGET = 10.0  # N Deployments: one selector task vs the kubernetes.core loop
WATCH_INTERVAL = 0.02


def deployment(index: int) -> dict:
    name = f"bench-{index}"
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"kubeops-bench": "restart"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 0,
                                           "containers": [{"name": "pause", "image": IMAGE}]}}}}


def rolled_out(dep: dict) -> bool:
    """kubectl rollout status: observed, all replicas updated and available, no old ones left."""
    meta, spec, status = dep["metadata"], dep.get("spec") or {}, dep.get("status") or {}
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    return (meta.get("generation", 0) <= status.get("observedGeneration", 0) and updated >= wanted
            and status.get("replicas", 0) <= updated and status.get("availableReplicas", 0) >= updated)


# ---- clusters ---------------------------------------------------------------------------------------
class BenchCluster:
    """The cluster in KUBECONFIG, through the kubernetes client (raw JSON, no model classes)."""

    def __init__(self, context: str | None):
        client = kubernetes_client(context)
        self.core, self.apps = client.CoreV1Api(), client.AppsV1Api()
        self.defaults = {"context": context} if context else {}

    def setup(self, count: int) -> None:
        from kubernetes.client.exceptions import ApiException

        self.teardown(wait=True)
        self.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        for index in range(count):
            try:
                self.apps.create_namespaced_deployment(NAMESPACE, deployment(index))
            except ApiException as exc:
                raise BenchError(f"cannot create Deployment bench-{index}: {exc.reason}") from exc

    def deployments(self) -> list[dict]:
        raw = self.apps.list_namespaced_deployment(NAMESPACE, label_selector=LABEL, _preload_content=False)
        return json.loads(raw.data)["items"]

    def teardown(self, wait: bool = False) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.delete_namespace(NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise
        deadline = time.monotonic() + 120
        while wait and time.monotonic() < deadline:
            try:
                self.core.read_namespace(NAMESPACE)
            except ApiException as exc:
                if exc.status == 404:
                    return
                raise
            time.sleep(1)


class Controllers(threading.Thread):
    """With --fake: the unit tests' controllers (tests/unit/fake_workloads.py) stepping every ``every`` s."""

    def __init__(self, fake, every: float):
        super().__init__(daemon=True)
        from fake_workloads import Cluster

        self.cluster, self.every = Cluster(fake), every
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.cluster.step()


# ---- measuring --------------------------------------------------------------------------------------
class Watcher(threading.Thread):
    """Notes the first moment every selected Deployment is rolled out at a newer generation."""

    def __init__(self, cluster, names: list[str]):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.names = set(names)
        before = {d["metadata"]["name"]: d["metadata"].get("generation", 0) for d in cluster.deployments()}
        self.before = {name: before[name] for name in self.names}
        self.completed: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            current = {d["metadata"]["name"]: d for d in self.cluster.deployments() if d["metadata"]["name"] in self.names}
            if len(current) == len(self.names) and all(
                    d["metadata"].get("generation", 0) > self.before[name] and rolled_out(d)
                    for name, d in current.items()):
                self.completed = time.monotonic()
                return
            time.sleep(WATCH_INTERVAL)


@dataclass
class Run:
    label: str
    wall: float
    completed_after: float | None  # seconds from the start of the run to the rollout's completion

    @property
    def overhead(self) -> float | None:
        return None if self.completed_after is None else self.wall - self.completed_after


class Runner:
    """Times ansible-playbook runs, with a watcher on the Deployments they restart."""

    def __init__(self, plays: Playbooks, cluster: BenchCluster):
        self.plays, self.cluster = plays, cluster

    def time(self, label: str, tasks: list[dict], names: list[str]) -> Run:
        path = self.plays.write(tasks)
        watcher = Watcher(self.cluster, names) if names else None
        start = time.monotonic()
        if watcher:
            watcher.start()
        proc = subprocess.run([self.plays.playbook_cmd, "-i", str(self.plays.inventory), str(path)],
                              env=self.plays.env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - start
        if watcher:
            watcher.join(timeout=30)
            watcher.stop.set()
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise BenchError(f"ansible-playbook failed for '{label}' (exit {proc.returncode}):\n{tail}")
        if watcher and watcher.completed is None:
            raise BenchError(f"'{label}': the play returned but the rollout never completed (a restart did nothing?)")
        run = Run(label, wall, watcher.completed - start if watcher else None)
        done = f"rolled out at {run.completed_after:6.2f}s, returned {run.overhead:5.2f}s later" if watcher else ""
        print(f"  {label:<46} {wall:8.2f}s   {done}", flush=True)
        return run


def ours(names: list[str], by_selector: bool, parallel: int | None = None) -> list[dict]:
    """One restart task; its selector may match all the bench's Deployments; parallel None keeps the default."""
    target = {"selector": LABEL, "max_objects": len(names)} if by_selector else {"names": names}
    if parallel is not None:
        target["parallel"] = parallel
    return [{"name": "Restart", "kubeops.platform.restart": {"namespace": NAMESPACE, **target, "wait_timeout": 300}}]


def theirs(names: list[str]) -> list[dict]:
    """kubectl rollout restart by hand: patch the template annotation, then wait with k8s_info."""
    return [
        {"name": "Patch the restartedAt annotation", "kubernetes.core.k8s": {
            "state": "patched", "merge_type": "strategic-merge", "api_version": "apps/v1", "kind": "Deployment",
            "namespace": NAMESPACE, "name": "{{ item }}",
            "definition": {"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "{{ now(utc=true).isoformat() }}"}}}}}},
         "loop": names},
        {"name": "Wait for the rollout", "kubernetes.core.k8s_info": {
            "api_version": "apps/v1", "kind": "Deployment", "namespace": NAMESPACE, "name": "{{ item }}",
            "wait": True, "wait_timeout": 300},
         "loop": names},
    ]


def run(cluster: BenchCluster, plays: Playbooks, args: argparse.Namespace) -> bool:
    count = args.deployments
    print(f"Creating {count} Deployments in namespace {NAMESPACE} and waiting until they are available")
    cluster.setup(count)
    deadline = time.monotonic() + 300
    while not (len(deps := cluster.deployments()) == count and all(map(rolled_out, deps))):
        if time.monotonic() > deadline:
            raise BenchError("the bench Deployments did not become available within 300s")
        time.sleep(0.5)
    names = [f"bench-{i}" for i in range(count)]
    verdicts = []
    runner = Runner(plays, cluster)
    print("Timing ansible-playbook runs (wall clock):")
    runner.time("warm-up: empty play", [], [])
    one = runner.time("a) kubeops.platform.restart, 1 Deployment", ours(names[:1], False), names[:1])
    many = runner.time(f"b) kubeops.platform.restart, {count} by selector", ours(names, True), names)
    serial = runner.time("b) the same with parallel: 1", ours(names, True, parallel=1), names)
    verdicts += [(f"a) returns within {RETURN_WITHIN:g}s of the rollout", one.overhead, RETURN_WITHIN),
                 (f"b) returns within {RETURN_WITHIN:g}s of the rollout", many.overhead, RETURN_WITHIN)]
    if not args.skip_core:
        core_one = runner.time("a) kubernetes.core k8s + k8s_info, 1", theirs(names[:1]), names[:1])
        core_many = runner.time(f"b) kubernetes.core loop x{count}", theirs(names), names)
        print(f"  (kubernetes.core returned {core_one.overhead:.2f}s and {core_many.overhead:.2f}s after the "
              "rollout completed)")
        speedup = core_many.wall / many.wall
        verdicts.append((f"b) {count} Deployments: speed-up over kubernetes.core", speedup, SPEEDUP_TARGET))
    print()
    print(f"b) {count} Deployments by selector: default parallel {many.wall:.2f}s, parallel: 1 {serial.wall:.2f}s "
          f"({serial.wall / many.wall:.2f}x the time; rolled out at {many.completed_after:.2f}s and "
          f"{serial.completed_after:.2f}s)")
    met_all = True
    for label, value, target in verdicts:
        speed = "speed-up" in label
        met = value >= target if speed else value <= target
        met_all &= met
        shown = f"{value:6.1f}x" if speed else f"{value:6.2f}s"
        goal = f">= {target:g}x" if speed else f"<= {target:g}s"
        print(f"{label:<52} {shown}   target {goal:<8} {'met' if met else 'MISSED'}")
    return met_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--deployments", type=int, default=20, help="Deployments for comparison b (default 20)")
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--ansible-playbook", help="ansible-playbook to run (default: next to this Python)")
    parser.add_argument("--skip-core", action="store_true", help="time kubeops.platform only")
    parser.add_argument("--fake", action="store_true",
                        help="no cluster: the unit tests' in-memory API server on 127.0.0.1, its controllers "
                             "ticking every --tick seconds (numbers mean nothing)")
    parser.add_argument("--tick", type=float, default=0.5, help="controller tick with --fake (default 0.5 s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if args.deployments < 1:
        parser.error("--deployments must be at least 1")
    if args.fake and args.context:
        parser.error("--context does not apply with --fake, which writes its own kubeconfig")

    # SIGTERM (CI timeouts, kill) unwinds like Ctrl-C, so the finally block removes the namespace.
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    cluster = fake = controllers = None
    with tempfile.TemporaryDirectory(prefix="kubeops-bench-") as tmp:
        try:
            if args.fake:
                print(FAKE_NOTICE)
                fake = FakeCluster(Path(tmp))
                os.environ["KUBECONFIG"] = str(fake.kubeconfig)
                controllers = Controllers(fake.fake, args.tick)
                controllers.start()
            plays = Playbooks(Path(tmp), find_ansible_playbook(args.ansible_playbook),
                              {"context": args.context} if args.context else {})
            cluster = BenchCluster(args.context)
            met = run(cluster, plays, args)
        except BenchError as exc:
            print(f"restart_bench: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("restart_bench: interrupted", file=sys.stderr)
            return 130
        finally:
            if cluster is not None:
                try:
                    cluster.teardown()
                except Exception as exc:  # report, but never hide the benchmark's own error
                    print(f"restart_bench: could not delete namespace {NAMESPACE} ({exc}); delete it with: "
                          f"kubectl delete namespace {NAMESPACE}", file=sys.stderr)
            if controllers is not None:
                controllers.stop.set()
            if fake is not None:
                fake.close()
    if args.fake:
        print(FAKE_NOTICE)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
