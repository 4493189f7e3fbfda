#!/usr/bin/env python
"""Benchmark: how much API time kubeops.platform.doctor needs to diagnose a namespace of many pods.

Creates namespace ``kubeops-bench-doctor`` with a Deployment of ``--pods`` replicas (default 500)
whose node selector no node has, so every pod stays Pending with the scheduler's FailedScheduling
events, plus a Service whose selector matches no pod and a claim of a StorageClass that does not
exist. Then measures:

  a) the diagnosis in this process, through the collection's own client and a transport that times
     every request: the API time (the sum of the round trips), the requests per kind, and the time
     of the engine itself;
  b) one ansible-playbook run of one doctor task, wall clock (Ansible's start-up included).

Target: the API time of a) stays under 2 s, with one LIST per kind (a LIST of more than 500 items
comes in pages of 500). The run checks that every pod was diagnosed and each planted problem found,
so a fast run that looked at nothing fails.

    .venv/bin/python benchmarks/doctor_bench.py [--pods 500] [--context kind-kind] [--strict]
    .venv/bin/python benchmarks/doctor_bench.py --fake     # no cluster: the unit tests' API server over HTTP
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
from collections import Counter
from pathlib import Path

from _cluster import BenchError, kubernetes_client

REPO = Path(__file__).resolve().parent.parent
NAMESPACE = "kubeops-bench-doctor"
IMAGE = "registry.k8s.io/pause:3.10"
API_TIME_TARGET = 2.0
SELECTOR_KEY = "kubeops-bench/nowhere"
SCHEDULER_MESSAGE = ("0/{nodes} nodes are available: {nodes} node(s) didn't match Pod's node affinity/selector. "
                     "preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling.")


def manifests(pods: int) -> list[dict]:
    labels = {"app": "bench"}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench", "namespace": NAMESPACE},
         "spec": {"replicas": pods, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"nodeSelector": {SELECTOR_KEY: "true"}, "terminationGracePeriodSeconds": 0,
                                        "containers": [{"name": "pause", "image": IMAGE}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench-typo", "namespace": NAMESPACE},
         "spec": {"selector": {"app": "bnech"}, "ports": [{"port": 80, "protocol": "TCP"}]}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "bench-data", "namespace": NAMESPACE},
         "spec": {"storageClassName": "kubeops-bench-missing", "accessModes": ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": "1Gi"}}}},
    ]


def collection_imports():
    """The collection's module_utils, importable the way Ansible imports them."""
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[str(REPO / ".cache" / "collections")])._install()
    from ansible_collections.kubeops.platform.plugins.module_utils import _client, _connection, _diagnosis, _doctor

    return _client, _connection, _diagnosis, _doctor


