# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection settings: resolve module options, kubeconfig and in-cluster config.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only, so modules start fast and need nothing beyond Python.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Callable

from ansible_collections.kubeops.platform.plugins.module_utils._errors import ConfigError

IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

# AnsibleModule.run_command: (args, environ_update=...) -> (rc, stdout, stderr)
RunCommand = Callable[..., "tuple[int, str, str]"]

# Option name -> environment variable, the same names kubernetes.core reads.
ENV_FALLBACKS = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "username": "K8S_AUTH_USERNAME",
    "password": "K8S_AUTH_PASSWORD",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
    "proxy": "K8S_AUTH_PROXY",
    "no_proxy": "K8S_AUTH_NO_PROXY",
    "impersonate_user": "K8S_AUTH_IMPERSONATE_USER",
    "impersonate_groups": "K8S_AUTH_IMPERSONATE_GROUPS",
    "persist_config": "K8S_AUTH_PERSIST_CONFIG",
}
PROXY_HEADERS = {
    "proxy_basic_auth": {"type": "str", "no_log": True},
    "basic_auth": {"type": "str", "no_log": True},
    "user_agent": {"type": "str"},
}


def auth_argument_spec(env_fallback) -> dict:
    """The shared connection options, documented in the ``k8s_auth`` doc fragment.

    ``env_fallback`` is passed in so this file does not import Ansible.
    """
    spec = {
        "kubeconfig": {"type": "raw"},
        "context": {"type": "str"},
        "host": {"type": "str"},
        "api_key": {"type": "str", "no_log": True},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "validate_certs": {"type": "bool", "aliases": ["verify_ssl"]},
        "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"]},
        "client_cert": {"type": "path", "aliases": ["cert_file"]},
        "client_key": {"type": "path", "aliases": ["key_file"]},
        "proxy": {"type": "str"},
        "no_proxy": {"type": "str"},
        "impersonate_user": {"type": "str"},
        "impersonate_groups": {"type": "list", "elements": "str"},
        # kubernetes.core's: accepted so one module_defaults block serves both collections.
        "proxy_headers": {"type": "dict", "apply_defaults": True, "options": {
            name: {**option, "fallback": (env_fallback, [f"K8S_AUTH_PROXY_HEADERS_{name.upper()}"])}
            for name, option in PROXY_HEADERS.items()}},
        "persist_config": {"type": "bool"},
    }
    for name, var in ENV_FALLBACKS.items():
        spec[name]["fallback"] = (env_fallback, [var])
    return spec


@dataclass
class Connection:
    """Everything needed to talk to one API server."""

    server: str
    verify: bool = True
    ca_file: str | None = None
    ca_data: bytes | None = None
    cert_file: str | None = None
    cert_data: bytes | None = None
    key_file: str | None = None
    key_data: bytes | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    proxy: str | None = None
    no_proxy: str | None = None
    impersonate_user: str | None = None
    impersonate_groups: list[str] = field(default_factory=list)
    tls_server_name: str | None = None
    proxy_headers: dict = field(default_factory=dict)
    source: str = "options"
    # Where each TLS setting came from, for error messages: attribute -> "option ca_cert", ...
    origins: dict = field(default_factory=dict)

    def origin(self, attr: str) -> str:
        return self.origins.get(attr, attr)


def resolve_connection(params: dict, environ: dict | None = None, run_command: RunCommand | None = None) -> Connection:
    """Build a :class:`Connection` the way kubernetes.core does.

    Explicit host credentials win; otherwise the kubeconfig (option, ``KUBECONFIG``
    or ``~/.kube/config``) is loaded and explicit options override it; otherwise
    the pod's service account is used. ``run_command`` runs kubeconfig exec credential plugins.
    """
    env = os.environ if environ is None else environ
    host = params.get("host")
    explicit_creds = params.get("api_key") or params.get("password") or params.get("client_cert")
    if host and explicit_creds and not params.get("kubeconfig") and not params.get("context"):
        conn = Connection(server=host)
    else:
        # A bare host (e.g. `kubectl proxy` on http://127.0.0.1:8001) needs no credentials.
        conn = _from_kubeconfig(params, env, run_command) or _in_cluster(env) or (Connection(server=host) if host else None)
        if conn is None:
            raise ConfigError(
                "no Kubernetes connection configured: set the kubeconfig or host option, "
                "the KUBECONFIG or K8S_AUTH_HOST environment variable, or create ~/.kube/config"
            )
    _apply_overrides(conn, params)
    if not conn.server.startswith(("https://", "http://")):
        conn.server = "https://" + conn.server
    conn.server = conn.server.rstrip("/")
    return conn


