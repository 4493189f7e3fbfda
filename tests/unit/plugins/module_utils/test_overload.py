"""Busy API servers: 429 with Retry-After, transient 5xx and etcd timeouts, expired continue tokens."""

from __future__ import annotations

import json

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils import _client
from ansible_collections.kubeops.platform.plugins.module_utils._client import ApiError, K8sClient
from ansible_collections.kubeops.platform.plugins.module_utils._connection import Connection
from fake_k8s import FakeKube


def status(code: int, reason: str, message: str, **details) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
                       "message": message, "details": details}).encode()


TOO_MANY = (429, "Too Many Requests", status(429, "TooManyRequests", "Too many requests, please try again later.",
                                             retryAfterSeconds=2))
ETCD_TIMEOUT = (500, "Internal Server Error", status(500, "InternalError", "etcdserver: request timed out"))
UNAVAILABLE = (503, "Service Unavailable",
               status(503, "ServiceUnavailable", "the server is currently unable to handle the request"))


class Flaky:
    """The fake API server behind a load that answers the first requests with given errors."""

    def __init__(self, fake: FakeKube, answers: list):
        self.fake, self.answers, self.sent = fake, list(answers), []

    def request(self, method, target, headers, body):
        self.sent.append((method, target.split("?")[0]))
        if self.answers:
            return self.answers.pop(0)
        return self.fake.request(method, target, headers, body)

    def close(self):
        pass


@pytest.fixture
def clock(monkeypatch):
    state = {"now": 0.0, "sleeps": []}

    def sleep(seconds):
        state["sleeps"].append(seconds)
        state["now"] += seconds

    monkeypatch.setattr(_client, "sleep", sleep)
    monkeypatch.setattr(_client, "monotonic", lambda: state["now"])
    return state


def client_over(answers: list) -> tuple[K8sClient, Flaky, FakeKube]:
    fake = FakeKube()
    fake.node("n1")
    flaky = Flaky(fake, answers)
    return K8sClient(Connection(server="https://kube.test"), transport=flaky), flaky, fake


def test_a_429_is_retried_after_the_servers_retry_after_even_for_a_patch(clock):
    client, flaky, fake = client_over([TOO_MANY, TOO_MANY])
    patched = client.patch("/api/v1/nodes/n1", {"metadata": {"labels": {"a": "b"}}})
    assert patched["metadata"]["labels"] == {"a": "b"}
    assert len(flaky.sent) == 3 and len(fake.writes) == 1
    assert all(2.0 <= pause <= 2.0 * (1 + _client.RETRY_JITTER) for pause in clock["sleeps"])


@pytest.mark.parametrize("answer", [ETCD_TIMEOUT, UNAVAILABLE], ids=["etcd-timeout", "503"])
def test_a_transient_error_is_retried_for_a_get_with_growing_pauses(clock, answer):
    client, flaky, _fake = client_over([answer, answer, answer])
    assert client.get("/api/v1/nodes/n1")["metadata"]["name"] == "n1"
    assert len(flaky.sent) == 4
    assert clock["sleeps"][0] < clock["sleeps"][1] < clock["sleeps"][2]


@pytest.mark.parametrize("answer", [ETCD_TIMEOUT, UNAVAILABLE], ids=["etcd-timeout", "503"])
def test_a_write_answered_with_a_transient_error_is_never_sent_again(clock, answer):
    client, flaky, fake = client_over([answer])
    with pytest.raises(ApiError) as failure:
        client.patch("/api/v1/nodes/n1", {"metadata": {"labels": {"a": "b"}}})
    assert failure.value.status == answer[0]
    assert len(flaky.sent) == 1 and clock["sleeps"] == [] and fake.writes == []


