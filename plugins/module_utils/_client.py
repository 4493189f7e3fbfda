# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes REST client speaking raw JSON.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: no kubernetes client models and no discovery for kinds
it knows, because per-task start-up dominates the run time of a play.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import socket
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from time import monotonic, sleep
from urllib.parse import quote, unquote, urlencode, urlsplit

from ansible_collections.kubeops.platform.plugins.module_utils._connection import Connection
from ansible_collections.kubeops.platform.plugins.module_utils._errors import ApiError, ConfigError, UnreachableError

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
LIST_PAGE = 500
LIST_RESTARTS = 3
# Overload retries: at most this many, within this many seconds in all.
RETRY_ATTEMPTS = 6
RETRY_BUDGET = 60.0
RETRY_BACKOFF = 0.5
RETRY_MAX_DELAY = 10.0
RETRY_JITTER = 0.2

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name:
            parts.append(quote(name, safe=""))
        if subresource:
            parts.append(subresource)
        return "/".join(parts)


# Kinds resolved without a discovery request (api_version, kind) -> (plural, namespaced).
KNOWN_KINDS = {
    ("v1", "Node"): ("nodes", False),
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "PersistentVolume"): ("persistentvolumes", False),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Service"): ("services", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "Endpoints"): ("endpoints", True),
    ("v1", "Event"): ("events", True),
    ("v1", "ReplicationController"): ("replicationcontrollers", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("storage.k8s.io/v1", "StorageClass"): ("storageclasses", False),
}


IDEMPOTENT_METHODS = ("GET", "HEAD", "OPTIONS")


class Body(bytes):
    """An answer's bytes, with the response headers a client may need (Retry-After)."""

    def __new__(cls, data: bytes, headers=()):
        body = super().__new__(cls, data)
        body.headers = {name.lower(): value for name, value in dict(headers).items()}
        return body