# ---- clusters ---------------------------------------------------------------------------------------
class RealCluster:
    """The cluster in KUBECONFIG, through the kubernetes client."""

    def __init__(self, context: str | None):
        client = kubernetes_client(context)
        self.api = client.ApiClient()
        self.core, self.apps = client.CoreV1Api(self.api), client.AppsV1Api(self.api)
        self.params = {"context": context} if context else {}
        self.defaults = dict(self.params)

    def setup(self, pods: int) -> None:
        from kubernetes.client.exceptions import ApiException

        self.teardown(wait=True)
        self.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        try:
            deployment, service, claim = manifests(pods)
            self.apps.create_namespaced_deployment(NAMESPACE, deployment)
            self.core.create_namespaced_service(NAMESPACE, service)
            self.core.create_namespaced_persistent_volume_claim(NAMESPACE, claim)
        except ApiException as exc:
            raise BenchError(f"cannot create the bench objects: {exc.reason}") from exc
        print(f"Waiting until the scheduler has looked at all {pods} pods", flush=True)
        deadline = time.monotonic() + 300
        while True:
            raw = self.core.list_namespaced_pod(NAMESPACE, _preload_content=False)
            items = json.loads(raw.data)["items"]
            looked = [p for p in items if any(c.get("type") == "PodScheduled" and c.get("status") == "False"
                                              for c in (p.get("status") or {}).get("conditions") or [])]
            if len(looked) >= pods:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"only {len(looked)} of {pods} pods were marked unschedulable within 300 s")
            time.sleep(2)

    def teardown(self, wait: bool = False) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.delete_namespace(NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise
        deadline = time.monotonic() + 180
        while wait and time.monotonic() < deadline:
            try:
                self.core.read_namespace(NAMESPACE)
            except ApiException as exc:
                if exc.status == 404:
                    return
                raise
            time.sleep(1)


class FakeCluster:
    """The unit tests' in-memory API server over HTTP, holding what a scheduler would have left."""

    def __init__(self):
        sys.path.insert(0, str(REPO / "tests" / "unit"))
        from fake_k8s import FakeKube, serve_http

        self.fake = FakeKube()
        self.server, url = serve_http(self.fake)
        self.params = {"host": url, "api_key": "bench-token"}
        self.defaults = dict(self.params)

    def setup(self, pods: int) -> None:
        fake = self.fake
        fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        for index in range(3):
            fake.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{index}", "labels": {}},
                      "spec": {}, "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}})
        deployment, service, claim = manifests(pods)
        deployment = fake.add(deployment)
        template = deployment["spec"]["template"]
        labels = {**template["metadata"]["labels"], "pod-template-hash": "5c7b8d9f4"}
        replicaset = fake.add({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                               "metadata": {"name": "bench-5c7b8d9f4", "namespace": NAMESPACE, "labels": labels,
                                            "ownerReferences": [_owner(deployment)]},
                               "spec": {"replicas": pods, "selector": {"matchLabels": labels},
                                        "template": {"metadata": {"labels": labels}, "spec": template["spec"]}}})
        message = SCHEDULER_MESSAGE.format(nodes=3)
        for index in range(pods):
            pod = fake.add({"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": f"bench-5c7b8d9f4-{index:05d}", "namespace": NAMESPACE,
                                         "labels": labels, "ownerReferences": [_owner(replicaset)]},
                            "spec": template["spec"],
                            "status": {"phase": "Pending", "conditions": [
                                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]}})
            fake.add({"apiVersion": "v1", "kind": "Event",
                      "metadata": {"name": f"{pod['metadata']['name']}.17f3a2b4c5d6e7f8", "namespace": NAMESPACE},
                      "involvedObject": {"kind": "Pod", "namespace": NAMESPACE, "name": pod["metadata"]["name"],
                                         "uid": pod["metadata"]["uid"], "apiVersion": "v1"},
                      "reason": "FailedScheduling", "message": message, "type": "Warning", "count": 1,
                      "lastTimestamp": "2025-05-01T10:00:00Z", "source": {"component": "default-scheduler"}})
        fake.add(service)
        fake.add({**claim, "status": {"phase": "Pending"}})
        fake.log.clear()

    def teardown(self, wait: bool = False) -> None:
        self.server.shutdown()


def _owner(obj: dict) -> dict:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True}


