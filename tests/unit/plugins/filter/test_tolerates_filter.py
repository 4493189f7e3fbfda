"""The tolerates filter."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.platform.plugins.filter.tolerates import FilterModule

tolerates = FilterModule().filters()["tolerates"]

REDIS_TOLERATIONS = [{"key": "gitlab/middleware", "effect": "NoSchedule"}]


@pytest.mark.parametrize("tolerations, taints, expected", [
    (REDIS_TOLERATIONS, ["gitlab/middleware=:NoSchedule"], []),
    (REDIS_TOLERATIONS, [{"key": "gitlab/middleware", "effect": "NoSchedule"}], []),
    (REDIS_TOLERATIONS, ["gitlab/middleware:NoSchedule", "tag=wever:NoExecute"],
     [{"key": "tag", "value": "wever", "effect": "NoExecute"}]),
    ([], ["gitlab/middleware:NoSchedule"], [{"key": "gitlab/middleware", "effect": "NoSchedule"}]),
    (None, [], []),
    ([{"operator": "Exists"}], ["a:NoSchedule", "b=c:NoExecute"], []),
])
def test_tolerates(tolerations, taints, expected):
    assert tolerates(tolerations, taints) == expected


@pytest.mark.parametrize("tolerations, taints, message", [
    ([{"key": "tag", "operator": "Equal", "value": "wever", "effect": "NoExcude"}], ["tag=wever:NoExecute"],
     "toleration {\"key\": \"tag\", \"operator\": \"Equal\", \"value\": \"wever\", \"effect\": \"NoExcude\"} "
     "is invalid: effect 'NoExcude' is not one of NoSchedule, PreferNoSchedule, NoExecute (did you mean 'NoExecute'?)"),
    ([], ["tag=wever"], "taint 'tag=wever' has no effect: write it as key=value:Effect, key:Effect or key=:Effect, "
                        "where Effect is one of NoSchedule, PreferNoSchedule, NoExecute"),
    ([], "tag:NoSchedule", "taints must be a list of taints (got str)"),
])
def test_tolerates_errors(tolerations, taints, message):
    with pytest.raises(AnsibleFilterError, match=f"^{re.escape(message)}$"):
        tolerates(tolerations, taints)
