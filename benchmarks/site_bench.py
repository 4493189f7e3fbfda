#!/usr/bin/env python
"""Benchmark of playbooks/site.yml: the first run, the no-op re-run, and what the re-run sends.

Runs site.yml twice against the cluster in KUBECONFIG (by default with inventories/kind) through a
small counting proxy in this process, and prints:

  - the wall time of the first run and of the re-run, and each run's PLAY RECAP `changed` count;
  - the API requests of each run by verb, and of the re-run by target (nodes, or namespace);
  - every write of the re-run (method and path). Target: the re-run reads, it does not write
    (dry runs count as writes here too, since they cost the same round trip).

The proxy forwards to the API server with the kubeconfig's credentials; the playbook reaches it
through a temporary kubeconfig (plain HTTP on 127.0.0.1, no credentials), so every request of
every module is counted. Without a cluster it prints SKIPPED and exits 0.

    .venv/bin/python benchmarks/site_bench.py [--inventory inventories/kind] [--context kind-kind]
        [--json results.json] [-- more ansible-playbook arguments]

The first run deploys everything when the cluster is empty (GitLab's first start takes a while);
on a converged cluster both runs are no-op runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _cluster import BenchError

REPO = Path(__file__).resolve().parent.parent
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length", "host"}


@dataclass
class Request:
    method: str
    path: str

    @property
    def write(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def target(self) -> str:
        match = re.search(r"/namespaces/([^/?]+)", self.path)
        if match:
            return f"namespace {match.group(1)}"
        if re.search(r"^/api/v1/nodes\b", self.path):
            return "nodes"
        return "cluster"


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    changed: int | None = None
    requests: list[Request] = field(default_factory=list)

    def by_verb(self) -> Counter:
        return Counter(("dry-run " if "dryRun=" in r.path else "") + r.method for r in self.requests)


class CountingProxy:
    """Forwards plain-HTTP requests to the API server with the kubeconfig's credentials, and
    records each one."""

    def __init__(self, context: str | None):
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(context=context, client_configuration=configuration, persist_config=False)
        self.api = client.ApiClient(configuration)
        self.base = configuration.host.rstrip("/")
        self.auth = {}
        token = configuration.api_key.get("authorization") or configuration.api_key.get("BearerToken")
        if token:
            prefix = configuration.api_key_prefix.get("authorization", "")
            self.auth["Authorization"] = f"{prefix} {token}".strip() if not token.startswith("Bearer ") else token
        self.lock = threading.Lock()
        self.log: list[Request] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()

    def take(self) -> list[Request]:
        with self.lock:
            taken, self.log = self.log, []
        return taken

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers.update(proxy.auth)
                with proxy.lock:
                    proxy.log.append(Request(self.command, self.path))
                pool = proxy.api.rest_client.pool_manager
                try:
                    response = pool.request(self.command, proxy.base + self.path, body=body, headers=headers,
                                            preload_content=True, redirect=False, timeout=120)
                    status, data, reply_headers = response.status, response.data, response.headers
                except Exception as exc:  # noqa: BLE001 - any transport error becomes a 502 for the client
                    status, data, reply_headers = 502, str(exc).encode(), {"Content-Type": "text/plain"}
                self.send_response(status)
                for key, value in reply_headers.items():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815

            def log_message(self, format, *args):  # noqa: A002 - silence the per-request log
                pass

        return Handler


def probe(context: str | None) -> str:
    """The API server's version, or BenchError when none answers within a few seconds."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_kube_config(context=context, client_configuration=configuration, persist_config=False)
    except Exception as exc:  # noqa: BLE001 - no kubeconfig, bad context, exec plugin failure
        raise BenchError(f"no usable kubeconfig ({exc})") from exc
    configuration.retries = 0
    try:
        # Raw response: an answer is an answer even when it is not the usual VersionInfo.
        response = client.VersionApi(client.ApiClient(configuration)).get_code(
            _request_timeout=(5, 5), _preload_content=False)
        version = json.loads(response.data).get("gitVersion", "version unknown")
    except Exception as exc:  # noqa: BLE001
        raise BenchError(f"{configuration.host}: {getattr(exc, 'reason', None) or exc}") from exc
    return f"{configuration.host} (Kubernetes {version})"