# ---- measuring --------------------------------------------------------------------------------------
def run_command(args, environ_update=None, **_kwargs):
    """Exec credential plugins of the kubeconfig, as AnsibleModule.run_command would run them."""
    proc = subprocess.run(args, env={**os.environ, **(environ_update or {})}, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def in_process(cluster, pods: int) -> tuple[float, bool]:
    """a) Diagnose through a timing transport; returns (API time, whether the result is complete)."""
    _client, _connection, _diagnosis, _doctor = collection_imports()
    timings: list[tuple[str, str, float]] = []

    class TimedTransport(_client.HttpTransport):
        def request(self, method, target, headers, body):
            start = time.perf_counter()
            try:
                return super().request(method, target, headers, body)
            finally:
                timings.append((method, target, time.perf_counter() - start))

    conn = _connection.resolve_connection(cluster.params, run_command=run_command)
    client = _client.K8sClient(conn, transport=TimedTransport(conn))
    params = {"namespace": NAMESPACE, "logs": True, "log_lines": _diagnosis.LOG_LINES}
    scope = _doctor.scope_from(params)
    reader = _doctor.ClusterReader(client, scope)
    started = time.perf_counter()
    reader.check_namespace()
    snapshot = _diagnosis.Snapshot(fetch=reader.fetch, read_log=reader.read_log)
    result = _diagnosis.diagnose(snapshot, scope)
    total = time.perf_counter() - started
    client.close()

    api = sum(seconds for _m, _t, seconds in timings)
    per_path = Counter()
    time_per_path: Counter = Counter()
    for _method, target, seconds in timings:
        path = target.split("?", 1)[0]
        per_path[path] += 1
        time_per_path[path] += seconds
    print("a) in process, through the collection's client:")
    for path, count in per_path.items():
        pages = f"{count} pages" if count > 1 else "1 request"
        print(f"     GET {path:<70} {pages:<10} {time_per_path[path] * 1000:8.1f} ms")
    print(f"     {len(timings)} requests, API time {api:.3f} s; engine {total - api:.3f} s; total {total:.3f} s")
    counts = result["counts"]
    complete = (result["checked"].get("Pod") == pods
                and counts.get("pod_unschedulable_node_selector") == pods
                and counts.get("service_selector_matches_nothing") == 1
                and counts.get("pvc_storage_class_not_found") == 1)
    print(f"     checked {result['checked']}; findings {counts}")
    print(f"     summary: {len(result['summary'])} lines, e.g. {result['summary'][0] if result['summary'] else '-'}")
    if not complete:
        print("     INCOMPLETE: not every pod or planted problem was found", flush=True)
    return api, complete


def playbook(cluster, pods: int, playbook_cmd: str) -> float:
    """b) One doctor task in one ansible-playbook run; returns its wall time."""
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    play = [{"name": "Benchmark", "hosts": "localhost", "gather_facts": False,
             "module_defaults": {"group/kubeops.platform.k8s": cluster.defaults},
             "tasks": [{"name": "Diagnose", "kubeops.platform.doctor": {"namespace": NAMESPACE}, "register": "doctor"},
                       {"name": "Every pod was diagnosed", "ansible.builtin.assert": {
                           "that": [f"doctor.checked.Pod == {pods}"], "quiet": True}}]}]
    with tempfile.TemporaryDirectory(prefix="kubeops-bench-") as tmp:
        inventory, path = Path(tmp) / "hosts.yml", Path(tmp) / "doctor.yml"
        inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
        path.write_text(json.dumps(play))  # JSON is valid YAML
        start = time.monotonic()
        proc = subprocess.run([playbook_cmd, "-i", str(inventory), str(path)], env=env, capture_output=True,
                              text=True, check=False)
        wall = time.monotonic() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BenchError(f"ansible-playbook failed (exit {proc.returncode}):\n{tail}")
    print(f"b) ansible-playbook, one doctor task: {wall:.2f} s wall clock (Ansible's start-up included)")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--pods", type=int, default=500, help="pods in the namespace (default 500)")
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--ansible-playbook", help="ansible-playbook to run (default: next to this Python)")
    parser.add_argument("--skip-playbook", action="store_true", help="measure a) only")
    parser.add_argument("--fake", action="store_true", help="no cluster: the unit tests' in-memory API server over HTTP")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args()
    if args.pods < 1:
        parser.error("--pods must be at least 1")
    playbook_cmd = args.ansible_playbook or shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) \
        or shutil.which("ansible-playbook")

    # SIGTERM (CI timeouts, kill) unwinds like Ctrl-C, so the finally block removes the namespace.
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    cluster = None
    try:
        cluster = FakeCluster() if args.fake else RealCluster(args.context)
        print(f"Creating namespace {NAMESPACE}: {args.pods} Pending pods, a Service and a claim", flush=True)
        cluster.setup(args.pods)
        api, complete = in_process(cluster, args.pods)
        if not args.skip_playbook:
            if not playbook_cmd:
                raise BenchError("ansible-playbook not found next to this Python or on PATH; use --ansible-playbook")
            playbook(cluster, args.pods, playbook_cmd)
    except BenchError as exc:
        print(f"doctor_bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("doctor_bench: interrupted", file=sys.stderr)
        return 130
    finally:
        if cluster is not None:
            try:
                cluster.teardown()
            except Exception as exc:  # report, but never hide the benchmark's own error
                print(f"doctor_bench: could not delete namespace {NAMESPACE} ({exc}); delete it with: "
                      f"kubectl delete namespace {NAMESPACE}", file=sys.stderr)
    met = complete and api < API_TIME_TARGET
    print()
    print(f"API time for {args.pods} pods: {api:.3f} s   target < {API_TIME_TARGET:g} s   "
          f"{'met' if met else 'MISSED'}{'' if complete else ' (incomplete diagnosis)'}")
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
