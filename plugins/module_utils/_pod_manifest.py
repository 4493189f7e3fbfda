# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bare pod's own manifest, as ``kubectl replace --force`` re-creates it: without what the server set.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

import copy

SERVICE_ACCOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                   "generation", "managedFields", "selfLink")


def token_volume_names(pod: dict) -> set[str]:
    """Service-account token volumes the admission plugin injected (it injects them again on create)."""
    spec = pod.get("spec") or {}
    mounted_at_sa_path = {
        mount.get("name")
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or [])
        for mount in container.get("volumeMounts") or []
        if mount.get("mountPath") == SERVICE_ACCOUNT_PATH
    }
    names = set()
    for volume in spec.get("volumes") or []:
        name = volume.get("name") or ""
        projected = (volume.get("projected") or {}).get("sources") or []
        if name.startswith("kube-api-access-") and any("serviceAccountToken" in source for source in projected):
            names.add(name)
        elif name in mounted_at_sa_path and "-token-" in ((volume.get("secret") or {}).get("secretName") or ""):
            names.add(name)  # the legacy token Secret volume of clusters before 1.24
    return names


def clean_pod_manifest(pod: dict) -> dict:
    """What ``kubectl replace --force`` re-creates: the pod without the fields the server set.

    Removed: uid, resourceVersion, timestamps, generation, managedFields, status, the node binding
    (the scheduler places the new pod), the admission-computed priority, ephemeral (debug)
    containers, which a create may not carry, and the injected service-account token volumes and
    their mounts (the new pod gets fresh ones). Kept: name, namespace, labels, annotations,
    owner references, finalizers and the rest of the spec.
    """
    manifest = copy.deepcopy(pod)
    manifest["apiVersion"], manifest["kind"] = "v1", "Pod"
    meta = manifest.setdefault("metadata", {})
    for key in SERVER_METADATA:
        meta.pop(key, None)
    manifest.pop("status", None)
    spec = manifest.setdefault("spec", {})
    for key in ("nodeName", "priority", "ephemeralContainers"):
        spec.pop(key, None)
    tokens = token_volume_names(pod)
    if tokens:
        spec["volumes"] = [v for v in spec.get("volumes") or [] if v.get("name") not in tokens]
        if not spec["volumes"]:
            del spec["volumes"]
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            if "volumeMounts" in container:
                container["volumeMounts"] = [m for m in container["volumeMounts"] if m.get("name") not in tokens]
                if not container["volumeMounts"]:
                    del container["volumeMounts"]
    return manifest
