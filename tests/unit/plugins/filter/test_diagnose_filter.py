"""The diagnose filter: the doctor's diagnosis over objects a play has already read."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.platform.plugins.filter.diagnose import FilterModule

diagnose = FilterModule().filters()["diagnose"]

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "gitlab", "namespace": "gitlab", "uid": "d1", "generation": 1},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "gitlab"}},
                       "template": {"metadata": {"labels": {"app": "gitlab"}},
                                    "spec": {"containers": [{"name": "gitlab", "image": "gitlab/gitlab-ce:nope"}]}}},
              "status": {"observedGeneration": 1, "replicas": 1, "unavailableReplicas": 1,
                         "conditions": [{"type": "Progressing", "status": "False",
                                         "reason": "ProgressDeadlineExceeded",
                                         "message": 'ReplicaSet "gitlab-7c9f" has timed out progressing.'}]}}
REPLICASET = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": "gitlab-7c9f", "namespace": "gitlab", "uid": "r1",
                           "ownerReferences": [{"kind": "Deployment", "name": "gitlab", "uid": "d1", "controller": True}]}}
POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "gitlab-7c9f-x2k4q", "namespace": "gitlab", "uid": "p1", "labels": {"app": "gitlab"},
                    "ownerReferences": [{"kind": "ReplicaSet", "name": "gitlab-7c9f", "uid": "r1", "controller": True}]},
       "spec": {"nodeName": "node05", "containers": [{"name": "gitlab", "image": "gitlab/gitlab-ce:nope"}]},
       "status": {"phase": "Pending", "containerStatuses": [{
           "name": "gitlab", "ready": False, "restartCount": 0, "image": "gitlab/gitlab-ce:nope",
           "state": {"waiting": {"reason": "ImagePullBackOff",
                                 "message": 'Back-off pulling image "gitlab/gitlab-ce:nope"'}}}]}}


@pytest.mark.parametrize("objects", [
    {"Deployment": [DEPLOYMENT], "ReplicaSet": [REPLICASET], "Pod": [POD]},
    [DEPLOYMENT, REPLICASET, POD],
], ids=["by-kind", "list"])
def test_a_stuck_rollout_is_explained_by_its_pods(objects):
    report = diagnose(objects, kind="Deployment", names=["gitlab"], namespace="gitlab")
    assert report["healthy"] is False
    problems = {f["problem"] for f in report["findings"]}
    assert {"rollout_stuck", "container_image_pull_failed"} <= problems
    assert any("gitlab/gitlab-ce:nope" in line for line in report["summary"])


def test_healthy_objects_have_no_findings():
    ready = {**POD, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                               "containerStatuses": [{"name": "gitlab", "ready": True, "restartCount": 0,
                                                      "state": {"running": {}}}]}}
    assert diagnose({"Pod": [ready]}, namespace="gitlab")["findings"] == []


@pytest.mark.parametrize(("objects", "kwargs", "message"), [
    ([{"metadata": {"name": "x"}}], {}, "every object of a list needs its kind"),
    ("pods", {}, "expected a mapping of kind to objects or a list of objects, got str"),
    ({"Pod": [POD]}, {"names": ["x"]}, "names need kind"),
])
def test_bad_input_names_the_problem(objects, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        diagnose(objects, **kwargs)
