"""The fake API server's behaviour beyond the recorded steps (test_recordings.py covers those).

Paging and continue-token expiry, overload and server errors, concurrent clients, pod logs, the
kinds the diagnosis reads, DeleteOptions and garbage collection, subresources, label-selector
syntax, strategic-merge order, and the node controllers of fake_workloads.py. Expected messages
are the real server's wording.
"""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlencode, urlsplit

import pytest

from fake_k8s import CONTINUE_EXPIRED, FakeKube, serve_http
from fake_workloads import Cluster, NodeControllers

JSON = [("Accept", "application/json")]


def call(fake: FakeKube, method: str, path: str, body=None, content_type: str = "application/merge-patch+json"):
    """(status, decoded body) of one request through the transport interface."""
    headers = list(JSON)
    data = None
    if body is not None:
        headers.append(("Content-Type", content_type if method == "PATCH" else "application/json"))
        data = json.dumps(body).encode()
    status, _reason, raw = fake.request(method, path, headers, data)
    return status, json.loads(raw)


def configmap(name: str, namespace: str = "ns", **labels) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, "labels": labels}}


def pod(name: str, containers=("main",), node: str | None = "node-1", **status) -> dict:
    spec = {"containers": [{"name": c, "image": "busybox:1.36"} for c in containers]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}, "spec": spec,
            "status": {"phase": "Running", **status}}


@pytest.fixture
def fake() -> FakeKube:
    return FakeKube()


# ---- paging ----------------------------------------------------------------------------------
def test_a_list_comes_in_pages_of_one_consistent_snapshot(fake):
    for i in range(7):
        fake.add(configmap(f"cm{i}"))
    _status, first = call(fake, "GET", "/api/v1/namespaces/ns/configmaps?limit=3")
    assert [i["metadata"]["name"] for i in first["items"]] == ["cm0", "cm1", "cm2"]
    assert first["metadata"]["remainingItemCount"] == 4
    fake.add(configmap("cm9"))  # written after the first page: not in this list
    call(fake, "DELETE", "/api/v1/namespaces/ns/configmaps/cm5")  # deleted after it: still in it
    token = first["metadata"]["continue"]
    _status, second = call(fake, "GET", f"/api/v1/namespaces/ns/configmaps?limit=3&continue={token}")
    _status, third = call(fake, "GET", f"/api/v1/namespaces/ns/configmaps?limit=3&continue={second['metadata']['continue']}")
    assert [i["metadata"]["name"] for i in second["items"] + third["items"]] == ["cm3", "cm4", "cm5", "cm6"]
    assert "continue" not in third["metadata"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_an_expired_continue_token_is_410_with_a_token_for_the_inconsistent_rest(fake):
    for i in range(5):
        fake.add(configmap(f"cm{i}", grp="a"))
    _status, first = call(fake, "GET", "/api/v1/namespaces/ns/configmaps?limit=2&labelSelector=grp%3Da")
    fake.compact()
    fake.add(configmap("cm3b", grp="a"))
    status, gone = call(fake, "GET", f"/api/v1/namespaces/ns/configmaps?limit=2&labelSelector=grp%3Da"
                                     f"&continue={first['metadata']['continue']}")
    assert status == 410
    assert (gone["reason"], gone["code"], gone["message"]) == ("Expired", 410, CONTINUE_EXPIRED)
    assert CONTINUE_EXPIRED.startswith("The provided continue parameter is too old to display a consistent list result.")
    rest = []
    token = gone["metadata"]["continue"]
    while token:
        _status, page = call(fake, "GET", f"/api/v1/namespaces/ns/configmaps?limit=2&labelSelector=grp%3Da&continue={token}")
        rest += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
    assert rest == ["cm2", "cm3", "cm3b", "cm4"]  # what changed since the first page shows up


def test_a_selector_fills_a_page_and_remaining_count_is_given_only_without_one(fake):
    for i in range(6):
        fake.add(configmap(f"cm{i}", **({"pick": "yes"} if i % 2 else {})))
    _status, page = call(fake, "GET", "/api/v1/namespaces/ns/configmaps?limit=2&labelSelector=pick")
    assert [i["metadata"]["name"] for i in page["items"]] == ["cm1", "cm3"]
    assert page["metadata"]["continue"] and "remainingItemCount" not in page["metadata"]


# ---- overload and server errors --------------------------------------------------------------
def test_overload_answers_matching_requests_with_429_and_retry_after(fake):
    fake.node("node-1")
    fake.overload(2, retry_after=3, method="PATCH", path="/api/v1/nodes/*")
    assert call(fake, "GET", "/api/v1/nodes/node-1")[0] == 200
    for _attempt in range(2):
        status, body = call(fake, "PATCH", "/api/v1/nodes/node-1", {"metadata": {"labels": {"a": "1"}}})
        assert status == 429
        assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
                        "details": {"retryAfterSeconds": 3}, "code": 429}
    assert fake.get("Node", "node-1")["metadata"]["labels"] == {}
    assert call(fake, "PATCH", "/api/v1/nodes/node-1", {"metadata": {"labels": {"a": "1"}}})[0] == 200
    assert [r.status for r in fake.log] == [200, 429, 429, 200]


