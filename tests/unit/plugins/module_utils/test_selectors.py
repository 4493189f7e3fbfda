"""Label selector syntax, canonical form, and Kubernetes matching semantics."""

from __future__ import annotations

import re

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils._selectors import (
    format_selector,
    normalize_selector,
    parse_selector,
    selector_match,
)
from ansible_collections.kubeops.platform.plugins.module_utils._validation import show

NAME_RULE = "must start and end with an alphanumeric character and contain only [A-Za-z0-9_.-]"
VALUE_RULE = "must be empty or start and end with an alphanumeric character and contain only [A-Za-z0-9_.-]"


def expr(key, operator, *values):
    result = {"key": key, "operator": operator}
    if operator in ("In", "NotIn"):
        result["values"] = list(values)
    return result


@pytest.mark.parametrize("text, expected", [
    ("", {}),
    ("   ", {}),
    ("app=web", {"matchLabels": {"app": "web"}}),
    ("app==web", {"matchLabels": {"app": "web"}}),
    ("k8s-app=kube-dns", {"matchLabels": {"k8s-app": "kube-dns"}}),
    ("gitlab/middleware=", {"matchLabels": {"gitlab/middleware": ""}}),
    ("app!=web", {"matchExpressions": [expr("app", "NotIn", "web")]}),
    ("app!=", {"matchExpressions": [expr("app", "NotIn", "")]}),
    ("tier in (web,api)", {"matchExpressions": [expr("tier", "In", "api", "web")]}),
    ("tier notin (db)", {"matchExpressions": [expr("tier", "NotIn", "db")]}),
    ("tier in (web,web)", {"matchExpressions": [expr("tier", "In", "web")]}),
    ("tier in (a,)", {"matchExpressions": [expr("tier", "In", "", "a")]}),
    ("tier in (,a)", {"matchExpressions": [expr("tier", "In", "", "a")]}),
    ("tier in (in,notin)", {"matchExpressions": [expr("tier", "In", "in", "notin")]}),
    ("canary", {"matchExpressions": [expr("canary", "Exists")]}),
    ("!canary", {"matchExpressions": [expr("canary", "DoesNotExist")]}),
    ("app=in", {"matchLabels": {"app": "in"}}),
    ("  app = web ,tier in( api , web ) ,  ! canary,release",
     {"matchLabels": {"app": "web"},
      "matchExpressions": [expr("tier", "In", "api", "web"), expr("canary", "DoesNotExist"),
                           expr("release", "Exists")]}),
    ("a=1,a=2", {"matchLabels": {"a": "1"}, "matchExpressions": [expr("a", "In", "2")]}),
    ("a!=1,a!=2", {"matchExpressions": [expr("a", "NotIn", "1"), expr("a", "NotIn", "2")]}),
])
def test_parse_selector(text, expected):
    assert parse_selector(text) == expected


