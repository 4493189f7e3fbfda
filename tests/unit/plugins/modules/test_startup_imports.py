"""Per-task start-up: a module imports only what every run needs (docs: benchmarks/README.md, task_profile.py).

Importing a module happens on every task; libraries needed only on some paths (a thread pool for
many objects, close-match suggestions for a wrong value, temporary files for inline certificates)
are imported where they are used. Measured against what Ansible's own module runtime already loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]
ON_SOME_PATHS_ONLY = ["concurrent.futures", "difflib", "tempfile", "random"]
PROBE = """
import json, sys
sys.path[:0] = {roots!r}
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths={roots!r})._install()
import ansible.module_utils.basic  # what every module loads anyway
before = set(sys.modules)
import importlib
importlib.import_module("ansible_collections.kubeops.platform.plugins.modules.{module}")
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _collection_roots() -> list[str]:
    roots = [str(REPO_ROOT / ".cache" / "collections")]
    if REPO_ROOT.parent.parent.name == "ansible_collections":
        roots.insert(0, str(REPO_ROOT.parent.parent.parent))
    return roots


@pytest.mark.parametrize("module", ["taint", "label", "annotate", "restart", "force_delete", "doctor"])
def test_a_module_imports_no_library_it_needs_only_on_some_paths(module: str) -> None:
    probe = PROBE.format(roots=_collection_roots(), module=module)
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(answer.stdout))
    assert [name for name in ON_SOME_PATHS_ONLY if name in loaded] == []