def _apply_overrides(conn: Connection, params: dict) -> None:
    simple = {
        "host": "server",
        "api_key": "token",
        "username": "username",
        "password": "password",
        "ca_cert": "ca_file",
        "client_cert": "cert_file",
        "client_key": "key_file",
        "proxy": "proxy",
        "no_proxy": "no_proxy",
        "impersonate_user": "impersonate_user",
    }
    for option, attr in simple.items():
        if params.get(option):
            setattr(conn, attr, params[option])
            conn.origins[attr] = f"option {option}"
    if params.get("client_cert"):
        conn.cert_data = None
    if params.get("client_key"):
        conn.key_data = None
    if params.get("ca_cert"):
        conn.ca_data = None
    if params.get("api_key"):
        conn.username = conn.password = None
    if params.get("validate_certs") is not None:
        conn.verify = bool(params["validate_certs"])
    groups = params.get("impersonate_groups")
    if groups:
        # K8S_AUTH_IMPERSONATE_GROUPS arrives as one comma-separated string.
        conn.impersonate_groups = [g.strip() for item in groups for g in str(item).split(",") if g.strip()]
    headers = params.get("proxy_headers") or {}
    if headers.get("proxy_basic_auth"):
        conn.proxy_headers["Proxy-Authorization"] = _basic(headers["proxy_basic_auth"])
    if headers.get("basic_auth"):
        conn.proxy_headers["Authorization"] = _basic(headers["basic_auth"])
    if headers.get("user_agent"):
        conn.proxy_headers["User-Agent"] = headers["user_agent"]


def _basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def _kubeconfig_paths(params: dict, env) -> list[str]:
    option = params.get("kubeconfig")
    if isinstance(option, str) and option:
        return [os.path.expanduser(option)]
    if env.get("KUBECONFIG"):
        return [os.path.expanduser(p) for p in env["KUBECONFIG"].split(os.pathsep) if p]
    default = os.path.expanduser("~/.kube/config")
    return [default] if os.path.exists(default) else []


def _load_kubeconfig(params: dict, env) -> tuple[dict, str] | None:
    option = params.get("kubeconfig")
    if isinstance(option, dict):
        return option, "kubeconfig option"
    paths = _kubeconfig_paths(params, env)
    if not paths:
        return None
    merged: dict = {"clusters": [], "users": [], "contexts": []}
    found = False
    for path in paths:
        if not os.path.exists(path):
            if isinstance(option, str) and option:
                raise ConfigError(f"kubeconfig file {path} does not exist")
            continue
        found = True
        data = _read_yaml(path)
        # Like kubectl, the first file to define a name or current-context wins.
        if not merged.get("current-context"):
            merged["current-context"] = data.get("current-context")
        for section in ("clusters", "users", "contexts"):
            known = {item.get("name") for item in merged[section]}
            for item in data.get(section) or []:
                if item.get("name") not in known:
                    item = dict(item)
                    item["_dir"] = os.path.dirname(os.path.abspath(path))
                    merged[section].append(item)
    return (merged, ", ".join(paths)) if found else None


def _read_yaml(path: str) -> dict:
    # PyYAML ships with ansible-core; imported here so the common path stays lean.
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            # libyaml's loader when present: the pure-Python one takes milliseconds per kubeconfig.
            data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    return data


def _named(config: dict, section: str, name: str, source: str) -> dict:
    for item in config.get(section) or []:
        if item.get("name") == name:
            return item
    names = ", ".join(sorted(str(i.get("name")) for i in config.get(section) or [])) or "none"
    raise ConfigError(f"{section[:-1]} '{name}' not found in {source} (available: {names})")


