"""Kubernetes naming rules: keys, label values, object names, annotation size."""

from __future__ import annotations

import re

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils._validation import (
    annotations_size,
    exact_removes,
    validate_annotations_size,
    validate_choice,
    validate_dns_subdomain,
    validate_label_value,
    validate_qualified_name,
)

NAME_RULE = "must start and end with an alphanumeric character and contain only [A-Za-z0-9_.-]"
VALUE_RULE = "must be empty or start and end with an alphanumeric character and contain only [A-Za-z0-9_.-]"
DNS_RULE = (
    "must be a DNS subdomain: lowercase alphanumerics, '-' and '.', "
    "with every dot-separated part starting and ending with an alphanumeric character"
)


@pytest.mark.parametrize("key", [
    "app",
    "a",
    "gitlab/middleware",
    "node-role.kubernetes.io/control-plane",
    "kubernetes.io/hostname",
    "Release_Track.v1-x",
    "123-abc",
    "x" * 63,
    "example.com/" + "x" * 63,
    "a" * 253 + "/name",
])
def test_qualified_name_valid(key):
    validate_qualified_name(key)


@pytest.mark.parametrize("key, message", [
    ("gitlab/-bad", f"label key 'gitlab/-bad' is invalid: name part '-bad' {NAME_RULE}"),
    ("x" * 64, f"label key '{'x' * 64}' is invalid: name part must be 63 characters or fewer (got 64)"),
    ("", "label key '' is invalid: name part must not be empty"),
    ("gitlab/", "label key 'gitlab/' is invalid: name part must not be empty"),
    ("/app", "label key '/app' is invalid: prefix part must not be empty"),
    ("Gitlab.io/app", f"label key 'Gitlab.io/app' is invalid: prefix part 'Gitlab.io' {DNS_RULE}"),
    ("a..b/app", f"label key 'a..b/app' is invalid: prefix part 'a..b' {DNS_RULE}"),
    ("a_b/app", f"label key 'a_b/app' is invalid: prefix part 'a_b' {DNS_RULE}"),
    ("a" * 254 + "/x",
     f"label key '{'a' * 254}/x' is invalid: prefix part '{'a' * 254}' must be 253 characters or fewer (got 254)"),
    ("a/b/c", "label key 'a/b/c' is invalid: must be a name with an optional DNS subdomain prefix and one '/' "
              "(e.g. 'example.com/my-name'), found 2 '/'"),
    ("app name", f"label key 'app name' is invalid: name part 'app name' {NAME_RULE}"),
    ("app_", f"label key 'app_' is invalid: name part 'app_' {NAME_RULE}"),
    (".app", f"label key '.app' is invalid: name part '.app' {NAME_RULE}"),
    ("app:web", f"label key 'app:web' is invalid: name part 'app:web' {NAME_RULE}"),
    (5, "label key 5 is invalid: must be a string (got int); quote it"),
    (None, "label key None is invalid: must be a string (got NoneType); quote it"),
])
def test_qualified_name_invalid(key, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        validate_qualified_name(key)


@pytest.mark.parametrize("what", ["taint key", "annotation key"])
def test_qualified_name_names_the_caller(what):
    with pytest.raises(ValueError, match=f"^{re.escape(what)} '-x' is invalid: "):
        validate_qualified_name("-x", what)


@pytest.mark.parametrize("value", ["", "web", "v1.2_3-rc", "A", "x" * 63, "123"])
def test_label_value_valid(value):
    validate_label_value(value, "app")


@pytest.mark.parametrize("value, message", [
    ("a b", f"label 'app' value 'a b' is invalid: {VALUE_RULE}"),
    ("-web", f"label 'app' value '-web' is invalid: {VALUE_RULE}"),
    ("web-", f"label 'app' value 'web-' is invalid: {VALUE_RULE}"),
    ("a/b", f"label 'app' value 'a/b' is invalid: {VALUE_RULE}"),
    ("x" * 64, f"label 'app' value '{'x' * 64}' is invalid: must be 63 characters or fewer (got 64)"),
    (3, "label 'app' value 3 is invalid: values are strings in Kubernetes; quote it, e.g. \"3\""),
    (1.5, "label 'app' value 1.5 is invalid: values are strings in Kubernetes; quote it, e.g. \"1.5\""),
    (True, "label 'app' value True is invalid: values are strings in Kubernetes; quote it, e.g. \"true\""),
    (False, "label 'app' value False is invalid: values are strings in Kubernetes; quote it, e.g. \"false\""),
    (None, "label 'app' value None is invalid: must be a string (got NoneType); use '' for an empty value"),
    (["web"], "label 'app' value [\"web\"] is invalid: must be a string (got list); use '' for an empty value"),
])
def test_label_value_invalid(value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        validate_label_value(value, "app")


def test_label_value_names_the_owner():
    with pytest.raises(ValueError, match=r"^taint 'dedicated' value 'a b' is invalid: "):
        validate_label_value("a b", "dedicated", "taint")


@pytest.mark.parametrize("value", ["gitlab", "gitlab-ce", "register-server-0.register-server", "a" * 253, "0"])
def test_dns_subdomain_valid(value):
    validate_dns_subdomain(value, "object name")


@pytest.mark.parametrize("value, message", [
    ("GitLab", f"object name 'GitLab' is invalid: {DNS_RULE}"),
    ("gitlab_ce", f"object name 'gitlab_ce' is invalid: {DNS_RULE}"),
    ("-gitlab", f"object name '-gitlab' is invalid: {DNS_RULE}"),
    ("gitlab.", f"object name 'gitlab.' is invalid: {DNS_RULE}"),
    ("a.-b", f"object name 'a.-b' is invalid: {DNS_RULE}"),
    ("", "object name '' is invalid: must not be empty"),
    ("a" * 254, f"object name '{'a' * 254}' is invalid: must be 253 characters or fewer (got 254)"),
    (7, "object name 7 is invalid: must be a string (got int)"),
])
def test_dns_subdomain_invalid(value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        validate_dns_subdomain(value, "object name")


def test_annotations_size_counts_utf8_bytes_of_keys_and_values():
    assert annotations_size({"ab": "cd", "é": "€", "empty": ""}) == 4 + 2 + 3 + 5


def test_annotations_at_the_limit_are_accepted():
    validate_annotations_size({"k": "v" * (262144 - 1)})


def test_annotations_over_the_limit_name_the_total_and_the_largest():
    annotations = {"small": "x", "kubectl.kubernetes.io/last-applied-configuration": "v" * 262144}
    message = (
        "annotations are too large: keys and values total 262198 bytes, the limit is 262144 bytes (256 KiB); "
        "the largest is 'kubectl.kubernetes.io/last-applied-configuration' (262192 bytes)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        validate_annotations_size(annotations)


@pytest.mark.parametrize("value, message", [
    ("NoExcute", "effect 'NoExcute' is not one of NoSchedule, NoExecute (did you mean 'NoExecute'?)"),
    ("Whatever", "effect 'Whatever' is not one of NoSchedule, NoExecute"),
    (None, "effect None is not one of NoSchedule, NoExecute"),
])
def test_choice_suggests_only_close_matches(value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        validate_choice(value, ("NoSchedule", "NoExecute"), "effect")


def test_choice_suggests_the_same_word_in_another_case():
    message = "operator 'in' is not one of In, NotIn (did you mean 'In'?)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        validate_choice("in", ("In", "NotIn"), "operator")


@pytest.mark.parametrize(("key", "prefixes", "removable"), [
    ("team", None, True),
    ("gitlab/middleware", None, True),
    ("kubernetes.io/hostname", None, False),
    ("beta.kubernetes.io/arch", None, False),
    ("node-role.kubernetes.io/control-plane", None, False),
    ("topology.k8s.io/zone", None, False),
    ("k8s.io/x", None, False),
    ("notkubernetes.io/x", None, True),
    ("kubernetes.io", None, True),  # no prefix part: a plain name
    ("gitlab/middleware", ["gitlab/"], True),
    ("team", ["gitlab/"], False),
    ("node-role.kubernetes.io/worker", ["node"], False),
    ("node-role.kubernetes.io/worker", ["node-role.kubernetes.io/"], True),
    ("node-role.kubernetes.io/worker", ["node-role.kubernetes.io"], True),
    ("kubernetes.io/hostname", ["node-role.kubernetes.io/"], False),
])
def test_exact_removes_never_takes_kubernetes_keys_by_accident(key, prefixes, removable):
    assert exact_removes(key, prefixes) is removable
