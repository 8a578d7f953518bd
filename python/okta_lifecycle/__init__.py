"""okta-lifecycle: Okta identity lifecycle management from Python.

The Rust core does the work; this package is its Python face.
"""

from okta_lifecycle import scim
from okta_lifecycle._core import FilterSyntaxError, __version__

__all__ = ["FilterSyntaxError", "__version__", "scim"]
