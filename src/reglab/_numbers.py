"""Numbers as people type them: the strategy grammar's number syntax and shortest form."""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["NUMBER", "format_number"]

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def format_number(x: float) -> str:
    """The shortest text that reads back as exactly ``x`` (small numbers in ``1e-4`` form).

    >>> [format_number(v) for v in (1e-4, 0.3, 3.0, 0.01, 5e-05, 0.00015, 1e20)]
    ['1e-4', '0.3', '3', '0.01', '5e-5', '1.5e-4', '1e20']
    """
    plain = repr(float(x)).replace("e+", "e")
    plain = re.sub(r"e(-?)0+(\d)", r"e\1\2", plain)
    if plain.endswith(".0"):
        plain = plain[:-2]
    if x == 0 or abs(x) >= 1 or "e" in plain:
        return plain
    sign, digits, _ = Decimal(repr(float(x))).normalize().as_tuple()
    exp = Decimal(repr(float(x))).adjusted()
    mantissa = "".join(map(str, digits))
    sci = f"{'-' if sign else ''}{mantissa[0]}{'.' + mantissa[1:] if mantissa[1:] else ''}e{exp}"
    return sci if len(sci) < len(plain) else plain
