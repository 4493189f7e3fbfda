"""execution-environment.yml: `ansible-builder create` makes a complete build context.

No container engine is needed: the collection is built into a tarball, the definition is
copied beside it, and the generated context is read back. It must hold this collection's
tarball (with its Python dependency declaration, which ansible-builder's introspection reads
at build time), kubernetes.core at the tested version, the tested ansible-core, and a base
image pinned to a tag or digest, never :latest.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
DEFINITION = REPO_ROOT / "execution-environment.yml"


def _pin(name: str) -> str:
    """The version requirements/test.txt pins for a package."""
    for line in (REPO_ROOT / "requirements" / "test.txt").read_text().splitlines():
        if line.lower().startswith(name + "=="):
            return line.split("==", 1)[1]
    raise AssertionError(f"{name} is not pinned in requirements/test.txt")


def _makefile_value(name: str) -> str:
    match = re.search(rf"^{name}\s*:=\s*(\S+)", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"{name} is not set in the Makefile"
    return match.group(1)


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    if not (BIN / "ansible-builder").exists():
        pytest.fail("ansible-builder is not installed beside the test Python: run `make deps`")
    work = tmp_path_factory.mktemp("ee")
    built = work / "dist"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(built), str(REPO_ROOT)],
                   check=True, capture_output=True, text=True)
    (tarball,) = built.glob("kubeops-platform-*.tar.gz")
    (work / "build").mkdir()
    shutil.copy(tarball, work / "build" / "kubeops-platform.tar.gz")
    shutil.copy(DEFINITION, work / "execution-environment.yml")
    result = subprocess.run(
        [str(BIN / "ansible-builder"), "create", "-f", str(work / "execution-environment.yml"),
         "-c", str(work / "context"), "--output-filename", "Containerfile"],
        capture_output=True, text=True, check=False, cwd=work,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(work)})
    assert result.returncode == 0, result.stdout + result.stderr
    return work / "context"


def test_definition_is_version_3_with_a_pinned_base_image():
    definition = yaml.safe_load(DEFINITION.read_text())
    assert definition["version"] == 3
    image = definition["images"]["base_image"]["name"]
    repository, _colon, tag = image.partition("@")[0].rpartition(":")
    assert "@sha256:" in image or (repository and tag and "/" not in tag), f"{image}: pin a tag or a digest"
    assert tag != "latest", f"{image}: a moving tag is not a pin"


def test_the_context_holds_this_collection_and_its_python_dependencies(context):
    tarball = context / "_build" / "collections" / "kubeops-platform.tar.gz"
    assert tarball.is_file()
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
        declaration = yaml.safe_load(archive.extractfile("meta/execution-environment.yml"))
        python_file = declaration["dependencies"]["python"]
        python_requirements = archive.extractfile(python_file).read().decode()
        names = set(archive.getnames())
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("kubeops", "platform", galaxy["version"])
    assert "kubernetes.core" in manifest["dependencies"]
    # What ansible-builder's introspection installs for this collection at build time.
    assert re.search(r"^kubernetes\b", python_requirements, re.MULTILINE), python_requirements
    # The content a job template runs.
    assert {"playbooks/site.yml", "plugins/modules/taint.py", "roles/gitlab/tasks/main.yml"} <= names
    # Nothing of the checkout's tooling state.
    assert not [n for n in names if n.startswith((".venv/", ".cache/", "build/", "tests/output/"))]


def test_the_galaxy_requirements_install_the_tarball_and_the_tested_kubernetes_core(context):
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    collections = {entry["name"]: entry for entry in requirements["collections"]}
    assert collections["kubernetes.core"]["version"] == _makefile_value("KUBERNETES_CORE_VERSION")
    local = [entry for entry in collections.values() if entry.get("type") == "file"]
    assert [Path(entry["name"]).name for entry in local] == ["kubeops-platform.tar.gz"]
    # The galaxy stage runs in /build with the context's _build copied there.
    containerfile = (context / "Containerfile").read_text()
    assert re.search(r"^COPY _build /build$", containerfile, re.MULTILINE)
    assert local[0]["name"] == "/build/collections/kubeops-platform.tar.gz"


def test_the_containerfile_pins_what_the_tests_use(context):
    containerfile = (context / "Containerfile").read_text()
    base = re.search(r'^ARG EE_BASE_IMAGE="([^"]+)"', containerfile, re.MULTILINE).group(1)
    assert base == yaml.safe_load(DEFINITION.read_text())["images"]["base_image"]["name"]
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]+)"', containerfile, re.MULTILINE).group(1).split()
    assert f"ansible-core=={_pin('ansible-core')}" in refs
    assert any(re.fullmatch(r"ansible-runner==[\d.]+", ref) for ref in refs), refs
    # Collection Python dependencies are gathered from the installed collections.
    assert "introspect.py introspect" in containerfile
