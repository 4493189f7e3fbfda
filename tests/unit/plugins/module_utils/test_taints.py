"""Taint syntax, validation, and the new spec.taints of a node."""

from __future__ import annotations

import re

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils._taints import (
    EFFECTS,
    apply_taints,
    format_taint,
    parse_taint,
)

SYNTAX = "key=value:Effect, key:Effect or key=:Effect"
EFFECT_LIST = "NoSchedule, PreferNoSchedule, NoExecute"
NAME_RULE = "must start and end with an alphanumeric character and contain only [A-Za-z0-9_.-]"


def taint(key, effect=None, value=None, **extra):
    result = {"key": key}
    if value is not None:
        result["value"] = value
    if effect is not None:
        result["effect"] = effect
    result.update(extra)
    return result


@pytest.mark.parametrize("spec, expected", [
    ("dedicated=gitlab:NoSchedule", taint("dedicated", "NoSchedule", "gitlab")),
    ("tag=wever:PreferNoSchedule", taint("tag", "PreferNoSchedule", "wever")),
    ("tag=wever:NoExecute", taint("tag", "NoExecute", "wever")),
    ("gitlab/middleware:NoSchedule", taint("gitlab/middleware", "NoSchedule")),
    ("gitlab/middleware=:NoSchedule", taint("gitlab/middleware", "NoSchedule")),
    ("node-role.kubernetes.io/control-plane:NoSchedule", taint("node-role.kubernetes.io/control-plane", "NoSchedule")),
    ("  dedicated=gitlab:NoSchedule\n", taint("dedicated", "NoSchedule", "gitlab")),
    ({"key": "dedicated", "value": "gitlab", "effect": "NoSchedule"}, taint("dedicated", "NoSchedule", "gitlab")),
    ({"key": "dedicated", "value": "", "effect": "NoSchedule"}, taint("dedicated", "NoSchedule")),
    ({"key": "dedicated", "value": None, "effect": "NoSchedule"}, taint("dedicated", "NoSchedule")),
    ({"key": "unreachable", "effect": "NoExecute", "timeAdded": "2024-05-01T10:00:00Z"},
     taint("unreachable", "NoExecute", timeAdded="2024-05-01T10:00:00Z")),
])
def test_parse_taint(spec, expected):
    assert parse_taint(spec) == expected


@pytest.mark.parametrize("spec, expected", [
    ("dedicated", taint("dedicated")),
    ("dedicated=gitlab", taint("dedicated", value="gitlab")),
    ("dedicated:NoExecute", taint("dedicated", "NoExecute")),
    ({"key": "dedicated"}, taint("dedicated")),
    ({"key": "dedicated", "effect": ""}, taint("dedicated")),
])
def test_parse_taint_without_required_effect(spec, expected):
    assert parse_taint(spec, require_effect=False) == expected


