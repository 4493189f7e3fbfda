#!/usr/bin/python
# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: doctor
short_description: Explain why workloads, Services and claims in a namespace do not work (read-only)
version_added: 0.1.0
description:
  - >-
    Diagnoses a namespace (or every namespace) the way an operator does with C(kubectl describe) and
    C(kubectl logs), and returns structured findings: what is wrong, the facts that show it, and what to change.
  - "Services: a selector that matches no pod (connection refused), pods of several workloads, no Ready pod,
    a targetPort the pods do not expose. Pending pods: the scheduler's C(FailedScheduling) reasons with their
    node counts, explained against the nodes (the request and the largest allocatable, the labels a node
    selector wants and the nodes have, the taints not tolerated), unbound claims. Containers: OOMKilled with
    the memory limit, CrashLoopBackOff with the exit code and the last log lines, image pull errors, missing
    Secrets, ConfigMaps and keys, failing probes. Sandboxes: network plugin errors, IP pool exhaustion.
    Claims: a missing StorageClass, no default class, failed provisioning. Workloads: stuck rollouts and
    unavailable replicas, with their pods' findings, pods that cannot be created (quota, admission)."
  - Never writes anything. RV(changed) is always V(false), and check mode runs the same reads.
  - One LIST request per kind it needs (pods, events, Services, EndpointSlices, claims, nodes, StorageClasses,
    ReplicaSets and the workload kinds), each read only when a check needs it, never a request per object;
    the only other reads are one GET of the namespace (so a misspelt namespace fails instead of looking
    healthy) and container logs.
  - Logs are read for crash-looping and failed containers only, at most 10 per task (O(log_lines) lines of the
    previous instance for a crash loop, of the current one for a failed container); set O(logs=false) to read none.
  - >-
    Kinds that the credentials may not list (often nodes and StorageClasses for a namespace-scoped account) do not
    fail the task: the checks that need them say less, and RV(notes) says which. The pods, and the kind named
    in O(kind), must be readable.
extends_documentation_fragment:
  - kubeops.platform.k8s_auth
  - kubeops.platform.k8s_auth.attributes
options:
  namespace:
    description:
      - Namespace to diagnose. Required unless O(all_namespaces=true); giving both is an error.
    type: str
  all_namespaces:
    description:
      - Diagnose every namespace (one LIST per kind across the cluster). Must be asked for explicitly.
    type: bool
    default: false
  kind:
    description:
      - Diagnose only objects of this kind, and what they depend on (a workload's pods and their claims, a pod's
        claims).
      - One of V(Deployment), V(StatefulSet), V(DaemonSet), V(Job), V(Pod), V(Service), V(PersistentVolumeClaim);
        kubectl's names are accepted too (V(deploy), V(sts), V(ds), V(po), V(svc), V(pvc)).
      - Without it (or empty), every one of those kinds is diagnosed.
    type: str
  names:
    description:
      - Names of the O(kind) objects to diagnose; needs O(kind). A name that does not exist is reported as a
        C(not_found) finding and in RV(missing).
      - With O(selector), the named objects and every object the selector matches are diagnosed.
      - Found in the LIST of the kind, not with a request per name.
    type: list
    elements: str
  selector:
    description:
      - Label selector in kubectl syntax narrowing the objects diagnosed, for example V(app=gitlab) or
        V(tier in (web,api\)). With O(kind), the server filters that kind's LIST; without it, it narrows every kind.
      - An empty string (an empty survey field) does not narrow; for this read-only module that is safe.
      - A selector that matches nothing warns.
    type: str
  fail_on:
    description:
      - V(error) fails the task when there is a finding of severity C(error); V(warning) also for C(warning)
        findings; V(never) reports only.
      - A failed task still returns every result key, and its message holds the summary lines that made it fail.
    type: str
    choices: [error, warning, never]
    default: never
  logs:
    description:
      - Read the last log lines of crash-looping and failed containers (at most 10 containers per task).
    type: bool
    default: true
  log_lines:
    description:
      - How many log lines to keep per container, 1 to 1000.
    type: int
    default: 20
attributes:
  check_mode:
    support: full
    details: The module only reads; check mode changes nothing about what it does.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Read-only.
