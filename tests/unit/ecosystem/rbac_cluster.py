"""An in-memory API server that authenticates bearer tokens and authorizes requests by RBAC.

Built on tests/unit/fake_k8s.py, served over HTTPS with a CA of its own, for running the
playbooks the way AWX runs them: with only the four variables of the "OpenShift or Kubernetes
API Bearer Token" credential (K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_SSL_CA_CERT,
K8S_AUTH_VERIFY_SSL) and no kubeconfig anywhere.

Authorization follows the kube-apiserver: the request's attributes (verb, API group, resource,
subresource, namespace, name) are derived from the URL as k8s.io/apiserver's RequestInfo does, a
request is allowed when a rule of a role bound to the ServiceAccount matches them (a RoleBinding
only inside its namespace, which includes that namespace object itself), and a refusal is a 403
Status with the API server's message::

    nodes "node-1" is forbidden: User "system:serviceaccount:kubeops-awx:kubeops-doctor" cannot
    patch resource "nodes" in API group "" at the cluster scope

Discovery documents are open to every authenticated user (the system:discovery ClusterRole).
Every authorized request is recorded (``granted``), so a test can show which rules were used.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fake_k8s import FakeKube, Reply, now, serve_http
from fake_workloads import Cluster
from rbac_table import REPO_ROOT

BIN = Path(sys.executable).parent
# Subresources of a namespace: /api/v1/namespaces/NAME/status is the namespace's, not a resource.
NAMESPACE_SUBRESOURCES = {"status", "finalize"}
VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
JSON = {"Content-Type": "application/json"}


# ---- the manifests ---------------------------------------------------------------------------------
def service_accounts(docs: list[dict]) -> dict[str, dict]:
    """playbook path -> its ServiceAccount, from the accounts' kubeops.platform/playbook annotation."""
    return {doc["metadata"]["annotations"]["kubeops.platform/playbook"]: doc
            for doc in docs if doc["kind"] == "ServiceAccount" and "kubeops.platform/playbook" in
            (doc["metadata"].get("annotations") or {})}


def username(account: dict) -> str:
    return f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"


@dataclass(frozen=True)
class Grant:
    """The rules of one role, where a binding grants them: namespace None means cluster-wide."""

    role: str
    namespace: str | None
    rules: tuple


def grants(docs: list[dict]) -> dict[str, list[Grant]]:
    """user name -> what the bindings in ``docs`` grant it."""
    roles = {(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]): tuple(doc.get("rules") or [])
             for doc in docs if doc["kind"] in ("ClusterRole", "Role")}
    out: dict[str, list[Grant]] = {}
    for doc in docs:
        if doc["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        ref = doc["roleRef"]
        namespace = doc["metadata"].get("namespace") if doc["kind"] == "RoleBinding" else None
        key = (ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])
        if key not in roles:
            raise AssertionError(f"{doc['kind']} {doc['metadata']['name']} refers to {ref['kind']} {ref['name']}, "
                                 "which the manifests do not define")
        for subject in doc["subjects"]:
            if subject["kind"] == "ServiceAccount":
                user = f"system:serviceaccount:{subject['namespace']}:{subject['name']}"
                out.setdefault(user, []).append(Grant(ref["name"], namespace, roles[key]))
    return out


