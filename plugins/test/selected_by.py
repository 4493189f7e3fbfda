# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The selected_by test: the selector_match filter as a Jinja test, for select/selectattr."""

from __future__ import annotations

DOCUMENTATION = r"""
name: selected_by
short_description: Whether labels are selected by a label selector, as a test for select and selectattr
version_added: 0.1.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - The test form of the P(kubeops.platform.selector_match#filter) filter, with the same Kubernetes
    semantics, so a list of objects can be filtered with C(selectattr('metadata.labels', ...)).
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
  - plugin: kubeops.platform.selector_match
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Names of the nodes reserved for GitLab's middleware
  ansible.builtin.debug:
    msg: >-
      {{ nodes.resources | selectattr('metadata.labels', 'kubeops.platform.selected_by', 'gitlab/middleware')
         | map(attribute='metadata.name') | list }}

- name: Pods a Service routes to
  ansible.builtin.set_fact:
    backends: "{{ pods.resources | selectattr('metadata.labels', 'kubeops.platform.selected_by', service.spec.selector) | list }}"

- name: A bare label map can be tested directly
  ansible.builtin.assert:
    that: "{'app': 'gitlab', 'tier': 'web'} is kubeops.platform.selected_by('app=gitlab,tier!=db')"
"""

RETURN = r"""
_value:
  description: V(true) when the labels satisfy every requirement of the selector.
  type: bool
"""

from ansible_collections.kubeops.platform.plugins.module_utils._selectors import selector_match
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import template_function


class TestModule:
    def tests(self):
        return {"selected_by": template_function(selector_match)}
