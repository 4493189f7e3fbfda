"""The fake API server held to what a real kube-apiserver answered.

``files/apiserver_recordings.json`` records, step by step, how a real API server (its version in
``server.gitVersion``) answered the requests this collection sends: each step's request, the HTTP
status, a summary of the answer and, in ``then_get``, a GET right after showing what the server
kept. This module replays every step, in order and on one fake, through the fake's transport
interface, and compares the status and the same summary, one test per step.

The replay runs as the recording did, on a live cluster: the objects that existed before the
first step are set up by :func:`existing_objects`, and the cluster's controllers (node lifecycle
and TTL controllers, the deployment controller, the kubelet: ``fake_workloads.Cluster``) take one
tick before every request, as they would between two requests on a real cluster.

Values that differ from run to run are normalised, not skipped: uids that a message quotes from
the server's record become ``<uid>`` (a uid the request sent is kept), and the resourceVersions
the recorded requests carry are mapped to the fake's (:func:`fake_resource_version`).

``resourceVersion_changed`` compares a step's answer's resourceVersion with that of the last
step's answer of the same kind from the same path (query ignored) that came from stored state,
i.e. not a dry run (``then_get`` answers do not count); it is null when there is none. :func:`test_the_reading_of_resource_version_changed_fits_every_step`
checks that this reading, and no simpler one, accounts for every null in the recording.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fake_k8s import FakeKube
from fake_workloads import Cluster

RECORDING = json.loads((Path(__file__).parent / "files" / "apiserver_recordings.json").read_text())
STEPS = [(scenario["name"], index, step)
         for scenario in RECORDING["scenarios"] for index, step in enumerate(scenario["steps"])]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Where the recorded cluster's controllers were caught between two of their own writes, which a
# tick-based fake cannot reproduce: (scenario, note) -> (summary field, the fake's value, why).
TIMING = {
    ("workloads", "dry-run restart annotation: stored template unchanged"): (
        "annotations", {"deployment.kubernetes.io/revision": "1"},
        "the real deployment controller's first sync of the new Deployment (which sets the revision "
        "annotation) landed after this answer and before its then_get; the fake's controllers finish "
        "a sync within the tick before the request"),
    ("workloads", "scale subresource dry-run patch: replicas unchanged"): (
        "resourceVersion_changed", False,
        "the real Deployment's two nginx pods were still starting, and a status update of the "
        "Deployment fell between the GET of its scale and this PATCH; the fake's pods start within "
        "one tick, so the Deployment has settled by then"),
}


def step_id(scenario: str, index: int, step: dict) -> str:
    note = re.sub(r"[^a-z0-9]+", "-", step["note"].lower()).strip("-")
    return f"{scenario}-{index:02d}-{note}"


# ---- the cluster before the recording -----------------------------------------------------------
RUNNING = {"phase": "Running",
           "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
           "containerStatuses": [{"name": "c", "image": "nginx:1.27", "ready": True, "restartCount": 0,
                                  "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}


def existing_objects() -> list[dict]:
    """What the recorded steps find in place: the namespace ``rec`` with its pods and ConfigMaps,
    and the worker node.

    - pods q-with-body, body-dry, q-only and held, running on kind-worker (a graceful delete needs a
      scheduled pod); q-only's terminationGracePeriodSeconds is 300 (its graceful deletion answers
      300), held carries the finalizer rec.example/hold;
    - ConfigMaps c1 (deleted by a step), kube-root-ca.crt (unlabelled: the only one ``!grp``
      lists) and l0..l4 labelled grp=a (l0-l2) or grp=b (l3, l4), each with a label ``i``;
    - the Node kind-worker, Ready (the node LIST by metadata.name finds it).
    """
    def pod(name: str, **extra) -> dict:
        meta = {"name": name, "namespace": "rec", **extra.pop("metadata", {})}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {"nodeName": "kind-worker", "containers": [{"name": "c", "image": "nginx:1.27"}], **extra},
                "status": copy.deepcopy(RUNNING)}

    def configmap(name: str, labels: dict | None = None) -> dict:
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "rec", **({"labels": labels} if labels else {})}}

    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rec"}},
        {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": "kind-worker", "labels": {"kubernetes.io/hostname": "kind-worker"}},
         "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}},
        pod("q-with-body"), pod("body-dry"), pod("q-only", terminationGracePeriodSeconds=300),
        pod("held", metadata={"finalizers": ["rec.example/hold"]}),
        configmap("c1"),
        {**configmap("kube-root-ca.crt"), "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}},
        *(configmap(f"l{i}", {"grp": "a" if i < 3 else "b", "i": str(i)}) for i in range(5)),
    ]


# ---- summaries, as the recording makes them ----------------------------------------------------
def summarise(raw: bytes) -> dict:
    body = json.loads(raw)
    kind = body.get("kind")
    if kind == "Status":
        summary = {"kind": kind, "status": body.get("status"), "reason": body.get("reason"),
                   "code": body.get("code"), "message": body.get("message")}
        details = {k: v for k, v in (body.get("details") or {}).items() if k in ("name", "kind", "causes")}
        if details:
            summary["details"] = details
        return summary
    if kind.endswith("List"):
        return {"kind": kind, "names": [item["metadata"]["name"] for item in body["items"]],
                "continue": bool(body["metadata"].get("continue"))}
    meta, spec = body["metadata"], body.get("spec") or {}
    summary = {"kind": kind, "name": meta["name"], "has_resourceVersion": bool(meta.get("resourceVersion")),
               "deletionTimestamp_set": bool(meta.get("deletionTimestamp"))}
    if "deletionGracePeriodSeconds" in meta:
        summary["deletionGracePeriodSeconds"] = meta["deletionGracePeriodSeconds"]
    for key in ("labels", "annotations", "finalizers"):
        if meta.get(key):
            summary[key] = meta[key]
    if kind == "Node":
        summary["taints"] = spec.get("taints")
    if "replicas" in spec:
        summary["replicas"] = spec["replicas"]
    template_annotations = ((spec.get("template") or {}).get("metadata") or {}).get("annotations")
    if template_annotations:
        summary["template_annotations"] = template_annotations
    return summary


def normalise(summary: dict, request_body) -> dict:
    """Uids a message quotes from the server's record become <uid>; those the request sent stay."""
    sent = set(UUID.findall(json.dumps(request_body)))
    summary = copy.deepcopy(summary)
    if summary.get("message"):
        summary["message"] = UUID.sub(lambda m: m.group(0) if m.group(0) in sent else "<uid>", summary["message"])
    return summary


