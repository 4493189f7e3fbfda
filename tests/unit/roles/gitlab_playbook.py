"""Run ansible-playbook from the checkout for the gitlab role tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
# The role with its defaults only (no inventory).
DEFAULTS_PLAYBOOK = Path(__file__).resolve().parent / "files" / "gitlab.yml"


def collections_path() -> str:
    """The collections roots that hold kubeops.platform and kubernetes.core (as conftest finds them)."""
    roots: list[str] = []
    if REPO_ROOT.parent.parent.name == "ansible_collections":
        roots.append(str(REPO_ROOT.parent.parent.parent))
    roots.append(str(REPO_ROOT / ".cache" / "collections"))
    roots.extend(p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p)
    return os.pathsep.join(dict.fromkeys(roots))


def ansible_playbook() -> str:
    beside_python = Path(sys.executable).with_name("ansible-playbook")
    found = str(beside_python) if beside_python.exists() else shutil.which("ansible-playbook")
    if not found:
        raise RuntimeError("ansible-playbook is neither beside the test Python nor on PATH")
    return found


def start(args: list[str], home: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ansible-playbook in the checkout with its own ANSIBLE_HOME; collect with communicate().

    Everything the run writes (Ansible's temporary files, kubernetes.core's discovery cache in
    TMPDIR) stays under ``home``, so runs never share state through the machine's HOME or /tmp.
    """
    temp = home / "tmp"
    temp.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("K8S_AUTH_")}
    environment.update(
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=collections_path(),
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(temp),
        ANSIBLE_REMOTE_TMP=str(temp),
        TMPDIR=str(temp),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        # No kubeconfig of the machine running the tests may leak in.
        KUBECONFIG=str(home / "no-kubeconfig"),
    )
    environment.update(env or {})
    return subprocess.Popen(
        [ansible_playbook(), *args],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
