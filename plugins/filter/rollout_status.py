# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout_status filter: kubectl rollout status of a workload already read."""

from __future__ import annotations

DOCUMENTATION = r"""
name: rollout_status
short_description: Whether a Deployment, StatefulSet or DaemonSet is rolled out, in kubectl rollout status's words
version_added: 0.2.0
author:
  - kubeops.platform maintainers (@kubeops)
description:
  - Judges a workload read by a play (for example with M(kubernetes.core.k8s_info)) by the criteria of
    C(kubectl rollout status), the ones the M(kubeops.platform.restart) module waits for, without any request.
  - A ReplicaSet is judged by its replica counts.
options:
  _input:
    description: The workload object.
    type: dict
    required: true
  kind:
    description:
      - V(Deployment), V(StatefulSet), V(DaemonSet) or V(ReplicaSet).
      - Defaults to the object's C(kind); objects read by a LIST may not carry one.
    type: str
  settled:
    description:
      - Also wait until the pods removed by a scale-down are gone (C(status.replicas) no more than
        C(spec.replicas)); C(kubectl rollout status) does not.
    type: bool
    default: false
seealso:
  - module: kubeops.platform.restart
  - plugin: kubeops.platform.diagnose
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Wait until the Deployment is rolled out
  kubernetes.core.k8s_info:
    kind: Deployment
    name: gitlab
    namespace: gitlab
  register: __gitlab
  until: (__gitlab.resources | first | kubeops.platform.rollout_status(kind='Deployment')).done
  retries: 60
  delay: 10

- name: Say what a StatefulSet waits for
  ansible.builtin.debug:
    msg: "{{ (__sts.resources | first | kubeops.platform.rollout_status(kind='StatefulSet', settled=true)).message }}"
"""

RETURN = r"""
_value:
  description:
    - C(done) (rolled out), C(message) (what kubectl rollout status would print) and C(failed) (it never will
      be, as for a Deployment past its progress deadline or an update strategy rollout status cannot follow).
  type: dict
"""

from ansible_collections.kubeops.platform.plugins.module_utils._rollout import rollout_status, settled_status
from ansible_collections.kubeops.platform.plugins.plugin_utils._jinja import template_function

KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")


def workload_rollout_status(obj, kind: str | None = None, settled: bool = False) -> dict:
    if not isinstance(obj, dict):
        raise ValueError(f"rollout_status: expected a workload object, got {type(obj).__name__}")
    kind = kind or obj.get("kind")
    if kind not in KINDS:
        raise ValueError(f"rollout_status: kind must be one of {', '.join(KINDS)}, got {kind!r}"
                         + ("" if kind else " (the object carries no kind: pass kind='Deployment' or the like)"))
    progress = (settled_status if settled else rollout_status)(kind, obj)
    return {"done": progress.done, "message": progress.message, "failed": progress.failed}


class FilterModule:
    def filters(self):
        return {"rollout_status": template_function(workload_rollout_status)}
