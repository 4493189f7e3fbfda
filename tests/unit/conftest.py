"""Make ``ansible_collections.kubeops.platform`` importable in unit tests.

Installs Ansible's collection finder over the collections roots that hold this
collection and kubernetes.core, as ``ansible-test units`` does, so plain pytest
works from the checkout after ``make deps``. Fixtures live in other files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _collection_roots() -> list[str]:
    roots: list[str] = []
    # Checked out (or staged) as .../ansible_collections/kubeops/platform: use that tree.
    if REPO_ROOT.parent.parent.name == "ansible_collections":
        roots.append(str(REPO_ROOT.parent.parent.parent))
    roots.append(str(REPO_ROOT / ".cache" / "collections"))
    roots.extend(p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p)
    return list(dict.fromkeys(roots))


def _install_collection_finder() -> None:
    roots = _collection_roots()
    if not any((Path(root) / "ansible_collections" / "kubeops" / "platform" / "galaxy.yml").is_file() for root in roots):
        raise pytest.UsageError(
            "kubeops.platform is not on any collections root "
            f"({', '.join(roots)}); run `make deps` to link it into .cache/collections"
        )

    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=roots)._install()


_install_collection_finder()
