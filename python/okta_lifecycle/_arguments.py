"""Command-line pieces shared by ``okta-lifecycle`` and ``python -m okta_lifecycle.simulator``:
a parser whose mistakes are one line, and bounded number types for arguments."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn, TypeVar

Number = TypeVar("Number", int, float)


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line (and exit 2), not the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def bounded(
    kind: Callable[[str], Number], low: Number, high: Number, *, above_low: bool = False
) -> Callable[[str], Number]:
    """An argparse type: `kind` (int or float) between `low` and `high` (above `low` if asked)."""

    def convert(text: str) -> Number:
        value = kind(text)
        too_low = value <= low if above_low else value < low
        if math.isnan(value) or too_low or value > high:
            lower = f"above {low}" if above_low else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{text} is not a number {lower} and at most {high}")
        return value

    return convert


count = bounded(int, 0, 2**31)
positive = bounded(int, 1, 2**31)
port = bounded(int, 0, 65535)