def test_over_http_overload_sends_retry_after_and_can_be_the_filters_plain_text(fake):
    fake.node("node-1")
    server, url = serve_http(fake)
    try:
        fake.overload(1, retry_after=2)
        fake.overload(1, plain_text=True)
        answers = []
        for _attempt in range(3):
            conn = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=5)
            conn.request("GET", "/api/v1/nodes/node-1", headers=dict(JSON))
            response = conn.getresponse()
            answers.append((response.status, response.getheader("Retry-After"),
                            response.getheader("Content-Type"), response.read()))
            conn.close()
    finally:
        server.shutdown()
    assert answers[0][:3] == (429, "2", "application/json")
    assert json.loads(answers[0][3])["details"]["retryAfterSeconds"] == 2
    assert answers[1] == (429, "1", "text/plain; charset=utf-8", b"Too many requests, please try again later.\n")
    assert answers[2][:3] == (200, None, "application/json")
    assert json.loads(answers[2][3])["metadata"]["name"] == "node-1"


def test_over_http_a_subclass_that_wraps_request_is_served_through_it():
    class Guarded(FakeKube):
        def request(self, method, target, headers, body):
            if method != "GET":
                return 403, "Forbidden", b'{"kind": "Status", "code": 403}'
            return super().request(method, target, headers, body)

    fake = Guarded()
    fake.node("node-1")
    server, url = serve_http(fake)
    try:
        conn = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=5)
        conn.request("DELETE", "/api/v1/nodes/node-1")
        refused = conn.getresponse()
        assert (refused.status, refused.getheader("Content-Type"), refused.read()) == (
            403, "application/json", b'{"kind": "Status", "code": 403}')
    finally:
        server.shutdown()
    assert fake.get("Node", "node-1") is not None


def test_an_etcd_timeout_is_a_500_and_may_come_after_the_write_was_applied(fake):
    fake.node("node-1")
    fake.fail_next(method="GET")
    status, body = call(fake, "GET", "/api/v1/nodes/node-1")
    assert (status, body["message"], "reason" in body, "details" in body) == (500, "etcdserver: request timed out",
                                                                              False, False)
    fake.fail_next(method="PATCH", applied=True)
    status, _body = call(fake, "PATCH", "/api/v1/nodes/node-1", {"metadata": {"labels": {"a": "1"}}})
    assert status == 500
    assert fake.get("Node", "node-1")["metadata"]["labels"] == {"a": "1"}


