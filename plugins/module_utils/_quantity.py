# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities (``1.7Gi``, ``500m``, ``1e3``) as exact decimals.

Grammar of k8s.io/apimachinery/pkg/api/resource.Quantity: an optionally signed decimal number
followed by a binary suffix (Ki Mi Gi Ti Pi Ei, powers of 1024), a decimal suffix
(n u m k M G T P E, powers of 1000) or a decimal exponent (``e3``/``E-2``).

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

from ansible_collections.kubeops.platform.plugins.module_utils._validation import show, type_name

BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

_QUANTITY_RE = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")
_EXPONENT_RE = re.compile(r"^[eE]([+-]?[0-9]+)$")
_UNITS_HELP = "Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), n, u, m, k, M, G, T, P, E (powers of 1000)"


def parse_quantity(value: str | int | float) -> Decimal:
    """Parse a quantity into its exact value in base units (bytes, cores, ...)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"quantity {show(value)} is invalid: expected a string or a number (got {type_name(value)})")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # str() gives the shortest repr, so 0.1 stays 0.1 rather than its binary expansion.
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError(f"quantity {show(value)} is invalid: it must be a finite number")
        return number

    text = value.strip()
    if not text:
        raise ValueError(f"quantity {show(value)} is invalid: it is empty")
    match = _QUANTITY_RE.match(text)
    if not match:
        raise ValueError(
            f"quantity {show(value)} is invalid: it must start with a number, like 500m, 1.5Gi or 1e3"
        )
    number, suffix = Decimal(match.group(1)), match.group(2)
    try:
        if suffix in BINARY_SUFFIXES:
            return number * Decimal(1024 ** BINARY_SUFFIXES[suffix])
        if suffix in DECIMAL_SUFFIXES:
            return number.scaleb(DECIMAL_SUFFIXES[suffix])
        exponent = _EXPONENT_RE.match(suffix)
        if exponent:
            return number.scaleb(int(exponent.group(1)))
    except decimal.DecimalException:
        raise ValueError(f"quantity {show(value)} is invalid: it is out of range") from None
    raise ValueError(
        f"quantity {show(value)} is invalid: unknown suffix {show(suffix)}; "
        f"use {_UNITS_HELP} or an exponent like 1e3"
    )


def _unit_size(unit: str) -> Decimal:
    if not isinstance(unit, str):
        raise ValueError(f"unit {show(unit)} is not a quantity suffix; use one of {_UNITS_HELP}")
    if unit in BINARY_SUFFIXES:
        return Decimal(1024 ** BINARY_SUFFIXES[unit])
    if unit in DECIMAL_SUFFIXES:
        return Decimal(1).scaleb(DECIMAL_SUFFIXES[unit])
    raise ValueError(f"unit {show(unit)} is not a quantity suffix; use one of {_UNITS_HELP}")


def to_number(value: str | int | float, unit: str | None = None) -> int | float:
    """A quantity as a plain number, in base units or in ``unit`` (e.g. ``Mi``, ``m``, ``Gi``).

    Integral results are ints (``0.5Gi`` in ``Mi`` is 512), others floats (``500m`` is 0.5).
    """
    number = parse_quantity(value)
    if unit:
        number = number / _unit_size(unit)
    if number == number.to_integral_value():
        return int(number)
    return float(number)
