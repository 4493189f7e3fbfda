#!/usr/bin/python
# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: taint
short_description: Manage node taints declaratively, on many nodes at once
version_added: 0.1.0
description:
  - Adds, updates and removes taints on Kubernetes nodes, like C(kubectl taint nodes), but idempotent.
  - Acts on nodes given by name and on every node a label selector matches, in one task.
  - Every taint is validated before anything is read or written.
  - Each node is updated with a merge patch guarded by its C(resourceVersion); on a 409 Conflict the
    node is read again and the change recomputed, so concurrent runs never lose each other's taints.
  - Taints that stay keep their C(timeAdded).
extends_documentation_fragment:
  - kubeops.platform.k8s_auth
  - kubeops.platform.k8s_auth.targets
  - kubeops.platform.k8s_auth.attributes
  - kubeops.platform.k8s_auth.parallel
options:
  taints:
    description:
      - Taints as dictionaries with C(key), optional C(value) and C(effect), or as kubectl strings
        V(key=value:Effect), V(key:Effect), or V(key) (only with O(state=absent)).
      - The effect must be one of V(NoSchedule), V(PreferNoSchedule), V(NoExecute); the key is a qualified
        name (optional DNS subdomain prefix, C(/), name of at most 63 characters); the value follows the
        label value rules.
      - A taint whose key and effect already exist with another value is updated in place.
    type: list
    elements: raw
    required: true
  state:
    description:
      - V(present) adds or updates the taints.
      - V(absent) removes taints matching by key and, when given, effect; a key alone removes every effect
        of that key, like C(kubectl taint nodes NODE key-). Values are ignored.
      - V(exact) makes the listed taints the node's whole set (only taints under O(prefixes) when given).
        Taints of Kubernetes itself, keys under C(kubernetes.io/), C(k8s.io/) and their subdomains
        (C(node.kubernetes.io/not-ready), C(node-role.kubernetes.io/control-plane),
        C(node.cloudprovider.kubernetes.io/uninitialized)), are never removed unless a prefix in O(prefixes)
        names that domain, for example V(node-role.kubernetes.io/).
    type: str
    choices: [present, absent, exact]
    default: present
  prefixes:
    description:
      - With O(state=exact), manage only taints whose key starts with one of these strings,
        for example V(gitlab/); taints such as C(node.kubernetes.io/unreachable) set by Kubernetes stay.
      - A Kubernetes taint (key under C(kubernetes.io/) or C(k8s.io/) or a subdomain) is managed only by a
        prefix that names its domain, such as V(node-role.kubernetes.io/); V(node) does not cover
        C(node-role.kubernetes.io/control-plane).
      - Every listed taint must then start with one of them.
    type: list
    elements: str
seealso:
  - module: kubeops.platform.label
  - ref: kubeops.platform.parse_taint filter <ansible_collections.kubeops.platform.parse_taint_filter>
    description: Parse kubectl taint strings in templates.
author:
  - kubeops.platform maintainers (@kubeops)
"""

EXAMPLES = r"""
- name: Keep GitLab middleware nodes for redis and postgres (kubectl taint nodes node03 gitlab/middleware=:NoSchedule)
  kubeops.platform.taint:
    names: [node03, node04]
    taints:
      - gitlab/middleware:NoSchedule

- name: Taint every node of a pool in one task
  kubeops.platform.taint:
    selector: pool=gpu
    taints:
      - key: nvidia.com/gpu
        value: present
        effect: NoSchedule

- name: Remove every effect of a key (kubectl taint nodes node03 gitlab/middleware-)
  kubeops.platform.taint:
    names: [node03]
    taints: [gitlab/middleware]
    state: absent

- name: Make gitlab/* taints exactly these, leave all other taints alone
  kubeops.platform.taint:
    selector: gitlab/application
    taints:
      - gitlab/application=:NoSchedule
    state: exact
    prefixes: [gitlab/]

- name: Connection options once for this collection and kubernetes.core
  module_defaults:
    group/kubeops.platform.k8s:
      kubeconfig: ~/.kube/prod.yaml
      context: prod-admin
  block:
    - name: Drain-style taint on one node
      kubeops.platform.taint:
        names: [node05]
        taints: [maintenance=kernel-upgrade:NoExecute]
"""

RETURN = r"""
results:
  description: One entry per node acted on.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Node name.
      type: str
      sample: node03
    changed:
      description: Whether this node's taints changed (or would change, in check mode).
      type: bool
      sample: true
    before:
      description: The node's taints before the task.
      type: list
      elements: dict
      sample: []
    after:
      description: The node's taints after the task (as the API server returned them; in check mode, from its dry run).
      type: list
      elements: dict
      sample: [{key: gitlab/middleware, effect: NoSchedule}]
missing:
  description: Names given in O(names) that do not exist.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.platform.plugins.module_utils._module import argument_spec, run
from ansible_collections.kubeops.platform.plugins.module_utils._node_taints import TAINT_OPTIONS, run_taint


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**TAINT_OPTIONS), supports_check_mode=True)
    run(module, run_taint)


if __name__ == "__main__":
    main()
