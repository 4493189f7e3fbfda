"""The needs_apply filter."""

from __future__ import annotations

import json
import re

import pytest
from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.kubeops.platform.plugins.filter.needs_apply import FilterModule

needs_apply = FilterModule().filters()["needs_apply"]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "eureka", "namespace": "eureka"},
    "spec": {"selector": {"app": "eureka"}, "ports": [{"name": "http", "port": 8761, "targetPort": "http"}]},
}
SERVED = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "eureka", "namespace": "eureka", "uid": "0c3e", "resourceVersion": "4711",
                 "annotations": {LAST_APPLIED: json.dumps(SERVICE)}},
    "spec": {"selector": {"app": "eureka"}, "type": "ClusterIP", "clusterIP": "10.96.0.12",
             "ports": [{"name": "http", "port": 8761, "targetPort": "http", "protocol": "TCP"}]},
    "status": {"loadBalancer": {}},
}
EDITED = {**SERVED, "spec": {**SERVED["spec"], "selector": {"app": "other"}}}


@pytest.mark.parametrize("live, expected", [
    (None, True),
    (SERVED, False),
    (EDITED, True),
    ({**SERVED, "metadata": {"name": "eureka", "namespace": "eureka"}}, True),
])
def test_needs_apply(live, expected):
    assert needs_apply(SERVICE, live) is expected


@pytest.mark.parametrize("live, expected", [(None, True), (SERVED, False), (EDITED, True)])
def test_needs_apply_in_a_template(live, expected):
    templar = Templar(loader=DataLoader(), variables={"desired": SERVICE, "live": live})
    assert templar.template(trust_as_template("{{ desired | kubeops.platform.needs_apply(live) }}")) is expected


@pytest.mark.parametrize("desired, live, message", [
    ("kind: Service", None, "desired manifest 'kind: Service' must be a dict (got str)"),
    (SERVICE, [SERVED], f"live object {json.dumps([SERVED])} must be a dict or null (got list)"),
    (SERVICE, 3, "live object 3 must be a dict or null (got int)"),
])
def test_needs_apply_errors(desired, live, message):
    with pytest.raises(AnsibleFilterError, match=f"^{re.escape(message)}$"):
        needs_apply(desired, live)
