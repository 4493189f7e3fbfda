# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The problems the diagnosis reports: stable codes, their usual severity, what they mean, the fix.

The codes are part of the doctor module's interface (playbooks match on them); the module's
documentation lists each of them, and a unit test keeps the two in agreement. A finding's own
``fix`` is usually more specific than the general one here (it names the labels, the taint, the
Secret), which is the fallback.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)


@dataclass(frozen=True)
class Problem:
    code: str
    severity: str  # the usual one; ``milder`` says when it is a warning instead
    about: str
    meaning: str
    fix: str
    milder: str = ""


CATALOGUE = (
    # ---- Services -------------------------------------------------------------------------------
    Problem("service_selector_matches_nothing", ERROR, "Service",
            "The Service's selector matches no pod in its namespace, so it has no endpoints and clients get "
            "connection refused or time out.",
            "Make spec.selector equal to labels the pods carry (compare it with kubectl get pods --show-labels), "
            "or correct the workload's spec.template.metadata.labels; the evidence lists the pods whose labels "
            "come closest and what differs."),
    Problem("service_backend_scaled_to_zero", WARNING, "Service",
            "The selector matches the pod template of a workload that is scaled to 0 replicas, so the Service "
            "has no endpoints.",
            "Scale the workload up (kubectl scale --replicas=N), or stop routing traffic to this Service."),
    Problem("service_selects_several_workloads", WARNING, "Service",
            "The selector matches pods of more than one workload, so traffic is spread over all of them (a "
            "Service selecting only app=gitlab also gets the redis and postgres pods).",
            "Add a label that only the intended pods carry (for example app.kubernetes.io/component) to the "
            "selector and to that workload's pod template."),
    Problem("service_no_ready_pods", ERROR, "Service",
            "The selector matches pods, but none of them is Ready, so the Service has no ready endpoints.",
            "Make the pods Ready: their own findings say why they are not."),
    Problem("service_target_port_missing", ERROR, "Service",
            "A port's targetPort is a name that no container of the selected pods declares, so that port has "
            "no endpoints.",
            "Name the container port as the targetPort says (ports[].name in the pod template), or set "
            "targetPort to the container's port number."),
    Problem("service_target_port_not_declared", WARNING, "Service",
            "A port's numeric targetPort is not among the container ports the selected pods declare; traffic "
            "goes to that port whether or not anything listens there (connection refused).",
            "Set targetPort to the port the application listens on (containerPort), or declare that port "
            "in the container."),
    # ---- scheduling -----------------------------------------------------------------------------
    Problem("pod_unschedulable_resources", ERROR, "Pod",
            "The pod stays Pending: nodes lack the cpu, memory or other resource it requests (scheduler: "
            "Insufficient cpu / Insufficient memory).",
            "Lower resources.requests so the pod fits on a node, add nodes (or bigger ones), or free capacity "
            "that other pods' requests reserve (kubectl describe node shows the allocated resources)."),
    Problem("pod_unschedulable_too_many_pods", ERROR, "Pod",
            "The pod stays Pending: the nodes already run as many pods as their kubelet allows (Too many pods).",
            "Add nodes, raise the kubelet's maxPods where the pod network has addresses for it, or remove "
            "pods that are not needed."),
    Problem("pod_unschedulable_node_selector", ERROR, "Pod",
            "The pod stays Pending: no node has the labels its nodeSelector or required node affinity asks "
            "for (node(s) didn't match node selector / Pod's node affinity).",
            "Label the node the pod should run on (kubectl label nodes NODE key=value, module "
            "kubeops.platform.label or role kubeops.platform.nodes; see kubectl get node --show-labels), or "
            "correct the pod template's nodeSelector/affinity."),
    Problem("pod_unschedulable_taints", ERROR, "Pod",
            "The pod stays Pending: the nodes it may run on carry taints it does not tolerate (node(s) had "
            "untolerated taint).",
            "Add a matching toleration to the pod template, remove the taint (kubectl taint nodes NODE key-, "
            "module kubeops.platform.taint with state absent), or let the pod run on other nodes; a "
            "node.kubernetes.io/* taint means the node itself is cordoned or unhealthy."),
    Problem("pod_unschedulable_volumes", ERROR, "Pod",
            "The pod stays Pending because of its volumes: a PersistentVolumeClaim is not bound or does not "
            "exist, or its volume cannot be attached on any node that qualifies.",
            "Fix the claim (its own finding says why it is not bound), or correct the claim name in the pod "
            "template."),
    Problem("pod_unschedulable", ERROR, "Pod",
            "The pod stays Pending for another scheduling reason (pod affinity or anti-affinity, topology "
            "spread, host ports, scheduling gates, no nodes at all).",
            "Read the scheduler's message in the evidence and relax the constraint it names."),
    # ---- pods -----------------------------------------------------------------------------------
    Problem("pod_sandbox_failed", ERROR, "Pod",
            "The kubelet cannot create the pod's sandbox (FailedCreatePodSandBox), usually a network plugin "
            "(CNI) error, so no container starts.",
            "Check the CNI pods on the pod's node (kubectl -n kube-system get pods -o wide) and the message "
            "in the evidence."),
    Problem("pod_ip_exhausted", ERROR, "Pod",
            "The pod's sandbox cannot get an IP address: the IP pool is exhausted (failed to request 1 IPv4 "
            "addresses. IPAM allocated only 0).",
            "Create a dedicated IP pool and bind the workload to it with the pod template annotation the CNI "
            "reads (Calico: cni.projectcalico.org/ipv4pools; DCE: dce.daocloud.io/parcel.net.value), or "
            "enlarge the pool, or free addresses held by old pods."),
    Problem("pod_volume_mount_failed", ERROR, "Pod",
            "The kubelet cannot mount or attach one of the pod's volumes (FailedMount, FailedAttachVolume), "
            "so its containers do not start.",
            "Create the Secret or ConfigMap the volume names, or fix the volume; for a volume attached to "
            "another node, wait for it to detach or delete the pod that holds it."),
    Problem("pod_evicted", WARNING, "Pod",
            "The kubelet evicted the pod because its node ran low on memory or disk.",
            "Give the containers resources.requests (and memory limits) that match their use, so they are "
            "not the first evicted; delete the Failed pod once its controller has replaced it."),
    Problem("pod_failed", ERROR, "Pod",
            "The pod failed as a whole: the kubelet rejected or ended it (OutOfcpu, NodeAffinity, Shutdown...).",
            "Read the reason in the evidence; a pod with spec.nodeName bypasses the scheduler, so the node "
            "must have room for it and it must tolerate the node's taints.",
            "a warning for a pod that a controller replaces"),
    Problem("pod_stuck_terminating", WARNING, "Pod",
            "The pod was deleted but is still there well after its grace period: finalizers hold it, or its "
            "node does not answer.",
            "Find out why (a NotReady node, a finalizer's controller), then use kubeops.platform.force_delete "
            "(kubectl delete pod --force --grace-period=0; remove_finalizers for finalizers)."),
    # ---- containers -----------------------------------------------------------------------------
    Problem("container_oom_killed", ERROR, "Pod",
            "The container was OOMKilled (exit code 137): it used more memory than resources.limits.memory.",
            "Make the program use less memory, or raise resources.limits.memory (and the request) in the pod "
            "template.",
            "a warning when the container is running again"),
    Problem("container_crash_loop", ERROR, "Pod",
            "The container keeps exiting and the kubelet restarts it with growing back-off (CrashLoopBackOff).",
            "Read the log lines and the exit code in the evidence (1: the application failed, 137: killed, "
            "139: segmentation fault, 0: the command ends although the container must keep running) and fix "
            "the command, the configuration or the image."),
    Problem("container_image_pull_failed", ERROR, "Pod",
            "The image cannot be pulled (ErrImagePull, ImagePullBackOff, InvalidImageName).",
            "Correct the image name or tag, give the pod imagePullSecrets for a private registry, or make "
            "the registry reachable from the nodes, as the message in the evidence says."),
    Problem("container_config_error", ERROR, "Pod",
            "The container cannot be created because its configuration refers to something missing "
            "(CreateContainerConfigError: secret \"x\" not found, couldn't find key k in Secret ns/x).",
            "Create the Secret or ConfigMap, or add the missing key, or mark the reference optional."),
    Problem("container_start_failed", ERROR, "Pod",
            "The container runtime cannot create or start the container (CreateContainerError, "
            "RunContainerError: a command that does not exist, a bad mount).",
            "Fix the command, working directory or mounts the message in the evidence names."),
    Problem("container_probe_failing", ERROR, "Pod",
            "A readiness, startup or liveness probe fails (Unhealthy events), so the container is not Ready "
            "or is restarted.",
            "Make the probe match the application (path, port, scheme, initialDelaySeconds, timeoutSeconds), "
            "or fix the application so it answers.",
            "a warning for liveness failures of a container that is Ready now"),
    Problem("container_failed", ERROR, "Pod",
            "The container terminated with a non-zero exit code and is not restarted (restartPolicy Never, a "
            "Job's pod).",
            "Read the log lines and the exit code in the evidence and fix the command or its input."),
    # ---- claims ---------------------------------------------------------------------------------
    Problem("pvc_storage_class_not_found", ERROR, "PersistentVolumeClaim",
            "The claim names a StorageClass that does not exist (storageclass.storage.k8s.io \"x\" not "
            "found), so no volume is provisioned.",
            "Set storageClassName to an existing class (kubectl get storageclass); the claim's spec cannot be "
            "changed in place, so delete and re-create it."),
    Problem("pvc_no_storage_class", ERROR, "PersistentVolumeClaim",
            "The claim has no StorageClass and there is no default class, so only a PersistentVolume created "
            "by hand can bind it (no persistent volumes available for this claim and no storage class is set).",
            "Create a matching PersistentVolume, set storageClassName, or mark a class as the default "
            "(annotation storageclass.kubernetes.io/is-default-class: \"true\")."),
    Problem("pvc_provisioning_failed", ERROR, "PersistentVolumeClaim",
            "The provisioner of the claim's StorageClass failed to create a volume (ProvisioningFailed).",
            "Read the provisioner's message in the evidence (quota, zone, parameters) and fix the class or "
            "the provisioner."),
    Problem("pvc_pending", WARNING, "PersistentVolumeClaim",
            "The claim is not bound yet: a provisioner is creating its volume, or it waits for a matching "
            "PersistentVolume.",
            "If it stays Pending, check that the class's provisioner runs (kubectl get pods -A | grep "
            "provisioner) and read its logs."),
    Problem("pvc_lost", ERROR, "PersistentVolumeClaim",
            "The claim's PersistentVolume is gone (phase Lost); its data is no longer reachable through it.",
            "Restore the PersistentVolume (with the same name and claimRef), or delete and re-create the claim."),
    # ---- workloads ------------------------------------------------------------------------------
    Problem("rollout_stuck", ERROR, "Deployment",
            "The rollout does not complete: a Deployment exceeded its progress deadline "
            "(ProgressDeadlineExceeded), or a StatefulSet's rolling update halts at a pod that fails.",
            "Fix what its pods' findings name; or roll back (kubectl rollout undo) to the last working "
            "template."),
    Problem("workload_unavailable", ERROR, "Deployment",
            "A Deployment, StatefulSet or DaemonSet has no available pod although it wants some.",
            "Fix what its pods' findings name.",
            "a warning while some but not all replicas are available"),
    Problem("workload_create_failed", ERROR, "Deployment",
            "The controller cannot create the workload's pods (FailedCreate, ReplicaFailure): a quota, a "
            "LimitRange, Pod Security admission or a webhook refused them.",
            "Read the refusal in the evidence and raise the quota, fix the pod template, or ask for the "
            "namespace's policy to allow it."),
    Problem("job_failed", ERROR, "Job",
            "The Job failed (BackoffLimitExceeded, DeadlineExceeded) and runs no more pods.",
            "Fix what its pods' findings name, then delete and re-create the Job."),
    # ---- targeting ------------------------------------------------------------------------------
    Problem("not_found", ERROR, "any",
            "An object named in the task does not exist.",
            "Check the name, the kind and the namespace; create the object if it should exist."),
)
PROBLEMS = {problem.code: problem for problem in CATALOGUE}
