#!/usr/bin/python
# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: label
short_description: Manage labels on any Kubernetes object, on many objects at once
version_added: 0.1.0
description:
  - Sets and removes labels on objects of any kind (Nodes by default), like C(kubectl label), but idempotent.
  - Acts on objects given by name and on every object a label selector matches, in one task.
  - Keys and values are checked against the Kubernetes label rules before anything is read or written.
  - Each object is updated with a merge patch guarded by its C(resourceVersion); on a 409 Conflict the
    object is read again and the change recomputed, so concurrent runs never lose each other's labels.
extends_documentation_fragment:
  - kubeops.platform.k8s_auth
  - kubeops.platform.k8s_auth.targets
  - kubeops.platform.k8s_auth.attributes
  - kubeops.platform.k8s_auth.parallel
  - kubeops.platform.k8s_auth.metadata
  - kubeops.platform.k8s_auth.namespace
options:
  labels:
    description:
      - Labels to manage. A null value removes that label (like C(kubectl label ... key-)).
      - With O(state=absent), a list of keys is accepted too.
      - Keys are qualified names (optional DNS subdomain prefix of at most 253 characters, C(/),
        name of at most 63 characters of C([A-Za-z0-9_.-]) starting and ending alphanumeric).
      - Values are strings of at most 63 characters of the same set, or empty. Quote numbers and booleans.
    type: raw
    required: true
seealso:
  - module: kubeops.platform.annotate
  - module: kubeops.platform.taint
author:
  - kubeops.platform maintainers (@kubeops)
"""

EXAMPLES = r"""
- name: Mark the GitLab middleware node (kubectl label nodes node03 gitlab/middleware=)
  kubeops.platform.label:
    names: [node03]
    labels:
      gitlab/middleware: ""

- name: Remove a label (kubectl label nodes node03 gitlab/middleware-)
  kubeops.platform.label:
    names: [node03]
    labels: [gitlab/middleware]
    state: absent

- name: Label every node of a zone in one task
  kubeops.platform.label:
    selector: topology.kubernetes.io/zone in (huanan-1,huanan-2)
    labels:
      region: huanan

- name: Relabel a pod, overwriting the old value (kubectl label pods pod-demo release=stable --overwrite)
  kubeops.platform.label:
    kind: Pod
    namespace: dev
    names: [pod-demo]
    labels:
      release: stable

- name: gitlab/* labels on these nodes are exactly these; other labels stay
  kubeops.platform.label:
    names: [node05, node06]
    labels:
      gitlab/application: ""
    state: exact
    prefixes: [gitlab/]

- name: Label Deployments matching a selector in one namespace
  kubeops.platform.label:
    api_version: apps/v1
    kind: Deployment
    namespace: gitlab
    selector: app=gitlab
    labels:
      team: platform
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
      description: Whether this object's labels changed (or would change, in check mode).
      type: bool
      sample: true
    before:
      description: The object's labels before the task.
      type: dict
      sample: {kubernetes.io/hostname: node03}
    after:
      description: The object's labels after the task (in check mode, from the server's dry run).
      type: dict
      sample: {kubernetes.io/hostname: node03, gitlab/middleware: ""}
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
    module = AnsibleModule(argument_spec=argument_spec(**metadata_options("labels")), supports_check_mode=True)
    run(module, lambda mod, client: run_metadata(mod, client, "labels"))


if __name__ == "__main__":
    main()
