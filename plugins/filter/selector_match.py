# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The selector_match filter: whether labels are selected by a label selector."""

from __future__ import annotations

DOCUMENTATION = r"""
name: selector_match
short_description: Test labels against a label selector with Kubernetes semantics
version_added: 0.1.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Tells whether an object with the given labels is selected by a label selector, exactly as
    Kubernetes decides it.
  - C(key!=value), C(key notin (...)) and C(!key) match objects that do not have the key at all;
    C(key=) matches only objects that have the key with an empty value; an empty selector matches everything.
  - Useful to check that a Service selects the pods it should, for example that the GitLab Service
    does not also select the redis and postgres pods.
positional: selector
options:
  _input:
    description: The object's labels (C(metadata.labels)). V(null) means no labels.
    type: dict
    required: true
  selector:
    description:
      - The selector, as a string (C(app=web,tier!=db)), a LabelSelector dict (C(matchLabels),
        C(matchExpressions)) or a plain map of labels such as a Service's C(spec.selector).
    type: raw
    required: true
seealso:
  - plugin: kubeops.platform.parse_selector
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check a pod against a selector
  ansible.builtin.debug:
    msg: "{{ {'app': 'gitlab', 'tier': 'web'} | kubeops.platform.selector_match('app=gitlab,tier notin (db,cache)') }}"
  # => true

- name: Fail when the GitLab Service would also route to the redis pod
  ansible.builtin.assert:
    that:
      - not (redis_pod.metadata.labels | kubeops.platform.selector_match(gitlab_service.spec.selector))
    fail_msg: >-
      Service gitlab selects {{ gitlab_service.spec.selector | kubeops.platform.format_selector }},
      which also matches pod {{ redis_pod.metadata.name }}

- name: Nodes that a pod's nodeSelector allows
  ansible.builtin.debug:
    msg: "{{ item.metadata.name }}"
  loop: "{{ nodes.resources }}"
  loop_control:
    label: "{{ item.metadata.name }}"
  when: item.metadata.labels | kubeops.platform.selector_match(pod.spec.nodeSelector | default({}))
"""

RETURN = r"""
_value:
  description: V(true) when the labels satisfy every requirement of the selector.
  type: bool
"""

from ansible_collections.kubeops.platform.plugins.module_utils._selectors import selector_match
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import template_function


class FilterModule:
    def filters(self):
        return {"selector_match": template_function(selector_match)}
