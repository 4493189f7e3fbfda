# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes naming rules for keys, values and object names, checked before anything is sent.

The rules are those of k8s.io/apimachinery/pkg/util/validation (IsQualifiedName,
IsValidLabelValue, IsDNS1123Subdomain) and of the API server's annotation size limit, so bad
input fails in the task that carries it, naming the value and the rule it breaks.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

NAME_MAX_LENGTH = 63
DNS_SUBDOMAIN_MAX_LENGTH = 253
# TotalAnnotationSizeLimitB in k8s.io/apimachinery/pkg/api/validation/objectmeta.go
ANNOTATIONS_MAX_BYTES = 256 * 1024

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

_NAME_CHARS = "start and end with an alphanumeric character and contain only [A-Za-z0-9_.-]"
DNS_SUBDOMAIN_RULE = (
    "must be a DNS subdomain: lowercase alphanumerics, '-' and '.', "
    "with every dot-separated part starting and ending with an alphanumeric character"
)


def show(value: Any) -> str:
    """Render a value for an error message: strings quoted, mappings and lists as JSON."""
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return repr(value)


def type_name(value: Any) -> str:
    return type(value).__name__


def validate_choice(value: Any, choices: Iterable[str], what: str) -> None:
    """Reject ``value`` unless it is one of ``choices`` (case-sensitive, like the API).

    The message suggests the closest choice when there is one, e.g. 'NoExcute' -> 'NoExecute'.
    """
    choices = tuple(choices)
    if value in choices:
        return
    message = f"{what} {show(value)} is not one of {', '.join(choices)}"
    if isinstance(value, str):
        same_letters = [choice for choice in choices if choice.lower() == value.lower()]
        import difflib  # only for a value that is already wrong

        close = same_letters or difflib.get_close_matches(value, choices, n=1)
        if close:
            message += f" (did you mean '{close[0]}'?)"
    raise ValueError(message)


def _dns_subdomain_problem(value: str) -> str | None:
    if not value:
        return "must not be empty"
    if len(value) > DNS_SUBDOMAIN_MAX_LENGTH:
        return f"must be {DNS_SUBDOMAIN_MAX_LENGTH} characters or fewer (got {len(value)})"
    if not _DNS_SUBDOMAIN_RE.match(value):
        return DNS_SUBDOMAIN_RULE
    return None


def validate_dns_subdomain(value: str, what: str) -> None:
    """Check an object name or key prefix against RFC 1123 subdomain rules (IsDNS1123Subdomain)."""
    if not isinstance(value, str):
        raise ValueError(f"{what} {show(value)} is invalid: must be a string (got {type_name(value)})")
    problem = _dns_subdomain_problem(value)
    if problem:
        raise ValueError(f"{what} {show(value)} is invalid: {problem}")


def validate_qualified_name(key: str, what: str = "label key") -> None:
    """Check a label, annotation or taint key: ``[prefix/]name`` (IsQualifiedName).

    ``prefix`` is an optional DNS subdomain; ``name`` is 1..63 characters of [A-Za-z0-9_.-],
    starting and ending with an alphanumeric character.
    """
    if not isinstance(key, str):
        raise ValueError(
            f"{what} {show(key)} is invalid: must be a string (got {type_name(key)}); quote it"
        )
    parts = key.split("/")
    if len(parts) > 2:
        raise ValueError(
            f"{what} {show(key)} is invalid: must be a name with an optional DNS subdomain prefix "
            f"and one '/' (e.g. 'example.com/my-name'), found {len(parts) - 1} '/'"
        )
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        problem = _dns_subdomain_problem(prefix)
        if problem:
            subject = "prefix part" if not prefix else f"prefix part {show(prefix)}"
            raise ValueError(f"{what} {show(key)} is invalid: {subject} {problem}")
    if not name:
        raise ValueError(f"{what} {show(key)} is invalid: name part must not be empty")
    if len(name) > NAME_MAX_LENGTH:
        raise ValueError(
            f"{what} {show(key)} is invalid: name part must be {NAME_MAX_LENGTH} characters "
            f"or fewer (got {len(name)})"
        )
    if not _NAME_RE.match(name):
        raise ValueError(f"{what} {show(key)} is invalid: name part {show(name)} must {_NAME_CHARS}")


