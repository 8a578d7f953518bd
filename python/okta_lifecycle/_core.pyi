"""Type stubs for the okta_lifecycle._core extension module."""

__all__ = ["FilterSyntaxError", "__version__", "scim_canonical", "scim_quote"]
__version__: str

class FilterSyntaxError(ValueError):
    """A SCIM filter expression that does not parse."""

def scim_quote(value: str) -> str:
    """Quote a value as a SCIM string literal: no value can change the expression around it."""

def scim_canonical(expression: str) -> str:
    """Parse a SCIM filter and return its canonical text.

    Operators come out in lower case, values escaped, parentheses only where precedence needs them.
    """