@pytest.mark.parametrize("text, problem", [
    ("app in (a", "missing ')' after values of 'app'"),
    ("app in (a,b", "missing ')' after values of 'app'"),
    ("app in a", "expected '(' after 'in' for 'app', found 'a'"),
    ("app notin", "expected '(' after 'notin' for 'app', found end of input"),
    ("app in ()", "'in' on 'app' needs at least one value"),
    ("app notin ()", "'notin' on 'app' needs at least one value"),
    ("app in (a b)", "expected ',' or ')' between values of 'app', found 'b'"),
    ("app in (a,=)", "expected a value, ',' or ')' in values of 'app', found '='"),
    ("!app=web", "'!app' takes no operator or value: write '!app' alone for 'app does not exist', or 'app!=value'"),
    ("!", "expected a label key after '!', found end of input"),
    ("!!app", "expected a label key after '!', found '!'"),
    ("app web", "expected an operator (=, ==, !=, in, notin), ',' or end of input after 'app', found 'web'"),
    ("app (web)", "expected an operator (=, ==, !=, in, notin), ',' or end of input after 'app', found '('"),
    ("app=web tier=db", "expected ',' or end of input after the requirement on 'app', found 'tier'"),
    ("app=web)", "expected ',' or end of input after the requirement on 'app', found ')'"),
    (",", "expected a label key, found ','"),
    ("app=web,", "expected a label key, found end of input"),
    ("app=web,,tier=db", "expected a label key, found ','"),
    ("=web", "expected a label key, found '='"),
    ("in=web", "expected a label key, found 'in'"),
    ("app=(", "expected a value after '=' for 'app', found '('"),
    ("app===web", "expected a value after '==' for 'app', found '='"),
    ("app!=!web", "expected a value after '!=' for 'app', found '!'"),
    ("replicas>1", "operator '>' on 'replicas' is not supported: use =, ==, !=, in, notin, "
                   "'key' (exists) or '!key' (does not exist)"),
    ("replicas<1", "operator '<' on 'replicas' is not supported: use =, ==, !=, in, notin, "
                   "'key' (exists) or '!key' (does not exist)"),
    ("-app=web", f"label key '-app' is invalid: name part '-app' {NAME_RULE}"),
    ("Example.com/app", "label key 'Example.com/app' is invalid: prefix part 'Example.com' must be a DNS subdomain: "
                        "lowercase alphanumerics, '-' and '.', with every dot-separated part starting and ending "
                        "with an alphanumeric character"),
    ("app=web@1", f"label 'app' value 'web@1' is invalid: {VALUE_RULE}"),
    ("app in (web,-x)", f"label 'app' value '-x' is invalid: {VALUE_RULE}"),
])
def test_parse_selector_rejects(text, problem):
    message = f"label selector '{text}' is invalid: {problem}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_selector(text)


@pytest.mark.parametrize("value, message", [
    (None, "label selector None is invalid: expected a string like 'app=web,tier!=db' (got NoneType)"),
    ({"app": "web"}, "label selector {\"app\": \"web\"} is invalid: expected a string like 'app=web,tier!=db' "
                     "(got dict)"),
])
def test_parse_selector_needs_a_string(value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_selector(value)


@pytest.mark.parametrize("selector, expected", [
    ("", ""),
    ({}, ""),
    (None, ""),
    ("app = web", "app=web"),
    ("tier in (web, api), app==gitlab", "app=gitlab,tier in (api,web)"),
    ("app!=web", "app!=web"),
    ("tier notin (db,cache)", "tier notin (cache,db)"),
    ("!canary,canary2", "!canary,canary2"),
    ("gitlab/middleware=", "gitlab/middleware="),
    ("a=1,a=2", "a=1,a=2"),
    ("x in (a,)", "x in (,a)"),
    ({"app": "gitlab"}, "app=gitlab"),
    ({"matchLabels": {"app": "gitlab"}}, "app=gitlab"),
    ({"matchLabels": None, "matchExpressions": None}, ""),
    ({"matchLabels": {"app": "gitlab"},
      "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]},
                           {"key": "canary", "operator": "DoesNotExist"},
                           {"key": "release", "operator": "Exists", "values": []},
                           {"key": "zone", "operator": "In", "values": ["b", "a"]}]},
     "app=gitlab,!canary,release,tier!=db,zone in (a,b)"),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}, "tier=web"),
])
def test_format_selector(selector, expected):
    assert format_selector(selector) == expected


@pytest.mark.parametrize("text", [
    "app=web", "app!=web", "tier in (a,b),!x,y", "a=1,a=2", "x notin (,a)", "k=", "gitlab/middleware",
])
def test_format_then_parse_keeps_the_meaning(text):
    assert parse_selector(format_selector(text)) == parse_selector(text)


