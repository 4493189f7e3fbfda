"""Whether a live object needs a client-side apply of its manifest."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils._drift import (
    LAST_APPLIED_ANNOTATION,
    differs,
    last_applied,
    needs_apply,
)

DESIRED = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "eureka", "namespace": "eureka", "labels": {"app.kubernetes.io/instance": "eureka"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app.kubernetes.io/instance": "eureka"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/instance": "eureka"}},
            "spec": {
                "tolerations": [{"key": "eureka/server", "operator": "Exists", "effect": "NoSchedule"}],
                "containers": [{
                    "name": "eureka",
                    "image": "steeltoeoss/eureka-server:4.1.1",
                    "resources": {"requests": {"cpu": 1, "memory": "1Gi"}},
                }],
            },
        },
    },
}


def served(desired: dict, last: dict | None = None) -> dict:
    """The object as the API returns it after an apply of ``last``: defaults and status added."""
    live = copy.deepcopy(desired)
    live["metadata"].update({"resourceVersion": "4711", "generation": 2, "uid": "0c3e",
                             "annotations": {LAST_APPLIED_ANNOTATION: json.dumps(last or desired)}})
    live["spec"]["revisionHistoryLimit"] = 10
    pod = live["spec"]["template"]["spec"]
    pod.update({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst"})
    pod["containers"][0].update({"imagePullPolicy": "IfNotPresent"})
    pod["containers"][0]["resources"]["requests"]["cpu"] = "1"
    live["status"] = {"replicas": 3, "readyReplicas": 3}
    return live


def container(live: dict) -> dict:
    return live["spec"]["template"]["spec"]["containers"][0]


def without_annotation(live: dict) -> None:
    del live["metadata"]["annotations"]


def with_annotation(text: str) -> Callable[[dict], None]:
    def change(live: dict) -> None:
        live["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] = text
    return change


def with_previous_manifest(live: dict) -> None:
    previous = copy.deepcopy(DESIRED)
    previous["spec"]["replicas"] = 5
    with_annotation(json.dumps(previous))(live)


def with_extra_toleration(live: dict) -> None:
    live["spec"]["template"]["spec"]["tolerations"].append({"key": "spot", "operator": "Exists"})


def without_tolerations(live: dict) -> None:
    live["spec"]["template"]["spec"]["tolerations"] = []


def with_replicas_as_string(live: dict) -> None:
    live["spec"]["replicas"] = "3"


def with_edited_image(live: dict) -> None:
    container(live)["image"] = "steeltoeoss/eureka-server:edited"


def with_edited_memory(live: dict) -> None:
    container(live)["resources"]["requests"]["memory"] = "2Gi"


def without_labels(live: dict) -> None:
    del live["metadata"]["labels"]


def with_labels_as_list(live: dict) -> None:
    live["metadata"]["labels"] = ["app.kubernetes.io/instance=eureka"]


def with_containers_as_map(live: dict) -> None:
    live["spec"]["template"]["spec"]["containers"] = {"eureka": container(live)}


def unchanged(live: dict) -> None:
    pass


@pytest.mark.parametrize("change, expected", [
    pytest.param(unchanged, False, id="defaults and status added by the server, cpu 1 returned as '1'"),
    pytest.param(without_annotation, True, id="no last-applied annotation"),
    pytest.param(with_annotation(""), True, id="empty last-applied annotation"),
    pytest.param(with_annotation("{not json"), True, id="last-applied annotation not JSON"),
    pytest.param(with_previous_manifest, True, id="last-applied annotation differs"),
    pytest.param(with_extra_toleration, True, id="list longer in the cluster"),
    pytest.param(without_tolerations, True, id="list shorter in the cluster"),
    pytest.param(with_replicas_as_string, False, id="int 3 vs '3'"),
    pytest.param(with_edited_image, True, id="nested change"),
    pytest.param(with_edited_memory, True, id="nested quantity change"),
    pytest.param(without_labels, True, id="desired field missing in the cluster"),
    pytest.param(with_labels_as_list, True, id="mapping became a list"),
    pytest.param(with_containers_as_map, True, id="list became a mapping"),
])
def test_needs_apply(change, expected):
    live = served(DESIRED)
    change(live)
    assert needs_apply(DESIRED, live) is expected


@pytest.mark.parametrize("live", [None, {}], ids=["missing", "empty"])
def test_missing_object_needs_apply(live):
    assert needs_apply(DESIRED, live) is True


def test_setting_removed_from_the_manifest_needs_apply():
    # The cluster still has the tolerations: only the last-applied manifest shows they were dropped.
    wanted = copy.deepcopy(DESIRED)
    del wanted["spec"]["template"]["spec"]["tolerations"]
    assert needs_apply(wanted, served(DESIRED)) is True


@pytest.mark.parametrize("desired, live, expected", [
    pytest.param("1Gi", "1Gi", False, id="quantity '1Gi' vs '1Gi'"),
    pytest.param(3, "3", False, id="int 3 vs '3'"),
    pytest.param(1, "1", False, id="cpu 1 vs '1'"),
    (True, "True", False),
    (0.5, 0.5, False),
    (3, 4, True),
    pytest.param("1024Mi", "1Gi", False, id="the API's canonical form of the same quantity"),
    pytest.param("1000m", "1", False, id="cpu in millicores comes back in cores"),
    pytest.param("1.7Gi", "1825361100800m", False, id="a fractional Gi comes back in milli-bytes"),
    pytest.param("1Gi", "1Mi", True, id="another quantity"),
    pytest.param("web", "api", True, id="strings that are not quantities"),
    (None, None, False),
    ("a", None, True),
    ({"a": 1}, {"a": 1, "b": 2}, False),
    ({"a": 1}, {"b": 1}, True),
    ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2]}, "c": 3}, False),
    ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 3]}}, True),
    ({"a": 1}, None, True),
    ({"a": 1}, [["a", 1]], True),
    ({}, {"a": 1}, False),
    ([1, 2], [1, 2], False),
    ([1, 2], ("1", "2"), False),
    ([1, 2], [1, 2, 3], True),
    ([1, 2], [1], True),
    ([{"name": "a"}], [{"name": "a", "default": True}], False),
    (["a"], "a", True),
    (["a"], {"a": 1}, True),
    ([], [], False),
    ([], None, True),
])
def test_differs(desired, live, expected):
    assert differs(desired, live) is expected


@pytest.mark.parametrize("live, expected", [
    ({"metadata": {"annotations": {LAST_APPLIED_ANNOTATION: '{"kind": "Service"}'}}}, {"kind": "Service"}),
    ({"metadata": {"annotations": {LAST_APPLIED_ANNOTATION: "null"}}}, None),
    ({"metadata": {"annotations": {LAST_APPLIED_ANNOTATION: ""}}}, None),
    ({"metadata": {"annotations": {LAST_APPLIED_ANNOTATION: "{"}}}, None),
    ({"metadata": {"annotations": {}}}, None),
    ({"metadata": {"annotations": None}}, None),
    ({"metadata": {}}, None),
    ({"kind": "Service"}, None),
])
def test_last_applied(live, expected):
    assert last_applied(live) == expected


@pytest.mark.parametrize("desired, live, message", [
    (["kind: Service"], None, 'desired manifest ["kind: Service"] must be a dict (got list)'),
    ("kind: Service", None, "desired manifest 'kind: Service' must be a dict (got str)"),
    (None, None, "desired manifest None must be a dict (got NoneType)"),
    ({"kind": "Service"}, [{"kind": "Service"}], 'live object [{"kind": "Service"}] must be a dict or null (got list)'),
    ({"kind": "Service"}, "", "live object '' must be a dict or null (got str)"),
])
def test_needs_apply_errors(desired, live, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        needs_apply(desired, live)
