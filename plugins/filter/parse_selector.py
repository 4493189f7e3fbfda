# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parse_selector filter: kubectl label selectors to LabelSelector dicts."""

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_selector
short_description: Parse a kubectl label selector into matchLabels and matchExpressions
version_added: 0.1.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Parses the label selector syntax of C(kubectl -l) and of the API's C(labelSelector) parameter
    into the LabelSelector form used by Deployments, StatefulSets, affinities and policies.
  - "Requirements are separated by commas and must all hold: C(key=value), C(key==value),
    C(key!=value), C(key in (a,b)), C(key notin (a,b)), C(key) (the label exists) and
    C(!key) (the label does not exist). Whitespace around operators and values is ignored."
  - C(!=) becomes C(NotIn) with one value. When the same key is given twice with C(=), the second
    requirement becomes an C(In) expression, so both still have to hold.
  - "Keys and values are validated with the Kubernetes naming rules. A malformed selector fails the
    task with the selector and the problem, for example
    C(label selector 'app in (a' is invalid: missing ')' after values of 'app')."
options:
  _input:
    description: The selector string. An empty string selects everything and gives an empty dict.
    type: string
    required: true
seealso:
  - plugin: kubeops.platform.format_selector
    plugin_type: filter
  - plugin: kubeops.platform.selector_match
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Turn an operator's selector into a Deployment selector
  ansible.builtin.debug:
    msg: "{{ 'app=gitlab,tier in (web,api),!canary' | kubeops.platform.parse_selector }}"
  # => {"matchLabels": {"app": "gitlab"},
  #     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["api", "web"]},
  #                          {"key": "canary", "operator": "DoesNotExist"}]}

- name: Require nodes carrying the GitLab middleware label (kubectl label nodes node03 gitlab/middleware=)
  ansible.builtin.set_fact:
    middleware_selector: "{{ 'gitlab/middleware=' | kubeops.platform.parse_selector }}"
  # => {"matchLabels": {"gitlab/middleware": ""}}
"""

RETURN = r"""
_value:
  description:
    - The selector as a LabelSelector; C(matchLabels) and C(matchExpressions) appear only when not empty.
    - Values of C(In) and C(NotIn) are sorted and deduplicated; C(Exists) and C(DoesNotExist) have no values.
  type: dict
  contains:
    matchLabels:
      description: Labels that must have exactly these values.
      type: dict
      returned: when the selector has C(=) or C(==) requirements
    matchExpressions:
      description: The other requirements, in the order written.
      type: list
      elements: dict
      returned: when the selector has other requirements
"""

from ansible_collections.kubeops.platform.plugins.module_utils._selectors import parse_selector
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import template_function


class FilterModule:
    def filters(self):
        return {"parse_selector": template_function(parse_selector)}
