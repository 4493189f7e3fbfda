# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node taints: the engine behind the taint module.

Private to the kubeops.platform collection: no compatibility promise outside it.
"""

from __future__ import annotations

from ansible_collections.kubeops.platform.plugins.module_utils._parallel import PARALLEL_OPTIONS, check_parallel
from ansible_collections.kubeops.platform.plugins.module_utils._targets import TARGET_OPTIONS, Targets, update_objects
from ansible_collections.kubeops.platform.plugins.module_utils._taints import apply_taints, parse_taint

TAINT_OPTIONS = {
    "taints": {"type": "list", "elements": "raw", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent", "exact"]},
    "prefixes": {"type": "list", "elements": "str"},
    **TARGET_OPTIONS,
    **PARALLEL_OPTIONS,
}


def wanted_taints(specs: list, state: str, prefixes: list[str] | None) -> list[dict]:
    """Parse and validate every requested taint before anything is read or written."""
    wanted = [parse_taint(spec, require_effect=state != "absent") for spec in specs]
    apply_taints([], wanted, state, prefixes)  # raises on duplicates and keys outside the prefixes
    return wanted


def run_taint(module, client) -> dict:
    params = module.params
    state, prefixes = params["state"], params["prefixes"]
    wanted = wanted_taints(params["taints"], state, prefixes)
    parallel = check_parallel(params["parallel"])
    resource = client.resource("v1", "Node")
    targets = Targets(resource, params)
    nodes = targets.collect(client, module.warn)

    def plan(node: dict) -> dict | None:
        current = view(node)
        desired = apply_taints(current, wanted, state, prefixes)
        # null removes the field, as the API itself stores a node without taints
        return None if desired == current else {"spec": {"taints": desired or None}}

    results, diffs = update_objects(client, resource, nodes, plan, view, module.check_mode, "taints", parallel)
    for item in results:
        item.pop("kind", None)
    return targets.summary(results, diffs, module._diff)


def view(node: dict) -> list[dict]:
    return list((node.get("spec") or {}).get("taints") or [])
