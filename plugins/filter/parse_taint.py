# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parse_taint filter: kubectl taint strings to validated taint dicts."""

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_taint
short_description: Parse and validate node taints written as kubectl does
version_added: 0.1.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Turns a taint in kubectl syntax (C(key=value:Effect), C(key:Effect), C(key=:Effect)) or a
    taint dict into the dict the Kubernetes API stores in a node's C(spec.taints).
  - The key must be a qualified name (optional DNS subdomain prefix, then C(/) and a name of at most
    63 characters), the value a valid label value, and the effect one of C(NoSchedule),
    C(PreferNoSchedule), C(NoExecute), matched case-sensitively like the API does.
  - Invalid input fails the task with the offending value and the rule it breaks, for example
    C(taint effect 'NoExcute' is not one of NoSchedule, PreferNoSchedule, NoExecute (did you mean 'NoExecute'?)).
  - kubectl's removal syntax (a trailing C(-)) is rejected; use O(kubeops.platform.taint#module:state=absent)
    to remove taints.
  - The same parser validates the taints given to the M(kubeops.platform.taint) module.
positional: require_effect
options:
  _input:
    description:
      - A taint as a kubectl string or a dict with C(key) and optional C(value), C(effect) and C(timeAdded),
        or a list of those.
    type: raw
    required: true
  require_effect:
    description:
      - Whether the effect is mandatory.
      - Set to V(false) to parse taints that name only a key (C(key) or C(key=value)), as taints to remove do.
    type: bool
    default: true
seealso:
  - plugin: kubeops.platform.format_taint
    plugin_type: filter
  - module: kubeops.platform.taint
"""

EXAMPLES = r"""
- name: Parse the taint that keeps ordinary pods off the GitLab middleware node
  ansible.builtin.debug:
    msg: "{{ 'gitlab/middleware=:NoSchedule' | kubeops.platform.parse_taint }}"
  # => {"key": "gitlab/middleware", "effect": "NoSchedule"}

- name: Parse a list of taints from the inventory
  ansible.builtin.set_fact:
    node_taints: "{{ ['dedicated=gitlab:NoSchedule', 'tag=wever:NoExecute'] | kubeops.platform.parse_taint }}"
  # => [{"key": "dedicated", "value": "gitlab", "effect": "NoSchedule"},
  #     {"key": "tag", "value": "wever", "effect": "NoExecute"}]

- name: Parse a taint given only by key, as for removal
  ansible.builtin.debug:
    msg: "{{ 'dedicated' | kubeops.platform.parse_taint(require_effect=false) }}"
  # => {"key": "dedicated"}
"""

RETURN = r"""
_value:
  description:
    - The taint as the API stores it, or a list of them when the input is a list.
    - C(value) is present only when not empty, C(effect) only when given, C(timeAdded) only when the input had it.
  type: raw
  sample: {"key": "dedicated", "value": "gitlab", "effect": "NoSchedule"}
"""

from ansible_collections.kubeops.platform.plugins.module_utils._taints import parse_taint
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import each, template_function


class FilterModule:
    def filters(self):
        return {"parse_taint": template_function(each(parse_taint))}
