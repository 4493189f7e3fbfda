# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node taints: the kubectl taint syntax, validation, and the new ``spec.taints`` of a node.

One parser serves the ``taint`` module and the ``parse_taint``/``format_taint`` filters.
A parsed taint is a dict with ``key``, ``effect`` (absent only when the caller allowed a
taint without effect) and ``value`` only when non-empty, because the API omits empty values.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.kubeops.platform.plugins.module_utils._validation import (
    exact_removes,
    show,
    type_name,
    validate_choice,
    validate_label_value,
    validate_qualified_name,
)

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
STATES = ("present", "absent", "exact")
_FIELDS = ("key", "value", "effect", "timeAdded")
_SYNTAX = "key=value:Effect, key:Effect or key=:Effect"


def validate_effect(effect: Any, what: str = "taint effect") -> None:
    validate_choice(effect, EFFECTS, what)


def parse_taint(spec: str | dict, require_effect: bool = True) -> dict:
    """Parse and validate one taint given as a kubectl string or a dict.

    Strings: ``key=value:Effect``, ``key:Effect``, ``key=:Effect``; ``key`` and ``key=value``
    only when ``require_effect`` is false (to name taints to remove). A dict has ``key`` and
    optionally ``value``, ``effect`` and ``timeAdded`` (kept as given, as the API returns it).
    """
    if isinstance(spec, str):
        key, value, effect = _split_taint(spec)
        extra: dict = {}
    elif isinstance(spec, dict):
        unknown = [field for field in spec if field not in _FIELDS]
        if unknown:
            raise ValueError(
                f"taint {show(spec)} has unknown field(s) {', '.join(show(f) for f in unknown)}: "
                f"a taint has only {', '.join(_FIELDS)}"
            )
        if spec.get("key") in (None, ""):
            raise ValueError(f"taint {show(spec)} has no key")
        key = spec["key"]
        value = spec.get("value")
        effect = spec.get("effect")
        extra = {"timeAdded": spec["timeAdded"]} if spec.get("timeAdded") is not None else {}
    else:
        raise ValueError(
            f"taint {show(spec)} is invalid: expected a string like {_SYNTAX} or a dict with "
            f"key, value and effect (got {type_name(spec)})"
        )

    validate_qualified_name(key, "taint key")
    if value is None:
        value = ""
    validate_label_value(value, key, "taint")
    if effect in (None, ""):
        if require_effect:
            raise ValueError(
                f"taint {show(spec)} has no effect: write it as {_SYNTAX}, "
                f"where Effect is one of {', '.join(EFFECTS)}"
            )
        effect = None
    else:
        validate_effect(effect)

    taint: dict = {"key": key}
    if value:
        taint["value"] = value
    if effect:
        taint["effect"] = effect
    taint.update(extra)
    return taint


def _split_taint(spec: str) -> tuple[str, str, str | None]:
    text = spec.strip()
    if text.endswith("-"):
        raise ValueError(
            f"taint {show(spec)} ends with '-', kubectl's syntax for removal: "
            "use state=absent to remove a taint"
        )
    if text.count(":") > 1:
        raise ValueError(f"taint {show(spec)} is invalid: more than one ':'; expected {_SYNTAX}")
    key_value, colon, effect = text.partition(":")
    if colon and not effect:
        raise ValueError(
            f"taint {show(spec)} has an empty effect after ':'; "
            f"expected one of {', '.join(EFFECTS)}"
        )
    if key_value.count("=") > 1:
        raise ValueError(f"taint {show(spec)} is invalid: more than one '='; expected {_SYNTAX}")
    key, _equals, value = key_value.partition("=")
    return key, value, effect or None


def format_taint(taint: dict | str) -> str:
    """The kubectl form of a taint: ``key=value:Effect``, ``key:Effect``, or ``key`` without effect."""
    parsed = parse_taint(taint, require_effect=False)
    text = parsed["key"]
    if parsed.get("value"):
        text += "=" + parsed["value"]
    if parsed.get("effect"):
        text += ":" + parsed["effect"]
    return text


def _value(taint: dict) -> str:
    return taint.get("value") or ""


def _identity(taint: dict) -> tuple[str, str | None]:
    return taint["key"], taint.get("effect") or None


def apply_taints(
    current: list[dict],
    wanted: list[dict],
    state: str,
    prefixes: list[str] | None = None,
) -> list[dict]:
    """Return the node's new ``spec.taints``; equal (==) to ``current`` when nothing changes.

    ``current`` comes from the API, ``wanted`` holds parsed taints. Taints are unique by key and
    effect. ``present`` adds or updates values in place; ``absent`` removes by key and, when
    given, effect (the value is ignored); ``exact`` makes ``wanted`` the whole set, limited to
    keys starting with one of ``prefixes`` when that list is not empty. Existing taints keep
    their order and ``timeAdded``; new ones are appended in the order wanted.
    """
    validate_choice(state, STATES, "taint state")
    current = list(current or [])
    wanted = list(wanted or [])
    prefixes = list(prefixes or [])

    seen: set = set()
    for taint in wanted:
        identity = _identity(taint)
        if identity in seen:
            with_effect = f" with effect {identity[1]}" if identity[1] else ""
            raise ValueError(
                f"taint key {show(identity[0])}{with_effect} is listed more than once: "
                "a node has at most one taint per key and effect"
            )
        seen.add(identity)
        if state != "absent" and identity[1] is None:
            raise ValueError(
                f"taint {show(format_taint(taint))} has no effect: state={state} needs "
                f"{_SYNTAX}, where Effect is one of {', '.join(EFFECTS)}"
            )
        if state == "exact" and prefixes and not _managed(identity[0], prefixes):
            raise ValueError(
                f"taint key {show(identity[0])} does not start with any of the managed prefixes "
                f"{', '.join(show(p) for p in prefixes)}: state=exact manages only those keys"
            )

    if state == "absent":
        return [taint for taint in current if not any(_removes(w, taint) for w in wanted)]

    by_identity = {_identity(taint): taint for taint in wanted}
    result = []
    for taint in current:
        match = by_identity.get(_identity(taint))
        if match is None:
            if state == "exact" and exact_removes(taint["key"], prefixes):
                continue
            result.append(taint)
        elif _value(match) == _value(taint):
            result.append(taint)
        else:
            updated = dict(taint)
            updated.pop("value", None)
            if _value(match):
                updated["value"] = match["value"]
            result.append(updated)
    present = {_identity(taint) for taint in current}
    for taint in wanted:
        if _identity(taint) not in present:
            result.append(dict(taint))
    return result


def _removes(wanted: dict, taint: dict) -> bool:
    if wanted["key"] != taint["key"]:
        return False
    return not wanted.get("effect") or wanted["effect"] == taint.get("effect")


def _managed(key: str, prefixes: list[str]) -> bool:
    return not prefixes or any(key.startswith(prefix) for prefix in prefixes)
