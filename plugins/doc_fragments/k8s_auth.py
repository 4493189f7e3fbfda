# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared documentation of the connection options and of object targeting."""

from __future__ import annotations


class ModuleDocFragment:
    # The connection options, declared once in module_utils/_connection.py (auth_argument_spec);
    # a unit test checks that the two agree.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig content as a dictionary.
      - Without it, C(KUBECONFIG) (several paths separated by C(:)) or C(~/.kube/config) is read;
        with neither, the pod's service account is used (in-cluster).
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
  context:
    description:
      - The kubeconfig context to use instead of its current-context.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the API server, for example V(https://10.0.0.1:6443).
      - With O(api_key), O(password) or O(client_cert), no kubeconfig is read; otherwise it overrides the kubeconfig's server.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable
        (set by the AWX / Automation Platform "OpenShift or Kubernetes API Bearer Token" credential).
    type: str
  api_key:
    description:
      - Bearer token to authenticate with.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  username:
    description:
      - User name for HTTP basic authentication.
      - Can also be set with the E(K8S_AUTH_USERNAME) environment variable.
    type: str
  password:
    description:
      - Password for HTTP basic authentication.
      - Can also be set with the E(K8S_AUTH_PASSWORD) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Defaults to the kubeconfig's setting, else V(true).
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to a CA certificate bundle that signs the API server's certificate.
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for TLS client authentication.
      - Can also be set with the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert).
      - Can also be set with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
  proxy:
    description:
      - HTTP proxy URL to reach the API server through, for example V(http://proxy.example.com:3128).
      - Can also be set with the E(K8S_AUTH_PROXY) environment variable.
    type: str
  no_proxy:
    description:
      - Comma-separated hosts, domains (V(.example.com)) and CIDRs reached without the proxy.
      - Can also be set with the E(K8S_AUTH_NO_PROXY) environment variable.
    type: str
  impersonate_user:
    description:
      - User to impersonate for the requests.
      - Can also be set with the E(K8S_AUTH_IMPERSONATE_USER) environment variable.
    type: str
  impersonate_groups:
    description:
      - Groups to impersonate for the requests.
      - Can also be set with the E(K8S_AUTH_IMPERSONATE_GROUPS) environment variable (comma-separated).
    type: list
    elements: str
  proxy_headers:
    description:
      - Headers sent to the proxy of O(proxy) when the connection to the API server is set up through it
        (the HTTP C(CONNECT) request), as in kubernetes.core. Credentials in the proxy URL
        (V(http://user:password@proxy:3128)) are sent as C(Proxy-Authorization) too.
    type: dict
    suboptions:
      proxy_basic_auth:
        description:
          - V(user:password) for the proxy's basic authentication (C(Proxy-Authorization)).
          - Can also be set with the E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH) environment variable.
        type: str
      basic_auth:
        description:
          - V(user:password) sent to the proxy as C(Authorization).
          - Can also be set with the E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH) environment variable.
        type: str
      user_agent:
        description:
          - User agent sent to the proxy.
          - Can also be set with the E(K8S_AUTH_PROXY_HEADERS_USER_AGENT) environment variable.
        type: str
  persist_config:
    description:
      - Accepted so that a C(module_defaults) block written for kubernetes.core also serves these modules.
        It has no effect here. These modules never write to the kubeconfig; credentials that expire (exec
        plugins, service account tokens) are obtained again by every task.
      - Can also be set with the E(K8S_AUTH_PERSIST_CONFIG) environment variable.
    type: bool
notes:
  - An API server that does not answer fails the task within a few seconds with a message naming
    the server and the cause (refused, timed out, DNS, TLS).
  - All connection options can be set once for this collection and kubernetes.core with
    C(module_defaults) and the action group C(group/kubeops.platform.k8s).
"""

    TARGETS = r"""
options:
  names:
    description:
      - Names of the objects to act on.
      - With O(selector), the task acts on the named objects and on every object the selector matches.
    type: list
    elements: str
  selector:
    description:
      - Label selector in kubectl syntax choosing the objects to act on, for example
        V(gitlab/middleware), V(env in (prod,staging\),tier!=cache) or V(!unschedulable).
      - Operators C(=), C(==), C(!=), C(in), C(notin), exists (C(key)) and does-not-exist (C(!key)).
      - One LIST request finds every match, so one task acts on hundreds of objects.
      - An empty selector (what a blank survey field or an empty variable renders to) is refused
        rather than read as "every object"; use O(all) for that.
    type: str
  all:
    description:
      - Act on every object of the kind, like C(kubectl --all). For a namespaced kind that means every object
        in the given C(namespace), or in every namespace with C(all_namespaces=true).
      - The explicit way to say "every object"; it takes neither O(names) nor O(selector).
    type: bool
    default: false
  missing:
    description:
      - What to do when a named object does not exist or the selector matches nothing.
      - Without it, a missing named object fails the task and a selector that matches nothing warns.
      - A failure happens before anything is written.
    type: str
    choices: [fail, warn, ignore]
"""

    METADATA = r"""
options:
  api_version:
    description:
      - API version of the objects, for example V(v1), V(apps/v1) or V(example.com/v1alpha1).
    type: str
    default: v1
  kind:
    description:
      - Kind of the objects, for example V(Node), V(Deployment) or a custom resource's kind.
      - Kinds other than the common built-in ones are looked up with one discovery request.
    type: str
    default: Node
  state:
    description:
      - V(present) sets the given keys (a null value removes that key).
      - V(absent) removes the given keys whatever their values.
      - V(exact) makes the given keys the object's whole set, removing every other key
        (only keys under O(prefixes) when that is given).
      - V(exact) never removes the keys of Kubernetes itself, under C(kubernetes.io/), C(k8s.io/) and their
        subdomains (C(kubernetes.io/hostname), C(beta.kubernetes.io/arch), C(node-role.kubernetes.io/*),
        C(kubectl.kubernetes.io/last-applied-configuration)...), unless a prefix in O(prefixes) names that
        domain. Keys of other controllers (for example C(projectcalico.org/*) annotations) are not protected;
        give O(prefixes) to limit what V(exact) manages.
    type: str
    choices: [present, absent, exact]
    default: present
  prefixes:
    description:
      - With O(state=exact), manage only keys that start with one of these strings, for example
        V(gitlab/); other keys are never touched.
      - A Kubernetes key (under C(kubernetes.io/) or C(k8s.io/) or a subdomain) is managed only by a prefix
        that names its domain, such as V(node-role.kubernetes.io/).
      - Every given key must then start with one of them.
    type: list
    elements: str
"""

    NAMESPACE = r"""
options:
  namespace:
    description:
      - Namespace of the objects, for a namespaced kind. Required for a namespaced kind unless
        O(all_namespaces=true).
      - Refused for a kind that is not namespaced (for example V(Node), V(PersistentVolume), V(Namespace)),
        where it could not narrow anything.
    type: str
  all_namespaces:
    description:
      - Choose objects of a namespaced kind in every namespace (O(selector) or O(all)), like C(kubectl -A).
      - Without it a namespaced kind needs O(namespace), so a forgotten namespace never widens a task to the
        whole cluster.
    type: bool
    default: false
"""

    PARALLEL = r"""
options:
  parallel:
    description:
      - How many objects are written at once, each over its own keep-alive connection, when the task
        acts on many. V(1) writes one object after the other.
      - Every guarantee holds at any value. Each write is guarded by the object's C(resourceVersion) and
        re-planned after a conflict, check mode sends only dry runs, every change is validated before the
        first write, and results and diffs keep the order of the objects.
      - When one write fails, no further write starts; the task fails, reporting the objects already changed.
      - An API server that is overloaded answers 429 Too Many Requests; those requests are sent again after
        the pause it asks for.
    type: int
    default: 8
"""

    GUARD = r"""
options:
  max_objects:
    description:
      - The most objects O(selector) or O(all) may match. When more match, the task fails before any write,
        naming how many matched and the first of them.
      - Objects named in O(names) are not limited. V(0) means no limit.
    type: int
    default: 10
  batch_size:
    description:
      - Act on this many objects at a time, like C(serial) for hosts but inside one task; a batch must be
        done (and, for a restart, rolled out and ready) before the next one starts. The task stops at the
        first batch that does not get there; the objects of later batches are left untouched and reported.
      - V(0) acts on all objects at once.
    type: int
    default: 0
  batch_pause:
    description:
      - Seconds to wait between two batches of O(batch_size), for example to let traffic settle.
    type: int
    default: 0
"""

    # Attributes every module of the collection shares; a module overrides what differs.
    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Changes are sent as a server-side dry run, so the API server validates them and nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description: A second run with the same arguments reports no change and sends no write.
    support: full
  action_group:
    description: Use C(group/kubeops.platform.k8s) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - kubeops.platform.k8s
"""
