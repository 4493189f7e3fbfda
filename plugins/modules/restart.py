#!/usr/bin/python
# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restart
short_description: Restart Deployments, StatefulSets, DaemonSets, ReplicaSets and bare Pods, and wait until done
version_added: 0.1.0
description:
  - Restarts workloads the way an operator does with kubectl, chosen by O(strategy), and waits until the
    restart is complete by the same criteria as C(kubectl rollout status).
  - Acts on objects given by name and on every object a label selector matches, in one task; all of them
    are restarted together and waited for together.
  - Every object's strategy is checked before the first write, so a strategy that does not fit one of the
    targets fails the task before anything is restarted.
  - The mirror of a static pod (annotation C(kubernetes.io/config.mirror), such as C(kube-apiserver-NODE)) is refused,
    since the kubelet runs it from a manifest file on its node and deleting the mirror restarts nothing.
  - With O(trigger), restarts only when the trigger differs from the one recorded by the last restart, so a
    play that re-renders configuration restarts the pods only when the configuration changed.
extends_documentation_fragment:
  - kubeops.platform.k8s_auth
  - kubeops.platform.k8s_auth.targets
  - kubeops.platform.k8s_auth.namespace
  - kubeops.platform.k8s_auth.guard
  - kubeops.platform.k8s_auth.parallel
  - kubeops.platform.k8s_auth.attributes
options:
  kind:
    description:
      - Kind of the objects to restart. kubectl's short names are accepted too (V(deploy), V(sts), V(ds), V(rs), V(po)).
      - A Job or CronJob is refused, with how to run it again instead.
    type: str
    default: Deployment
  strategy:
    description:
      - How to restart.
      - V(rollout) patches the pod template annotation C(kubectl.kubernetes.io/restartedAt) exactly as
        C(kubectl rollout restart) does, so kubectl and dashboards show a normal restart. The default for
        Deployments, StatefulSets and DaemonSets. Refused for a workload with updateStrategy C(OnDelete),
        whose pods it would not replace, and for a paused Deployment.
      - V(recreate) deletes a bare Pod (one without a controller) and creates it again from its own spec, with
        the fields the server set removed (C(kubectl get pod -o yaml | kubectl replace --force -f -)). The pod
        comes back with the same name, labels and spec, on a node the scheduler picks. The default for bare Pods.
      - V(scale) scales the workload to 0, waits until its pods are gone, and scales it back to the replica
        count it had. On any failure in between the replica count is restored before the task fails.
      - V(delete_pods) deletes the workload's pods (those its selector matches and it owns) for its controller
        to create again. The default for ReplicaSets and for Pods that a controller owns.
    type: str
    choices: [rollout, recreate, scale, delete_pods]
  grace_period:
    description:
      - Seconds each pod gets to stop when V(delete_pods) or V(recreate) deletes it; V(0) deletes at once
        (like C(kubectl delete pod --grace-period=0 --force)). Without it the pod's own
        C(terminationGracePeriodSeconds) applies.
    type: int
  wait:
    description:
      - Wait until the restart is complete; the task then fails at O(wait_timeout) naming the pods that are
        not ready and why.
      - C(rollout) is complete when the controller has observed the change and all replicas are updated and
        available with no old pods left (C(kubectl rollout status)); C(recreate) when the new pod is Running
        and Ready; C(scale) and C(delete_pods) when the old pods are gone and all replicas are ready again.
      - V(scale) and V(recreate) always wait for the old pods to go before scaling back or creating again.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each waiting phase.
    type: int
    default: 300
  trigger:
    description:
      - Restart only when this value differs from the one recorded on the object by the last restart with a
        trigger (annotation C(kubeops.platform/restart-trigger)), and record it. Typically a hash of the
        rendered configuration. Without it every run restarts and reports a change.
      - The value is stored as given, in plain text; pass a hash, not the configuration itself.
      - Not accepted for Pods that a controller replaces, as the new pod would not carry it; restart their
        controller instead.
    type: str
attributes:
  check_mode:
    details: Nothing is written. Patches and pod deletions are sent as server-side dry runs, so the API server
      validates them; the result says which objects would restart, how, and which pods would be replaced.
  diff_mode:
    details: The before and after of each restarted object's restart fields (restartedAt, revision, replicas, pod uid, trigger).
  idempotent:
    support: partial
    details: Only with O(trigger); without it every run is a new restart.
notes:
  - Waiting polls the objects with a sub-second interval that backs off to one second while nothing changes,
    with one LIST request per look when O(selector) chose the objects.
