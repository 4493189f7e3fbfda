# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tolerates filter: the taints a pod's tolerations do not tolerate."""

from __future__ import annotations

DOCUMENTATION = r"""
name: tolerates
short_description: List the node taints that a pod's tolerations do not tolerate
version_added: 0.1.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Compares a pod's tolerations with a node's taints using the scheduler's rules and returns the
    taints that no toleration tolerates. An empty list means the pod tolerates every taint.
  - A toleration tolerates a taint when its effect is empty or equal to the taint's, its key is
    empty or equal, and its operator is C(Exists), or C(Equal) (the default) with the same value.
    C(operator=Exists) with an empty key tolerates every taint.
  - Tolerations are validated as the API server does; a typo such as C(effect=NoExcude) fails the
    task with C(did you mean 'NoExecute'?) instead of silently tolerating nothing.
  - C(PreferNoSchedule) taints are returned too; they only discourage scheduling.
positional: taints
options:
  _input:
    description: The pod's tolerations (C(spec.tolerations)). V(null) means none.
    type: list
    elements: dict
    required: true
  taints:
    description: The node's taints (C(spec.taints)), as dicts or kubectl strings such as C(tag=wever:NoExecute).
    type: list
    elements: raw
    required: true
seealso:
  - plugin: kubeops.platform.parse_taint
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check that the redis pod may run on the GitLab middleware node
  ansible.builtin.assert:
    that:
      - redis_pod.spec.tolerations | default([]) | kubeops.platform.tolerates(node.spec.taints | default([])) == []
    fail_msg: >-
      redis does not tolerate
      {{ redis_pod.spec.tolerations | default([]) | kubeops.platform.tolerates(node.spec.taints | default([]))
         | kubeops.platform.format_taint | join(', ') }}

- name: Tolerations against kubectl-style taints
  ansible.builtin.debug:
    msg: >-
      {{ [{'key': 'tag', 'operator': 'Equal', 'value': 'wever', 'effect': 'NoExecute'}]
         | kubeops.platform.tolerates(['tag=wever:NoExecute', 'gitlab/middleware:NoSchedule']) }}
  # => [{"key": "gitlab/middleware", "effect": "NoSchedule"}]
"""

RETURN = r"""
_value:
  description: The taints not tolerated, as parsed taint dicts in the order given; empty when all are tolerated.
  type: list
  elements: dict
"""

from ansible_collections.kubeops.platform.plugins.module_utils._tolerations import untolerated_taints
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import template_function


class FilterModule:
    def filters(self):
        return {"tolerates": template_function(untolerated_taints)}