def write_kubeconfig(directory: Path, server: str) -> Path:
    path = directory / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "site-bench",
        "clusters": [{"name": "site-bench", "cluster": {"server": server}}],
        "users": [{"name": "site-bench", "user": {}}],
        "contexts": [{"name": "site-bench", "context": {"cluster": "site-bench", "user": "site-bench"}}],
    }))
    path.chmod(0o600)
    return path


def run_site(run: Run, proxy: CountingProxy, kubeconfig: Path, inventory: str, extra: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("K8S_AUTH_")}
    env.update({"KUBECONFIG": str(kubeconfig), "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_COLLECTIONS_PATH": env.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".cache" / "collections")})
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory, str(REPO / "playbooks" / "site.yml"),
               "-e", f"k8s_kubeconfig={kubeconfig}", "-e", "k8s_context=site-bench", *extra]
    proxy.take()
    print(f"==> {run.name}: {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    run.seconds = time.monotonic() - started
    run.requests = proxy.take()
    recap = re.findall(r"^\S+\s*:\s*ok=\d+\s+changed=(\d+)", result.stdout, re.MULTILINE)
    run.changed = sum(int(n) for n in recap) if recap else None
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise BenchError(f"{run.name} failed (exit {result.returncode}):\n{tail}")


def report(first: Run, second: Run) -> dict:
    writes = [r for r in second.requests if r.write]
    print()
    print(f"{'run':<10} {'wall time':>10} {'changed':>8} {'requests':>9}   by verb")
    for run in (first, second):
        verbs = ", ".join(f"{verb} {count}" for verb, count in sorted(run.by_verb().items()))
        print(f"{run.name:<10} {run.seconds:9.1f}s {run.changed if run.changed is not None else '?':>8} "
              f"{len(run.requests):>9}   {verbs}")
    print()
    print("re-run requests by target:")
    for target, count in sorted(Counter(r.target for r in second.requests).items()):
        target_writes = sum(1 for r in writes if r.target == target)
        print(f"  {target:<28} {count:>5} requests, {target_writes} writes")
    if writes:
        print("re-run writes:")
        for request in writes:
            print(f"  {request.method} {request.path}")
    met = not writes and second.changed == 0
    print()
    print(f"target: the re-run reports no change and sends no write -> {'met' if met else 'MISSED'}"
          f" (changed={second.changed}, writes={len(writes)})")
    return {
        "runs": [{"name": r.name, "seconds": round(r.seconds, 2), "changed": r.changed, "requests": len(r.requests),
                  "by_verb": dict(r.by_verb())} for r in (first, second)],
        "rerun_writes": [f"{r.method} {r.path}" for r in writes],
        "target_met": met,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--inventory", default=str(REPO / "inventories" / "kind"))
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("extra", nargs="*", help="more ansible-playbook arguments (after --)")
    args = parser.parse_args()

    try:
        print(f"Kubernetes API at {probe(args.context)}")
    except BenchError as exc:
        print(f"SKIPPED site benchmark: no Kubernetes cluster answers (KUBECONFIG="
              f"{os.environ.get('KUBECONFIG', '~/.kube/config')}, reason: {exc})")
        return 0

    proxy = CountingProxy(args.context)
    proxy.start()
    try:
        with tempfile.TemporaryDirectory(prefix="site-bench-") as tmp:
            kubeconfig = write_kubeconfig(Path(tmp), proxy.url)
            first, second = Run("first"), Run("re-run")
            run_site(first, proxy, kubeconfig, args.inventory, args.extra)
            run_site(second, proxy, kubeconfig, args.inventory, args.extra)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        proxy.stop()

    results = report(first, second)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if results["target_met"] else 2


if __name__ == "__main__":
    sys.exit(main())