class HttpTransport:
    """One keep-alive HTTP(S) connection to the API server, through a proxy if set."""

    def __init__(self, conn: Connection):
        self.conn = conn
        url = urlsplit(conn.server)
        self.scheme = url.scheme
        self.host = url.hostname or ""
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        self._http: http.client.HTTPConnection | None = None
        self._phase = "connect"
        self._ssl = self._ssl_context() if self.scheme == "https" else None

    def _ssl_context(self) -> ssl.SSLContext:
        conn = self.conn
        if not conn.verify:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif conn.ca_file or conn.ca_data:
            # Only the cluster's CA: loading the system store as well costs tens of milliseconds per task.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            with _loading(conn, "ca_file" if conn.ca_file else "ca_data", "CA certificate", conn.ca_file):
                ctx.load_verify_locations(
                    cafile=conn.ca_file, cadata=conn.ca_data.decode(errors="replace") if conn.ca_data else None
                )
        else:
            ctx = ssl.create_default_context()
        # Python 3.13 turns on strict X.509 checks (e.g. Authority Key Identifier) that
        # kubectl does not make; keep chain and host name checks, accept what kubectl accepts.
        ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
        # Like Go, trust a CA in the bundle even when it is an intermediate (partial chain).
        ctx.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
        if conn.cert_file or conn.cert_data:
            self._load_client_cert(ctx)
        return ctx

    def _load_client_cert(self, ctx: ssl.SSLContext) -> None:
        conn = self.conn
        if conn.cert_file and not conn.cert_data:
            # load_cert_chain does not say which of the two files it could not read
            with _loading(conn, "cert_file", "client certificate", conn.cert_file):
                open(conn.cert_file, "rb").close()
            if conn.key_file:
                with _loading(conn, "key_file", "client key", conn.key_file):
                    open(conn.key_file, "rb").close()
            with _loading(conn, "cert_file", "client certificate and key", conn.cert_file, conn.key_file):
                ctx.load_cert_chain(conn.cert_file, conn.key_file)
            return
        import tempfile

        # ssl only loads certificates from files: write the inline data to a private temp dir.
        with tempfile.TemporaryDirectory() as tmp:
            cert = os.path.join(tmp, "cert.pem")
            key = conn.key_file
            with open(cert, "wb") as handle:
                handle.write(conn.cert_data or b"")
            if conn.key_data:
                key = os.path.join(tmp, "key.pem")
                with open(key, "wb") as handle:
                    handle.write(conn.key_data)
            with _loading(conn, "cert_data", "client certificate and key"):
                ctx.load_cert_chain(cert, key)

    def _proxy(self) -> tuple[str, int, dict] | None:
        """(host, port, CONNECT headers) of the proxy, or None for a direct connection."""
        proxy = self.conn.proxy
        if not proxy or _bypass_proxy(self.host, self.conn.no_proxy):
            return None
        url = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        headers = dict(self.conn.proxy_headers)
        if url.username is not None and "Proxy-Authorization" not in headers:
            credentials = f"{unquote(url.username)}:{unquote(url.password or '')}"
            headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        return url.hostname or "", url.port or 3128, headers

    def _connect(self) -> http.client.HTTPConnection:
        self._phase = "connect"
        proxy = self._proxy()
        target_host, target_port = (proxy[0], proxy[1]) if proxy else (self.host, self.port)
        if self.scheme == "https":
            http_conn: http.client.HTTPConnection = _HTTPSConnection(
                target_host, target_port, timeout=CONNECT_TIMEOUT, context=self._ssl,
                server_name=self.conn.tls_server_name,
            )
        else:
            http_conn = http.client.HTTPConnection(target_host, target_port, timeout=CONNECT_TIMEOUT)
        if proxy:
            http_conn.set_tunnel(self.host, self.port, headers=proxy[2])
        http_conn.connect()
        if http_conn.sock is not None:
            http_conn.sock.settimeout(READ_TIMEOUT)
        return http_conn

    def request(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None):
        """Send one request; returns (status, reason, body bytes).

        A kept-alive connection the server has closed is replaced before sending. A request that
        fails after it may have reached the server is sent again only when it is idempotent (GET):
        a PATCH, POST or DELETE may have been applied, so it fails instead, saying so.
        """
        if self._http is not None and _dropped(self._http):
            self.close()
        reused = self._http is not None
        while True:
            sent = False
            try:
                if self._http is None:
                    self._http = self._connect()
                self._phase = "send"
                self._http.putrequest(method, self.prefix + target, skip_accept_encoding=True)
                for name, value in headers:
                    self._http.putheader(name, value)
                self._http.putheader("Content-Length", str(len(body or b"")))
                sent = True
                self._http.endheaders(body)
                self._phase = "read"
                response = self._http.getresponse()
                return response.status, response.reason, Body(response.read(), response.getheaders())
            except (OSError, http.client.HTTPException) as exc:
                exc = _tls_alert(self._http, exc)
                self.close()
                stale = isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError))
                if reused and stale and (method in IDEMPOTENT_METHODS or not sent):
                    reused = False
                    continue
                description = self._describe(exc)
                if sent and method not in IDEMPOTENT_METHODS:
                    description += (f"; the connection broke after {method} {target.split('?')[0]} was sent, so it "
                                    "may or may not have been applied: it was not sent again")
                raise UnreachableError(description) from exc

    def _describe(self, exc: BaseException) -> str:
        where = f"cannot reach the Kubernetes API at {self.conn.server}"
        if self._proxy():
            where += f" through proxy {_without_credentials(self.conn.proxy or '')}"
        if isinstance(exc, ssl.SSLCertVerificationError):
            why = f"TLS certificate verification failed ({exc.verify_message}); set ca_cert, or validate_certs: false on test clusters"
        elif isinstance(exc, ConnectionRefusedError):
            why = "connection refused"
        elif isinstance(exc, (socket.timeout, TimeoutError)):
            if self._phase == "connect":
                why = f"no connection within {CONNECT_TIMEOUT}s (connect timed out)"
            else:
                why = f"no answer within {READ_TIMEOUT}s (read timed out)"
        elif isinstance(exc, socket.gaierror):
            why = f"cannot resolve host name '{self.host}'"
        elif isinstance(exc, http.client.RemoteDisconnected):
            why = "the server closed the connection"
        else:
            why = str(exc) or type(exc).__name__
        return f"{where}: {why} (connection settings from {self.conn.source})"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPS that checks the certificate for ``server_name`` (kubeconfig ``tls-server-name``) when set."""

    def __init__(self, *args, server_name: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP, and the proxy's CONNECT tunnel when set
        server_hostname = self._server_name or self._tunnel_host or self.host
        self.sock = self._context.wrap_socket(self.sock, server_hostname=server_hostname)


def _tls_alert(http_conn: http.client.HTTPConnection | None, exc: BaseException) -> BaseException:
    """The TLS alert behind a broken pipe or reset, when the server sent one before it hung up.

    A TLS 1.3 server judges the client certificate after the client's handshake is done, so a
    missing or refused certificate may only show as a broken pipe on the first write, while the
    server's alert (e.g. "certificate required") still waits to be read.
    """
    sock = http_conn.sock if http_conn is not None else None
    if not isinstance(exc, (BrokenPipeError, ConnectionResetError)) or not isinstance(sock, ssl.SSLSocket):
        return exc
    try:
        sock.settimeout(0.5)
        sock.recv(1)
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
        pass  # a plain hang-up, no alert
    except ssl.SSLError as alert:
        return alert
    except OSError:
        pass
    return exc


def _dropped(http_conn: http.client.HTTPConnection) -> bool:
    """Whether an idle kept-alive connection was closed by the server: readable means EOF or an alert."""
    sock = http_conn.sock
    if sock is None:
        return True
    try:
        readable, _w, _x = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


@contextmanager
def _loading(conn: Connection, attr: str, what: str, *paths: str | None):
    """Turn an error loading a certificate or key into a ConfigError naming the setting and the file."""
    try:
        yield
    except (OSError, ssl.SSLError, ValueError) as exc:
        files = ", ".join(p for p in paths if p)
        if isinstance(exc, ssl.SSLError):
            why = f"not a valid PEM {what} ({exc.reason or exc})"
        elif isinstance(exc, OSError):
            why = exc.strerror or str(exc)
        else:
            why = str(exc)
        raise ConfigError(f"cannot load the {what}{' ' + files if files else ''} "
                          f"(from {conn.origin(attr)}): {why}") from exc


def _without_credentials(proxy: str) -> str:
    url = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if url.username is None:
        return proxy
    return proxy.replace(url.netloc, url.netloc.rsplit("@", 1)[1])


def _target(path: str, query: dict | None) -> str:
    query = {k: v for k, v in (query or {}).items() if v is not None}
    return path + ("?" + urlencode(query) if query else "")


def _bypass_proxy(host: str, no_proxy: str | None) -> bool:
    import ipaddress

    for entry in (no_proxy or "").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*" or host.lower() == entry.lstrip(".") or host.lower().endswith("." + entry.lstrip(".")):
            return True
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class Overload:
    """Bounded, jittered retries of one request the API server could not serve right now.

    429 Too Many Requests (API Priority and Fairness, max-in-flight) means the request was not
    processed, so any method is sent again after the server's Retry-After. Other transient
    answers (503, 504, an etcd timeout) may come after a write was applied: only GETs are retried.
    """

    def __init__(self, method: str, path: str):
        self.method, self.path = method, path
        self.attempts = 0
        self.started = monotonic()

    def retry(self, exc: ApiError, retry_after: float | None = None) -> bool:
        transient = exc.status == 429 or (self.method in IDEMPOTENT_METHODS and _transient(exc))
        if not transient:
            return False
        self.attempts += 1
        waited = monotonic() - self.started
        if self.attempts > RETRY_ATTEMPTS or waited >= RETRY_BUDGET:
            exc.message += (f" (still after {self.attempts} attempts over {waited:.1f}s: the API server is "
                            "overloaded or unavailable; try again later, or with a smaller parallel)")
            return False
        # The priority-and-fairness and max-in-flight filters answer in plain text, with only the header.
        advised = retry_after or ((exc.body.get("details") or {}).get("retryAfterSeconds")
                                  if isinstance(exc.body, dict) else None)
        delay = min(float(advised or RETRY_BACKOFF * 2 ** (self.attempts - 1)), RETRY_MAX_DELAY)
        import random

        sleep(min(delay * (1 + random.uniform(0, RETRY_JITTER)), RETRY_BUDGET - waited))
        return True


def _retry_after(raw) -> float | None:
    headers = {str(k).lower(): v for k, v in (getattr(raw, "headers", None) or {}).items()}
    try:
        return float(headers["retry-after"])
    except (KeyError, ValueError):
        return None  # absent, or an HTTP date: the back-off applies


def _transient(exc: ApiError) -> bool:
    text = exc.message or ""
    reason = exc.body.get("reason") if isinstance(exc.body, dict) else None
    return exc.status in (502, 503, 504) or (exc.status == 500 and (
        reason in ("ServerTimeout", "Timeout") or "etcdserver: request timed out" in text
        or "etcdserver: leader changed" in text))


class K8sClient:
    """JSON requests against the API server, with errors raised as :class:`ApiError`."""

    def __init__(self, conn: Connection, transport=None):
        self.conn = conn
        self.transport = transport or HttpTransport(conn)
        self._headers = [("Accept", "application/json"), ("User-Agent", "kubeops.platform")]
        if conn.token:
            self._headers.append(("Authorization", f"Bearer {conn.token}"))
        elif conn.username and conn.password:
            basic = base64.b64encode(f"{conn.username}:{conn.password}".encode()).decode()
            self._headers.append(("Authorization", f"Basic {basic}"))
        if conn.impersonate_user:
            self._headers.append(("Impersonate-User", conn.impersonate_user))
        self._headers.extend(("Impersonate-Group", group) for group in conn.impersonate_groups)
        self._discovered: dict[str, list[dict]] = {}

    def request(self, method: str, path: str, *, query: dict | None = None, body=None,
                content_type: str = "application/json", action: str = "") -> dict:
        target = _target(path, query)
        headers = list(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.append(("Content-Type", content_type))
        overload = Overload(method, path)
        while True:
            status, reason, raw = self.transport.request(method, target, headers, data)
            try:
                return self._decode(method, path, status, reason, raw, action)
            except ApiError as exc:
                if not overload.retry(exc, _retry_after(raw)):
                    raise

    def read_text(self, path: str, query: dict | None = None, action: str = "") -> str:
        """GET a plain-text resource, such as a pod's ``log`` subresource."""
        target = _target(path, query)
        headers = [h for h in self._headers if h[0] != "Accept"] + [("Accept", "text/plain, */*")]
        status, reason, raw = self.transport.request("GET", target, headers, None)
        if status >= 400:
            self._decode("GET", path, status, reason, raw, action)
        return raw.decode(errors="replace")

    @staticmethod
    def _decode(method: str, path: str, status: int, reason: str, raw: bytes, action: str) -> dict:
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"message": raw.decode(errors="replace").strip()[:500]}
        if status >= 400:
            message = payload.get("message") if isinstance(payload, dict) else None
            raise ApiError(status, reason, message or reason, action or f"{method} {path}", payload)
        return payload

    def fork(self) -> K8sClient:
        """Another client to the same server with its own connection, for a worker thread."""
        twin = K8sClient(self.conn)
        twin._discovered = self._discovered
        return twin

    def get(self, path: str, action: str = "") -> dict:
        return self.request("GET", path, action=action)

    def list(self, path: str, label_selector: str | None = None, field_selector: str | None = None,
             action: str = "") -> list[dict]:
        """Every matching object, LIST_PAGE at a time; an expired continue token restarts the list."""
        items: list[dict] = []
        query = {"labelSelector": label_selector or None, "fieldSelector": field_selector, "limit": LIST_PAGE}
        restarts = 0
        while True:
            try:
                page = self.request("GET", path, query=query, action=action)
            except ApiError as exc:
                # 410 Gone: the snapshot behind the token was compacted; a new list is consistent again.
                if exc.status != 410 or "continue" not in query or restarts >= LIST_RESTARTS:
                    raise
                restarts += 1
                items, query = [], {k: v for k, v in query.items() if k != "continue"}
                continue
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    def patch(self, path: str, body, patch_type: str = MERGE_PATCH, dry_run: bool = False,
              action: str = "") -> dict:
        return self.request("PATCH", path, query={"dryRun": "All" if dry_run else None},
                            body=body, content_type=patch_type, action=action)

    def create(self, path: str, body: dict, dry_run: bool = False, action: str = "") -> dict:
        return self.request("POST", path, query={"dryRun": "All" if dry_run else None}, body=body, action=action)

    def replace(self, path: str, body: dict, dry_run: bool = False, action: str = "") -> dict:
        return self.request("PUT", path, query={"dryRun": "All" if dry_run else None}, body=body, action=action)

    def delete(self, path: str, body: dict | None = None, dry_run: bool = False, action: str = "") -> dict:
        # The API server reads DeleteOptions from the body whenever one is sent and then ignores
        # ?dryRun=All: a dry run with a body must say so in the body, or it deletes for real.
        if body is None:
            return self.request("DELETE", path, query={"dryRun": "All" if dry_run else None}, action=action)
        if dry_run:
            body = {**body, "dryRun": ["All"]}
        return self.request("DELETE", path, body=body, action=action)

    def resource(self, api_version: str, kind: str) -> Resource:
        """Resolve a kind to its REST path; discovery only for kinds not in :data:`KNOWN_KINDS`."""
        known = KNOWN_KINDS.get((api_version, kind))
        if known:
            return Resource(api_version, kind, *known)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if api_version not in self._discovered:
            try:
                found = self.get(base).get("resources") or []
            except ApiError as exc:
                if exc.status == 404:
                    raise ValueError(f"api_version '{api_version}' is not served by the API server at {self.conn.server}") from exc
                raise
            self._discovered[api_version] = [r for r in found if "/" not in r.get("name", "")]
        resources = self._discovered[api_version]
        for item in resources:
            if item.get("kind") == kind:
                return Resource(api_version, kind, item["name"], bool(item.get("namespaced")))
        import difflib

        kinds = sorted({r.get("kind", "") for r in resources})
        close = difflib.get_close_matches(kind, kinds, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "kinds there: " + ", ".join(kinds)
        raise ValueError(f"kind '{kind}' is not served under api_version '{api_version}' ({hint})")

    def close(self) -> None:
        self.transport.close()
