"""Lay out the collections tree the checkout runs and tests against.

<dest>/ansible_collections/kubernetes/core  taken from the community ``ansible`` wheel
                                            (unless --skip-kubernetes-core: Galaxy installed it)
<dest>/ansible_collections/kubeops/platform symlink to this checkout

Only kubernetes.core is extracted from the wheel (about 1 MB of its 50 MB), so
the bundle is neither installed nor kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ansible_collections/kubernetes/core/"


def installed_version(collection_dir: Path) -> str | None:
    manifest = collection_dir / "MANIFEST.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text())["collection_info"]["version"]


def extract_kubernetes_core(bundle: str, dest: Path) -> None:
    target = dest / PREFIX
    with tempfile.TemporaryDirectory(prefix="kubeops-wheel-") as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary", ":all:", "--dest", tmp, bundle],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            sys.exit(f"error: expected one wheel for {bundle}, got {[w.name for w in wheels]}")
        staging = Path(tmp) / "extract"
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [name for name in wheel.namelist() if name.startswith(PREFIX)]
            if not members:
                sys.exit(f"error: {wheels[0].name} does not contain {PREFIX}")
            wheel.extractall(staging, members)
        # Replace atomically enough that an interrupted run never leaves a half tree
        # that later runs would take for complete.
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging / PREFIX, target)
    print(f"kubernetes.core {installed_version(target)} from {wheels[0].name} -> {target}")


def link_self(dest: Path) -> None:
    link = dest / "ansible_collections" / "kubeops" / "platform"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() == REPO_ROOT:
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    # Relative, so the checkout can be moved or copied with its .cache.
    link.symlink_to(os.path.relpath(REPO_ROOT, link.parent.resolve()), target_is_directory=True)
    if link.resolve() != REPO_ROOT:
        sys.exit(f"error: {link} does not resolve to {REPO_ROOT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, required=True, help="collections root (holds ansible_collections/)")
    parser.add_argument("--bundle", default="ansible==14.5.0", help="pip requirement of the wheel to take kubernetes.core from")
    parser.add_argument("--version", help="kubernetes.core version the bundle must carry")
    parser.add_argument("--skip-kubernetes-core", action="store_true", help="only link this collection")
    args = parser.parse_args()

    dest: Path = args.dest
    if not args.skip_kubernetes_core:
        current = installed_version(dest / PREFIX)
        if current is None or (args.version and current != args.version):
            extract_kubernetes_core(args.bundle, dest)
        current = installed_version(dest / PREFIX)
        if args.version and current != args.version:
            sys.exit(f"error: {args.bundle} carries kubernetes.core {current}, expected {args.version}")
    link_self(dest)


if __name__ == "__main__":
    main()
