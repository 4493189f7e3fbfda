# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The format_selector filter: label selectors to their canonical string form."""

from __future__ import annotations

DOCUMENTATION = r"""
name: format_selector
short_description: Write a label selector as the string kubectl and the API accept
version_added: 0.1.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Turns a label selector into the canonical string form accepted by C(kubectl -l) and by the
    API's C(labelSelector) parameter, for example to pass to M(kubernetes.core.k8s_info).
  - The input may be a LabelSelector dict (C(matchLabels), C(matchExpressions)), a plain map of
    labels such as a Service's C(spec.selector), or a selector string.
  - The selector is validated first, so a malformed one fails the task with the selector and the problem.
  - Requirements come out sorted by key; single-value C(In)/C(NotIn) are written C(key=value)/C(key!=value),
    so equal selectors give equal strings.
options:
  _input:
    description: The selector, as a dict or a string.
    type: raw
    required: true
seealso:
  - plugin: kubeops.platform.parse_selector
    plugin_type: filter
"""

EXAMPLES = r"""
- name: List the pods a Deployment selects
  kubernetes.core.k8s_info:
    kind: Pod
    namespace: gitlab
    label_selectors:
      - "{{ deployment.spec.selector | kubeops.platform.format_selector }}"
  register: gitlab_pods

- name: Format a LabelSelector
  ansible.builtin.debug:
    msg: >-
      {{ {'matchLabels': {'app': 'gitlab'},
          'matchExpressions': [{'key': 'tier', 'operator': 'NotIn', 'values': ['db']}]}
         | kubeops.platform.format_selector }}
  # => "app=gitlab,tier!=db"
"""

RETURN = r"""
_value:
  description: The selector string; empty when the selector selects everything.
  type: string
  sample: app=gitlab,tier in (api,web)
"""

from ansible_collections.kubeops.platform.plugins.module_utils._selectors import format_selector
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import template_function


class FilterModule:
    def filters(self):
        return {"format_selector": template_function(format_selector)}
