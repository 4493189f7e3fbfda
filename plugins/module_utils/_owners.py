# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which workload a pod belongs to, by owner references (uids), never by name prefixes.

A Deployment's pods are owned by its ReplicaSets, which the Deployment owns; StatefulSets,
DaemonSets and Jobs own their pods directly. Names are not used: a ReplicaSet named
``web-6d4b9c7f5`` may belong to a Deployment ``web-6d4b`` as well as ``web``.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

from typing import Iterable


def controller_ref(obj: dict) -> dict | None:
    """The owner reference with ``controller: true``, or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def uid(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("uid")


class Owners:
    """Resolves a pod to its top-level controller through the ReplicaSets it may be owned by."""

    def __init__(self, replicasets: Iterable[dict] | None = None):
        self._replicasets = {uid(rs): rs for rs in replicasets or [] if uid(rs)}

    def top(self, obj: dict) -> dict | None:
        """``{kind, name, uid}`` of the controller at the top: a ReplicaSet's Deployment, or the direct owner."""
        ref = controller_ref(obj)
        if ref is None:
            return None
        if ref.get("kind") == "ReplicaSet":
            replicaset = self._replicasets.get(ref.get("uid"))
            parent = controller_ref(replicaset) if replicaset else None
            if parent is not None:
                ref = parent
        return {"kind": ref.get("kind"), "name": ref.get("name"), "uid": ref.get("uid")}

    def pods_of(self, workload: dict, pods: Iterable[dict]) -> list[dict]:
        """The pods the workload controls: directly, or through a ReplicaSet it controls."""
        owner = uid(workload)
        if not owner:
            return []
        return [pod for pod in pods if (self.top(pod) or {}).get("uid") == owner
                or (controller_ref(pod) or {}).get("uid") == owner]

    def replicasets_of(self, workload: dict) -> list[dict]:
        owner = uid(workload)
        return [rs for rs in self._replicasets.values() if (controller_ref(rs) or {}).get("uid") == owner]
