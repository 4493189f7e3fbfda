#!/usr/bin/python
# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: force_delete
short_description: Delete Kubernetes objects stuck on deletion (pods, PVCs, PVs, namespaces, anything held by finalizers)
version_added: 0.1.0
description:
  - Deletes objects that do not go away by themselves, step by step and only as far as needed.
  - If an object is not terminating yet, it is deleted first; a Pod with grace period 0, like
    C(kubectl delete pod --force --grace-period=0), also when it is already terminating with a longer grace period.
  - The task then waits up to O(timeout) for the object to go. If it is still there and
    O(remove_finalizers=true), its C(metadata.finalizers) are cleared with a merge patch
    (C(kubectl patch pvc P -p '{"metadata":{"finalizers":null}}')); for a Namespace also its
    C(spec.finalizers), through the C(finalize) subresource. Then it waits again.
  - Removing finalizers skips the cleanup they stand for; the task warns, naming the finalizers removed and
    what may be left behind (volumes, external resources, objects of a namespace).
  - An object that is already absent is reported with C(changed=false).
  - Deleting a pod that runs on a node with grace period 0 warns, as kubectl does, that its containers may keep
    running; for a StatefulSet's pod, that its replacement may run beside it under the same name.
extends_documentation_fragment:
  - kubeops.platform.k8s_auth
  - kubeops.platform.k8s_auth.targets
  - kubeops.platform.k8s_auth.namespace
  - kubeops.platform.k8s_auth.guard
  - kubeops.platform.k8s_auth.parallel
  - kubeops.platform.k8s_auth.attributes
options:
  api_version:
    description:
      - API version of the objects, for example V(v1) or V(example.com/v1alpha1).
    type: str
    default: v1
  kind:
    description:
      - Kind of the objects, for example V(Pod), V(PersistentVolumeClaim), V(PersistentVolume), V(Namespace)
        or a custom resource's kind (looked up with one discovery request).
    type: str
    default: Pod
  missing:
    description:
      - What to do when a named object does not exist or the selector matches nothing.
      - Without it, both are ignored (the object is already gone, which is what this module is for), and
        reported in RV(results) as C(already absent).
    type: str
    choices: [fail, warn, ignore]
  timeout:
    description:
      - Seconds to wait for the objects to go, after deleting them and again after removing finalizers.
    type: int
    default: 60
  remove_finalizers:
    description:
      - Remove the finalizers of objects still there after O(timeout).
      - Without it, such objects fail the task with the finalizers that hold them.
    type: bool
    default: false
  allow_live:
    description:
      - Also remove the finalizers of objects that were not terminating before this task (only with
        O(remove_finalizers=true)).
      - Without it, only objects that were already stuck terminating have their finalizers removed; a live
        object is deleted and given O(timeout) to go, and fails the task if its finalizers hold it.
    type: bool
    default: false
attributes:
  check_mode:
    details: Nothing is written. Deletions and finalizer removals are sent as server-side dry runs; the result
      says what would be deleted and which finalizers would be removed if the objects were still there after
      O(timeout).
seealso:
  - module: kubeops.platform.restart
  - module: kubernetes.core.k8s
author:
  - kubeops.platform maintainers (@kubeops)
"""

EXAMPLES = r"""
- name: Force-delete a pod stuck Terminating on a lost node (kubectl delete pod --force --grace-period=0)
  kubeops.platform.force_delete:
    namespace: gitlab
    names: [redis-9f9dc5c8b-hnqgm]

- name: Delete a PVC held by its finalizers (kubectl patch pvc ... '{"metadata":{"finalizers":null}}')
  kubeops.platform.force_delete:
    kind: PersistentVolumeClaim
    namespace: gitlab
    names: [gitlab-data]
    remove_finalizers: true
    timeout: 30

- name: Finish a namespace stuck Terminating
  kubeops.platform.force_delete:
    kind: Namespace
    names: [old-gitlab]
    remove_finalizers: true

- name: Delete custom resources whose operator is gone
  kubeops.platform.force_delete:
    api_version: example.com/v1
    kind: Widget
    namespace: dev
    selector: app=legacy
    remove_finalizers: true
    allow_live: true

- name: What would be deleted (no writes)
  kubeops.platform.force_delete:
    namespace: gitlab
    selector: app=gitlab
    remove_finalizers: true
  check_mode: true
"""

RETURN = r"""
results:
  description: One entry per object, including named objects that were already absent.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
      sample: PersistentVolumeClaim
    name:
      description: Name of the object.
      type: str
      sample: gitlab-data
    namespace:
      description: Namespace of the object, for namespaced kinds.
      type: str
      returned: for namespaced objects
      sample: gitlab
    changed:
      description: Whether the task deleted the object or removed finalizers (or would, in check mode).
      type: bool
      sample: true
    was_terminating:
      description: Whether the object was already terminating before the task.
      type: bool
      sample: true
    deleted:
      description: Whether a DELETE was sent (or would be, in check mode).
      type: bool
      sample: false
    finalizers_removed:
      description:
        - Finalizers that were removed. In check mode, those that would be removed if the object were still
          there after O(timeout).
      type: list
      elements: str
      sample: [kubernetes.io/pvc-protection]
    gone:
      description: Whether the object is gone at the end of the task (false in check mode).
      type: bool
      sample: true
    message:
      description: What happened, in words.
      type: str
      sample: deleted, then finalizers kubernetes.io/pvc-protection removed
missing:
  description: Names given in O(names) that did not exist.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.platform.plugins.module_utils._force_delete import (
    force_delete_options,
    run_force_delete,
)
from ansible_collections.kubeops.platform.plugins.module_utils._module import argument_spec, run


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**force_delete_options()), supports_check_mode=True)
    run(module, run_force_delete)


if __name__ == "__main__":
    main()
