"""The parse_taint filter."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.platform.plugins.filter.parse_taint import FilterModule

parse_taint = FilterModule().filters()["parse_taint"]


@pytest.mark.parametrize("value, args, expected", [
    ("gitlab/middleware=:NoSchedule", (), {"key": "gitlab/middleware", "effect": "NoSchedule"}),
    ("tag=wever:NoExecute", (), {"key": "tag", "value": "wever", "effect": "NoExecute"}),
    ({"key": "tag", "value": "", "effect": "NoSchedule"}, (), {"key": "tag", "effect": "NoSchedule"}),
    (["a=1:NoSchedule", "b:NoExecute"], (),
     [{"key": "a", "value": "1", "effect": "NoSchedule"}, {"key": "b", "effect": "NoExecute"}]),
    ("dedicated", (False,), {"key": "dedicated"}),
    ([], (), []),
])
def test_parse_taint(value, args, expected):
    assert parse_taint(value, *args) == expected


@pytest.mark.parametrize("value, message", [
    ("tag=wever:NoExcute",
     "taint effect 'NoExcute' is not one of NoSchedule, PreferNoSchedule, NoExecute (did you mean 'NoExecute'?)"),
    (["a:NoSchedule", "b:NoExcude"],
     "taint effect 'NoExcude' is not one of NoSchedule, PreferNoSchedule, NoExecute (did you mean 'NoExecute'?)"),
    ("dedicated-", "taint 'dedicated-' ends with '-', kubectl's syntax for removal: use state=absent to remove a taint"),
    ("dedicated", "taint 'dedicated' has no effect: write it as key=value:Effect, key:Effect or key=:Effect, "
                  "where Effect is one of NoSchedule, PreferNoSchedule, NoExecute"),
])
def test_parse_taint_errors(value, message):
    with pytest.raises(AnsibleFilterError, match=f"^{re.escape(message)}$"):
        parse_taint(value)
