"""Run modules in-process against the fake API server."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeops.platform.plugins.module_utils import _client, _rollout
from fake_k8s import FakeKube
from fake_workloads import Cluster

CONNECTION = {"host": "https://kube.test:6443", "api_key": "test-token"}


@pytest.fixture
def fake(monkeypatch) -> FakeKube:
    server = FakeKube()
    monkeypatch.setattr(_client, "HttpTransport", lambda conn: server)
    return server


@pytest.fixture
def run_module(capsys, monkeypatch):
    """``run_module(main, args, check_mode=False, diff=False)`` -> the module's JSON result."""

    def run(main, args: dict, check_mode: bool = False, diff: bool = False) -> dict:
        module_args = {**CONNECTION, **args, "_ansible_check_mode": check_mode, "_ansible_diff": diff}
        capsys.readouterr()
        # AnsibleModule keeps warnings in a process-wide registry: start each run empty.
        warnings._global_warnings.clear()
        # Importing controller code (filters do) flips this process-wide flag, which would send
        # module warnings to the display instead of the result.
        monkeypatch.setattr(_internal, "is_controller", False)
        with patch_module_args(module_args), pytest.raises(SystemExit):
            main()
        result = json.loads(capsys.readouterr().out)
        # ansible-core 2.19+ reports warnings as structured events; tests compare their text.
        result["warnings"] = [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]
        return result

    return run


class FakeTime:
    """The module's clock and sleep: each sleep advances the clock and lets the cluster take one step."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = cluster.step

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep()


@pytest.fixture
def cluster(fake, monkeypatch) -> Cluster:
    cluster = Cluster(fake)
    cluster.time = FakeTime(cluster)
    monkeypatch.setattr(_rollout, "monotonic", cluster.time.monotonic)
    monkeypatch.setattr(_rollout, "sleep", cluster.time.sleep)
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    return cluster
