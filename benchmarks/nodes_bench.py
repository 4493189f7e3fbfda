#!/usr/bin/env python
"""Wall-clock benchmark: kubeops.platform node modules against kubernetes.core and kubectl.

Every run creates fake Node objects for the purpose (no kubelet needed: the API accepts bare Node
objects), labelled ``kubeops-bench=true`` and named ``kubeops-bench-<i>``, and deletes them at the
end, also on failure or Ctrl-C. After each timed run it checks that every node carries the label
or taint that run set, so a fast run that did nothing cannot pass.

Comparison (the default), at --nodes N (default 50), against kubernetes.core:

  a) one kubeops.platform.label task with a selector     vs  a loop of kubernetes.core.k8s patches
  b) one kubeops.platform.taint task with a selector     vs  a loop of kubernetes.core.k8s_taint
  c) 10 single-node kubeops.platform.taint tasks          vs  10 kubernetes.core.k8s_taint tasks

  Targets: a, b at least 20x faster; c at most 0.7x the time.

Scale (--scale, N = 50, 200, 500 unless given), against kubectl, for each N:

  one play tainting and labelling the N nodes by selector (two tasks) at the default parallel,
  the same play with parallel: 1, `kubectl taint -l` + `kubectl label -l`, and an empty play
  (Ansible's start-up); once, 10 single-node taint tasks against 10 ansible.builtin.ping tasks.

  Targets: at the largest N, ours at most half of kubectl taint + kubectl label + the empty play;
  the cost per node, (wall - empty play) / N, at the largest N at most 1.1x that at the smallest
  (flat or falling); 10 single-node taint tasks within 0.15 s per task of 10 ping tasks.

Run it from the repository's virtualenv (it needs ansible-playbook, the kubernetes client and
both collections on the collections path, as `make deps` lays them out):

    .venv/bin/python benchmarks/nodes_bench.py [--nodes 50] [--context kind-kind]
    .venv/bin/python benchmarks/nodes_bench.py --scale [50,200,500] [--kubectl /usr/local/bin/kubectl]
    .venv/bin/python benchmarks/nodes_bench.py --fake [--scale 20,50]   # no cluster: see FAKE_NOTICE
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _cluster import (BENCH_LABEL, FAKE_NOTICE, NODE_PREFIX, BenchError, FakeCluster, Playbooks, check_applied,
                      create_nodes, delete_nodes, find_ansible_playbook, kubernetes_client)

SELECTOR = f"{BENCH_LABEL}=true"
SCALE_SIZES = (50, 200, 500)

# Comparison targets: bulk selector tasks at least this many times faster than a loop over the nodes;
# single-node tasks at most this fraction of kubernetes.core's time.
BULK_SPEEDUP_TARGET = 20.0
SINGLE_RATIO_TARGET = 0.7
# Scale targets.
KUBECTL_SHARE_TARGET = 0.5  # ours / (kubectl taint + kubectl label + an empty play), at the largest N
FLAT_TOLERANCE = 1.10  # cost per node at the largest N / at the smallest N: "flat" allows 10% of noise
TASK_OVERHEAD_TARGET = 0.15  # seconds per single-node taint task over an ansible.builtin.ping task


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


@dataclass
class ScaleRow:
    """Median wall times (s) at one N: the empty play, ours (default parallel, parallel 1) and kubectl."""

    nodes: int
    startup: float
    ours: float
    serial: float
    kubectl_taint: float
    kubectl_label: float

    @property
    def kubectl(self) -> float:
        return self.kubectl_taint + self.kubectl_label

    def per_node(self, wall: float) -> float:
        """Seconds per node once Ansible's own start-up is taken off."""
        return (wall - self.startup) / self.nodes


@dataclass
class Target:
    name: str
    shown: str
    goal: str
    met: bool

    def line(self) -> str:
        return f"{self.name:<62} {self.shown:<22} target {self.goal:<9} {'met' if self.met else 'MISSED'}"


def scale_targets(rows: list[ScaleRow], pings: float | None, taints: float | None, tasks: int) -> list[Target]:
    """The scale mode's verdicts from its measurements (rows in increasing N)."""
    largest, smallest = rows[-1], rows[0]
    share = largest.ours / (largest.kubectl + largest.startup)
    targets = [Target(f"N={largest.nodes}: ours / (kubectl taint + label + empty play)", f"{share:6.2f}x",
                      f"<= {KUBECTL_SHARE_TARGET:g}x", share <= KUBECTL_SHARE_TARGET)]
    if len(rows) > 1:
        first, last = smallest.per_node(smallest.ours), largest.per_node(largest.ours)
        targets.append(Target(f"cost per node, N={smallest.nodes} -> {largest.nodes} (ours, default parallel)",
                              f"{first * 1000:.1f} -> {last * 1000:.1f} ms", f"<= {FLAT_TOLERANCE:g}x",
                              last <= first * FLAT_TOLERANCE))
    if pings is not None and taints is not None:
        extra = (taints - pings) / tasks
        targets.append(Target(f"{tasks} single-node taint tasks vs {tasks} ping tasks, per task", f"{extra:+.3f} s",
                              f"<= {TASK_OVERHEAD_TARGET:g} s", extra <= TASK_OVERHEAD_TARGET))
    return targets


