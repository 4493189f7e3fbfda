"""The rollout_status filter: kubectl rollout status of a workload a play has already read."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.platform.plugins.filter.rollout_status import FilterModule

rollout_status = FilterModule().filters()["rollout_status"]


def deployment(**status) -> dict:
    return {"kind": "Deployment", "metadata": {"name": "gitlab", "generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, **status}}


def statefulset(**status) -> dict:
    return {"metadata": {"name": "eureka", "generation": 3}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 3, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
                       "currentReplicas": 3, "currentRevision": "eureka-7f9", "updateRevision": "eureka-7f9", **status}}


@pytest.mark.parametrize(("obj", "kwargs", "expected"), [
    (deployment(), {}, {"done": True, "message": "successfully rolled out", "failed": False}),
    (deployment(observedGeneration=1), {},
     {"done": False, "message": "waiting for the deployment spec update to be observed", "failed": False}),
    (deployment(updatedReplicas=1), {},
     {"done": False, "message": "1 out of 2 new replicas have been updated", "failed": False}),
    (deployment(replicas=3), {}, {"done": False, "message": "1 old replicas are pending termination", "failed": False}),
    (deployment(availableReplicas=0), {"settled": True},
     {"done": False, "message": "0 of 2 updated replicas are available", "failed": False}),
    (deployment(conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                             "message": 'ReplicaSet "gitlab-7c9f" has timed out progressing.'}]), {},
     {"done": False, "failed": True,
      "message": 'deployment exceeded its progress deadline (ReplicaSet "gitlab-7c9f" has timed out progressing.)'}),
    (statefulset(), {"kind": "StatefulSet"},
     {"done": True, "message": "rolling update complete: 3 pods at revision eureka-7f9", "failed": False}),
    (statefulset(readyReplicas=1), {"kind": "StatefulSet"},
     {"done": False, "message": "waiting for 2 pods to be ready", "failed": False}),
    (statefulset(updateRevision="eureka-8a0", updatedReplicas=1), {"kind": "StatefulSet"},
     {"done": False, "message": "rolling update: 1 pods at revision eureka-8a0", "failed": False}),
])
def test_the_criteria_are_kubectl_rollout_status(obj, kwargs, expected):
    assert rollout_status(obj, **kwargs) == expected


def test_settled_also_waits_for_the_pods_a_scale_down_removes():
    shrinking = statefulset(replicas=5)
    assert rollout_status(shrinking, kind="StatefulSet")["done"] is True  # kubectl is done here
    assert rollout_status(shrinking, kind="StatefulSet", settled=True) == {
        "done": False, "message": "2 removed replicas are still terminating", "failed": False}


@pytest.mark.parametrize(("obj", "kwargs", "message"), [
    (statefulset(), {}, "kind must be one of Deployment, StatefulSet, DaemonSet, ReplicaSet, got None "
                        r"\(the object carries no kind"),
    (deployment(), {"kind": "Job"}, "kind must be one of .*, got 'Job'"),
    ([deployment()], {}, "expected a workload object, got list"),
])
def test_bad_input_names_the_value_and_the_rule(obj, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        rollout_status(obj, **kwargs)