@pytest.mark.parametrize("spec, message", [
    # the notebook's toleration effect typo and its variants
    ("tag=wever:NoExcude", f"taint effect 'NoExcude' is not one of {EFFECT_LIST} (did you mean 'NoExecute'?)"),
    ("tag=wever:NoExcute", f"taint effect 'NoExcute' is not one of {EFFECT_LIST} (did you mean 'NoExecute'?)"),
    ("tag:noschedule", f"taint effect 'noschedule' is not one of {EFFECT_LIST} (did you mean 'NoSchedule'?)"),
    ("tag:Evict", f"taint effect 'Evict' is not one of {EFFECT_LIST}"),
    ({"key": "tag", "effect": "NoExcute"},
     f"taint effect 'NoExcute' is not one of {EFFECT_LIST} (did you mean 'NoExecute'?)"),
    ({"key": "tag", "effect": 1}, f"taint effect 1 is not one of {EFFECT_LIST}"),
    ("dedicated", f"taint 'dedicated' has no effect: write it as {SYNTAX}, where Effect is one of {EFFECT_LIST}"),
    ("dedicated=gitlab",
     f"taint 'dedicated=gitlab' has no effect: write it as {SYNTAX}, where Effect is one of {EFFECT_LIST}"),
    ({"key": "dedicated", "value": "gitlab"},
     f'taint {{"key": "dedicated", "value": "gitlab"}} has no effect: write it as {SYNTAX}, '
     f"where Effect is one of {EFFECT_LIST}"),
    ("dedicated:", f"taint 'dedicated:' has an empty effect after ':'; expected one of {EFFECT_LIST}"),
    ("dedicated-", "taint 'dedicated-' ends with '-', kubectl's syntax for removal: use state=absent to remove a taint"),
    ("tag=wever:PreferNoSchedule-",
     "taint 'tag=wever:PreferNoSchedule-' ends with '-', kubectl's syntax for removal: "
     "use state=absent to remove a taint"),
    ("a:b:NoSchedule", f"taint 'a:b:NoSchedule' is invalid: more than one ':'; expected {SYNTAX}"),
    ("a=b=c:NoSchedule", f"taint 'a=b=c:NoSchedule' is invalid: more than one '='; expected {SYNTAX}"),
    ("-tag=x:NoSchedule", f"taint key '-tag' is invalid: name part '-tag' {NAME_RULE}"),
    ("=x:NoSchedule", "taint key '' is invalid: name part must not be empty"),
    ("Example.com/tag:NoSchedule", "taint key 'Example.com/tag' is invalid: prefix part 'Example.com' must be a DNS "
                                   "subdomain: lowercase alphanumerics, '-' and '.', with every dot-separated part "
                                   "starting and ending with an alphanumeric character"),
    ("tag=a b:NoSchedule",
     "taint 'tag' value 'a b' is invalid: must be empty or start and end with an alphanumeric character "
     "and contain only [A-Za-z0-9_.-]"),
    ({"key": "tag", "value": 1, "effect": "NoSchedule"},
     "taint 'tag' value 1 is invalid: values are strings in Kubernetes; quote it, e.g. \"1\""),
    ({"key": "tag", "operator": "Exists", "effect": "NoSchedule"},
     "taint {\"key\": \"tag\", \"operator\": \"Exists\", \"effect\": \"NoSchedule\"} has unknown field(s) "
     "'operator': a taint has only key, value, effect, timeAdded"),
    ({"value": "x", "effect": "NoSchedule"}, 'taint {"value": "x", "effect": "NoSchedule"} has no key'),
    ({"key": "", "effect": "NoSchedule"}, 'taint {"key": "", "effect": "NoSchedule"} has no key'),
    (5, f"taint 5 is invalid: expected a string like {SYNTAX} or a dict with key, value and effect (got int)"),
    (None, f"taint None is invalid: expected a string like {SYNTAX} or a dict with key, value and effect "
           "(got NoneType)"),
])
def test_parse_taint_rejects(spec, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_taint(spec)


def test_removal_syntax_is_rejected_even_when_effect_is_optional():
    with pytest.raises(ValueError, match=re.escape("use state=absent to remove a taint")):
        parse_taint("dedicated-", require_effect=False)


@pytest.mark.parametrize("effect", EFFECTS)
def test_every_effect_round_trips(effect):
    assert format_taint(parse_taint(f"k=v:{effect}")) == f"k=v:{effect}"


@pytest.mark.parametrize("spec, expected", [
    (taint("dedicated", "NoSchedule", "gitlab"), "dedicated=gitlab:NoSchedule"),
    (taint("gitlab/middleware", "NoSchedule"), "gitlab/middleware:NoSchedule"),
    (taint("gitlab/middleware", "NoSchedule", ""), "gitlab/middleware:NoSchedule"),
    (taint("dedicated"), "dedicated"),
    (taint("dedicated", value="gitlab"), "dedicated=gitlab"),
    (taint("unreachable", "NoExecute", timeAdded="2024-05-01T10:00:00Z"), "unreachable:NoExecute"),
    ("gitlab/middleware=:NoSchedule", "gitlab/middleware:NoSchedule"),
])
def test_format_taint(spec, expected):
    assert format_taint(spec) == expected


def test_format_taint_validates():
    with pytest.raises(ValueError, match=re.escape("taint effect 'NoExcute' is not one of")):
        format_taint({"key": "tag", "effect": "NoExcute"})


T_A = taint("dedicated", "NoSchedule", "gitlab")
T_A2 = taint("dedicated", "NoSchedule", "runner")
T_A_EXEC = taint("dedicated", "NoExecute", "gitlab")
T_B = taint("gitlab/middleware", "NoSchedule")
T_C = taint("gitlab/runner", "PreferNoSchedule", "yes")
T_CP = taint("node-role.kubernetes.io/control-plane", "NoSchedule")
T_UNREACHABLE = taint("node.kubernetes.io/unreachable", "NoExecute", timeAdded="2024-05-01T10:00:00Z")


@pytest.mark.parametrize("current, wanted, state, prefixes, expected", [
    # present: add, keep, update the value in place
    ([], [T_A], "present", None, [T_A]),
    ([T_CP], [T_A, T_B], "present", None, [T_CP, T_A, T_B]),
    ([T_A, T_CP], [T_A], "present", None, [T_A, T_CP]),
    ([T_A, T_CP], [T_A2], "present", None, [T_A2, T_CP]),
    ([T_A], [T_A_EXEC], "present", None, [T_A, T_A_EXEC]),
    ([dict(T_A, timeAdded="t0")], [T_A2], "present", None, [dict(T_A2, timeAdded="t0")]),
    ([T_A], [taint("dedicated", "NoSchedule")], "present", None, [taint("dedicated", "NoSchedule")]),
    ([taint("dedicated", "NoSchedule", "")], [taint("dedicated", "NoSchedule")], "present", None,
     [taint("dedicated", "NoSchedule", "")]),
    # absent: key alone removes every effect; the value is ignored
    ([T_A, T_A_EXEC, T_CP], [taint("dedicated")], "absent", None, [T_CP]),
    ([T_A, T_A_EXEC, T_CP], [taint("dedicated", "NoExecute")], "absent", None, [T_A, T_CP]),
    ([T_A, T_CP], [T_A2], "absent", None, [T_CP]),
    ([T_CP], [T_A], "absent", None, [T_CP]),
    ([T_UNREACHABLE, T_A], [T_A], "absent", None, [T_UNREACHABLE]),
    # exact: the whole set, or only the keys under the prefixes
    # exact never removes Kubernetes' own taints unless a prefix names their domain
    ([T_CP, T_A, T_B], [T_B, T_C], "exact", None, [T_CP, T_B, T_C]),
    ([T_CP, T_B], [], "exact", None, [T_CP]),
    ([T_CP, T_UNREACHABLE, T_B], [], "exact", ["node-role.kubernetes.io/"], [T_UNREACHABLE, T_B]),
    ([T_CP, T_UNREACHABLE], [], "exact", ["node"], [T_CP, T_UNREACHABLE]),
    ([T_CP, T_B, T_UNREACHABLE], [T_C], "exact", ["gitlab/"], [T_CP, T_UNREACHABLE, T_C]),
    ([T_CP, T_B], [T_B], "exact", ["gitlab/"], [T_CP, T_B]),
    ([T_B, T_CP], [taint("gitlab/middleware", "NoSchedule", "true")], "exact", ["gitlab/"],
     [taint("gitlab/middleware", "NoSchedule", "true"), T_CP]),
    ([T_A, T_B], [T_B], "exact", ["gitlab/", "dedicated"], [T_B]),
    ([T_A, T_B], [T_A], "exact", [], [T_A]),
])
def test_apply_taints(current, wanted, state, prefixes, expected):
    before = [dict(t) for t in current]
    assert apply_taints(current, wanted, state, prefixes) == expected
    assert current == before


@pytest.mark.parametrize("current, wanted, state", [
    ([T_A, T_CP], [T_A], "present"),
    ([T_A, T_CP], [T_A_EXEC], "absent"),
    ([T_A, T_CP], [T_CP, T_A], "exact"),
    ([dict(T_A, timeAdded="t0")], [T_A], "exact"),
])
def test_apply_taints_unchanged_equals_current(current, wanted, state):
    assert apply_taints(current, wanted, state) == current


@pytest.mark.parametrize("wanted, state, prefixes, message", [
    ([T_A, T_A2], "present", None,
     "taint key 'dedicated' with effect NoSchedule is listed more than once: "
     "a node has at most one taint per key and effect"),
    ([taint("dedicated"), taint("dedicated")], "absent", None,
     "taint key 'dedicated' is listed more than once: a node has at most one taint per key and effect"),
    ([taint("dedicated")], "present", None,
     f"taint 'dedicated' has no effect: state=present needs {SYNTAX}, where Effect is one of {EFFECT_LIST}"),
    ([taint("dedicated", value="x")], "exact", None,
     f"taint 'dedicated=x' has no effect: state=exact needs {SYNTAX}, where Effect is one of {EFFECT_LIST}"),
    ([T_A], "exact", ["gitlab/"],
     "taint key 'dedicated' does not start with any of the managed prefixes 'gitlab/': "
     "state=exact manages only those keys"),
    ([T_A], "replaced", None, "taint state 'replaced' is not one of present, absent, exact"),
    ([T_A], "Present", None, "taint state 'Present' is not one of present, absent, exact (did you mean 'present'?)"),
])
def test_apply_taints_rejects(wanted, state, prefixes, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        apply_taints([], wanted, state, prefixes)
