# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnose filter: the doctor module's diagnosis of objects already read."""

from __future__ import annotations

DOCUMENTATION = r"""
name: diagnose
short_description: Explain why pods, workloads, Services and claims are not working, from objects already read
version_added: 0.2.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Runs the diagnosis of the M(kubeops.platform.doctor) module over objects a play has already read (for
    example with M(kubernetes.core.k8s_info)), without any request of its own; the same checks, problem codes,
    summaries and fixes.
  - Give each kind the checks need, keyed by kind (C(Pod), C(Event), C(Service), C(Endpoints), C(EndpointSlice),
    C(PersistentVolumeClaim), C(StorageClass), C(Node), C(Deployment), C(ReplicaSet), C(StatefulSet),
    C(DaemonSet), C(Job)), or one list of objects that carry their C(kind). The checks that need a kind not
    given say less.
  - Pod logs are not read; the module does that.
options:
  _input:
    description: The objects, as a mapping of kind to a list of objects, or a list of objects each with C(kind).
    type: raw
    required: true
  kind:
    description: Diagnose only objects of this kind (and what they depend on), for example V(Deployment).
    type: str
  names:
    description: With O(kind), only these objects.
    type: list
    elements: str
  namespace:
    description: Only objects of this namespace.
    type: str
seealso:
  - module: kubeops.platform.doctor
"""

EXAMPLES = r"""
- name: Read what the diagnosis needs
  kubernetes.core.k8s_info:
    kind: "{{ item }}"
    namespace: gitlab
  loop: [Pod, Event, ReplicaSet, Deployment, PersistentVolumeClaim]
  register: __read

- name: Say why gitlab-ce is not ready yet
  ansible.builtin.debug:
    msg: "{{ (__objects | kubeops.platform.diagnose(kind='Deployment', names=['gitlab'], namespace='gitlab')).summary }}"
  vars:
    __objects: "{{ dict(__read.results | map(attribute='item') | zip(__read.results | map(attribute='resources'))) }}"
"""

RETURN = r"""
_value:
  description:
    - What the M(kubeops.platform.doctor) module returns, without C(changed).
    - C(summary) (one line per problem, errors first), C(fixes) (one line per distinct fix), C(findings) (each
      with C(object), C(problem), C(severity), C(summary), C(evidence), C(fix)), C(counts) per problem,
      C(healthy) (no error found), C(checked) and C(notes).
  type: dict
"""

from ansible_collections.kubeops.platform.plugins.module_utils._diagnosis import Scope, Snapshot, diagnose
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import template_function


def diagnose_objects(objects, kind: str | None = None, names: list[str] | None = None,
                     namespace: str | None = None) -> dict:
    if isinstance(objects, list):
        by_kind: dict[str, list] = {}
        for obj in objects:
            if not isinstance(obj, dict) or not obj.get("kind"):
                raise ValueError(f"diagnose: every object of a list needs its kind, got {str(obj)[:80]}")
            by_kind.setdefault(obj["kind"], []).append(obj)
        objects = by_kind
    if not isinstance(objects, dict):
        raise ValueError(f"diagnose: expected a mapping of kind to objects or a list of objects, got "
                         f"{type(objects).__name__}")
    if names and not kind:
        raise ValueError("diagnose: names need kind, e.g. kind='Deployment'")
    scope = Scope(kind=kind, names=list(names or []), namespace=namespace)
    return diagnose(Snapshot(objects={k: list(v or []) for k, v in objects.items()}), scope)


class FilterModule:
    def filters(self):
        return {"diagnose": template_function(diagnose_objects)}