notes:
  - RV(healthy) is V(true) when there is no finding of severity C(error); warnings do not make a namespace unhealthy.
  - A claim of a StorageClass with C(volumeBindingMode=WaitForFirstConsumer) that no scheduled pod uses yet is
    Pending by design; it is not a finding, RV(notes) mentions it. When a pod uses it and cannot be scheduled,
    the pod's finding says why.
  - A Service without a selector (Endpoints managed by hand) and an C(ExternalName) Service are not checked.
  - A pod kept off nodes by its own node selector is not reported for those nodes; the nodes it may run on are
    explained. The scheduler's message comes from the newest C(FailedScheduling) event, or from the pod's
    C(PodScheduled) condition once the events have expired.
  - Pod findings name the top-level controller in C(owner), found through owner references (a ReplicaSet's
    Deployment by uid, not by name). In RV(summary), the same problem in several pods of one workload is one line.
  - "Problem codes (RV(findings[].problem)), their severity, and the general fix. A finding's own C(fix) is
    usually more specific: it names the labels, the taint, the Secret or the numbers."
  - >-
    C(service_selector_matches_nothing) (error): The Service's selector matches no pod in its namespace, so it
    has no endpoints and clients get connection refused or time out. Fix: Make spec.selector equal to labels the
    pods carry (compare it with kubectl get pods --show-labels), or correct the workload's
    spec.template.metadata.labels; the evidence lists the pods whose labels come closest and what differs.
  - >-
    C(service_backend_scaled_to_zero) (warning): The selector matches the pod template of a workload that is
    scaled to 0 replicas, so the Service has no endpoints. Fix: Scale the workload up (kubectl scale
    --replicas=N), or stop routing traffic to this Service.
  - >-
    C(service_selects_several_workloads) (warning): The selector matches pods of more than one workload, so
    traffic is spread over all of them (a Service selecting only app=gitlab also gets the redis and postgres
    pods). Fix: Add a label that only the intended pods carry (for example app.kubernetes.io/component) to the
    selector and to that workload's pod template.
  - >-
    C(service_no_ready_pods) (error): The selector matches pods, but none of them is Ready, so the Service has
    no ready endpoints. Fix: Make the pods Ready: their own findings say why they are not.
  - >-
    C(service_target_port_missing) (error): A port's targetPort is a name that no container of the selected pods
    declares, so that port has no endpoints. Fix: Name the container port as the targetPort says (ports[].name
    in the pod template), or set targetPort to the container's port number.
  - >-
    C(service_target_port_not_declared) (warning): A port's numeric targetPort is not among the container ports
    the selected pods declare; traffic goes to that port whether or not anything listens there (connection
    refused). Fix: Set targetPort to the port the application listens on (containerPort), or declare that port
    in the container.
  - >-
    C(pod_unschedulable_resources) (error): The pod stays Pending: nodes lack the cpu, memory or other resource
    it requests (scheduler: Insufficient cpu / Insufficient memory). Fix: Lower resources.requests so the pod
    fits on a node, add nodes (or bigger ones), or free capacity that other pods' requests reserve (kubectl
    describe node shows the allocated resources).
  - >-
    C(pod_unschedulable_too_many_pods) (error): The pod stays Pending: the nodes already run as many pods as
    their kubelet allows (Too many pods). Fix: Add nodes, raise the kubelet's maxPods where the pod network has
    addresses for it, or remove pods that are not needed.
  - >-
    C(pod_unschedulable_node_selector) (error): The pod stays Pending: no node has the labels its nodeSelector
    or required node affinity asks for (node(s) didn't match node selector / Pod's node affinity). Fix: Label
    the node the pod should run on (kubectl label nodes NODE key=value, module kubeops.platform.label or role
    kubeops.platform.nodes; see kubectl get node --show-labels), or correct the pod template's
    nodeSelector/affinity.
  - >-
    C(pod_unschedulable_taints) (error): The pod stays Pending: the nodes it may run on carry taints it does not
    tolerate (node(s) had untolerated taint). Fix: Add a matching toleration to the pod template, remove the
    taint (kubectl taint nodes NODE key-, module kubeops.platform.taint with state absent), or let the pod run
    on other nodes; a node.kubernetes.io/* taint means the node itself is cordoned or unhealthy.
  - >-
    C(pod_unschedulable_volumes) (error): The pod stays Pending because of its volumes: a PersistentVolumeClaim
    is not bound or does not exist, or its volume cannot be attached on any node that qualifies. Fix: Fix the
    claim (its own finding says why it is not bound), or correct the claim name in the pod template.
  - >-
    C(pod_unschedulable) (error): The pod stays Pending for another scheduling reason (pod affinity or
    anti-affinity, topology spread, host ports, scheduling gates, no nodes at all). Fix: Read the scheduler's
    message in the evidence and relax the constraint it names.
  - >-
    C(pod_sandbox_failed) (error): The kubelet cannot create the pod's sandbox (FailedCreatePodSandBox), usually
    a network plugin (CNI) error, so no container starts. Fix: Check the CNI pods on the pod's node (kubectl -n
    kube-system get pods -o wide) and the message in the evidence.
  - >-
    C(pod_ip_exhausted) (error): The pod's sandbox cannot get an IP address: the IP pool is exhausted (failed to
    request 1 IPv4 addresses. IPAM allocated only 0). Fix: Create a dedicated IP pool and bind the workload to
    it with the pod template annotation the CNI reads (Calico: cni.projectcalico.org/ipv4pools; DCE:
    dce.daocloud.io/parcel.net.value), or enlarge the pool, or free addresses held by old pods.
  - >-
    C(pod_volume_mount_failed) (error): The kubelet cannot mount or attach one of the pod's volumes
    (FailedMount, FailedAttachVolume), so its containers do not start. Fix: Create the Secret or ConfigMap the
    volume names, or fix the volume; for a volume attached to another node, wait for it to detach or delete the
    pod that holds it.
  - >-
    C(pod_evicted) (warning): The kubelet evicted the pod because its node ran low on memory or disk. Fix: Give
    the containers resources.requests (and memory limits) that match their use, so they are not the first
    evicted; delete the Failed pod once its controller has replaced it.
  - >-
    C(pod_failed) (error; a warning for a pod that a controller replaces): The pod failed as a whole: the
    kubelet rejected or ended it (OutOfcpu, NodeAffinity, Shutdown...). Fix: Read the reason in the evidence; a
    pod with spec.nodeName bypasses the scheduler, so the node must have room for it and it must tolerate the
    node's taints.
  - >-
    C(pod_stuck_terminating) (warning): The pod was deleted but is still there well after its grace period:
    finalizers hold it, or its node does not answer. Fix: Find out why (a NotReady node, a finalizer's
    controller), then use kubeops.platform.force_delete (kubectl delete pod --force --grace-period=0;
    remove_finalizers for finalizers).
  - >-
    C(container_oom_killed) (error; a warning when the container is running again): The container was OOMKilled
    (exit code 137): it used more memory than resources.limits.memory. Fix: Make the program use less memory, or
    raise resources.limits.memory (and the request) in the pod template.
  - >-
    C(container_crash_loop) (error): The container keeps exiting and the kubelet restarts it with growing
    back-off (CrashLoopBackOff). Fix: Read the log lines and the exit code in the evidence (1: the application
    failed, 137: killed, 139: segmentation fault, 0: the command ends although the container must keep running)
    and fix the command, the configuration or the image.
  - >-
    C(container_image_pull_failed) (error): The image cannot be pulled (ErrImagePull, ImagePullBackOff,
    InvalidImageName). Fix: Correct the image name or tag, give the pod imagePullSecrets for a private registry,
    or make the registry reachable from the nodes, as the message in the evidence says.
  - >-
    C(container_config_error) (error): The container cannot be created because its configuration refers to
    something missing (CreateContainerConfigError: secret "x" not found, couldn't find key k in Secret ns/x).
    Fix: Create the Secret or ConfigMap, or add the missing key, or mark the reference optional.
  - >-
    C(container_start_failed) (error): The container runtime cannot create or start the container
    (CreateContainerError, RunContainerError: a command that does not exist, a bad mount). Fix: Fix the command,
    working directory or mounts the message in the evidence names.
  - >-
    C(container_probe_failing) (error; a warning for liveness failures of a container that is Ready now): A
    readiness, startup or liveness probe fails (Unhealthy events), so the container is not Ready or is
    restarted. Fix: Make the probe match the application (path, port, scheme, initialDelaySeconds,
    timeoutSeconds), or fix the application so it answers.
  - >-
    C(container_failed) (error): The container terminated with a non-zero exit code and is not restarted
    (restartPolicy Never, a Job's pod). Fix: Read the log lines and the exit code in the evidence and fix the
    command or its input.
  - >-
    C(pvc_storage_class_not_found) (error): The claim names a StorageClass that does not exist
    (storageclass.storage.k8s.io "x" not found), so no volume is provisioned. Fix: Set storageClassName to an
    existing class (kubectl get storageclass); the claim's spec cannot be changed in place, so delete and
    re-create it.
  - >-
    C(pvc_no_storage_class) (error): The claim has no StorageClass and there is no default class, so only a
    PersistentVolume created by hand can bind it (no persistent volumes available for this claim and no storage
    class is set). Fix: Create a matching PersistentVolume, set storageClassName, or mark a class as the default
    (annotation storageclass.kubernetes.io/is-default-class: "true").
  - >-
    C(pvc_provisioning_failed) (error): The provisioner of the claim's StorageClass failed to create a volume
    (ProvisioningFailed). Fix: Read the provisioner's message in the evidence (quota, zone, parameters) and fix
    the class or the provisioner.
  - >-
    C(pvc_pending) (warning): The claim is not bound yet: a provisioner is creating its volume, or it waits for
    a matching PersistentVolume. Fix: If it stays Pending, check that the class's provisioner runs (kubectl get
    pods -A | grep provisioner) and read its logs.
  - >-
    C(pvc_lost) (error): The claim's PersistentVolume is gone (phase Lost); its data is no longer reachable
    through it. Fix: Restore the PersistentVolume (with the same name and claimRef), or delete and re-create the
    claim.
  - >-
    C(rollout_stuck) (error): The rollout does not complete: a Deployment exceeded its progress deadline
    (ProgressDeadlineExceeded), or a StatefulSet's rolling update halts at a pod that fails. Fix: Fix what its
    pods' findings name; or roll back (kubectl rollout undo) to the last working template.
  - >-
    C(workload_unavailable) (error; a warning while some but not all replicas are available): A Deployment,
    StatefulSet or DaemonSet has no available pod although it wants some. Fix: Fix what its pods' findings name.
  - >-
    C(workload_create_failed) (error): The controller cannot create the workload's pods (FailedCreate,
    ReplicaFailure): a quota, a LimitRange, Pod Security admission or a webhook refused them. Fix: Read the
    refusal in the evidence and raise the quota, fix the pod template, or ask for the namespace's policy to
    allow it.
  - >-
    C(job_failed) (error): The Job failed (BackoffLimitExceeded, DeadlineExceeded) and runs no more pods. Fix:
    Fix what its pods' findings name, then delete and re-create the Job.
  - >-
    C(not_found) (error): An object named in the task does not exist. Fix: Check the name, the kind and the
    namespace; create the object if it should exist.
seealso:
  - module: kubeops.platform.restart
  - module: kubeops.platform.force_delete
  - module: kubeops.platform.label
  - module: kubeops.platform.taint
  - module: kubernetes.core.k8s_info
author:
  - kubeops.platform maintainers (@kubeops)
"""

EXAMPLES = r"""
- name: Why does the namespace not work?
  kubeops.platform.doctor:
    namespace: rftest
  register: diagnosis

- name: Show what is wrong, errors first
  ansible.builtin.debug:
    var: diagnosis.summary

- name: A Service answers connection refused
  kubeops.platform.doctor:
    namespace: rftest
    kind: Service
    names: [prom-test-exporter]

- name: Pods of a Deployment stay Pending (0/7 nodes are available ...)
  kubeops.platform.doctor:
    namespace: dsp
    kind: deploy
    names: [esb-admin]

- name: Gate a deployment pipeline on the namespace's health
  kubeops.platform.doctor:
    namespace: gitlab
    fail_on: error

- name: Everything labelled app=gitlab, without reading logs
  kubeops.platform.doctor:
    namespace: gitlab
    selector: app=gitlab
    logs: false

- name: Every OOMKilled container in the cluster
  kubeops.platform.doctor:
    all_namespaces: true
    kind: Pod
  register: cluster

- name: List them
  ansible.builtin.debug:
    msg: "{{ cluster.findings | selectattr('problem', 'equalto', 'container_oom_killed') | map(attribute='summary') | list }}"
"""

RETURN = r"""
changed:
  description: Always V(false); the module never writes.
  returned: always
  type: bool
  sample: false
healthy:
  description: Whether there is no finding of severity C(error).
  returned: always
  type: bool
  sample: false
findings:
  description: What is wrong, errors first, then by kind, namespace and name.
  returned: always
  type: list
  elements: dict
  contains:
    object:
      description: The object the finding is about, C(kind), C(namespace) and C(name).
      type: dict
      sample: {kind: Service, namespace: rftest, name: prom-test-exporter}
    problem:
      description: A stable code for the problem; the module's notes list every code with its fix.
      type: str
      sample: service_selector_matches_nothing
    severity:
      description: V(error) (it does not work) or V(warning) (it works, but not as intended, or not fully).
      type: str
      sample: error
    summary:
      description: One line naming the object and what is wrong, with the numbers, labels or messages that matter.
      type: str
      sample: >-
        Service rftest/prom-test-exporter: has no endpoints: its selector k8s-app=prom-test-exporter matches no
        pod in namespace rftest; closest: Deployment prom-test-exporter prom-test-exporter-7d9f-x2k4p: they have
        no k8s-app label (they have app=prom-test-exporter)
    evidence:
      description:
        - The facts behind the finding; its keys depend on the problem, for example C(event) (the newest event's
          message) and C(times), C(reasons) (the scheduler's reasons with their node counts), C(resources)
          (request and largest allocatable), C(requires) and C(node_labels), C(taints) and C(tolerations),
          C(selector), C(closest) (pods whose labels come closest, and what differs), C(endpoints), C(exit_code),
          C(restarts), C(memory_limit), C(log_tail), C(missing) (a Secret, ConfigMap or key), C(claims).
      type: dict
      sample: {selector: {k8s-app: prom-test-exporter}, endpoints: {ready: 0, not_ready: 0}}
    fix:
      description: What to change, as specific as the evidence allows.
      type: str
      sample: >-
        Make the Service's spec.selector and the pods' labels agree (the workload's spec.template.metadata.labels),
        or clients get connection refused: for example change the selector to app=prom-test-exporter.
    container:
      description: The container a container problem is about.
      returned: for container problems
      type: str
      sample: web
    owner:
      description: The pod's top-level controller (C(kind), C(name)), through its owner references.
      returned: for pods that a controller owns
      type: dict
      sample: {kind: Deployment, name: esb-admin}
counts:
  description: How many findings there are of each problem code.
  returned: always
  type: dict
  sample: {container_oom_killed: 2, service_selector_matches_nothing: 1}
summary:
  description:
    - One line per finding, C(ERROR:) or C(WARNING:) first, errors before warnings; the same problem in several
      pods of one workload is one line naming the other pods.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      ERROR: Pod dsp/esb-admin-6d4b9c7f5-x7k2p: Pending: not enough cpu: it requests 8, the largest node
      allocatable is 4 (node-2), so no node can ever fit it (3 of 7 nodes)
fixes:
  description:
    - One line per distinct fix, C(FIX) and the first object it is for (with how many more), then what to change.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      FIX Pod dsp/esb-admin-6d4b9c7f5-x7k2p: Lower resources.requests so the pod fits on a node, add nodes (or
      bigger ones), or free capacity that other pods' requests reserve (kubectl describe node shows the allocated
      resources).
checked:
  description: How many objects of each kind were diagnosed (a workload's pods count as pods).
  returned: always
  type: dict
  sample: {Deployment: 4, Pod: 9, Service: 3, PersistentVolumeClaim: 2}
missing:
  description: Names given in O(names) that do not exist (each is also a C(not_found) finding).
  returned: always
  type: list
  elements: str
  sample: []
notes:
  description: What is normal but worth knowing (claims waiting for their first consumer), and what could not be read.
  returned: always
  type: list
  elements: str
  sample:
    - "Node objects could not be read (HTTP 403 Forbidden: nodes is forbidden: ...): the checks that use them say less"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.platform.plugins.module_utils._doctor import doctor_options, run_doctor
from ansible_collections.kubeops.platform.plugins.module_utils._module import argument_spec, run


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**doctor_options()), supports_check_mode=True)
    run(module, run_doctor)


if __name__ == "__main__":
    main()
