"""The selector_match filter."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.platform.plugins.filter.selector_match import FilterModule

selector_match = FilterModule().filters()["selector_match"]

GITLAB = {"app": "gitlab", "component": "web"}
REDIS = {"app": "gitlab", "component": "redis"}


@pytest.mark.parametrize("labels, selector, expected", [
    (GITLAB, "app=gitlab", True),
    (GITLAB, "app=web", False),
    (GITLAB, "component notin (redis,postgres)", True),
    (REDIS, "component notin (redis,postgres)", False),
    (REDIS, {"app": "gitlab"}, True),
    (None, "release!=canary", True),
    (None, "release", False),
])
def test_selector_match(labels, selector, expected):
    assert selector_match(labels, selector) is expected


@pytest.mark.parametrize("labels, selector, message", [
    (GITLAB, "app in (gitlab", "label selector 'app in (gitlab' is invalid: missing ')' after values of 'app'"),
    (["app=gitlab"], "app=gitlab",
     "labels [\"app=gitlab\"] must be a dict of label keys to values (got list)"),
])
def test_selector_match_errors(labels, selector, message):
    with pytest.raises(AnsibleFilterError, match=f"^{re.escape(message)}$"):
        selector_match(labels, selector)