# ---- request attributes and the decision ----------------------------------------------------------
@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def attributes(method: str, target: str) -> Attributes | None:
    """What RBAC authorizes for a request; None for discovery and other non-resource paths."""
    url = urlsplit(target)
    parts = [p for p in url.path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    query = parse_qs(url.query)
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch", ["false"])[-1] in ("true", "1") else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = VERBS[method]
    return Attributes(verb, group, resource, subresource, namespace, name)


def _matches(rule: dict, attrs: Attributes) -> bool:
    def has(field: str, value: str) -> bool:
        values = rule.get(field) or []
        return "*" in values or value in values

    return (has("verbs", attrs.verb) and has("apiGroups", attrs.group) and has("resources", attrs.full_resource)
            and (not rule.get("resourceNames") or attrs.name in rule["resourceNames"]))


def allowed_by(user_grants: list[Grant], attrs: Attributes) -> list[tuple[Grant, int]]:
    """The (grant, rule index) pairs that allow the request."""
    return [(grant, index) for grant in user_grants for index, rule in enumerate(grant.rules)
            if (grant.namespace is None or grant.namespace == attrs.namespace) and _matches(rule, attrs)]


def forbidden_message(user: str, attrs: Attributes) -> str:
    """The kube-apiserver's message (apierrors.NewForbidden around the RBAC authorizer's reason)."""
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return (f'{subject} is forbidden: User "{user}" cannot {attrs.verb} resource "{attrs.full_resource}" '
            f'in API group "{attrs.group}" {where}')


def _status(code: int, reason: str, message: str, details: dict | None = None) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "details": details or {}, "code": code}).encode()


# ---- the server ---------------------------------------------------------------------------------------
class DiscoveryFake(FakeKube):
    """The fake with the discovery documents kubernetes.core's dynamic client reads first."""

    def __init__(self):
        super().__init__()
        for spec in (("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
                     ("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True),
                     ("v1", "Endpoints", "endpoints", True),
                     ("storage.k8s.io/v1", "StorageClass", "storageclasses", False)):
            self.register_kind(*spec)

    def _handle(self, req):
        parts = [p for p in req.path.split("/") if p]
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            versions = sorted({gv for gv, _plural in self.kinds if "/" in gv})
            groups = [{"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                       "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}} for gv in versions]
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        return super()._handle(req)

    def _discovery(self, api_version):
        found = super()._discovery(api_version)
        if api_version == "v1":
            found["resources"] += [{"name": "pods/log", "kind": "Pod", "namespaced": True, "verbs": ["get"]},
                                   {"name": "namespaces/finalize", "kind": "Namespace", "namespaced": False,
                                    "verbs": ["update"]}]
        return found


class RbacApiServer(DiscoveryFake):
    """The fake API server behind bearer-token authentication and RBAC authorization."""

    def __init__(self, docs: list[dict]):
        super().__init__()
        self.grants = grants(docs)
        self.tokens: dict[str, str] = {}
        # (user, attributes, grant, rule index) of every request RBAC allowed, and the refusals
        self.granted: list[tuple[str, Attributes, Grant, int]] = []
        self.refused: list[tuple[str, Attributes]] = []

    def issue_token(self, account: dict) -> str:
        """A token for the account, as a TokenRequest would return one."""
        token = f"token-{account['metadata']['name']}-{len(self.tokens)}"
        self.tokens[token] = username(account)
        return token

    def respond(self, method, target, headers, body) -> Reply:
        authorization = next((value for name, value in headers if name.lower() == "authorization"), "")
        user = self.tokens.get(authorization.removeprefix("Bearer ")) if authorization.startswith("Bearer ") else None
        if user is None:
            return Reply(401, "Unauthorized", JSON, _status(401, "Unauthorized", "Unauthorized"))
        attrs = attributes(method, target)
        if attrs is not None:
            matched = allowed_by(self.grants.get(user, []), attrs)
            with self._lock:
                if matched:
                    self.granted.extend((user, attrs, grant, index) for grant, index in matched)
                else:
                    self.refused.append((user, attrs))
            if not matched:
                details = {"name": attrs.name, "group": attrs.group, "kind": attrs.resource}
                return Reply(403, "Forbidden", JSON, _status(403, "Forbidden", forbidden_message(user, attrs), details))
        return super().respond(method, target, headers, body)


class ClusterLoop:
    """Ticks the fake controllers in the background; a Job's pod runs and succeeds at once."""

    def __init__(self, api: RbacApiServer, nodes: tuple[str, ...]):
        self.api = api
        self.cluster = Cluster(api, nodes=nodes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: Exception | None = None

    def __enter__(self) -> ClusterLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(0.2):
                with self.api._lock:
                    self.cluster.step()
                    for job in [o for o in self.api.objects.values() if o.get("kind") == "Job"]:
                        if not (job.get("status") or {}).get("conditions") and not job["metadata"].get("deletionTimestamp"):
                            self._complete(job)
        except Exception as exc:  # reported by the test that started the loop
            self.error = exc

    def _complete(self, job: dict) -> None:
        name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
        template = job["spec"]["template"]
        pod = self.api.add({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-x1", "namespace": namespace,
                         "labels": {**(template.get("metadata") or {}).get("labels", {}), "job-name": name},
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                              "uid": job["metadata"]["uid"], "controller": True}]},
            "spec": {**template["spec"], "nodeName": self.cluster.nodes[0]}})
        self.api.edit("Pod", pod["metadata"]["name"], namespace, lambda p: p.update(status={"phase": "Succeeded"}))
        self.api.edit("Job", name, namespace, lambda j: j.update(status={
            "succeeded": 1, "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": now()}]}))


