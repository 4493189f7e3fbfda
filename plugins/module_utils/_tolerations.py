# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod tolerations against node taints, with the scheduler's rules (Toleration.ToleratesTaint).

A toleration tolerates a taint when its effect is empty or equal to the taint's, its key is
empty or equal, and either its operator is ``Exists`` or it is ``Equal`` (the default) with
the same value. Tolerations are validated like the API server does (ValidateTolerations).

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.kubeops.platform.plugins.module_utils._taints import EFFECTS, parse_taint
from ansible_collections.kubeops.platform.plugins.module_utils._validation import (
    show,
    type_name,
    validate_choice,
    validate_label_value,
    validate_qualified_name,
)

OPERATORS = ("Equal", "Exists")
_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")


def validate_toleration(toleration: Any) -> dict:
    """Check one toleration and return it with defaults filled in (operator Equal, empty strings)."""
    if not isinstance(toleration, dict):
        raise ValueError(
            f"toleration {show(toleration)} is invalid: expected a dict with key, operator, value "
            f"and effect (got {type_name(toleration)})"
        )
    try:
        return _validated(toleration)
    except ValueError as exc:
        raise ValueError(f"toleration {show(toleration)} is invalid: {exc}") from None


def _validated(toleration: dict) -> dict:
    unknown = [field for field in toleration if field not in _FIELDS]
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(show(f) for f in unknown)}: a toleration has only "
            f"{', '.join(_FIELDS)}"
        )
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    value = toleration.get("value")
    value = "" if value is None else value
    effect = toleration.get("effect") or ""

    if key:
        validate_qualified_name(key, "key")
    validate_choice(operator, OPERATORS, "operator")
    if not key and operator != "Exists":
        raise ValueError("operator must be Exists when key is empty (an empty key with Exists tolerates every taint)")
    if operator == "Exists" and value != "":
        raise ValueError(f"value {show(value)} must be empty when operator is Exists")
    if operator == "Equal":
        validate_label_value(value, key, "toleration")
    if effect:
        validate_choice(effect, EFFECTS, "effect")
    if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
        raise ValueError("tolerationSeconds is set, so effect must be NoExecute")
    return {"key": key, "operator": operator, "value": value, "effect": effect}


def tolerates(toleration: dict, taint: dict) -> bool:
    """ToleratesTaint for a validated toleration and a parsed taint."""
    if toleration["effect"] and toleration["effect"] != taint.get("effect"):
        return False
    if toleration["key"] and toleration["key"] != taint["key"]:
        return False
    if toleration["operator"] == "Exists":
        return True
    return toleration["value"] == (taint.get("value") or "")


def untolerated_taints(tolerations: list[dict] | None, taints: list | None) -> list[dict]:
    """The taints (dicts or kubectl strings) that no toleration tolerates, as parsed dicts.

    PreferNoSchedule taints are included: they only discourage scheduling, callers decide.
    """
    if tolerations is None:
        tolerations = []
    if taints is None:
        taints = []
    if not isinstance(tolerations, list):
        raise ValueError(f"tolerations must be a list of dicts (got {type_name(tolerations)})")
    if not isinstance(taints, list):
        raise ValueError(f"taints must be a list of taints (got {type_name(taints)})")
    checked = [validate_toleration(toleration) for toleration in tolerations]
    parsed = [parse_taint(taint) for taint in taints]
    return [taint for taint in parsed if not any(tolerates(t, taint) for t in checked)]
