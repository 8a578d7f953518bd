"""SCIM filter expressions for Okta's ``search`` and ``filter`` parameters.

Build expressions with :func:`quote` so that a value can never change the expression::

    search = f"profile.department eq {quote(department)}"
"""

from okta_lifecycle._core import scim_canonical, scim_quote
from okta_lifecycle.errors import FilterSyntaxError

__all__ = ["FilterSyntaxError", "canonical", "quote"]


def quote(value: str) -> str:
    """Return ``value`` as a SCIM string literal, quotes and escapes included."""
    return scim_quote(value)


def canonical(expression: str) -> str:
    """Parse ``expression`` and return its canonical text; raise FilterSyntaxError if it does not parse."""
    return scim_canonical(expression)