# ---- comparison mode (kubernetes.core) ---------------------------------------------------------------
def label_tasks(names: list[str]) -> tuple[list[dict], list[dict]]:
    ours = [{"name": "Label every bench node", "kubeops.platform.label": {
        "selector": SELECTOR, "labels": {"kubeops-bench/ours": "a"}}}]
    theirs = [{"name": "Label each bench node", "kubernetes.core.k8s": {
        "state": "patched", "merge_type": "merge", "api_version": "v1", "kind": "Node", "name": "{{ item }}",
        "definition": {"metadata": {"labels": {"kubeops-bench/core": "a"}}}}, "loop": names}]
    return ours, theirs


def taint_tasks(names: list[str]) -> tuple[list[dict], list[dict]]:
    ours = [{"name": "Taint every bench node", "kubeops.platform.taint": {
        "selector": SELECTOR, "taints": ["kubeops-bench/ours=b:NoSchedule"]}}]
    theirs = [{"name": "Taint each bench node", "kubernetes.core.k8s_taint": {
        "name": "{{ item }}", "taints": [{"key": "kubeops-bench/core", "value": "b", "effect": "NoSchedule"}]},
        "loop": names}]
    return ours, theirs


def single_taint_tasks(names: list[str], key: str, value: str) -> list[dict]:
    return [{"name": f"Taint {name}", "kubeops.platform.taint": {
        "names": [name], "taints": [f"{key}={value}:PreferNoSchedule"]}} for name in names]


def core_single_taint_tasks(names: list[str]) -> list[dict]:
    return [{"name": f"Taint {name}", "kubernetes.core.k8s_taint": {
        "name": name, "taints": [{"key": "kubeops-bench/single-core", "value": "c", "effect": "PreferNoSchedule"}]}}
        for name in names]


def compare(api, plays: Playbooks, args: argparse.Namespace) -> list[Comparison]:
    single = min(args.single, args.nodes)
    print(f"Creating {args.nodes} fake nodes {NODE_PREFIX}0..{args.nodes - 1}")
    names = [f"{NODE_PREFIX}{i}" for i in range(args.nodes)]
    create_nodes(api, names)
    print("Timing ansible-playbook runs (wall clock):")
    plays.run("warm-up: empty play", [])

    ours, theirs = label_tasks(names)
    a = Comparison(f"a) label {args.nodes} nodes: 1 selector task vs loop",
                   plays.run("a) kubeops.platform.label, selector", ours),
                   plays.run(f"a) kubernetes.core.k8s patch x{args.nodes}", theirs), "speedup")
    check_applied(api, "kubeops.platform.label", names, label=("kubeops-bench/ours", "a"))
    check_applied(api, "kubernetes.core.k8s", names, label=("kubeops-bench/core", "a"))

    ours, theirs = taint_tasks(names)
    b = Comparison(f"b) taint {args.nodes} nodes: 1 selector task vs loop",
                   plays.run("b) kubeops.platform.taint, selector", ours),
                   plays.run(f"b) kubernetes.core.k8s_taint x{args.nodes}", theirs), "speedup")
    check_applied(api, "kubeops.platform.taint", names, taint=("kubeops-bench/ours", "b", "NoSchedule"))
    check_applied(api, "kubernetes.core.k8s_taint", names, taint=("kubeops-bench/core", "b", "NoSchedule"))

    c = Comparison(f"c) {single} single-node taint tasks",
                   plays.run(f"c) kubeops.platform.taint x{single} tasks",
                             single_taint_tasks(names[:single], "kubeops-bench/single-ours", "c")),
                   plays.run(f"c) kubernetes.core.k8s_taint x{single} tasks", core_single_taint_tasks(names[:single])),
                   "ratio")
    check_applied(api, "kubeops.platform.taint (single)", names[:single],
                  taint=("kubeops-bench/single-ours", "c", "PreferNoSchedule"))
    check_applied(api, "kubernetes.core.k8s_taint (single)", names[:single],
                  taint=("kubeops-bench/single-core", "c", "PreferNoSchedule"))
    return [a, b, c]