def test_a_lasting_overload_fails_naming_what_was_retried_and_for_how_long(clock):
    client, flaky, _fake = client_over([TOO_MANY] * 20)
    with pytest.raises(ApiError) as failure:
        client.get("/api/v1/nodes/n1", action="get Node n1")
    text = str(failure.value)
    assert text.startswith("get Node n1: Too many requests, please try again later. (still after 7 attempts over ")
    assert "the API server is overloaded or unavailable" in text and "(HTTP 429 Too Many Requests)" in text
    assert len(flaky.sent) == _client.RETRY_ATTEMPTS + 1
    assert sum(clock["sleeps"]) <= _client.RETRY_BUDGET


def test_other_errors_are_not_retried(clock):
    client, flaky, _fake = client_over([])
    with pytest.raises(ApiError):
        client.get("/api/v1/nodes/missing")
    assert len(flaky.sent) == 1 and clock["sleeps"] == []


EXPIRED = (410, "Gone", status(410, "Expired",
                               "The provided continue parameter is too old to display a consistent "
                               "list result. You can start a new list without the continue parameter."))


class Pager:
    """Serves a node LIST in pages of ``limit`` with continue tokens; the first token given back expires."""

    def __init__(self, names: list[str]):
        self.names, self.requests, self.expired_once = names, [], False

    def request(self, method, target, headers, body):
        from urllib.parse import parse_qs, urlsplit

        query = {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}
        self.requests.append(query)
        start = int(query.get("continue", "0"))
        if start and not self.expired_once:
            self.expired_once = True
            return EXPIRED
        end = start + int(query["limit"])
        meta = {"continue": str(end)} if end < len(self.names) else {}
        items = [{"metadata": {"name": n}} for n in self.names[start:end]]
        return 200, "OK", json.dumps({"kind": "NodeList", "metadata": meta, "items": items}).encode()

    def close(self):
        pass


def test_an_expired_continue_token_restarts_the_list(monkeypatch):
    monkeypatch.setattr(_client, "LIST_PAGE", 2)
    pager = Pager([f"n{i}" for i in range(5)])
    client = K8sClient(Connection(server="https://kube.test"), transport=pager)
    assert [n["metadata"]["name"] for n in client.list("/api/v1/nodes")] == [f"n{i}" for i in range(5)]
    assert [q.get("continue") for q in pager.requests] == [None, "2", None, "2", "4"]
    assert all(q["limit"] == "2" for q in pager.requests)


def test_a_token_that_keeps_expiring_fails_after_a_few_restarts(monkeypatch):
    monkeypatch.setattr(_client, "LIST_PAGE", 2)
    pager = Pager([f"n{i}" for i in range(5)])
    pager.request_inner = pager.request

    def always_expire(method, target, headers, body):
        pager.expired_once = False
        return pager.request_inner(method, target, headers, body)

    pager.request = always_expire
    client = K8sClient(Connection(server="https://kube.test"), transport=pager)
    with pytest.raises(ApiError) as failure:
        client.list("/api/v1/nodes")
    assert failure.value.status == 410 and len(pager.requests) == 2 * (_client.LIST_RESTARTS + 1)


def test_the_plain_text_429_of_the_fairness_filter_is_waited_out_by_its_retry_after_header(clock):
    fake = FakeKube()
    fake.node("n1")
    fake.overload(2, retry_after=3, plain_text=True)
    client = K8sClient(Connection(server="https://kube.test"), transport=fake)
    assert client.get("/api/v1/nodes/n1")["metadata"]["name"] == "n1"
    assert len(clock["sleeps"]) == 2 and all(3.0 <= pause <= 3.0 * (1 + _client.RETRY_JITTER) for pause in clock["sleeps"])


def test_the_retry_after_header_reaches_the_client_over_http(clock):
    from fake_k8s import serve_http

    fake = FakeKube()
    fake.node("n1")
    fake.overload(1, retry_after=4, plain_text=True)
    server, url = serve_http(fake)
    try:
        client = K8sClient(Connection(server=url))
        assert client.get("/api/v1/nodes/n1")["metadata"]["name"] == "n1"
    finally:
        server.shutdown()
    assert len(clock["sleeps"]) == 1 and clock["sleeps"][0] >= 4.0
