#!/usr/bin/env python
"""Profile of one single-node kubeops.platform.taint task: where its time goes, phase by phase.

Creates one fake node (``kubeops-bench-profile``, labelled ``kubeops-bench=true``, deleted at the
end, also on failure or Ctrl-C), runs one real taint task in check mode with Ansible keeping its
AnsiballZ payload, and then runs the module from that payload --runs times, each in a new Python
process as a task does, tainting the node with a new value each time (so every run reads it and
writes it). A clock on each phase splits the process's time into: Python's start-up, importing
Ansible's module runtime, importing the taint module and its module_utils, argument validation,
reading the kubeconfig, the TLS context, the TCP connection, the TLS handshake, the GET and the
PATCH of the node, the rest of the module's work, writing the result, and the process's exit.
The table shows the median, fastest and slowest of each, and which phases an
ansible.builtin.ping task pays too.

    .venv/bin/python benchmarks/task_profile.py [--runs 10] [--context kind-kind] [--import-times]
    .venv/bin/python benchmarks/task_profile.py --fake      # no cluster: see FAKE_NOTICE
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _cluster import (FAKE_NOTICE, NODE_PREFIX, BenchError, FakeCluster, Playbooks, check_applied, create_nodes,
                      delete_nodes, find_ansible_playbook, kubernetes_client)

NODE = f"{NODE_PREFIX}profile"
TAINT_KEY = "kubeops-bench/profile"
CHILD = Path(__file__).resolve().parent / "_profile_child.py"
TASK_OVERHEAD_TARGET = 0.15  # nodes_bench.py --scale: a single-node taint task over a ping task

# (key, what it is, paid by an ansible.builtin.ping task too), in the order a task goes through them.
PHASES = [
    ("python", "Python start-up", True),
    ("import_runtime", "import Ansible's module runtime (basic)", True),
    ("import_module", "import the taint module and its module_utils", False),
    ("arguments", "AnsibleModule(): validate the arguments", True),
    ("kubeconfig", "read the kubeconfig, resolve the connection", False),
    ("tls_context", "TLS context: load the CA and client cert", False),
    ("tcp", "TCP connect", False),
    ("tls_handshake", "TLS handshake", False),
    ("request_GET", "GET the node", False),
    ("request_PATCH", "PATCH the node", False),
    ("rest", "the rest: taints, plan, result", False),
    ("exit_json", "exit_json: write the result", True),
    ("exit", "process exit", True),
]
# What _profile_child.py must have clocked in every run.
CLOCKED = ("import_runtime", "import_module", "arguments", "kubeconfig", "tls_context", "tcp", "connect",
           "request_GET", "request_PATCH", "exit_json", "main")


def payload(plays: Playbooks, workdir: Path) -> tuple[Path, dict]:
    """The AnsiballZ payload of a real taint task, as a zip, and the module arguments the task sent."""
    remote = workdir / "remote"
    plays.run("one taint task in check mode (keeps its payload)", [{
        "name": "Taint the profile node (check mode)", "check_mode": True,
        "kubeops.platform.taint": {"names": [NODE], "taints": [f"{TAINT_KEY}=check:NoSchedule"]}}],
        env={"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": str(remote), "ANSIBLE_PIPELINING": "0"})
    wrappers = sorted(remote.glob("ansible-tmp-*/AnsiballZ_taint.py"))
    if not wrappers:
        raise BenchError(f"Ansible kept no AnsiballZ_taint.py under {remote} (ANSIBLE_KEEP_REMOTE_FILES=1)")
    wrapper = wrappers[-1]
    # The wrapper's documented debug command writes the payload out as files (debug_dir) and the arguments.
    proc = subprocess.run([sys.executable, str(wrapper), "explode"], cwd=wrapper.parent, capture_output=True,
                          text=True, check=False)
    exploded = wrapper.parent / "debug_dir"
    if proc.returncode != 0 or not (exploded / "args").is_file():
        raise BenchError(f"{wrapper.name} explode failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    archive = workdir / "payload.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(exploded.rglob("*.py")):
            zipped.write(path, path.relative_to(exploded).as_posix())
    return archive, json.loads((exploded / "args").read_text())["ANSIBLE_MODULE_ARGS"]


def sample(archive: Path, arguments: dict, import_times: bool = False) -> tuple[dict[str, float], dict, str]:
    """One module run in a new process: (seconds per phase, the module's result, stderr)."""
    argv = [sys.executable, *(["-X", "importtime"] if import_times else []), str(CHILD), str(archive)]
    launched = time.time()
    proc = subprocess.run(argv, input=json.dumps({"ANSIBLE_MODULE_ARGS": arguments}), capture_output=True,
                          text=True, check=False)
    ended = time.time()
    try:
        report = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"the profiled module run failed (exit {proc.returncode}): "
                         f"{(proc.stdout + proc.stderr).strip()[-800:]}") from None
    unseen = [key for key in CLOCKED if key not in report["spent"]]
    if unseen:  # a phase the clocks never saw would silently count as "the rest"
        raise BenchError(f"the profile's clocks saw no {', '.join(unseen)}: the module's internals changed; "
                         f"update {CHILD.name}")
    return phases(report, launched, ended), report["result"], proc.stderr


