"""The format_taint filter."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.platform.plugins.filter.format_taint import FilterModule

format_taint = FilterModule().filters()["format_taint"]


@pytest.mark.parametrize("value, expected", [
    ({"key": "dedicated", "value": "gitlab", "effect": "NoSchedule"}, "dedicated=gitlab:NoSchedule"),
    ({"key": "gitlab/middleware", "effect": "NoSchedule"}, "gitlab/middleware:NoSchedule"),
    ({"key": "dedicated"}, "dedicated"),
    ("gitlab/middleware=:NoSchedule", "gitlab/middleware:NoSchedule"),
    ([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-05-01T10:00:00Z"},
      {"key": "tag", "value": "wever", "effect": "PreferNoSchedule"}],
     ["node.kubernetes.io/unreachable:NoExecute", "tag=wever:PreferNoSchedule"]),
])
def test_format_taint(value, expected):
    assert format_taint(value) == expected


@pytest.mark.parametrize("value, message", [
    ({"key": "tag", "effect": "NoExcute"},
     "taint effect 'NoExcute' is not one of NoSchedule, PreferNoSchedule, NoExecute (did you mean 'NoExecute'?)"),
    ([{"key": "tag", "operator": "Exists"}],
     "taint {\"key\": \"tag\", \"operator\": \"Exists\"} has unknown field(s) 'operator': "
     "a taint has only key, value, effect, timeAdded"),
    ({"effect": "NoSchedule"}, "taint {\"effect\": \"NoSchedule\"} has no key"),
])
def test_format_taint_errors(value, message):
    with pytest.raises(AnsibleFilterError, match=f"^{re.escape(message)}$"):
        format_taint(value)