@pytest.mark.parametrize("selector, problem", [
    ({"matchLabels": {"app": "web"}, "tier": "db"},
     "it mixes matchLabels with plain labels 'tier'; put those labels under matchLabels"),
    ({"matchLabels": ["app=web"]}, "matchLabels must be a dict of label keys to values (got list)"),
    ({"matchLabels": {"app": 1}}, "label 'app' value 1 is invalid: values are strings in Kubernetes; "
                                  "quote it, e.g. \"1\""),
    ({"app": True}, "label 'app' value True is invalid: values are strings in Kubernetes; quote it, e.g. \"true\""),
    ({"-app": "web"}, f"label key '-app' is invalid: name part '-app' {NAME_RULE}"),
    ({"matchExpressions": {"key": "app"}}, "matchExpressions must be a list (got dict)"),
    ({"matchExpressions": ["app"]},
     "match expression 'app' must be a dict with key, operator and values (got str)"),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"], "value": "a"}]},
     "match expression {\"key\": \"app\", \"operator\": \"In\", \"values\": [\"a\"], \"value\": \"a\"} "
     "has unknown field(s) 'value': it has only key, operator, values"),
    ({"matchExpressions": [{"operator": "Exists"}]}, "match expression {\"operator\": \"Exists\"} has no key"),
    ({"matchExpressions": [{"key": "app", "operator": "in", "values": ["a"]}]},
     "match expression on 'app': operator 'in' is not one of In, NotIn, Exists, DoesNotExist (did you mean 'In'?)"),
    ({"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]},
     "match expression on 'app': operator 'Gt' is not one of In, NotIn, Exists, DoesNotExist"),
    ({"matchExpressions": [{"key": "app", "operator": "In"}]},
     "match expression on 'app': operator In needs at least one value"),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": []}]},
     "match expression on 'app': operator NotIn needs at least one value"),
    ({"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["a"]}]},
     "match expression on 'app': operator Exists takes no values"),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": "a"}]},
     "match expression on 'app': values must be a list (got str)"),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a b"]}]},
     f"label 'app' value 'a b' is invalid: {VALUE_RULE}"),
])
def test_dict_selector_rejects(selector, problem):
    message = f"label selector {show(selector)} is invalid: {problem}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        format_selector(selector)


@pytest.mark.parametrize("selector", [5, ["app=web"]])
def test_selector_of_wrong_type_is_rejected(selector):
    with pytest.raises(ValueError, match=r"expected a string like 'app=web' or a dict"):
        normalize_selector(selector)


def test_plain_map_and_label_selector_forms_agree():
    assert normalize_selector({"app": "web"}) == normalize_selector({"matchLabels": {"app": "web"}})


WEB = {"app": "web", "tier": "frontend"}
REDIS = {"app": "gitlab", "component": "redis"}
MIDDLEWARE = {"gitlab/middleware": ""}


@pytest.mark.parametrize("labels, selector, expected", [
    (WEB, "", True),
    ({}, "", True),
    (None, "", True),
    (WEB, "app=web", True),
    (WEB, "app==web", True),
    (WEB, "app=db", False),
    ({}, "app=web", False),
    (MIDDLEWARE, "gitlab/middleware=", True),
    (WEB, "gitlab/middleware=", False),
    ({"gitlab/middleware": "yes"}, "gitlab/middleware=", False),
    (WEB, "app!=db", True),
    (WEB, "app!=web", False),
    ({}, "app!=web", True),
    (WEB, "tier in (frontend,backend)", True),
    (WEB, "tier in (backend)", False),
    ({}, "tier in (frontend)", False),
    (WEB, "tier notin (backend)", True),
    (WEB, "tier notin (frontend)", False),
    ({}, "tier notin (frontend)", True),
    (WEB, "app", True),
    (WEB, "canary", False),
    (WEB, "!canary", True),
    (WEB, "!app", False),
    (WEB, "app=web,tier=frontend", True),
    (WEB, "app=web,tier=backend", False),
    (WEB, "app=web,app=db", False),
    # a Service's plain selector: the notebook's 'app: gitlab' also matches redis
    (REDIS, {"app": "gitlab"}, True),
    (REDIS, {"app": "gitlab", "component": "web"}, False),
    (REDIS, {"matchLabels": {"app": "gitlab"},
             "matchExpressions": [{"key": "component", "operator": "NotIn", "values": ["redis", "postgres"]}]}, False),
    (WEB, {"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, True),
    (WEB, {}, True),
])
def test_selector_match(labels, selector, expected):
    assert selector_match(labels, selector) is expected


def test_selector_match_rejects_non_dict_labels():
    with pytest.raises(ValueError, match=re.escape("labels 'app=web' must be a dict of label keys to values (got str)")):
        selector_match("app=web", "app=web")


def test_selector_match_validates_the_selector():
    with pytest.raises(ValueError, match=re.escape("label selector 'app in (web' is invalid: missing ')'")):
        selector_match({"app": "web"}, "app in (web")