# ---- requests ------------------------------------------------------------------------------------
def request_body(request: dict):
    """The body as sent; an elided one (too big to record) is rebuilt to the recorded size."""
    body = request.get("body")
    if isinstance(body, dict) and "_elided" in body:
        size = int(body["_elided"].split()[0])
        start = json.loads(body["_start"] + '"}}}')  # {"metadata": {"annotations": {"big": "xxx"}}}
        (key, value), = start["metadata"]["annotations"].items()
        frame = len(json.dumps({"metadata": {"annotations": {key: ""}}}))
        body = {"metadata": {"annotations": {key: value[0] * (size - frame)}}}
        assert len(json.dumps(body)) == size
    return body


def recorded_resource_versions(path: str) -> list[str]:
    """Every resourceVersion the recording's requests send for the object at ``path``, oldest first."""
    versions = set()
    for _scenario, _index, step in STEPS:
        body = step["request"].get("body")
        if step["request"]["path"].split("?")[0] == path and isinstance(body, dict):
            versions.update([(body.get("metadata") or {}).get("resourceVersion")] if "metadata" in body else [])
    return sorted(versions - {None}, key=int)


def fake_resource_version(recorded: str, path: str, seen: list[str]) -> str:
    """The fake's counterpart of a resourceVersion the real server had handed out.

    The requests send the newest one the server had answered for the object and an older one;
    they map to the newest and the first resourceVersion the fake answered for it.
    """
    versions = recorded_resource_versions(path)
    return seen[-1] if recorded == versions[-1] else seen[0]


@dataclass
class Answer:
    status: int
    summary: dict
    resource_version_changed: bool | None = None


@dataclass
class Outcome:
    answer: Answer
    then_get: Answer | None = None


@dataclass
class Replay:
    fake: FakeKube = field(default_factory=FakeKube)
    last: dict = field(default_factory=dict)  # (path, kind) -> resourceVersion of the last stored-state answer
    seen: dict = field(default_factory=dict)  # (kind, namespace, name) -> resourceVersions answered, in order

    def __post_init__(self):
        self.cluster = Cluster(self.fake, nodes=("kind-worker",))
        for obj in existing_objects():
            self.fake.add(obj)
        self.cluster.settle()

    def send(self, method: str, path: str, body=None, content_type: str | None = None, track: bool = True) -> Answer:
        self.cluster.step()  # the controllers get their turn between two requests
        headers = [("Accept", "application/json")]
        data = None
        if body is not None:
            headers.append(("Content-Type", content_type or "application/json"))
            data = json.dumps(body).encode()
        status, _reason, raw = self.fake.request(method, path, headers, data)
        answer = Answer(status, summarise(raw))
        payload = json.loads(raw)
        version = (payload.get("metadata") or {}).get("resourceVersion")
        if payload.get("kind") != "Status" and version and track:
            key = (path.split("?")[0], payload["kind"])
            previous = self.last.get(key)
            answer.resource_version_changed = None if previous is None else version != previous
            if not self.fake.log[-1].dry_run:
                self.last[key] = version
                meta = payload["metadata"]
                if "name" in meta:
                    self.seen.setdefault((payload["kind"], meta.get("namespace"), meta["name"]), []).append(version)
        return answer

    def run(self, step: dict) -> Outcome:
        request = step["request"]
        path = request["path"].split("?")[0]
        body = copy.deepcopy(request_body(request))
        if request["method"] in ("PATCH", "PUT") and isinstance(body, dict) \
                and "resourceVersion" in (body.get("metadata") or {}):
            name = path.rsplit("/", 1)[1]
            seen = next(v for (_k, _ns, n), v in self.seen.items() if n == name)
            body["metadata"]["resourceVersion"] = fake_resource_version(
                body["metadata"]["resourceVersion"], path, seen)
        outcome = Outcome(self.send(request["method"], request["path"], body, request.get("content_type")))
        if "then_get" in step:
            outcome.then_get = self.send("GET", step["then_get"]["path"], track=False)
        return outcome


