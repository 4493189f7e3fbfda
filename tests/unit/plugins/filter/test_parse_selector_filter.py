"""The parse_selector filter."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.platform.plugins.filter.parse_selector import FilterModule

parse_selector = FilterModule().filters()["parse_selector"]


@pytest.mark.parametrize("value, expected", [
    ("", {}),
    ("k8s-app=kube-dns", {"matchLabels": {"k8s-app": "kube-dns"}}),
    ("app=gitlab,tier in (web,api),!canary",
     {"matchLabels": {"app": "gitlab"},
      "matchExpressions": [{"key": "tier", "operator": "In", "values": ["api", "web"]},
                           {"key": "canary", "operator": "DoesNotExist"}]}),
    ("release!=canary,track", {"matchExpressions": [{"key": "release", "operator": "NotIn", "values": ["canary"]},
                                                    {"key": "track", "operator": "Exists"}]}),
])
def test_parse_selector(value, expected):
    assert parse_selector(value) == expected


@pytest.mark.parametrize("value, message", [
    ("app in (a", "label selector 'app in (a' is invalid: missing ')' after values of 'app'"),
    ("app=web,", "label selector 'app=web,' is invalid: expected a label key, found end of input"),
    (None, "label selector None is invalid: expected a string like 'app=web,tier!=db' (got NoneType)"),
])
def test_parse_selector_errors(value, message):
    with pytest.raises(AnsibleFilterError, match=f"^{re.escape(message)}$"):
        parse_selector(value)