def phases(report: dict, launched: float, ended: float) -> dict[str, float]:
    """Seconds per phase key of PHASES, from the child's report and the parent's clock, plus ``total``."""
    spent = dict(report["spent"])
    within_main = ("arguments", "kubeconfig", "tls_context", "connect", "request_GET", "request_PATCH", "exit_json")
    result = {key: spent.get(key, 0.0) for key, _what, _ping in PHASES}
    result["python"] = report["started"] - launched
    result["tls_handshake"] = spent.get("connect", 0.0) - spent.get("tcp", 0.0)
    result["rest"] = spent.get("main", 0.0) - sum(spent.get(key, 0.0) for key in within_main)
    result["exit"] = ended - report["finished"]
    result["total"] = ended - launched
    return result


def table(samples: list[dict[str, float]], runs: int) -> str:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:8.1f}"

    median = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    lines = [f"One single-node taint task, phase by phase: {runs} runs, each in a new process (milliseconds)",
             f"{'phase':<48} {'median':>8} {'fastest':>8} {'slowest':>8}  {'share':>5}  ping pays it too"]
    for key, what, ping in PHASES:
        values = [s[key] for s in samples]
        lines.append(f"{what:<48} {ms(median[key])} {ms(min(values))} {ms(max(values))}  "
                     f"{median[key] / median['total']:>5.0%}  {'yes' if ping else 'no'}")
    ours = sum(median[key] for key, _what, ping in PHASES if not ping)
    lines += [f"{'the whole module process (median of totals)':<48} {ms(median['total'])}",
              f"{'phases a ping task does not pay (sum of medians)':<48} {ms(ours)}  "
              f"(nodes_bench.py --scale checks a taint task stays within {TASK_OVERHEAD_TARGET * 1000:.0f} ms "
              "of a ping task)"]
    return "\n".join(lines)


def slowest_imports(stderr: str, archive: Path, count: int = 15) -> str:
    """The imports that took longest by themselves, from ``python -X importtime`` output."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|", 2))
        rows.append((int(own), int(cumulative), name.strip()))
    rows.sort(reverse=True)
    lines = [f"The {count} slowest imports of one run (python -X importtime; from {archive.name} unless stdlib)",
             f"{'self ms':>8} {'with its imports':>16}  module"]
    lines += [f"{own / 1000:8.1f} {cumulative / 1000:16.1f}  {name}" for own, cumulative, name in rows[:count]]
    return "\n".join(lines)


def profile(api, plays: Playbooks, workdir: Path, args: argparse.Namespace) -> None:
    print(f"Creating the fake node {NODE}")
    create_nodes(api, [NODE])
    archive, arguments = payload(plays, workdir)
    arguments.update({"_ansible_check_mode": False, "_ansible_keep_remote_files": False})
    samples = []
    print(f"Running the taint module {args.runs} times (and once to warm up), each in a new process")
    for index in range(args.runs + 1):
        value = f"v{index}"  # a new value each run: every run reads the node and writes it
        run_args = {**arguments, "taints": [f"{TAINT_KEY}={value}:NoSchedule"]}
        spent, result, _stderr = sample(archive, run_args)
        if result.get("failed") or not result.get("changed"):
            raise BenchError(f"run {index}: the taint task did not change the node: {result.get('msg') or result}")
        if index:  # the first run warms the page cache and the API server's connection handling
            samples.append(spent)
    check_applied(api, "the profiled taint task", [NODE], taint=(TAINT_KEY, f"v{args.runs}", "NoSchedule"))
    print()
    print(table(samples, args.runs))
    if args.import_times:
        _spent, _result, stderr = sample(archive, {**arguments, "taints": [f"{TAINT_KEY}=imports:NoSchedule"]},
                                         import_times=True)
        print()
        print(slowest_imports(stderr, archive))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=10, help="module runs to time (default 10)")
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--ansible-playbook", help="ansible-playbook to run (default: next to this Python)")
    parser.add_argument("--import-times", action="store_true",
                        help="one more run under python -X importtime: the slowest imports")
    parser.add_argument("--fake", action="store_true",
                        help="no cluster: the unit tests' in-memory API server on 127.0.0.1 (numbers mean nothing)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.fake and args.context:
        parser.error("--context does not apply with --fake, which writes its own kubeconfig")

    # SIGTERM (CI timeouts, kill) unwinds like Ctrl-C, so the finally block deletes the node.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    api = fake = None
    with tempfile.TemporaryDirectory(prefix="kubeops-bench-") as tmp:
        try:
            workdir = Path(tmp)
            if args.fake:
                print(FAKE_NOTICE)
                fake = FakeCluster(workdir)
                os.environ["KUBECONFIG"] = str(fake.kubeconfig)
            plays = Playbooks(workdir, find_ansible_playbook(args.ansible_playbook),
                              {"context": args.context} if args.context else {})
            api = kubernetes_client(args.context).CoreV1Api()
            delete_nodes(api)
            profile(api, plays, workdir, args)
        except BenchError as exc:
            print(f"task_profile: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("task_profile: interrupted", file=sys.stderr)
            return 130
        finally:
            if api is not None:
                try:
                    delete_nodes(api)
                except Exception as exc:  # report, but never hide the profile's own error
                    print(f"task_profile: could not delete node {NODE} ({exc}); delete it with: "
                          f"kubectl delete node {NODE}", file=sys.stderr)
            if fake is not None:
                fake.close()
    if args.fake:
        print(FAKE_NOTICE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
