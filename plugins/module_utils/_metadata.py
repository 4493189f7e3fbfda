# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Labels and annotations on any kind: the engine behind the label and annotate modules.

Private to the kubeops.platform collection: no compatibility promise outside it.
"""

from __future__ import annotations

from ansible_collections.kubeops.platform.plugins.module_utils._parallel import PARALLEL_OPTIONS, check_parallel
from ansible_collections.kubeops.platform.plugins.module_utils._targets import (
    OBJECT_OPTIONS,
    TARGET_OPTIONS,
    Targets,
    update_objects,
)
from ansible_collections.kubeops.platform.plugins.module_utils._validation import (
    exact_removes,
    validate_annotations_size,
    validate_label_value,
    validate_qualified_name,
)

STATES = ["present", "absent", "exact"]


def metadata_options(field: str) -> dict:
    """Module options of the label (field='labels') and annotate (field='annotations') modules."""
    return {
        field: {"type": "raw", "required": True},
        "state": {"type": "str", "default": "present", "choices": STATES},
        "prefixes": {"type": "list", "elements": "str"},
        **OBJECT_OPTIONS,
        **TARGET_OPTIONS,
        **PARALLEL_OPTIONS,
    }


def wanted_entries(field: str, value, state: str, prefixes: list[str] | None) -> dict[str, str | None]:
    """Validate the requested keys and values; None as a value means 'remove this key'."""
    noun = field[:-1]
    if isinstance(value, list) and state == "absent":
        value = dict.fromkeys(value)
    if not isinstance(value, dict):
        accepted = "a dict (or a list of keys with state=absent)" if state != "absent" else "a dict or a list of keys"
        raise ValueError(f"{field} must be {accepted}, got {type(value).__name__}: {value!r}")
    wanted: dict[str, str | None] = {}
    for key, val in value.items():
        key = str(key)
        validate_qualified_name(key, f"{noun} key")
        if prefixes and state == "exact" and not key.startswith(tuple(prefixes)):
            raise ValueError(
                f"{noun} '{key}' is outside the managed prefixes {', '.join(prefixes)}: "
                "with state=exact and prefixes, every key must start with one of them"
            )
        if state == "absent" or val is None:
            wanted[key] = None
        elif field == "labels":
            validate_label_value(val, key)
            wanted[key] = val
        elif isinstance(val, str):
            wanted[key] = val
        else:
            raise ValueError(f"annotation '{key}' value {val!r} must be a string: quote it in YAML")
    return wanted


def apply_entries(current: dict, wanted: dict, state: str, prefixes: list[str] | None = None) -> dict:
    """The map the object should have: ``exact`` also drops unlisted keys (see :func:`exact_removes`)."""
    result = dict(current)
    if state == "exact":
        for key in current:
            if key not in wanted and exact_removes(key, prefixes):
                del result[key]
    for key, value in wanted.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def entries_patch(field: str, current: dict, desired: dict) -> dict | None:
    """The merge patch from ``current`` to ``desired`` (null deletes a key), or None when equal."""
    changes: dict = {key: value for key, value in desired.items() if current.get(key) != value or key not in current}
    changes.update({key: None for key in current if key not in desired})
    return {"metadata": {field: changes}} if changes else None


def run_metadata(module, client, field: str) -> dict:
    params = module.params
    state, prefixes = params["state"], params["prefixes"]
    wanted = wanted_entries(field, params[field], state, prefixes)
    parallel = check_parallel(params["parallel"])
    resource = client.resource(params["api_version"], params["kind"])
    targets = Targets(resource, params)
    objects = targets.collect(client, module.warn)

    def plan(obj: dict) -> dict | None:
        current = (obj.get("metadata") or {}).get(field) or {}
        desired = apply_entries(current, wanted, state, prefixes)
        if field == "annotations":
            validate_annotations_size(desired)
        return entries_patch(field, current, desired)

    def view(obj: dict) -> dict:
        return dict((obj.get("metadata") or {}).get(field) or {})

    results, diffs = update_objects(client, resource, objects, plan, view, module.check_mode, field, parallel)
    return targets.summary(results, diffs, module._diff)
