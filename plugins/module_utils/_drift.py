# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a live Kubernetes object needs a client-side apply of its manifest.

An object needs no write when it carries the manifest last applied to it (the
``kubectl.kubernetes.io/last-applied-configuration`` annotation), that manifest is the desired
one, and every field of the desired manifest still has the desired value in the live object (no
one changed it since). Fields the API adds (defaults, ``status``, ``metadata.uid``) never count;
a field the manifest stopped setting does, through the last-applied manifest.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.kubeops.platform.plugins.module_utils._quantity import parse_quantity
from ansible_collections.kubeops.platform.plugins.module_utils._validation import show, type_name

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"


def differs(desired: Any, live: Any) -> bool:
    """Whether a field of ``desired`` has another value in ``live``.

    Mappings compare only the keys ``desired`` has; lists compare element by element and must
    have the same length; scalars are equal when their values or their string forms are, because
    the API returns some values as strings (a CPU request ``1`` comes back as ``'1'``), or when
    both are the same resource quantity, because the API stores quantities in canonical form
    (``1000m`` comes back as ``'1'``, ``1024Mi`` as ``'1Gi'``).
    """
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return True
        return any(key not in live or differs(value, live[key]) for key, value in desired.items())
    if _is_list(desired):
        if not _is_list(live) or len(desired) != len(live):
            return True
        return any(differs(want, have) for want, have in zip(desired, live))
    if desired == live or str(desired) == str(live):
        return False
    return not _same_quantity(desired, live)


def _same_quantity(desired: Any, live: Any) -> bool:
    if isinstance(desired, bool) or isinstance(live, bool):
        return False
    try:
        return parse_quantity(desired) == parse_quantity(live)
    except (ValueError, TypeError):
        return False


def last_applied(live: Mapping[str, Any]) -> Any:
    """The manifest last applied to ``live``, parsed; None when it has none or it is not JSON."""
    metadata = live.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    text = annotations.get(LAST_APPLIED_ANNOTATION) if isinstance(annotations, Mapping) else None
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def needs_apply(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """Whether ``desired`` must be applied to bring ``live`` (None when missing) in line.

    True when the object is missing, carries no last-applied manifest or another one, or a field
    of ``desired`` has another value in the cluster.
    """
    if not isinstance(desired, Mapping):
        raise ValueError(f"desired manifest {show(desired)} must be a dict (got {type_name(desired)})")
    if live is not None and not isinstance(live, Mapping):
        raise ValueError(f"live object {show(live)} must be a dict or null (got {type_name(live)})")
    if not live:
        return True
    applied = last_applied(live)
    return applied is None or applied != desired or differs(desired, live)


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))
