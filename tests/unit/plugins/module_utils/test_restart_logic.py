"""Strategy selection, manifest cleaning for recreate, the trigger and the restartedAt value."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils._pod_manifest import clean_pod_manifest, token_volume_names
from ansible_collections.kubeops.platform.plugins.module_utils._restart_plan import (
    TRIGGER_ANNOTATION,
    check_strategy,
    choose_strategy,
    resolve_kind,
    restarted_at,
    trigger_unchanged,
)


@pytest.mark.parametrize("text, kind", [
    ("Deployment", "Deployment"), ("deploy", "Deployment"), ("deployments", "Deployment"),
    ("STS", "StatefulSet"), ("ds", "DaemonSet"), ("rs", "ReplicaSet"), ("po", "Pod"), (" Pod ", "Pod"),
])
def test_kinds_by_kubectl_names(text, kind):
    assert resolve_kind(text) == kind


@pytest.mark.parametrize("kind, strategy", [
    ("Deployment", "rollout"), ("Deployment", "scale"), ("Deployment", "delete_pods"),
    ("StatefulSet", "rollout"), ("StatefulSet", "scale"), ("StatefulSet", "delete_pods"),
    ("DaemonSet", "rollout"), ("DaemonSet", "delete_pods"),
    ("ReplicaSet", "scale"), ("ReplicaSet", "delete_pods"),
    ("Pod", "recreate"), ("Pod", "delete_pods"), ("Pod", None),
])
def test_strategies_that_fit(kind, strategy):
    check_strategy(kind, strategy)


@pytest.mark.parametrize("kind, strategy, message", [
    ("Pod", "rollout", "strategy 'rollout' does not fit a Pod: a bare Pod has no rollout"),
    ("Pod", "scale", "strategy 'scale' does not fit a Pod: a Pod has no replica count"),
    ("Deployment", "recreate", "strategy 'recreate' does not fit a Deployment: recreate is for bare Pods"),
    ("StatefulSet", "recreate", "strategy 'recreate' does not fit a StatefulSet"),
    ("DaemonSet", "recreate", "strategy 'recreate' does not fit a DaemonSet"),
    ("DaemonSet", "scale", "strategy 'scale' does not fit a DaemonSet: a DaemonSet has no replica count"),
    ("ReplicaSet", "rollout", "strategy 'rollout' does not fit a ReplicaSet: only a Deployment rolls out"),
    ("ReplicaSet", "recreate", "strategy 'recreate' does not fit a ReplicaSet"),
])
def test_strategies_that_do_not_fit_say_what_to_use(kind, strategy, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        check_strategy(kind, strategy)


@pytest.mark.parametrize("text, message", [
    ("Job", "kind 'Job' cannot be restarted: a Job is not restarted: its pods run to completion once. Re-create it"),
    ("cronjob", "kind 'cronjob' cannot be restarted: a CronJob is not restarted: to run it now, create a Job from it"),
    ("Deploymnet", r"kind 'Deploymnet' cannot be restarted: choose one of Deployment, StatefulSet, DaemonSet, "
                   r"ReplicaSet, Pod"),
])
def test_kinds_that_are_not_restarted(text, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        resolve_kind(text)


OWNED = {"ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d9c", "uid": "u1", "controller": True}]}
JOB_OWNED = {"ownerReferences": [{"kind": "Job", "name": "init", "uid": "u2", "controller": True}]}
NOT_CONTROLLER = {"ownerReferences": [{"kind": "ConfigMap", "name": "anchor", "uid": "u3"}]}


def make(kind="Pod", spec=None, **meta):
    return {"metadata": {"name": "x", "namespace": "ns", **meta}, "spec": spec or {}}


@pytest.mark.parametrize("kind, obj, strategy, chosen", [
    ("Pod", make(), None, "recreate"),
    ("Pod", make(**NOT_CONTROLLER), None, "recreate"),  # an owner that is not a controller re-creates nothing
    ("Pod", make(**OWNED), None, "delete_pods"),
    ("Deployment", make(), None, "rollout"),
    ("StatefulSet", make(), None, "rollout"),
    ("DaemonSet", make(), None, "rollout"),
    ("ReplicaSet", make(), None, "delete_pods"),
    ("ReplicaSet", make(), "scale", "scale"),
    ("ReplicaSet", make(**OWNED), "delete_pods", "delete_pods"),
    ("StatefulSet", make(spec={"updateStrategy": {"type": "OnDelete"}}), "delete_pods", "delete_pods"),
])
def test_strategy_chosen_per_object(kind, obj, strategy, chosen):
    assert choose_strategy(kind, obj, strategy, None) == chosen


@pytest.mark.parametrize("kind, obj, strategy, trigger, message", [
    ("Pod", make(**OWNED), "recreate", None,
     "Pod ns/x is owned by ReplicaSet web-5d9c: recreate is for bare Pods"),
    ("Pod", make(), "delete_pods", None, "Pod ns/x has no controller: deleting it would lose it for good"),
    ("Pod", make(**JOB_OWNED), None, None, "Pod ns/x belongs to Job init: a Job is not restarted"),
    ("Pod", make(**OWNED), None, "t", "Pod ns/x is replaced by a new pod from ReplicaSet web-5d9c, so the trigger "
                                      "cannot be recorded on it"),
    ("StatefulSet", make(spec={"updateStrategy": {"type": "OnDelete"}}), None, None,
     "StatefulSet ns/x uses updateStrategy OnDelete: a rollout restart would not replace its pods"),
    ("DaemonSet", make(spec={"updateStrategy": {"type": "OnDelete"}}), "rollout", None,
     "DaemonSet ns/x uses updateStrategy OnDelete"),
    ("Deployment", make(spec={"paused": True}), None, None, "Deployment ns/x is paused"),
    ("ReplicaSet", make(**OWNED), "scale", None,
     "ReplicaSet ns/x is managed by ReplicaSet web-5d9c, which would undo the scale"),
])
def test_strategy_refused_per_object(kind, obj, strategy, trigger, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        choose_strategy(kind, obj, strategy, trigger)


@pytest.mark.parametrize("annotations, trigger, unchanged", [
    ({TRIGGER_ANNOTATION: "abc"}, "abc", True),
    ({TRIGGER_ANNOTATION: "abc"}, "abd", False),
    ({}, "abc", False),
    ({TRIGGER_ANNOTATION: ""}, "", True),
    ({TRIGGER_ANNOTATION: "abc"}, None, False),  # without a trigger, always restart
    ({}, None, False),
])
def test_trigger_comparison(annotations, trigger, unchanged):
    assert trigger_unchanged({"metadata": {"annotations": annotations}}, trigger) is unchanged


def test_restarted_at_is_rfc3339_local_time_to_the_second_like_kubectl():
    moment = datetime(2025, 5, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    value = restarted_at(moment)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", value)
    assert datetime.fromisoformat(value.replace("Z", "+00:00")) == moment.replace(microsecond=0)
    assert value[-6:] == moment.astimezone().isoformat()[-6:] or value.endswith("Z"), "in the local time zone"


def test_restarted_at_never_repeats_the_previous_value():
    moment = datetime(2025, 5, 1, 2, 0, 0, tzinfo=timezone.utc)
    first = restarted_at(moment)
    assert restarted_at(moment, previous=first) != first
    assert datetime.fromisoformat(restarted_at(moment, previous=first).replace("Z", "+00:00")) - moment == \
        timedelta(seconds=1)


# ---- recreate: which fields go, which stay --------------------------------------------------------
TOKEN_MOUNT = {"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
               "readOnly": True}
LIVE_POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
        "name": "tool", "namespace": "dev", "generateName": "", "labels": {"app": "tool"},
        "annotations": {"team": "ops", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
        "finalizers": ["example.com/keep"], "ownerReferences": [{"kind": "ConfigMap", "name": "anchor", "uid": "u"}],
        "uid": "1f0e", "resourceVersion": "4711", "creationTimestamp": "2025-01-01T00:00:00Z", "generation": 1,
        "deletionTimestamp": None, "deletionGracePeriodSeconds": None, "selfLink": "/api/v1/namespaces/dev/pods/tool",
        "managedFields": [{"manager": "kubectl", "operation": "Update"}],
    },
    "spec": {
        "nodeName": "node03", "priority": 1000, "priorityClassName": "high", "serviceAccountName": "builder",
        "schedulerName": "default-scheduler", "tolerations": [{"key": "gitlab/middleware", "operator": "Exists"}],
        "nodeSelector": {"disk": "ssd"}, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
        "containers": [{"name": "main", "image": "busybox:1.36", "env": [{"name": "MODE", "value": "x"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}, TOKEN_MOUNT]}],
        "initContainers": [{"name": "init", "image": "busybox:1.36", "volumeMounts": [TOKEN_MOUNT]}],
        "ephemeralContainers": [{"name": "debugger-x", "image": "busybox:1.36"}],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": "tool-data"}},
            {"name": "kube-api-access-abcde", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}},
        ],
    },
    "status": {"phase": "Running", "podIP": "10.244.1.7", "hostIP": "192.168.1.13", "qosClass": "BestEffort"},
}


@pytest.mark.parametrize("path, kept", [
    (("metadata", "uid"), False),
    (("metadata", "resourceVersion"), False),
    (("metadata", "creationTimestamp"), False),
    (("metadata", "deletionTimestamp"), False),
    (("metadata", "deletionGracePeriodSeconds"), False),
    (("metadata", "generation"), False),
    (("metadata", "managedFields"), False),
    (("metadata", "selfLink"), False),
    (("status",), False),
    (("spec", "nodeName"), False),
    (("spec", "priority"), False),
    (("spec", "ephemeralContainers"), False),
    (("metadata", "name"), True),
    (("metadata", "namespace"), True),
    (("metadata", "labels"), True),
    (("metadata", "annotations"), True),
    (("metadata", "finalizers"), True),
    (("metadata", "ownerReferences"), True),
    (("spec", "priorityClassName"), True),
    (("spec", "serviceAccountName"), True),
    (("spec", "tolerations"), True),
    (("spec", "nodeSelector"), True),
    (("spec", "restartPolicy"), True),
    (("spec", "dnsPolicy"), True),
])
def test_manifest_cleaning_removes_what_the_server_set(path, kept):
    cleaned = clean_pod_manifest(LIVE_POD)
    source, target = LIVE_POD, cleaned
    for part in path[:-1]:
        source, target = source[part], target[part]
    if kept:
        assert target[path[-1]] == source[path[-1]]
    else:
        assert path[-1] not in target


def test_manifest_cleaning_drops_the_token_volume_and_its_mounts_only():
    cleaned = clean_pod_manifest(LIVE_POD)
    assert cleaned["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "tool-data"}}]
    assert cleaned["spec"]["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert "volumeMounts" not in cleaned["spec"]["initContainers"][0]
    assert cleaned["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "x"}]
    assert (cleaned["apiVersion"], cleaned["kind"]) == ("v1", "Pod")
    assert LIVE_POD["spec"]["nodeName"] == "node03", "the live object is not modified"


@pytest.mark.parametrize("volume, mounted_at_sa_path, injected", [
    ({"name": "kube-api-access-x1", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}, True, True),
    ({"name": "kube-api-access-x1", "projected": {"sources": [{"configMap": {"name": "c"}}]}}, True, False),
    ({"name": "my-token", "projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "vault"}}]}},
     False, False),  # a token the user asked for, for another audience: part of the spec
    ({"name": "default-token-7xk2p", "secret": {"secretName": "default-token-7xk2p"}}, True, True),  # before 1.24
    ({"name": "default-token-7xk2p", "secret": {"secretName": "default-token-7xk2p"}}, False, False),
    ({"name": "certs", "secret": {"secretName": "web-tls"}}, True, False),
])
def test_which_volumes_count_as_injected_tokens(volume, mounted_at_sa_path, injected):
    mount_path = "/var/run/secrets/kubernetes.io/serviceaccount" if mounted_at_sa_path else "/other"
    pod = {"spec": {"volumes": [volume], "containers": [{"volumeMounts": [{"name": volume["name"],
                                                                           "mountPath": mount_path}]}]}}
    assert (token_volume_names(pod) == {volume["name"]}) is injected
