#!/usr/bin/python
# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: annotate
short_description: Manage annotations on any Kubernetes object, on many objects at once
version_added: 0.1.0
description:
  - Sets and removes annotations on objects of any kind (Nodes by default), like C(kubectl annotate), but idempotent.
  - Same engine as M(kubeops.platform.label), with the annotation rules instead of the label rules.
  - Keys are checked before anything is read or written; the total size of an object's annotations
    must stay within 256 KiB, as the API server requires.
  - Each object is updated with a merge patch guarded by its C(resourceVersion); on a 409 Conflict the
    object is read again and the change recomputed.
extends_documentation_fragment:
  - kubeops.platform.k8s_auth
  - kubeops.platform.k8s_auth.targets
  - kubeops.platform.k8s_auth.attributes
  - kubeops.platform.k8s_auth.parallel
  - kubeops.platform.k8s_auth.metadata
  - kubeops.platform.k8s_auth.namespace
options:
  annotations:
    description:
      - Annotations to manage. A null value removes that annotation.
      - With O(state=absent), a list of keys is accepted too.
      - Keys are qualified names like label keys; values are any strings (quote numbers and booleans).
    type: raw
    required: true
seealso:
  - module: kubeops.platform.label
author:
  - kubeops.platform maintainers (@kubeops)
"""

EXAMPLES = r"""
- name: Record who owns the GitLab nodes
  kubeops.platform.annotate:
    selector: gitlab/middleware
    annotations:
      owner.kubeops.io/team: platform
      owner.kubeops.io/contact: "ops@example.com"

- name: Bind the GitLab pods to a dedicated IP pool when the default IPv4 pool is exhausted
  kubeops.platform.annotate:
    api_version: apps/v1
    kind: Deployment
    namespace: gitlab
    names: [gitlab]
    annotations:
      dce.daocloud.io/parcel.net.type: calico
      dce.daocloud.io/parcel.net.value: gitlab-ipv4-gitlab2,gitlab-ipv6-gitlab2

- name: Remove an annotation
  kubeops.platform.annotate:
    names: [node03]
    annotations: [owner.kubeops.io/contact]
    state: absent
"""

RETURN = r"""
results:
  description: One entry per object acted on.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
      sample: Node
    name:
      description: Name of the object.
      type: str
      sample: node03
    namespace:
      description: Namespace of the object, for namespaced kinds.
      type: str
      returned: for namespaced objects
      sample: gitlab
    changed:
      description: Whether this object's annotations changed (or would change, in check mode).
      type: bool
      sample: true
    before:
      description: The object's annotations before the task.
      type: dict
      sample: {}
    after:
      description: The object's annotations after the task (in check mode, from the server's dry run).
      type: dict
      sample: {owner.kubeops.io/team: platform}
missing:
  description: Names given in O(names) that do not exist.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.platform.plugins.module_utils._metadata import metadata_options, run_metadata
from ansible_collections.kubeops.platform.plugins.module_utils._module import argument_spec, run


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**metadata_options("annotations")), supports_check_mode=True)
    run(module, lambda mod, client: run_metadata(mod, client, "annotations"))


if __name__ == "__main__":
    main()