# ---- TLS ------------------------------------------------------------------------------------------------
def _certificate(subject: str, key, issuer_key=None, issuer: x509.Certificate | None = None):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    moment = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(name).issuer_name(issuer.subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(moment - datetime.timedelta(minutes=5))
               .not_valid_after(moment + datetime.timedelta(days=1))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   (issuer_key or key).public_key()), critical=False))
    if issuer is None:  # the CA, with what strict X.509 verification (Python 3.13) asks of one
        builder = (builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                                crl_sign=True, encipher_only=False, decipher_only=False), critical=True))
    else:
        builder = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return builder.sign(issuer_key or key, hashes.SHA256())


def write_pki(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA and a server certificate for 127.0.0.1; returns (the CA file, the server's TLS context)."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("kubernetes-ca", ca_key)
    server = _certificate("kube-apiserver", server_key, ca_key, ca)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM)
                                        + ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.crt", folder / "server.key")
    return folder / "ca.crt", context


# ---- running a playbook as an AWX job does ------------------------------------------------------------------
@dataclass
class Run:
    returncode: int
    output: str
    requests: list

    @property
    def changed(self) -> int:
        match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", self.output)
        return int(match.group(1)) if match else -1

    def writes(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE") and not r.dry_run]


def collections_path() -> str:
    roots = [str(REPO_ROOT / ".cache" / "collections")]
    if REPO_ROOT.parent.parent.name == "ansible_collections":
        roots.insert(0, str(REPO_ROOT.parent.parent.parent))
    roots += [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(roots))


def credential_environment(home: Path, host: str, token: str, ca_file: Path | str, verify: str = "true") -> dict:
    """The environment of an AWX job with a Bearer Token credential, and nothing to find a kubeconfig by.

    HOME and KUBECONFIG point at an empty directory: reading a kubeconfig there would fail the task.
    """
    empty = home / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "LANG": "C.UTF-8",
        "HOME": str(empty),
        "KUBECONFIG": str(empty),
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": collections_path(),
        "ANSIBLE_HOME": str(home / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(home / "ansible" / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "K8S_AUTH_HOST": host,
        "K8S_AUTH_API_KEY": token,
        "K8S_AUTH_SSL_CA_CERT": str(ca_file),
        "K8S_AUTH_VERIFY_SSL": verify,
    }


def write_inventory(folder: Path) -> Path:
    inventory = folder / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"k8s_api": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))
    return inventory


def run_playbook(api: RbacApiServer, playbook: Path, env: dict, inventory: Path, variables: dict | None = None,
                 *args: str) -> Run:
    extra = inventory.parent / "extra-vars.json"
    extra.write_text(json.dumps(variables or {}))
    logged = len(api.log)
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), "-e", f"@{extra}", *args],
                            env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)
    return Run(result.returncode, result.stdout + result.stderr, api.log[logged:])


def serve(api: RbacApiServer, folder: Path):
    """Serve ``api`` over HTTPS; returns (server, url, CA file)."""
    ca_file, context = write_pki(folder)
    server, url = serve_http(api, tls=context)
    return server, url, ca_file
