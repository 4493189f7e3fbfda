"""Run the integration targets against the cluster that KUBECONFIG points to.

Usage: tests/integration/run [TARGET ...] [ansible-playbook options, e.g. -vvv]
(that wrapper runs this file with the checkout's virtualenv Python)

Each target is a role under tests/integration/targets/<name>/ (tasks/main.yml plus
an ``aliases`` file). Every target runs in its own ansible-playbook on localhost,
with the checkout's virtualenv Python as the module interpreter. Targets can also
be chosen with TARGETS="a b" (or "a,b"); targets whose aliases say ``disabled``,
``unsupported`` or ``hidden``, and ``setup_*``/``prepare_*`` helper roles, run only
when named.

When no Kubernetes API answers within a few seconds, the run says so on one line
and exits 0: the targets need a cluster, and the rest of the test suite does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
TARGETS_DIR = REPO_ROOT / "tests" / "integration" / "targets"
OUTPUT_DIR = REPO_ROOT / "tests" / "output" / "integration"
PROBE_TIMEOUT = 5.0
SKIP_ALIASES = {"disabled", "unsupported", "hidden"}
HELPER_PREFIXES = ("setup_", "prepare_")


def kubeconfig_location() -> str:
    return os.environ.get("KUBECONFIG") or "~/.kube/config"


def probe_cluster(kubeconfig: str, context: str | None = None, environ: dict | None = None) -> tuple[str | None, str]:
    """Return (host, version) when the API answers, else (None, reason).

    With K8S_AUTH_HOST in ``environ`` (the AWX credential's variables), that host is probed with
    K8S_AUTH_API_KEY, K8S_AUTH_SSL_CA_CERT and K8S_AUTH_VERIFY_SSL; otherwise the kubeconfig
    (its ``context``, or its current one).
    """
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    environ = {} if environ is None else environ
    configuration = client.Configuration()
    if environ.get("K8S_AUTH_HOST"):
        configuration.host = environ["K8S_AUTH_HOST"]
        if environ.get("K8S_AUTH_API_KEY"):
            configuration.api_key = {"authorization": "Bearer " + environ["K8S_AUTH_API_KEY"]}
        configuration.ssl_ca_cert = environ.get("K8S_AUTH_SSL_CA_CERT") or None
        configuration.verify_ssl = environ.get("K8S_AUTH_VERIFY_SSL", "true").lower() not in ("false", "no", "0")
    else:
        try:
            config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration,
                                    persist_config=False)
        except ConfigException as exc:
            return None, f"no usable kubeconfig: {exc}"
        except OSError as exc:
            return None, f"cannot read kubeconfig: {exc}"
    # One attempt only: urllib3 would otherwise retry a refused connection three times.
    configuration.retries = 0
    api = client.VersionApi(client.ApiClient(configuration))
    try:
        # Raw response: an answer is an answer even if it is not the usual VersionInfo.
        response = api.get_code(_request_timeout=(PROBE_TIMEOUT, PROBE_TIMEOUT), _preload_content=False)
    except ApiException as exc:
        # It answered; whether the credentials are good is for the targets to show.
        return configuration.host, f"answered HTTP {exc.status} {exc.reason}"
    except Exception as exc:  # urllib3/ssl/socket errors of every kind
        reason = getattr(exc, "reason", None) or exc
        return None, f"{configuration.host}: {reason}"
    try:
        version = json.loads(response.data).get("gitVersion", "version unknown")
    except (ValueError, AttributeError):
        version = "version unknown"
    return configuration.host, f"Kubernetes {version}"


def probe_with_deadline(kubeconfig: str, context: str | None = None, environ: dict | None = None) -> tuple[str | None, str]:
    """probe_cluster, bounded even when a kubeconfig exec plugin hangs."""
    result: list[tuple[str | None, str]] = []
    worker = threading.Thread(target=lambda: result.append(probe_cluster(kubeconfig, context, environ)), daemon=True)
    worker.start()
    worker.join(PROBE_TIMEOUT + 2)
    if not result:
        return None, f"no answer within {PROBE_TIMEOUT + 2:.0f} s"
    return result[0]


def read_aliases(target: Path) -> set[str]:
    aliases = target / "aliases"
    if not aliases.is_file():
        return set()
    return {line.split("#", 1)[0].strip() for line in aliases.read_text().splitlines()} - {""}


def select_targets(requested: list[str]) -> tuple[list[Path], list[str]]:
    """Return the targets to run and notes on the ones left out."""
    available = {path.name: path for path in sorted(TARGETS_DIR.iterdir()) if path.is_dir()} if TARGETS_DIR.is_dir() else {}
    if requested:
        unknown = [name for name in requested if name not in available]
        if unknown:
            sys.exit(f"error: unknown integration target(s): {', '.join(unknown)} "
                     f"(available: {', '.join(available) or 'none'})")
        return [available[name] for name in requested], []
    selected, notes = [], []
    for name, path in available.items():
        skip = SKIP_ALIASES & read_aliases(path)
        if name.startswith(HELPER_PREFIXES):
            continue
        if skip:
            notes.append(f"not running target {name}: aliases say {', '.join(sorted(skip))}")
            continue
        selected.append(path)
    return selected, notes


def write_inventory() -> Path:
    inventory = OUTPUT_DIR / "inventory.ini"
    inventory.write_text(
        "[all]\n"
        f"localhost ansible_connection=local ansible_python_interpreter={VENV_PYTHON}\n"
    )
    return inventory


def write_playbook(target: Path) -> Path:
    playbook = OUTPUT_DIR / f"{target.name}.yml"
    # JSON strings are YAML strings: a target named "off" or "yes" stays a name.
    playbook.write_text(
        "---\n"
        f"- name: {json.dumps('Integration target ' + target.name)}\n"
        "  hosts: localhost\n"
        "  gather_facts: true\n"
        "  roles:\n"
        f"    - role: {json.dumps(target.name)}\n"
    )
    return playbook


def run_target(target: Path, inventory: Path, playbook_args: list[str]) -> bool:
    missing = [name for name in ("tasks/main.yml", "aliases") if not (target / name).is_file()]
    if missing:
        print(f"FAILED {target.name}: missing {', '.join(missing)}")
        return False
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO_ROOT / ".cache" / "collections"))
    # Targets may depend on setup_* roles beside them.
    env["ANSIBLE_ROLES_PATH"] = str(TARGETS_DIR)
    command = [str(VENV_PYTHON.parent / "ansible-playbook"), "-i", str(inventory),
               str(write_playbook(target)), *playbook_args]
    print(f"==> integration target {target.name}", flush=True)
    started = time.monotonic()
    returncode = subprocess.run(command, env=env, cwd=REPO_ROOT, check=False).returncode
    outcome = "passed" if returncode == 0 else f"FAILED (exit {returncode})"
    print(f"<== {target.name} {outcome} in {time.monotonic() - started:.1f} s", flush=True)
    return returncode == 0


def probe_only() -> int:
    """--probe: say whether a cluster answers, for the molecule step (exit status 0 when one does).

    Like that scenario, it takes the cluster from K8S_AUTH_HOST (and the other K8S_AUTH_* variables)
    when set, else from the kubeconfig's MOLECULE_CONTEXT or current context.
    """
    kubeconfig = kubeconfig_location()
    host, detail = probe_with_deadline(kubeconfig, os.environ.get("MOLECULE_CONTEXT") or None, dict(os.environ))
    if host is None:
        where = (f"K8S_AUTH_HOST={os.environ['K8S_AUTH_HOST']}" if os.environ.get("K8S_AUTH_HOST")
                 else f"KUBECONFIG={kubeconfig}")
        print(f"no Kubernetes cluster answers ({where}, reason: {detail})")
        return 1
    print(f"Kubernetes API at {host} answers ({detail})")
    return 0


def main() -> int:
    if sys.argv[1:] == ["--probe"]:
        return probe_only()
    requested = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    playbook_args = [arg for arg in sys.argv[1:] if arg.startswith("-")]
    requested += os.environ.get("TARGETS", "").replace(",", " ").split()

    # Names are checked first, so a mistyped TARGETS fails even without a cluster.
    targets, notes = select_targets(list(dict.fromkeys(requested)))

    kubeconfig = kubeconfig_location()
    host, detail = probe_with_deadline(kubeconfig)
    if host is None:
        print(f"SKIPPED integration tests: no Kubernetes cluster answers (KUBECONFIG={kubeconfig}, reason: {detail})")
        return 0
    print(f"Kubernetes API at {host} answers ({detail})")

    for note in notes:
        print(note)
    if not targets:
        print(f"integration: no targets to run under {TARGETS_DIR.relative_to(REPO_ROOT)}")
        return 0

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    inventory = write_inventory()
    failed = [target.name for target in targets if not run_target(target, inventory, playbook_args)]
    if failed:
        print(f"failed targets: {', '.join(failed)}")
    print(f"integration: {len(targets) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
