"""The quantity filter."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.platform.plugins.filter.quantity import FilterModule

quantity = FilterModule().filters()["quantity"]


@pytest.mark.parametrize("value, args, expected", [
    ("1.7Gi", (), 1825361100.8),
    ("500m", (), 0.5),
    ("1e3", (), 1000),
    ("2k", (), 2000),
    ("0.5Gi", (), 536870912),
    ("100Mi", (), 104857600),
    ("1Ki", (), 1024),
    ("0.5Gi", ("Mi",), 512),
    ("10Gi", ("Gi",), 10),
    ("1", ("m",), 1000),
    (2, (), 2),
])
def test_quantity(value, args, expected):
    result = quantity(value, *args)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("value, args, message", [
    ("1.7GB", (), "quantity '1.7GB' is invalid: unknown suffix 'GB'; use Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), "
                  "n, u, m, k, M, G, T, P, E (powers of 1000) or an exponent like 1e3"),
    ("abc", (), "quantity 'abc' is invalid: it must start with a number, like 500m, 1.5Gi or 1e3"),
    ("", (), "quantity '' is invalid: it is empty"),
    ("1Gi", ("GB",), "unit 'GB' is not a quantity suffix; use one of Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), "
                     "n, u, m, k, M, G, T, P, E (powers of 1000)"),
])
def test_quantity_errors(value, args, message):
    with pytest.raises(AnsibleFilterError, match=f"^{re.escape(message)}$"):
        quantity(value, *args)