seealso:
  - module: kubeops.platform.force_delete
  - module: kubernetes.core.k8s_rollback
author:
  - kubeops.platform maintainers (@kubeops)
"""

EXAMPLES = r"""
- name: Restart a Deployment like kubectl rollout restart, and wait until it is rolled out
  kubeops.platform.restart:
    namespace: dsp
    names: [esb-admin]

- name: Restart the pods only when the rendered configuration changed
  kubeops.platform.restart:
    namespace: gitlab
    names: [gitlab]
    trigger: "{{ lookup('ansible.builtin.template', 'gitlab.rb.j2') | hash('sha256') }}"

- name: Restart every StatefulSet of an application in one task
  kubeops.platform.restart:
    kind: StatefulSet
    namespace: eureka
    selector: app.kubernetes.io/part-of=registry
    wait_timeout: 600

- name: Re-create a bare pod from its own spec (kubectl get pod -o yaml | kubectl replace --force -f -)
  kubeops.platform.restart:
    kind: Pod
    namespace: dev
    names: [pod-toleration]

- name: Scale to 0 and back (kubectl scale --replicas=0, then the old count)
  kubeops.platform.restart:
    namespace: dsp
    names: [esb-admin]
    strategy: scale

- name: Delete the pods of a ReplicaSet at once and let it create new ones
  kubeops.platform.restart:
    kind: ReplicaSet
    namespace: dsp
    names: [otel-collector-6f8c7c9754]
    strategy: delete_pods
    grace_period: 0

- name: What would restart (no writes)
  kubeops.platform.restart:
    namespace: gitlab
    selector: app=gitlab
  check_mode: true
"""

RETURN = r"""
results:
  description: One entry per object acted on.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
      sample: Deployment
    name:
      description: Name of the object.
      type: str
      sample: esb-admin
    namespace:
      description: Namespace of the object.
      type: str
      sample: dsp
    changed:
      description: Whether the object was restarted (or would be, in check mode).
      type: bool
      sample: true
    strategy:
      description: The strategy used for this object.
      type: str
      sample: rollout
    before:
      description:
        - The object's restart fields before the task. Workloads have C(restarted_at) (the
          C(kubectl.kubernetes.io/restartedAt) pod template annotation), C(revision) (Deployment revision,
          StatefulSet update revision), C(generation), C(replicas) and C(trigger), as far as the kind has them;
          Pods have C(uid), C(node) and C(trigger).
      type: dict
      sample: {restarted_at: null, revision: "3", generation: 5, replicas: 2, trigger: null}
    after:
      description: The same fields after the restart (with O(wait), once it is complete).
      type: dict
      sample: {restarted_at: "2025-05-01T10:00:00+08:00", revision: "4", generation: 6, replicas: 2, trigger: null}
    pods_replaced:
      description:
        - Names of the pods the restart replaces (or would, in check mode), as they were before it.
          With O(wait), all of them have been replaced when the task returns; some may still be terminating.
        - A re-created Pod keeps its name; its C(uid) in RV(results[].after) is new.
      type: list
      elements: str
      sample: [esb-admin-6d4b9c7f5-x7k2p, esb-admin-6d4b9c7f5-q9w8e]
    duration:
      description: Seconds from the start of the restart to its completion (or to the return, without O(wait)).
      type: float
      sample: 12.4
    message:
      description: What happened, in words.
      type: str
      sample: "restarted: rollout restart"
missing:
  description: Names given in O(names) that do not exist.
  returned: always
  type: list
  elements: str
  sample: []
pending:
  description: On a failed wait, the objects not done, what each waits for, and its pods that are not ready.
  returned: when a wait fails
  type: list
  elements: dict
  sample:
    - kind: Deployment
      name: web
      namespace: dsp
      waiting_for: 0 of 2 updated replicas are available
      pods: [{name: web-7d9f-abcde, phase: Pending, reason: ImagePullBackOff, message: Back-off pulling image "web:nope"}]
manifests:
  description:
    - When V(recreate) deleted a pod but could not create it again, its cleaned manifest, to create it by hand.
    - It holds no service-account token (the injected token volumes are removed).
  returned: when recreating a pod fails after its deletion
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.platform.plugins.module_utils._module import argument_spec, run
from ansible_collections.kubeops.platform.plugins.module_utils._restart import restart_options, run_restart


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**restart_options()), supports_check_mode=True)
    run(module, run_restart)


if __name__ == "__main__":
    main()
