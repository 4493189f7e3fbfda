"""Kubernetes resource quantities as exact numbers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from ansible_collections.kubeops.platform.plugins.module_utils._quantity import parse_quantity, to_number

SUFFIX_HELP = "Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), n, u, m, k, M, G, T, P, E (powers of 1000)"


@pytest.mark.parametrize("value, expected", [
    ("1.7Gi", Decimal("1825361100.8")),
    ("500m", Decimal("0.5")),
    ("1e3", Decimal(1000)),
    ("1E3", Decimal(1000)),
    ("2k", Decimal(2000)),
    ("0.5Gi", Decimal(536870912)),
    ("100Mi", Decimal(104857600)),
    ("1Ki", Decimal(1024)),
    ("1Ti", Decimal(1024 ** 4)),
    ("1Pi", Decimal(1024 ** 5)),
    ("1Ei", Decimal(1024 ** 6)),
    ("10Gi", Decimal(10 * 1024 ** 3)),
    ("1", Decimal(1)),
    ("250n", Decimal("0.00000025")),
    ("3u", Decimal("0.000003")),
    ("1M", Decimal(10 ** 6)),
    ("1G", Decimal(10 ** 9)),
    ("1T", Decimal(10 ** 12)),
    ("1P", Decimal(10 ** 15)),
    ("1E", Decimal(10 ** 18)),
    ("1.5e-3", Decimal("0.0015")),
    ("2e+2", Decimal(200)),
    ("+1.5", Decimal("1.5")),
    ("-100m", Decimal("-0.1")),
    (".5Gi", Decimal(536870912)),
    ("5.", Decimal(5)),
    (" 128Mi ", Decimal(128 * 1024 ** 2)),
    (3, Decimal(3)),
    (0.25, Decimal("0.25")),
    (0.1, Decimal("0.1")),
])
def test_parse_quantity(value, expected):
    assert parse_quantity(value) == expected


@pytest.mark.parametrize("value, problem", [
    ("1.7GB", f"unknown suffix 'GB'; use {SUFFIX_HELP} or an exponent like 1e3"),
    ("1K", f"unknown suffix 'K'; use {SUFFIX_HELP} or an exponent like 1e3"),
    ("1gi", f"unknown suffix 'gi'; use {SUFFIX_HELP} or an exponent like 1e3"),
    ("1 Gi", f"unknown suffix ' Gi'; use {SUFFIX_HELP} or an exponent like 1e3"),
    ("1e", f"unknown suffix 'e'; use {SUFFIX_HELP} or an exponent like 1e3"),
    ("1e1.5", f"unknown suffix 'e1.5'; use {SUFFIX_HELP} or an exponent like 1e3"),
    ("1.2.3", f"unknown suffix '.3'; use {SUFFIX_HELP} or an exponent like 1e3"),
    ("abc", "it must start with a number, like 500m, 1.5Gi or 1e3"),
    ("Gi", "it must start with a number, like 500m, 1.5Gi or 1e3"),
    ("-", "it must start with a number, like 500m, 1.5Gi or 1e3"),
    (".", "it must start with a number, like 500m, 1.5Gi or 1e3"),
    ("", "it is empty"),
    ("  ", "it is empty"),
    ("1e99999999999", "it is out of range"),
])
def test_parse_quantity_rejects(value, problem):
    message = f"quantity '{value}' is invalid: {problem}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_quantity(value)


@pytest.mark.parametrize("value, message", [
    (None, "quantity None is invalid: expected a string or a number (got NoneType)"),
    (True, "quantity True is invalid: expected a string or a number (got bool)"),
    (["1Gi"], "quantity [\"1Gi\"] is invalid: expected a string or a number (got list)"),
    (float("inf"), "quantity inf is invalid: it must be a finite number"),
    (float("nan"), "quantity nan is invalid: it must be a finite number"),
])
def test_parse_quantity_rejects_other_types(value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_quantity(value)


@pytest.mark.parametrize("value, unit, expected", [
    ("1.7Gi", None, 1825361100.8),
    ("500m", None, 0.5),
    ("1e3", None, 1000),
    ("2k", None, 2000),
    ("0.5Gi", None, 536870912),
    ("100Mi", None, 104857600),
    ("1Ki", None, 1024),
    ("0.5Gi", "Mi", 512),
    ("1.7Gi", "Gi", 1.7),
    ("1.7Gi", "Mi", 1740.8),
    ("500m", "m", 500),
    ("2", "m", 2000),
    ("1500m", "", 1.5),
    ("1Gi", "G", 1.073741824),
    ("1G", "Mi", 953.67431640625),
    ("4Gi", "Ki", 4194304),
])
def test_to_number(value, unit, expected):
    result = to_number(value, unit)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("unit", ["GB", "gi", "e3", 5])
def test_to_number_rejects_unknown_units(unit):
    message = f"unit {unit!r} is not a quantity suffix; use one of {SUFFIX_HELP}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        to_number("1Gi", unit)
