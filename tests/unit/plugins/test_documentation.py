"""Every plugin's DOCUMENTATION, EXAMPLES and RETURN parse as YAML, and the documented options
(with the doc fragments) are exactly the module's argument spec."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from ansible_collections.kubeops.platform.plugins.doc_fragments.k8s_auth import ModuleDocFragment

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
FILES = sorted(p for kind in ("modules", "filter", "test") for p in (PLUGINS / kind).glob("*.py")
               if p.name != "__init__.py")


def _module(path: Path):
    return importlib.import_module(f"ansible_collections.kubeops.platform.plugins.{path.parent.name}.{path.stem}")


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_documentation_blocks_are_yaml(path):
    module = _module(path)
    for block in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
        text = getattr(module, block, None)
        if text is not None:
            yaml.safe_load(text)


def _documented_options(doc: dict) -> set[str]:
    options = set(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        _collection, _dot, rest = fragment.rpartition("k8s_auth")
        attribute = rest.lstrip(".").upper() or "DOCUMENTATION"
        options |= set((yaml.safe_load(getattr(ModuleDocFragment, attribute)) or {}).get("options") or {})
    return options


@pytest.mark.parametrize("path", sorted((PLUGINS / "modules").glob("*.py")), ids=lambda p: p.stem)
def test_documented_options_are_the_argument_spec(path, monkeypatch):
    module = _module(path)
    captured = {}

    class Stop(Exception):
        pass

    def capture(*_args, argument_spec, **_kwargs):
        captured.update(argument_spec)
        raise Stop

    monkeypatch.setattr(module, "AnsibleModule", capture)
    with pytest.raises(Stop):
        module.main()
    assert _documented_options(yaml.safe_load(module.DOCUMENTATION)) == set(captured)
