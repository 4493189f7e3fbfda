"""The format_selector filter."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.platform.plugins.filter.format_selector import FilterModule

format_selector = FilterModule().filters()["format_selector"]


@pytest.mark.parametrize("value, expected", [
    ({"matchLabels": {"app": "gitlab"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]},
     "app=gitlab,tier!=db"),
    ({"app": "gitlab", "component": "web"}, "app=gitlab,component=web"),
    ("tier in (web, api) , app = gitlab", "app=gitlab,tier in (api,web)"),
    ({}, ""),
])
def test_format_selector(value, expected):
    assert format_selector(value) == expected


@pytest.mark.parametrize("value, message", [
    ({"matchExpressions": [{"key": "app", "operator": "Exist"}]},
     "label selector {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"Exist\"}]} is invalid: "
     "match expression on 'app': operator 'Exist' is not one of In, NotIn, Exists, DoesNotExist "
     "(did you mean 'Exists'?)"),
    ("app in ()", "label selector 'app in ()' is invalid: 'in' on 'app' needs at least one value"),
    (5, "label selector 5 is invalid: expected a string like 'app=web' or a dict (got int)"),
])
def test_format_selector_errors(value, message):
    with pytest.raises(AnsibleFilterError, match=f"^{re.escape(message)}$"):
        format_selector(value)