@pytest.fixture(scope="module")
def replay() -> dict[tuple[str, int], Outcome]:
    """Every step replayed once, in the recorded order, on one fake cluster."""
    cluster = Replay()
    return {(scenario, index): cluster.run(step) for scenario, index, step in STEPS}


@pytest.mark.parametrize(("scenario", "index", "step"), STEPS, ids=[step_id(*s) for s in STEPS])
def test_the_fake_answers_as_the_recorded_server(replay, scenario, index, step):
    outcome = replay[(scenario, index)]
    body = request_body(step["request"])
    expected = {"status": step["status"], "response": normalise(step["response"], body)}
    actual = {"status": outcome.answer.status, "response": normalise(outcome.answer.summary, body)}
    if "resourceVersion_changed" in step:
        expected["resourceVersion_changed"] = step["resourceVersion_changed"]
        actual["resourceVersion_changed"] = outcome.answer.resource_version_changed
    if "then_get" in step:
        expected["then_get"] = {"status": step["then_get"]["status"], "response": step["then_get"]["response"]}
        actual["then_get"] = {"status": outcome.then_get.status, "response": outcome.then_get.summary}
    tolerated = TIMING.get((scenario, step["note"]))
    if tolerated:
        what, fakes_value, _why = tolerated
        where = actual if what == "resourceVersion_changed" else actual["response"]
        assert where.get(what) == fakes_value, f"the fake no longer differs from the recording here: drop {what!r} from TIMING"
        where.pop(what)
        (expected if what == "resourceVersion_changed" else expected["response"]).pop(what, None)
    assert actual == expected


def test_the_recording_is_replayed_whole():
    """Every scenario and step is in the parametrization above, and none is elided beyond rebuilding."""
    assert len(STEPS) == sum(len(s["steps"]) for s in RECORDING["scenarios"])
    assert len({step_id(*s) for s in STEPS}) == len(STEPS)
    assert all(key in {(s, st["note"]) for s, _i, st in STEPS} for key in TIMING)


def test_the_reading_of_resource_version_changed_fits_every_step():
    """Null exactly when no earlier stored-state answer of the same kind came from the same path.

    Simpler readings each contradict a step: counting dry-run answers makes the real DELETE of
    q-only (after its dry run) non-null; keying by path alone makes the node LIST (after the node
    POST at the same path) non-null.
    """
    def contradictions(key_of, count_dry_runs: bool) -> list[str]:
        seen, wrong = set(), []
        for scenario, index, step in STEPS:
            if "resourceVersion_changed" not in step:
                continue
            key = key_of(step)
            if (step["resourceVersion_changed"] is None) != (key not in seen):
                wrong.append(step_id(scenario, index, step))
            if count_dry_runs or not dry_run(step["request"]):
                seen.add(key)
        return wrong

    def path_and_kind(step):
        return step["request"]["path"].split("?")[0], step["response"]["kind"]

    def path_only(step):
        return step["request"]["path"].split("?")[0]

    assert contradictions(path_and_kind, count_dry_runs=False) == []
    assert contradictions(path_and_kind, count_dry_runs=True) == ["delete_dry_run-03-graceful-delete-default-grace-"
                                                                  "answer-carries-deletiontimestamp-the-node-s-kubelet-"
                                                                  "then-confirms-it-so-the-get-finds-it-gone"]
    assert contradictions(path_only, count_dry_runs=False) == ["create_and_list-14-list-nodes-by-fieldselector-"
                                                               "metadata-name"]


def dry_run(request: dict) -> bool:
    body = request.get("body")
    if request["method"] == "DELETE" and isinstance(body, dict):
        return "All" in (body.get("dryRun") or [])
    return "dryRun=All" in request["path"]


SHARED_RECORDING = Path(__file__).resolve().parents[3] / "shared" / "apiserver" / "recordings.json"


@pytest.mark.skipif(not SHARED_RECORDING.is_file(), reason="no shared recording beside this checkout")
def test_the_replayed_recording_is_the_shared_one():
    """The copy in files/ is what CI replays; where the shared recording is at hand, they must agree."""
    assert json.loads(SHARED_RECORDING.read_text()) == RECORDING, (
        f"copy {SHARED_RECORDING} to tests/unit/files/apiserver_recordings.json: the fake is held to an older recording")
