#!/usr/bin/env python
"""Wall-clock benchmark: kubeops.platform node modules against kubernetes.core.

Creates N fake Node objects (no kubelet needed: the API accepts bare Node objects), labelled
``kubeops-bench=true`` and named ``kubeops-bench-<i>``, then times ansible-playbook runs:

  a) one kubeops.platform.label task with a selector     vs  a loop of kubernetes.core.k8s patches
  b) one kubeops.platform.taint task with a selector     vs  a loop of kubernetes.core.k8s_taint
  c) 10 single-node kubeops.platform.taint tasks          vs  10 kubernetes.core.k8s_taint tasks

and prints the times, the ratios and the targets (a, b: at least 20x faster; c: at most 0.7x
the time). The fake nodes are deleted at the end, also on failure or Ctrl-C.

Run it from the repository's virtualenv (it needs ansible-playbook, the kubernetes client and
both collections on the collections path, as `make deps` lays them out):

    .venv/bin/python benchmarks/nodes_bench.py [--nodes 50] [--context kind-kind]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _cluster import BenchError, kubernetes_client

BENCH_LABEL = "kubeops-bench"
NAME_PREFIX = "kubeops-bench-"
REPO = Path(__file__).resolve().parent.parent

# Targets: bulk selector tasks at least this many times faster than a loop over the nodes;
# single-node tasks at most this fraction of kubernetes.core's time.
BULK_SPEEDUP_TARGET = 20.0
SINGLE_RATIO_TARGET = 0.7


@dataclass
class Comparison:
    name: str
    ours: float
    theirs: float
    kind: str  # "speedup": theirs/ours must reach the target; "ratio": ours/theirs must stay under it

    @property
    def value(self) -> float:
        return self.theirs / self.ours if self.kind == "speedup" else self.ours / self.theirs

    @property
    def target(self) -> float:
        return BULK_SPEEDUP_TARGET if self.kind == "speedup" else SINGLE_RATIO_TARGET

    @property
    def met(self) -> bool:
        return self.value >= self.target if self.kind == "speedup" else self.value <= self.target

    def line(self) -> str:
        if self.kind == "speedup":
            shown, goal = f"{self.value:6.1f}x faster", f">= {self.target:g}x"
        else:
            shown, goal = f"{self.value:6.2f}x the time", f"<= {self.target:g}x"
        verdict = "met" if self.met else "MISSED"
        return (f"{self.name:<44} {self.ours:8.2f}s {self.theirs:9.2f}s   {shown:<18} "
                f"target {goal:<8} {verdict}")


def connect(context: str | None):
    """A CoreV1Api for the cluster in KUBECONFIG, or BenchError when none answers within 5 s."""
    return kubernetes_client(context).CoreV1Api()


def create_nodes(api, count: int) -> list[str]:
    names = [f"{NAME_PREFIX}{i}" for i in range(count)]
    for name in names:
        api.create_node({"apiVersion": "v1", "kind": "Node",
                         "metadata": {"name": name, "labels": {BENCH_LABEL: "true"}}})
    return names


def delete_nodes(api) -> int:
    """Delete every bench node (this run's and any left by an interrupted one)."""
    from kubernetes.client.exceptions import ApiException

    deleted = 0
    for node in api.list_node(label_selector=f"{BENCH_LABEL}=true").items:
        if not node.metadata.name.startswith(NAME_PREFIX):
            continue  # carries the label by accident: not ours to delete
        try:
            api.delete_node(node.metadata.name)
            deleted += 1
        except ApiException as exc:
            if exc.status != 404:
                raise
    return deleted


def count_nodes_with(api, label: str | None = None, taint_key: str | None = None) -> int:
    nodes = api.list_node(label_selector=f"{BENCH_LABEL}=true").items
    if label:
        return sum(1 for n in nodes if label in (n.metadata.labels or {}))
    return sum(1 for n in nodes if any(t.key == taint_key for t in (n.spec.taints or [])))


class Runner:
    """Writes one playbook per measurement and times ansible-playbook on it."""

    def __init__(self, workdir: Path, context: str | None, playbook_cmd: str):
        self.workdir = workdir
        self.playbook_cmd = playbook_cmd
        self.env = dict(os.environ)
        if "ANSIBLE_CONFIG" not in self.env and (REPO / "ansible.cfg").exists():
            self.env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
        self.env.setdefault("ANSIBLE_NOCOLOR", "1")
        self.inventory = workdir / "hosts.yml"
        self.inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
        self.defaults = {"context": context} if context else {}

    def play(self, tasks: list[dict]) -> list[dict]:
        return [{
            "name": "Benchmark",
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/kubeops.platform.k8s": self.defaults},
            "tasks": tasks,
        }]

    def time(self, label: str, tasks: list[dict]) -> float:
        path = self.workdir / f"{label}.yml"
        path.write_text(json.dumps(self.play(tasks), indent=1))  # JSON is valid YAML
        start = time.perf_counter()
        proc = subprocess.run([self.playbook_cmd, "-i", str(self.inventory), str(path)], env=self.env,
                              capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise BenchError(f"ansible-playbook failed for '{label}' (exit {proc.returncode}):\n{tail}")
        print(f"  {label:<40} {elapsed:8.2f}s", flush=True)
        return elapsed


def label_tasks(names: list[str]) -> tuple[list[dict], list[dict]]:
    ours = [{"name": "Label every bench node", "kubeops.platform.label": {
        "selector": f"{BENCH_LABEL}=true", "labels": {"kubeops-bench/ours": "a"}}}]
    theirs = [{"name": "Label each bench node", "kubernetes.core.k8s": {
        "state": "patched", "merge_type": "merge", "api_version": "v1", "kind": "Node", "name": "{{ item }}",
        "definition": {"metadata": {"labels": {"kubeops-bench/core": "a"}}}}, "loop": names}]
    return ours, theirs


def taint_tasks(names: list[str]) -> tuple[list[dict], list[dict]]:
    ours = [{"name": "Taint every bench node", "kubeops.platform.taint": {
        "selector": f"{BENCH_LABEL}=true", "taints": ["kubeops-bench/ours=b:NoSchedule"]}}]
    theirs = [{"name": "Taint each bench node", "kubernetes.core.k8s_taint": {
        "name": "{{ item }}", "taints": [{"key": "kubeops-bench/core", "value": "b", "effect": "NoSchedule"}]},
        "loop": names}]
    return ours, theirs


def single_taint_tasks(names: list[str]) -> tuple[list[dict], list[dict]]:
    ours = [{"name": f"Taint {name}", "kubeops.platform.taint": {
        "names": [name], "taints": ["kubeops-bench/single-ours=c:PreferNoSchedule"]}} for name in names]
    theirs = [{"name": f"Taint {name}", "kubernetes.core.k8s_taint": {
        "name": name, "taints": [{"key": "kubeops-bench/single-core", "value": "c", "effect": "PreferNoSchedule"}]}}
        for name in names]
    return ours, theirs


def check_applied(api, what: str, expected: int, label: str | None = None, taint_key: str | None = None) -> None:
    found = count_nodes_with(api, label=label, taint_key=taint_key)
    if found != expected:
        raise BenchError(f"{what}: expected {expected} bench nodes to carry it, found {found}")


def run(api, args: argparse.Namespace) -> list[Comparison]:
    playbook_cmd = args.ansible_playbook or shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) \
        or shutil.which("ansible-playbook")
    if not playbook_cmd:
        raise BenchError("ansible-playbook not found next to this Python or on PATH; use --ansible-playbook")

    leftovers = delete_nodes(api)
    if leftovers:
        print(f"Deleted {leftovers} bench node(s) left by an earlier run")
    single = min(args.single, args.nodes)
    print(f"Creating {args.nodes} fake nodes {NAME_PREFIX}0..{args.nodes - 1}")
    names = create_nodes(api, args.nodes)

    with tempfile.TemporaryDirectory(prefix="kubeops-bench-") as tmp:
        runner = Runner(Path(tmp), args.context, playbook_cmd)
        print("Timing ansible-playbook runs (wall clock):")
        runner.time("warm-up: empty play", [])

        ours, theirs = label_tasks(names)
        a = Comparison(f"a) label {args.nodes} nodes: 1 selector task vs loop",
                       runner.time("a) kubeops.platform.label, selector", ours),
                       runner.time(f"a) kubernetes.core.k8s patch x{args.nodes}", theirs), "speedup")
        check_applied(api, "kubeops.platform.label", args.nodes, label="kubeops-bench/ours")
        check_applied(api, "kubernetes.core.k8s", args.nodes, label="kubeops-bench/core")

        ours, theirs = taint_tasks(names)
        b = Comparison(f"b) taint {args.nodes} nodes: 1 selector task vs loop",
                       runner.time("b) kubeops.platform.taint, selector", ours),
                       runner.time(f"b) kubernetes.core.k8s_taint x{args.nodes}", theirs), "speedup")
        check_applied(api, "kubeops.platform.taint", args.nodes, taint_key="kubeops-bench/ours")
        check_applied(api, "kubernetes.core.k8s_taint", args.nodes, taint_key="kubeops-bench/core")

        ours, theirs = single_taint_tasks(names[:single])
        c = Comparison(f"c) {single} single-node taint tasks",
                       runner.time(f"c) kubeops.platform.taint x{single} tasks", ours),
                       runner.time(f"c) kubernetes.core.k8s_taint x{single} tasks", theirs), "ratio")
        check_applied(api, "kubeops.platform.taint (single)", single, taint_key="kubeops-bench/single-ours")
        check_applied(api, "kubernetes.core.k8s_taint (single)", single, taint_key="kubeops-bench/single-core")
    return [a, b, c]


def report(results: list[Comparison]) -> bool:
    print()
    print(f"{'comparison':<44} {'kubeops':>9} {'k8s.core':>10}   {'result':<18} {'target':<15} verdict")
    for item in results:
        print(item.line())
    return all(item.met for item in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--nodes", type=int, default=50, help="fake nodes to create (default 50)")
    parser.add_argument("--single", type=int, default=10, help="single-node tasks in comparison c (default 10)")
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--ansible-playbook", help="ansible-playbook to run (default: next to this Python)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if args.nodes < 1 or args.single < 1:
        parser.error("--nodes and --single must be at least 1")

    # SIGTERM (CI timeouts, kill) unwinds like Ctrl-C, so the finally block deletes the nodes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    api = None
    try:
        api = connect(args.context)
        results = run(api, args)
    except BenchError as exc:
        print(f"nodes_bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nodes_bench: interrupted", file=sys.stderr)
        return 130
    finally:
        if api is not None:
            try:
                deleted = delete_nodes(api)
                if deleted:
                    print(f"Deleted {deleted} fake node(s)")
            except Exception as exc:  # report, but never hide the benchmark's own error
                print(f"nodes_bench: could not delete the fake nodes ({exc}); delete them with: "
                      f"kubectl delete nodes -l {BENCH_LABEL}=true", file=sys.stderr)
    met = report(results)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