def test_other_server_errors_carry_their_reason_and_retry_after(fake):
    fake.fail_next(code=503, reason="ServiceUnavailable", message="the server is currently unable to handle the request",
                   retry_after=5)
    status, body = call(fake, "GET", "/api/v1/nodes")
    assert (status, body["reason"], body["details"]) == (503, "ServiceUnavailable", {"retryAfterSeconds": 5})


# ---- concurrent clients ----------------------------------------------------------------------
def test_concurrent_guarded_writes_over_http_lose_nothing(fake):
    fake.add(configmap("counter") | {"data": {"n": "0"}})
    fake.latency = 0.002
    server, url = serve_http(fake)
    host, port = urlsplit(url).hostname, urlsplit(url).port
    versions: list[str] = []
    errors: list[BaseException] = []

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            for _write in range(10):
                while True:  # read-modify-write, retried on 409
                    conn.request("GET", "/api/v1/namespaces/ns/configmaps/counter", headers=dict(JSON))
                    current = json.loads(conn.getresponse().read())
                    patch = {"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                             "data": {"n": str(int(current["data"]["n"]) + 1)}}
                    conn.request("PATCH", "/api/v1/namespaces/ns/configmaps/counter", json.dumps(patch),
                                 {"Content-Type": "application/merge-patch+json", **dict(JSON)})
                    response = conn.getresponse()
                    answer = json.loads(response.read())
                    if response.status == 200:
                        versions.append(answer["metadata"]["resourceVersion"])
                        break
                    assert response.status == 409, answer
        except BaseException as exc:  # noqa: BLE001 - reported below, from the test's thread
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _thread in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.shutdown()
    assert errors == []
    assert fake.get("ConfigMap", "counter", "ns")["data"]["n"] == "60"
    assert len(set(versions)) == 60
    assert fake.peak_in_flight > 1


# ---- pod logs ---------------------------------------------------------------------------------
def test_pod_logs_are_plain_text_by_container_with_tail_and_previous(fake):
    fake.add(pod("web", containers=("app", "sidecar")))
    fake.pod_logs[("ns", "web", "app")] = "one\ntwo\nthree\n"
    fake.previous_pod_logs[("ns", "web", "app")] = "OOM\n"
    status, reason, raw = fake.request("GET", "/api/v1/namespaces/ns/pods/web/log?container=app&tailLines=2",
                                       [("Accept", "text/plain, */*")], None)
    assert (status, raw) == (200, b"two\nthree\n")
    reply = fake.respond("GET", "/api/v1/namespaces/ns/pods/web/log?container=app&previous=true", [], None)
    assert (reply.status, reply.headers["Content-Type"], reply.body) == (200, "text/plain", b"OOM\n")
    status, body = call(fake, "GET", "/api/v1/namespaces/ns/pods/web/log")
    assert (status, body["reason"], body["message"]) == (
        400, "BadRequest", "a container name must be specified for pod web, choose one of: [app sidecar]")
    status, body = call(fake, "GET", "/api/v1/namespaces/ns/pods/web/log?container=sidecar&previous=true")
    assert (status, body["message"]) == (400, 'previous terminated container "sidecar" in pod "web" not found')
    status, body = call(fake, "GET", "/api/v1/namespaces/ns/pods/gone/log")
    assert (status, body["message"]) == (404, 'pods "gone" not found')
    assert call(fake, "GET", "/api/v1/namespaces/ns/pods/web")[1]["metadata"]["name"] == "web"  # JSON stays JSON


def test_logs_of_a_container_that_never_started_are_the_kubelets_400(fake):
    fake.add(pod("web", containerStatuses=[{"name": "main", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]))
    fake.add(pod("pending", node=None))
    status, body = call(fake, "GET", "/api/v1/namespaces/ns/pods/web/log")
    assert (status, body["message"]) == (
        400, 'container "main" in pod "web" is waiting to start: trying and failing to pull image')
    assert fake.request("GET", "/api/v1/namespaces/ns/pods/pending/log", [], None)[::2] == (200, b"")


# ---- kinds the diagnosis reads ---------------------------------------------------------------
@pytest.mark.parametrize(("path", "obj", "deleted_answer"), [
    ("/api/v1/namespaces/ns/endpoints", {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
                                         "subsets": [{"addresses": [{"ip": "10.0.0.5"}], "ports": [{"port": 80}]}]},
     "Status"),
    ("/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices",
     {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
      "metadata": {"name": "web-abc12", "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv4",
      "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": True}}]}, "Status"),
    ("/apis/storage.k8s.io/v1/storageclasses",
     {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "standard"},
      "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}, "StorageClass"),
    ("/api/v1/namespaces/ns/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                               "metadata": {"name": "gitlab"}}, "ServiceAccount"),
])
def test_diagnosis_kinds_are_served(fake, path, obj, deleted_answer):
    status, created = call(fake, "POST", path, obj)
    assert status == 201
    name = obj["metadata"]["name"]
    _status, listed = call(fake, "GET", path)
    assert [i["metadata"]["name"] for i in listed["items"]] == [name]
    _status, answer = call(fake, "DELETE", f"{path}/{name}")
    assert answer["kind"] == deleted_answer
    if deleted_answer == "Status":
        group = obj["apiVersion"].rpartition("/")[0]
        assert answer["details"] == {"name": name, **({"group": group} if group else {}), "kind": path.rsplit("/", 1)[1],
                                     "uid": created["metadata"]["uid"]}


# ---- deletion ---------------------------------------------------------------------------------
def test_delete_options_come_from_the_query_only_without_a_body(fake):
    fake.add(pod("a"))
    fake.add(pod("b"))
    _status, answer = call(fake, "DELETE", "/api/v1/namespaces/ns/pods/a?gracePeriodSeconds=5")
    assert answer["metadata"]["deletionGracePeriodSeconds"] == 5
    _status, answer = call(fake, "DELETE", "/api/v1/namespaces/ns/pods/b?gracePeriodSeconds=0",
                           {"kind": "DeleteOptions", "apiVersion": "v1"})
    assert answer["metadata"]["deletionGracePeriodSeconds"] == 30  # the body's (none given: the pod's default)
    assert fake.get("Pod", "b", "ns")["metadata"]["deletionTimestamp"]


def test_a_resource_version_precondition_that_does_not_hold_is_409(fake):
    stored = fake.add(configmap("c"))
    status, body = call(fake, "DELETE", "/api/v1/namespaces/ns/configmaps/c",
                        {"preconditions": {"resourceVersion": "1"}})
    assert (status, body["message"]) == (409, f'Operation cannot be fulfilled on ConfigMap "c": the ResourceVersion in the '
                                              f'precondition (1) does not match the ResourceVersion in record '
                                              f'({stored["metadata"]["resourceVersion"]}). The object might have been modified')


def test_orphan_and_foreground_deletion_are_finished_by_the_garbage_collector(fake):
    cluster = Cluster(fake)
    owner = fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": "ns"}})
    ref = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]
    fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "namespace": "ns", "ownerReferences": ref}})
    _status, answer = call(fake, "DELETE", "/api/v1/namespaces/ns/configmaps/owner", {"propagationPolicy": "Orphan"})
    assert (answer["kind"], answer["metadata"]["finalizers"]) == ("ConfigMap", ["orphan"])
    cluster.step()
    assert fake.get("ConfigMap", "owner", "ns") is None
    assert "ownerReferences" not in fake.get("ConfigMap", "kept", "ns")["metadata"]

    owner = fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner2", "namespace": "ns"}})
    ref = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner2", "uid": owner["metadata"]["uid"]}]
    fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dependent", "namespace": "ns",
                                                                    "ownerReferences": ref}})
    call(fake, "DELETE", "/api/v1/namespaces/ns/configmaps/owner2", {"propagationPolicy": "Foreground"})
    cluster.step()
    assert fake.get("ConfigMap", "dependent", "ns") is None
    assert fake.get("ConfigMap", "owner2", "ns")["metadata"]["finalizers"] == ["foregroundDeletion"]
    cluster.step()
    assert fake.get("ConfigMap", "owner2", "ns") is None


