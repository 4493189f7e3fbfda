# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The quantity filter: Kubernetes resource quantities to numbers."""

from __future__ import annotations

DOCUMENTATION = r"""
name: quantity
short_description: Convert a Kubernetes resource quantity such as 1.7Gi or 500m to a number
version_added: 0.1.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Converts a quantity as written in resource requests and limits into a plain number, so
    templates and assertions can compare and add them.
  - "Understands the Kubernetes quantity grammar: an optionally signed decimal number, followed by
    a binary suffix (C(Ki), C(Mi), C(Gi), C(Ti), C(Pi), C(Ei): powers of 1024), a decimal suffix
    (C(n), C(u), C(m), C(k), C(M), C(G), C(T), C(P), C(E): powers of 1000) or an exponent (C(1e3))."
  - Suffixes are case-sensitive as in Kubernetes; C(1.7GB) or C(1K) fail the task with the accepted suffixes.
  - Whole results are integers, others floats.
positional: unit
options:
  _input:
    description: The quantity, as a string or a number.
    type: raw
    required: true
  unit:
    description:
      - Express the result in this unit instead of base units (bytes, cores), for example C(Mi) or C(m).
    type: string
seealso:
  - name: Kubernetes resource units
    description: How CPU and memory quantities are written.
    link: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#resource-units-in-kubernetes
"""

EXAMPLES = r"""
- name: Memory in bytes and CPU in cores
  ansible.builtin.debug:
    msg:
      - "{{ '1.7Gi' | kubeops.platform.quantity }}"  # => 1825361100.8
      - "{{ '500m' | kubeops.platform.quantity }}"   # => 0.5
      - "{{ '1e3' | kubeops.platform.quantity }}"    # => 1000

- name: Memory in MiB
  ansible.builtin.debug:
    msg: "{{ '0.5Gi' | kubeops.platform.quantity('Mi') }}"  # => 512

- name: Check that the GitLab container asks for at least 4 GiB of memory
  ansible.builtin.assert:
    that:
      - gitlab_resources.requests.memory | kubeops.platform.quantity('Gi') >= 4
"""

RETURN = r"""
_value:
  description: The quantity in base units, or in O(unit) when given; an integer when whole, else a float.
  type: raw
  sample: 536870912
"""

from ansible_collections.kubeops.platform.plugins.module_utils._quantity import to_number
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import template_function


class FilterModule:
    def filters(self):
        return {"quantity": template_function(to_number)}
