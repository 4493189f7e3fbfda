"""Tolerations against taints, with the scheduler's rules (Toleration.ToleratesTaint)."""

from __future__ import annotations

import re

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils._taints import parse_taint
from ansible_collections.kubeops.platform.plugins.module_utils._tolerations import (
    untolerated_taints,
    validate_toleration,
)
from ansible_collections.kubeops.platform.plugins.module_utils._validation import show

EFFECTS = "NoSchedule, PreferNoSchedule, NoExecute"


def tol(key=None, operator=None, value=None, effect=None, **extra):
    fields = {"key": key, "operator": operator, "value": value, "effect": effect, **extra}
    return {name: v for name, v in fields.items() if v is not None}


# Rules from the Kubernetes "Taints and Tolerations" page: keys and effects must be the same,
# Exists needs no value, Equal compares values, an empty effect matches all effects, and an
# empty key with Exists matches every taint.
@pytest.mark.parametrize("toleration, taint, tolerated", [
    (tol("key1", "Equal", "value1", "NoSchedule"), "key1=value1:NoSchedule", True),
    (tol("key1", "Equal", "value1", "NoSchedule"), "key1=value2:NoSchedule", False),
    (tol("key1", "Equal", "value1", "NoSchedule"), "key1=value1:NoExecute", False),
    (tol("key1", "Equal", "value1", "NoSchedule"), "key2=value1:NoSchedule", False),
    (tol("key1", "Exists", effect="NoSchedule"), "key1=value1:NoSchedule", True),
    (tol("key1", "Exists", effect="NoSchedule"), "key1:NoSchedule", True),
    (tol("key1", "Exists", effect="NoSchedule"), "key1=x:PreferNoSchedule", False),
    (tol("key1", "Exists"), "key1=anything:NoExecute", True),
    (tol("key1", "Equal", "value1"), "key1=value1:PreferNoSchedule", True),
    (tol("key1", "Equal", "value1"), "key1=value1:NoExecute", True),
    (tol(operator="Exists"), "key1=value1:NoExecute", True),
    (tol(operator="Exists"), "node-role.kubernetes.io/control-plane:NoSchedule", True),
    (tol(operator="Exists", effect="NoExecute"), "key1=value1:NoExecute", True),
    (tol(operator="Exists", effect="NoExecute"), "key1=value1:NoSchedule", False),
    # operator defaults to Equal, value to empty
    (tol("key1", value="value1", effect="NoSchedule"), "key1=value1:NoSchedule", True),
    (tol("key1", value="value1", effect="NoSchedule"), "key1=value2:NoSchedule", False),
    (tol("gitlab/middleware", effect="NoSchedule"), "gitlab/middleware=:NoSchedule", True),
    (tol("gitlab/middleware", effect="NoSchedule"), "gitlab/middleware=yes:NoSchedule", False),
    (tol("key1", "Equal", "", "NoSchedule"), {"key": "key1", "effect": "NoSchedule"}, True),
    (tol("node.kubernetes.io/unreachable", "Exists", effect="NoExecute", tolerationSeconds=300),
     {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-05-01T10:00:00Z"}, True),
])
def test_toleration_rules(toleration, taint, tolerated):
    assert untolerated_taints([toleration], [taint]) == ([] if tolerated else [parse_taint(taint)])


def test_kubernetes_docs_example_leaves_the_third_taint():
    taints = ["key1=value1:NoSchedule", "key1=value1:NoExecute", "key2=value2:NoSchedule"]
    tolerations = [tol("key1", "Equal", "value1", "NoSchedule"), tol("key1", "Equal", "value1", "NoExecute")]
    assert untolerated_taints(tolerations, taints) == [{"key": "key2", "value": "value2", "effect": "NoSchedule"}]


def test_untolerated_taints_keep_their_order_and_fields():
    taints = [
        {"key": "b", "effect": "NoExecute", "timeAdded": "2024-05-01T10:00:00Z"},
        "a=1:NoSchedule",
        "c:PreferNoSchedule",
    ]
    assert untolerated_taints(None, taints) == [
        {"key": "b", "effect": "NoExecute", "timeAdded": "2024-05-01T10:00:00Z"},
        {"key": "a", "value": "1", "effect": "NoSchedule"},
        {"key": "c", "effect": "PreferNoSchedule"},
    ]


@pytest.mark.parametrize("tolerations, taints", [(None, None), ([], []), ([tol(operator="Exists")], None)])
def test_nothing_to_tolerate(tolerations, taints):
    assert untolerated_taints(tolerations, taints) == []


@pytest.mark.parametrize("toleration, expected", [
    ({"key": "k"}, {"key": "k", "operator": "Equal", "value": "", "effect": ""}),
    ({"operator": "Exists"}, {"key": "", "operator": "Exists", "value": "", "effect": ""}),
    ({"key": "k", "operator": "Exists", "value": None, "effect": "NoExecute", "tolerationSeconds": 60},
     {"key": "k", "operator": "Exists", "value": "", "effect": "NoExecute"}),
])
def test_validate_toleration_fills_defaults(toleration, expected):
    assert validate_toleration(toleration) == expected


@pytest.mark.parametrize("toleration, problem", [
    # the notebook's pod-toleration.yaml
    (tol("tag", "Equal", "wever", "NoExcude"),
     f"effect 'NoExcude' is not one of {EFFECTS} (did you mean 'NoExecute'?)"),
    (tol("tag", "Equal", "wever", "noschedule"),
     f"effect 'noschedule' is not one of {EFFECTS} (did you mean 'NoSchedule'?)"),
    (tol("tag", "exists"), "operator 'exists' is not one of Equal, Exists (did you mean 'Exists'?)"),
    (tol("tag", "Gt", "1"), "operator 'Gt' is not one of Equal, Exists"),
    (tol("tag", "Exists", "wever"), "value 'wever' must be empty when operator is Exists"),
    (tol(operator="Equal", value="x"),
     "operator must be Exists when key is empty (an empty key with Exists tolerates every taint)"),
    (tol(value="x"), "operator must be Exists when key is empty (an empty key with Exists tolerates every taint)"),
    (tol("tag", "Equal", "a b"),
     "toleration 'tag' value 'a b' is invalid: must be empty or start and end with an alphanumeric character "
     "and contain only [A-Za-z0-9_.-]"),
    (tol("tag", "Equal", 5), "toleration 'tag' value 5 is invalid: values are strings in Kubernetes; quote it, e.g. \"5\""),
    (tol("-tag", "Exists"),
     "key '-tag' is invalid: name part '-tag' must start and end with an alphanumeric character "
     "and contain only [A-Za-z0-9_.-]"),
    (tol("tag", "Exists", effect="NoSchedule", tolerationSeconds=60), "tolerationSeconds is set, so effect must be NoExecute"),
    (tol("tag", "Exists", tolerationSeconds=60), "tolerationSeconds is set, so effect must be NoExecute"),
    (tol("tag", "Exists", tolerationseconds=60),
     "unknown field(s) 'tolerationseconds': a toleration has only key, operator, value, effect, tolerationSeconds"),
])
def test_invalid_tolerations(toleration, problem):
    message = f"toleration {show(toleration)} is invalid: {problem}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        untolerated_taints([toleration], [])


@pytest.mark.parametrize("tolerations, taints, message", [
    (["tag:NoSchedule"], [], "toleration 'tag:NoSchedule' is invalid: expected a dict with key, operator, value "
                             "and effect (got str)"),
    ({"key": "tag"}, [], "tolerations must be a list of dicts (got dict)"),
    ([], "tag:NoSchedule", "taints must be a list of taints (got str)"),
    ([], ["tag=wever:NoExcute"],
     f"taint effect 'NoExcute' is not one of {EFFECTS} (did you mean 'NoExecute'?)"),
    ([], ["tag"], f"taint 'tag' has no effect: write it as key=value:Effect, key:Effect or key=:Effect, "
                  f"where Effect is one of {EFFECTS}"),
])
def test_invalid_arguments(tolerations, taints, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        untolerated_taints(tolerations, taints)