def test_the_kubelet_confirms_graceful_deletions_and_reports_stopped_containers_of_held_pods(fake):
    cluster = Cluster(fake)
    fake.add(pod("going"))
    held = pod("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    fake.add(held)
    cluster.step()
    call(fake, "DELETE", "/api/v1/namespaces/ns/pods/going")
    call(fake, "DELETE", "/api/v1/namespaces/ns/pods/held")
    assert fake.get("Pod", "going", "ns")["metadata"]["deletionGracePeriodSeconds"] == 30
    cluster.step()
    assert fake.get("Pod", "going", "ns") is None
    state = fake.get("Pod", "held", "ns")["status"]["containerStatuses"][0]
    assert (state["ready"], state["state"]["terminated"]["reason"]) == (False, "Completed")
    version = fake.get("Pod", "held", "ns")["metadata"]["resourceVersion"]
    cluster.step()
    assert fake.get("Pod", "held", "ns")["metadata"]["resourceVersion"] == version  # reported once


def test_a_deleted_namespace_goes_once_the_namespace_controller_has_emptied_it(fake):
    cluster = Cluster(fake)
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain", "namespace": "ns"}})
    held = pod("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    fake.add(held)
    cluster.step()
    call(fake, "DELETE", "/api/v1/namespaces/ns")
    cluster.step()
    assert fake.get("ConfigMap", "plain", "ns") is None
    assert fake.get("Pod", "held", "ns")["metadata"]["deletionTimestamp"]
    cluster.step()
    namespace = fake.get("Namespace", "ns")
    assert (namespace["status"]["phase"], namespace["spec"]["finalizers"]) == ("Terminating", ["kubernetes"])
    fake.edit("Pod", "held", "ns", lambda p: p["metadata"].pop("finalizers"))
    cluster.step()
    assert fake.get("Pod", "held", "ns") is None
    cluster.step()
    assert fake.get("Namespace", "ns") is None


def test_an_emptied_namespace_with_finalizers_of_its_own_stays_terminating(fake):
    cluster = Cluster(fake)
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns", "finalizers": ["example.com/archive"]}})
    call(fake, "DELETE", "/api/v1/namespaces/ns")
    cluster.step()
    namespace = fake.get("Namespace", "ns")
    assert (namespace["status"]["phase"], namespace["spec"]["finalizers"]) == ("Terminating", [])
    fake.edit("Namespace", "ns", None, lambda n: n["metadata"].pop("finalizers"))
    cluster.step()
    assert fake.get("Namespace", "ns") is None


def test_rbac_objects_are_named_by_path_segment_not_dns_subdomain(fake):
    fake.register_kind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False)
    status, answer = call(fake, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                          {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                           "metadata": {"name": "kubeops-platform:taint"}, "rules": []})
    assert (status, answer["metadata"]["name"]) == (201, "kubeops-platform:taint")
    status, answer = call(fake, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                          {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                           "metadata": {"name": "a/b"}, "rules": []})
    assert status == 422 and "metadata.name: Invalid value: \"a/b\": may not contain '/'" in answer["message"]
    status, _answer = call(fake, "POST", "/api/v1/namespaces/ns/configmaps",
                           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a:b"}})
    assert status == 422


# ---- subresources and updates ------------------------------------------------------------------
def test_status_is_written_only_through_the_status_subresource(fake):
    fake.add(pod("web"))
    _status, answer = call(fake, "PATCH", "/api/v1/namespaces/ns/pods/web",
                           {"metadata": {"labels": {"a": "1"}}, "status": {"phase": "Failed"}})
    assert (answer["metadata"]["labels"], answer["status"]["phase"]) == ({"a": "1"}, "Running")
    _status, answer = call(fake, "PATCH", "/api/v1/namespaces/ns/pods/web/status",
                           {"metadata": {"labels": {"b": "2"}}, "status": {"phase": "Failed"}})
    assert (answer["metadata"]["labels"], answer["status"]["phase"]) == ({"a": "1"}, "Failed")
    assert call(fake, "GET", "/api/v1/namespaces/ns/pods/web/exec")[0] == 404


def test_scale_put_checks_the_resource_version_and_replicas(fake):
    fake.add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}})
    _status, scale = call(fake, "GET", "/apis/apps/v1/namespaces/ns/deployments/web/scale")
    assert scale["status"] == {"selector": "app=web"}
    status, body = call(fake, "PUT", "/apis/apps/v1/namespaces/ns/deployments/web/scale",
                        {**scale, "spec": {"replicas": -1}})
    assert (status, body["message"]) == (422, 'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: '
                                              "must be greater than or equal to 0")
    assert call(fake, "PUT", "/apis/apps/v1/namespaces/ns/deployments/web/scale", {**scale, "spec": {"replicas": 5}})[0] == 200
    status, body = call(fake, "PUT", "/apis/apps/v1/namespaces/ns/deployments/web/scale", {**scale, "spec": {"replicas": 6}})
    assert (status, body["reason"]) == (409, "Conflict")
    assert fake.get("Deployment", "web", "ns")["spec"]["replicas"] == 5