def validate_label_value(value: str, key: str, what: str = "label") -> None:
    """Check a label value (IsValidLabelValue); ``what`` names the owner, e.g. "taint".

    Empty is allowed. YAML turns unquoted ``3`` or ``true`` into numbers and booleans; Kubernetes
    label values are strings, so those are rejected with a hint to quote them.
    """
    if isinstance(value, bool):
        raise ValueError(
            f"{what} {show(key)} value {value!r} is invalid: values are strings in Kubernetes; "
            f"quote it, e.g. \"{str(value).lower()}\""
        )
    if isinstance(value, (int, float)):
        raise ValueError(
            f"{what} {show(key)} value {value!r} is invalid: values are strings in Kubernetes; "
            f"quote it, e.g. \"{value}\""
        )
    if not isinstance(value, str):
        raise ValueError(
            f"{what} {show(key)} value {show(value)} is invalid: must be a string "
            f"(got {type_name(value)}); use '' for an empty value"
        )
    if len(value) > NAME_MAX_LENGTH:
        raise ValueError(
            f"{what} {show(key)} value {show(value)} is invalid: must be {NAME_MAX_LENGTH} "
            f"characters or fewer (got {len(value)})"
        )
    if value and not _NAME_RE.match(value):
        raise ValueError(f"{what} {show(key)} value {show(value)} is invalid: must be empty or {_NAME_CHARS}")


def annotations_size(annotations: dict) -> int:
    """Bytes counted by the API server: UTF-8 length of every key plus every value."""
    return sum(_byte_len(k) + _byte_len(v) for k, v in annotations.items())


def _byte_len(text: Any) -> int:
    if text is None:
        return 0
    return len(str(text).encode("utf-8"))


def validate_annotations_size(annotations: dict) -> None:
    """Reject annotations whose keys and values together exceed 256 KiB, as the API server does."""
    total = annotations_size(annotations)
    if total <= ANNOTATIONS_MAX_BYTES:
        return
    largest = max(annotations, key=lambda k: _byte_len(k) + _byte_len(annotations[k]))
    raise ValueError(
        f"annotations are too large: keys and values total {total} bytes, the limit is "
        f"{ANNOTATIONS_MAX_BYTES} bytes (256 KiB); the largest is {show(largest)} "
        f"({_byte_len(largest) + _byte_len(annotations[largest])} bytes)"
    )


# Label, annotation and taint keys of Kubernetes itself (kubelet, controllers, kubeadm, cloud providers).
KUBERNETES_DOMAINS = ("kubernetes.io", "k8s.io")


def _kubernetes_domain(domain: str) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in KUBERNETES_DOMAINS)


def is_kubernetes_key(key: str) -> bool:
    """Whether ``key`` is under kubernetes.io or k8s.io or a subdomain (node-role.kubernetes.io/...)."""
    prefix, slash, _name = key.partition("/")
    return bool(slash) and _kubernetes_domain(prefix)


def exact_removes(key: str, prefixes: list[str] | None) -> bool:
    """Whether ``state=exact`` may remove an unlisted ``key``.

    Only keys under ``prefixes`` when given; never a Kubernetes key, unless a prefix names that
    Kubernetes domain itself (e.g. ``node-role.kubernetes.io/``).
    """
    if not prefixes:
        return not is_kubernetes_key(key)
    covering = [p for p in prefixes if key.startswith(p)]
    if not is_kubernetes_key(key):
        return bool(covering)
    return any(_kubernetes_domain(p.partition("/")[0]) for p in covering)
