"""The selected_by Jinja test, through Ansible's templating as playbooks use it."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

NODES = [
    {"metadata": {"name": "node03", "labels": {"gitlab/middleware": ""}}},
    {"metadata": {"name": "node05", "labels": {"gitlab/application": "", "zone": "a"}}},
    {"metadata": {"name": "node01", "labels": {}}},
]


def render(expression: str, **variables):
    # Playbook text is trusted as a template; a plain string is not rendered.
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression))


@pytest.mark.parametrize(
    "selector, names",
    [
        ("gitlab/middleware", ["node03"]),
        ("!gitlab/middleware", ["node05", "node01"]),
        ("zone in (a,b)", ["node05"]),
        ({"matchLabels": {"zone": "a"}}, ["node05"]),
        ("", ["node03", "node05", "node01"]),
    ],
)
def test_selectattr_keeps_the_selected_objects(selector, names):
    expression = ("{{ nodes | selectattr('metadata.labels', 'kubeops.platform.selected_by', selector)"
                  " | map(attribute='metadata.name') | list }}")
    assert render(expression, nodes=NODES, selector=selector) == names


def test_is_form():
    assert render("{{ labels is kubeops.platform.selected_by('app=gitlab,tier!=db') }}",
                  labels={"app": "gitlab", "tier": "web"}) is True


def test_bad_selector_names_the_input():
    with pytest.raises(AnsibleError, match=r"label selector 'app in \(a' is invalid"):
        render("{{ {'app': 'a'} is kubeops.platform.selected_by('app in (a') }}")
