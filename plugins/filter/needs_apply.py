# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The needs_apply filter: whether a live object differs from its manifest."""

from __future__ import annotations

DOCUMENTATION = r"""
name: needs_apply
short_description: Tell whether a Kubernetes object must be written to match its manifest
version_added: 0.1.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Compares a manifest with the object read from the cluster (for example by M(kubernetes.core.k8s_info))
    and tells whether a client-side apply is needed, so that a second run of an unchanged
    configuration sends no write at all.
  - "Returns V(true) when the object is missing; when it has no
    C(kubectl.kubernetes.io/last-applied-configuration) annotation or that annotation is not the
    manifest (compared as parsed JSON, so a setting removed from the manifest counts); or when a
    field of the manifest has another value in the cluster, for example after C(kubectl edit)."
  - Only the fields of the manifest are compared. Fields the API adds, such as defaults,
    C(status) or C(metadata.resourceVersion), never count.
  - Mappings compare the manifest's keys only; lists compare element by element and must have the
    same length; values are equal when they are equal as values or as strings, because the API
    returns some values as strings (a CPU request V(1) comes back as V('1')).
positional: live
options:
  _input:
    description: The manifest that should be applied.
    type: dict
    required: true
  live:
    description:
      - The object as the API returns it, or V(null) when it does not exist.
    type: dict
    required: true
seealso:
  - module: kubernetes.core.k8s
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Read the live objects
  kubernetes.core.k8s_info:
    api_version: "{{ item.apiVersion }}"
    kind: "{{ item.kind }}"
    name: "{{ item.metadata.name }}"
    namespace: "{{ item.metadata.namespace | default(omit) }}"
  loop: "{{ manifests }}"
  loop_control:
    label: "{{ item.kind }}/{{ item.metadata.name }}"
  register: live

- name: Apply only the manifests that differ from the cluster
  kubernetes.core.k8s:
    definition: "{{ item.0 }}"
    apply: true
  loop: "{{ manifests | zip(live.results) | list }}"
  loop_control:
    label: "{{ item.0.kind }}/{{ item.0.metadata.name }}"
  when: item.0 | kubeops.platform.needs_apply(item.1.resources | default([], true) | first | default(none))

- name: A missing object always needs a write
  ansible.builtin.debug:
    msg: "{{ {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'eureka'}} | kubeops.platform.needs_apply(none) }}"
  # => true
"""

RETURN = r"""
_value:
  description: V(true) when the manifest must be applied, V(false) when the object already matches it.
  type: bool
"""

from ansible_collections.kubeops.platform.plugins.module_utils._drift import needs_apply
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import template_function


class FilterModule:
    def filters(self):
        return {"needs_apply": template_function(needs_apply)}
