# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The format_taint filter: taint dicts to the kubectl form."""

from __future__ import annotations

DOCUMENTATION = r"""
name: format_taint
short_description: Write node taints in kubectl syntax
version_added: 0.1.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Turns a taint dict (as found in a node's C(spec.taints)) into the kubectl form
    C(key=value:Effect), C(key:Effect) when the value is empty, or C(key) when there is no effect.
  - The taint is validated first, so a malformed taint fails the task with the offending value
    and the rule it breaks.
  - A taint string is accepted too and comes back normalized (C(key=:Effect) becomes C(key:Effect)).
options:
  _input:
    description: A taint dict with C(key) and optional C(value), C(effect) and C(timeAdded), a taint string, or a list of those.
    type: raw
    required: true
seealso:
  - plugin: kubeops.platform.parse_taint
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Show a node's taints the way kubectl writes them
  ansible.builtin.debug:
    msg: "{{ node.spec.taints | default([]) | kubeops.platform.format_taint | join(', ') }}"
  # => "node-role.kubernetes.io/control-plane:NoSchedule, tag=wever:NoExecute"

- name: Format one taint
  ansible.builtin.debug:
    msg: "{{ {'key': 'dedicated', 'value': 'gitlab', 'effect': 'NoSchedule'} | kubeops.platform.format_taint }}"
  # => "dedicated=gitlab:NoSchedule"
"""

RETURN = r"""
_value:
  description: The taint in kubectl syntax, or a list of them when the input is a list.
  type: raw
  sample: dedicated=gitlab:NoSchedule
"""

from ansible_collections.kubeops.platform.plugins.module_utils._taints import format_taint
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import each, template_function


class FilterModule:
    def filters(self):
        return {"format_taint": template_function(each(format_taint))}