def _from_kubeconfig(params: dict, env, run_command: RunCommand | None) -> Connection | None:
    loaded = _load_kubeconfig(params, env)
    if loaded is None:
        if params.get("context"):
            raise ConfigError(f"context '{params['context']}' requested but no kubeconfig was found")
        return None
    config, source = loaded
    context_name = params.get("context") or config.get("current-context")
    if not context_name:
        raise ConfigError(f"no context given and {source} has no current-context")
    context_entry = _named(config, "contexts", context_name, source)
    context = context_entry.get("context") or {}
    cluster_entry = _named(config, "clusters", context.get("cluster"), source)
    cluster = cluster_entry.get("cluster") or {}
    user_entry = _named(config, "users", context.get("user"), source) if context.get("user") else {}
    user = user_entry.get("user") or {}
    base = cluster_entry.get("_dir", os.getcwd())
    user_base = user_entry.get("_dir", base)

    if not cluster.get("server"):
        raise ConfigError(f"cluster '{context.get('cluster')}' in {source} has no server")
    conn = Connection(server=cluster["server"], source=f"{source}, context {context_name}")
    conn.verify = not cluster.get("insecure-skip-tls-verify", False)
    conn.tls_server_name = cluster.get("tls-server-name")
    conn.proxy = cluster.get("proxy-url")
    # (attribute, kubeconfig section, key, base directory of a path or None for base64 data)
    for attr, section, key, base_dir in (
        ("ca_file", "cluster", "certificate-authority", base),
        ("ca_data", "cluster", "certificate-authority-data", None),
        ("cert_file", "user", "client-certificate", user_base),
        ("cert_data", "user", "client-certificate-data", None),
        ("key_file", "user", "client-key", user_base),
        ("key_data", "user", "client-key-data", None),
    ):
        value = (cluster if section == "cluster" else user).get(key)
        if not value:
            continue
        conn.origins[attr] = f"{key} of {section} '{context.get(section)}' in {source}"
        setattr(conn, attr, _path(value, base_dir) if base_dir is not None else _b64(value, conn.origins[attr]))
    conn.username = user.get("username")
    conn.password = user.get("password")
    conn.token = user.get("token")
    if not conn.token and user.get("tokenFile"):
        conn.token = _read_text(_path(user["tokenFile"], user_base)).strip()
    conn.impersonate_user = user.get("as")
    conn.impersonate_groups = list(user.get("as-groups") or [])
    if user.get("exec"):
        _run_exec_plugin(user["exec"], conn, run_command, user_base)
    elif user.get("auth-provider"):
        provider = user["auth-provider"]
        token = (provider.get("config") or {}).get("id-token")
        if provider.get("name") != "oidc" or not token:
            raise ConfigError(
                f"auth-provider '{provider.get('name')}' in {source} is not supported; "
                "use an exec credential plugin (client.authentication.k8s.io) instead"
            )
        conn.token = token
    return conn


def _in_cluster(env) -> Connection | None:
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    token_path = os.path.join(IN_CLUSTER_DIR, "token")
    if not host or not port or not os.path.exists(token_path):
        return None
    if ":" in host:
        host = f"[{host}]"
    ca_path = os.path.join(IN_CLUSTER_DIR, "ca.crt")
    return Connection(
        server=f"https://{host}:{port}",
        token=_read_text(token_path).strip(),
        ca_file=ca_path if os.path.exists(ca_path) else None,
        source="in-cluster service account",
    )


def _run_exec_plugin(spec: dict, conn: Connection, run_command: RunCommand | None, base: str) -> None:
    command = spec.get("command")
    if not command:
        raise ConfigError("exec credential plugin has no command")
    # As client-go does: a relative path (with a separator) is relative to the kubeconfig's directory,
    # a bare name is looked up on PATH.
    if os.sep in command and not os.path.isabs(command):
        command = os.path.join(base, command)
    if not shutil.which(command):
        hint = spec.get("installHint") or ""
        raise ConfigError(f"exec credential plugin '{command}' was not found or is not executable. {hint}".strip())
    if run_command is None:
        raise ConfigError(f"exec credential plugin '{command}' cannot run here: no command runner given")
    update = {item["name"]: item["value"] for item in spec.get("env") or []}
    api_version = spec.get("apiVersion", "client.authentication.k8s.io/v1")
    update["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    )
    rc, stdout, stderr = run_command([command, *(spec.get("args") or [])], environ_update=update)
    if rc != 0:
        raise ConfigError(f"exec credential plugin '{command}' exited {rc}: {stderr.strip()[-500:]}")
    try:
        status = json.loads(stdout).get("status") or {}
    except ValueError as exc:
        raise ConfigError(f"exec credential plugin '{command}' printed no ExecCredential JSON") from exc
    conn.token = status.get("token") or conn.token
    if bool(status.get("clientCertificateData")) != bool(status.get("clientKeyData")):
        given, lacking = (("clientCertificateData", "clientKeyData") if status.get("clientCertificateData")
                          else ("clientKeyData", "clientCertificateData"))
        raise ConfigError(f"exec credential plugin '{command}' returned {given} without {lacking}: "
                          "a client certificate needs both")
    if status.get("clientCertificateData"):
        conn.cert_data = status["clientCertificateData"].encode()
        conn.key_data = status["clientKeyData"].encode()
        conn.cert_file = conn.key_file = None
        conn.origins["cert_data"] = conn.origins["key_data"] = f"the ExecCredential of plugin '{command}'"


def _path(value: str | None, base: str) -> str | None:
    if not value:
        return None
    value = os.path.expanduser(value)
    return value if os.path.isabs(value) else os.path.join(base, value)


def _b64(value: str | None, what: str = "value") -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ConfigError(f"{what} is not valid base64: {exc}") from exc


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