def test_a_replace_without_resource_version_is_unconditional_except_for_custom_resources(fake):
    fake.add(configmap("c"))
    assert call(fake, "PUT", "/api/v1/namespaces/ns/configmaps/c", configmap("c") | {"data": {"a": "1"}})[0] == 200
    fake.register_kind("example.com/v1", "Widget", "widgets", True)
    fake.add({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"}})
    status, body = call(fake, "PUT", "/apis/example.com/v1/namespaces/ns/widgets/w",
                        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert (status, body["message"]) == (422, 'widgets.example.com "w" is invalid: metadata.resourceVersion: Invalid '
                                              "value: 0x0: must be specified for an update")


def test_a_workload_whose_selector_misses_its_template_is_refused_at_creation(fake):
    status, body = call(fake, "POST", "/apis/apps/v1/namespaces/ns/statefulsets", {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"selector": {"matchLabels": {"app": "db"}}, "serviceName": "db",
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}})
    assert (status, body["message"]) == (422, 'StatefulSet.apps "db" is invalid: spec.template.metadata.labels: Invalid '
                                              'value: map[string]string{"app":"web"}: `selector` does not match '
                                              "template `labels`")


def test_no_finalizer_may_be_added_to_a_terminating_object(fake):
    fake.add(configmap("c") | {"metadata": {"name": "c", "namespace": "ns", "finalizers": ["a.example/x"]}})
    call(fake, "DELETE", "/api/v1/namespaces/ns/configmaps/c")
    status, body = call(fake, "PATCH", "/api/v1/namespaces/ns/configmaps/c", {"metadata": {"finalizers": ["a.example/x", "b"]}})
    assert status == 422
    assert body["message"] == ('ConfigMap "c" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added '
                               'if the object is being deleted, found new finalizers []string{"b"}')
    assert len(body["details"]["causes"]) == 2


# ---- selectors and patches ---------------------------------------------------------------------
@pytest.mark.parametrize(("selector", "message"), [
    ("grp in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("grp in a", "unable to parse requirement: found 'a' expected: '('"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a,", "found '', expected: identifier after ','"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("a=(", "unable to parse requirement: found '(', expected: identifier"),
])
def test_a_bad_label_selector_is_the_servers_400(fake, selector, message):
    fake.add(configmap("c"))
    status, _reason, raw = fake.request("GET", "/api/v1/namespaces/ns/configmaps?" + urlencode({"labelSelector": selector}),
                                        JSON, None)
    assert (status, json.loads(raw)["message"]) == (400, message)


def test_strategic_merge_puts_new_list_items_first_and_honours_set_element_order(fake):
    fake.add(pod("web", containers=("a", "b")))
    _status, answer = call(fake, "PATCH", "/api/v1/namespaces/ns/pods/web",
                           {"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}},
                           "application/strategic-merge-patch+json")
    assert [c["name"] for c in answer["spec"]["containers"]] == ["c", "a", "b"]
    _status, answer = call(fake, "PATCH", "/api/v1/namespaces/ns/pods/web",
                           {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                                     "containers": [{"name": "b", "image": "busybox:1.37"}]}},
                           "application/strategic-merge-patch+json")
    assert [(c["name"], c["image"]) for c in answer["spec"]["containers"]] == [
        ("a", "busybox:1.36"), ("b", "busybox:1.37"), ("c", "busybox:1.36")]


# ---- node admission and controllers --------------------------------------------------------------
def test_node_controllers_keep_condition_taints_in_step_with_conditions(fake):
    controllers = NodeControllers(fake)
    status, created = call(fake, "POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                                                           "status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert created["spec"]["taints"] == [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
    controllers.step()
    taints = fake.get("Node", "n1")["spec"]["taints"]
    assert [(t["key"], t["effect"]) for t in taints] == [("node.kubernetes.io/not-ready", "NoSchedule"),
                                                         ("node.kubernetes.io/not-ready", "NoExecute")]
    assert "timeAdded" in taints[1]
    fake.edit("Node", "n1", change=lambda n: n.update(status={"conditions": [{"type": "Ready", "status": "True"}]},
                                                      spec={**n["spec"], "unschedulable": True}))
    controllers.step()
    node = fake.get("Node", "n1")
    assert node["spec"]["taints"] == [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    assert node["metadata"]["annotations"] == {"node.alpha.kubernetes.io/ttl": "0"}


def test_the_ttl_controller_follows_the_cluster_size(fake):
    controllers = NodeControllers(fake)
    for i in range(101):
        fake.node(f"n{i:03d}")
    controllers.step()
    assert fake.get("Node", "n000")["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"] == "15"
    for i in range(8):  # 93 nodes: still above the next step's lower bound (90)
        call(fake, "DELETE", f"/api/v1/nodes/n{i:03d}")
    controllers.step()
    assert fake.get("Node", "n100")["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"] == "15"


# ---- with the collection's client ------------------------------------------------------------------
@pytest.fixture
def client(fake, monkeypatch):
    from ansible_collections.kubeops.platform.plugins.module_utils import _client
    from ansible_collections.kubeops.platform.plugins.module_utils._connection import Connection

    sleeps: list[float] = []
    monkeypatch.setattr(_client, "sleep", sleeps.append)
    monkeypatch.setattr(_client, "LIST_PAGE", 2)
    api = _client.K8sClient(Connection(server="https://kube.test"), transport=fake)
    api.sleeps = sleeps
    return api


def test_the_client_waits_as_the_fakes_429_says_and_restarts_a_list_whose_token_expired(fake, client):
    for i in range(5):
        fake.add(configmap(f"cm{i}"))
    fake.overload(1, retry_after=2, method="GET")
    compacted = []

    def compact_once(fake_, req):
        if "continue" in req.query and not compacted:
            compacted.append(req.query["continue"])
            fake_.compact()

    fake.before_request.append(compact_once)
    names = [item["metadata"]["name"] for item in client.list("/api/v1/namespaces/ns/configmaps")]
    assert names == [f"cm{i}" for i in range(5)]
    assert [r.status for r in fake.log] == [429, 200, 410, 200, 200, 200]
    assert 2 <= client.sleeps[0] < 3