def report(results: list[Comparison]) -> bool:
    print()
    print(f"{'comparison':<44} {'kubeops':>9} {'k8s.core':>10}   {'result':<18} {'target':<15} verdict")
    for item in results:
        print(item.line())
    return all(item.met for item in results)


# ---- scale mode (kubectl) -----------------------------------------------------------------------------
def selector_tasks(key: str, value: str, parallel: int | None) -> list[dict]:
    """Taint and label every bench node by selector; parallel None leaves the module's default."""
    extra = {} if parallel is None else {"parallel": parallel}
    return [
        {"name": "Taint every bench node", "kubeops.platform.taint": {
            "selector": SELECTOR, "taints": [f"{key}={value}:NoSchedule"], **extra}},
        {"name": "Label every bench node", "kubeops.platform.label": {
            "selector": SELECTOR, "labels": {key: value}, **extra}},
    ]


class Kubectl:
    """Times kubectl commands against the same kubeconfig (and context) as the plays."""

    def __init__(self, command: str, context: str | None, cache_dir: Path | None):
        self.argv = [command, *(["--context", context] if context else []),
                     *(["--cache-dir", str(cache_dir)] if cache_dir else [])]

    def run(self, label: str, *args: str) -> float:
        start = time.perf_counter()
        proc = subprocess.run([*self.argv, *args], capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
            raise BenchError(f"kubectl failed for '{label}' (exit {proc.returncode}): {tail}")
        print(f"  {label:<50} {elapsed:8.2f}s", flush=True)
        return elapsed


def scale(api, plays: Playbooks, kubectl: Kubectl, args: argparse.Namespace) -> tuple[list[ScaleRow], list[Target]]:
    rows: list[ScaleRow] = []
    pings = taints = None
    tasks = args.single
    print("Timing ansible-playbook and kubectl runs (wall clock):")
    plays.run("warm-up: empty play", [])
    for size in args.scale:
        names = [f"{NODE_PREFIX}{i}" for i in range(size)]
        print(f"N = {size}: creating fake nodes {NODE_PREFIX}0..{size - 1}")
        create_nodes(api, names)
        kubectl.run("warm-up: kubectl get nodes -l", "get", "nodes", "-l", SELECTOR, "-o", "name")
        runs: dict[str, list[float]] = {"startup": [], "ours": [], "serial": [], "taint": [], "label": []}
        for rep in range(args.repeat):
            value = f"r{rep}"  # a new value each round: every round changes every node
            runs["startup"].append(plays.run("empty play (start-up)", []))
            for key, parallel, what in (("kubeops-bench/default", None, "ours"),
                                        ("kubeops-bench/serial", 1, "serial")):
                label = f"N={size} taint + label, {'default parallel' if parallel is None else 'parallel: 1'}"
                runs[what].append(plays.run(label, selector_tasks(key, value, parallel)))
                check_applied(api, label, names, label=(key, value))
                check_applied(api, label, names, taint=(key, value, "NoSchedule"))
            key = "kubeops-bench/kubectl"
            runs["taint"].append(kubectl.run(f"N={size} kubectl taint nodes -l", "taint", "nodes", "-l", SELECTOR,
                                             f"{key}={value}:NoSchedule", "--overwrite"))
            check_applied(api, "kubectl taint", names, taint=(key, value, "NoSchedule"))
            runs["label"].append(kubectl.run(f"N={size} kubectl label nodes -l", "label", "nodes", "-l", SELECTOR,
                                             f"{key}={value}", "--overwrite"))
            check_applied(api, "kubectl label", names, label=(key, value))
        median = {what: statistics.median(times) for what, times in runs.items()}
        rows.append(ScaleRow(size, median["startup"], median["ours"], median["serial"], median["taint"],
                             median["label"]))
        if pings is None:
            count = min(tasks, size)
            pings = plays.run(f"{count} ansible.builtin.ping tasks",
                              [{"name": f"Ping {i}", "ansible.builtin.ping": {}} for i in range(count)])
            taints = plays.run(f"{count} single-node kubeops.platform.taint tasks",
                               single_taint_tasks(names[:count], "kubeops-bench/single", "s"))
            check_applied(api, "single-node taint tasks", names[:count],
                          taint=("kubeops-bench/single", "s", "PreferNoSchedule"))
            tasks = count
        deleted = delete_nodes(api)
        print(f"N = {size}: deleted {deleted} fake nodes")
    return rows, scale_targets(rows, pings, taints, tasks)


def scale_report(rows: list[ScaleRow], targets: list[Target], repeat: int) -> bool:
    print()
    median = f" (median of {repeat})" if repeat > 1 else ""
    print(f"Taint + label of N nodes by selector: wall clock in seconds{median}")
    print("  ours = one play of two tasks; kubectl = taint -l, then label -l; start-up = an empty play;")
    print("  per node = (wall - start-up) / N for ours, wall / N for kubectl")
    print(f"{'N':>6} {'start-up':>9} {'ours':>7} {'par. 1':>7} {'kubectl':>15}   {'par.1/ours':>10} "
          f"{'ours/(kubectl+start-up)':>23}   {'per node: ours':>14} {'par. 1':>7} {'kubectl':>8}")
    for row in rows:
        kubectl = f"{row.kubectl_taint:.2f}+{row.kubectl_label:.2f}"
        print(f"{row.nodes:>6} {row.startup:>9.2f} {row.ours:>7.2f} {row.serial:>7.2f} {kubectl:>15}   "
              f"{row.serial / row.ours:>9.2f}x {row.ours / (row.kubectl + row.startup):>22.2f}x   "
              f"{row.per_node(row.ours) * 1000:>11.1f} ms {row.per_node(row.serial) * 1000:>4.1f} ms "
              f"{row.kubectl / row.nodes * 1000:>5.1f} ms")
    for before, after in zip(rows, rows[1:]):
        step = (after.ours - before.ours) / (after.nodes - before.nodes)
        print(f"  each node from N={before.nodes} to N={after.nodes} added {step * 1000:.1f} ms to ours "
              f"({(after.serial - before.serial) / (after.nodes - before.nodes) * 1000:.1f} ms with parallel: 1, "
              f"{(after.kubectl - before.kubectl) / (after.nodes - before.nodes) * 1000:.1f} ms to kubectl)")
    print()
    for target in targets:
        print(target.line())
    return all(target.met for target in targets)


# ---- main -----------------------------------------------------------------------------------------------
def sizes(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--scale takes node counts like 50,200,500, got '{text}'") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"--scale takes node counts of at least 1, got '{text}'")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--nodes", type=int, default=50, help="fake nodes for the comparison (default 50)")
    parser.add_argument("--scale", type=sizes, nargs="?", const=list(SCALE_SIZES), metavar="N,N,...",
                        help="scale mode against kubectl, at these node counts (default 50,200,500)")
    parser.add_argument("--single", type=int, default=10, help="single-node tasks to time (default 10)")
    parser.add_argument("--repeat", type=int, default=1, help="scale mode: runs of each measurement, median shown")
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--ansible-playbook", help="ansible-playbook to run (default: next to this Python)")
    parser.add_argument("--kubectl", help="kubectl for the scale mode (default: kubectl on PATH)")
    parser.add_argument("--fake", action="store_true",
                        help="no cluster: the unit tests' in-memory API server on 127.0.0.1 (numbers mean nothing)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if args.nodes < 1 or args.single < 1 or args.repeat < 1:
        parser.error("--nodes, --single and --repeat must be at least 1")
    if args.fake and args.context:
        parser.error("--context does not apply with --fake, which writes its own kubeconfig")

    # SIGTERM (CI timeouts, kill) unwinds like Ctrl-C, so the finally block deletes the nodes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    api = fake = None
    with tempfile.TemporaryDirectory(prefix="kubeops-bench-") as tmp:
        try:
            workdir = Path(tmp)
            if args.fake:
                print(FAKE_NOTICE)
                fake = FakeCluster(workdir)
                os.environ["KUBECONFIG"] = str(fake.kubeconfig)
            playbook_cmd = find_ansible_playbook(args.ansible_playbook)
            kubectl_cmd = None
            if args.scale:
                kubectl_cmd = args.kubectl or shutil.which("kubectl")
                if not kubectl_cmd:
                    raise BenchError("kubectl not found on PATH; give its path with --kubectl")
            api = kubernetes_client(args.context).CoreV1Api()
            leftovers = delete_nodes(api)
            if leftovers:
                print(f"Deleted {leftovers} bench node(s) left by an earlier run")
            plays = Playbooks(workdir, playbook_cmd, {"context": args.context} if args.context else {})
            if args.scale:
                kubectl = Kubectl(kubectl_cmd, args.context, workdir / "kubectl-cache" if args.fake else None)
                rows, targets = scale(api, plays, kubectl, args)
            else:
                results = compare(api, plays, args)
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
                          f"kubectl delete nodes -l {SELECTOR}", file=sys.stderr)
            if fake is not None:
                fake.close()
    met = scale_report(rows, targets, args.repeat) if args.scale else report(results)
    if args.fake:
        print(FAKE_NOTICE)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
