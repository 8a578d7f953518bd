"""The package imports, and its SCIM helpers are the Rust implementation's."""

import re
from pathlib import Path

import pytest

import okta_lifecycle
from okta_lifecycle import scim


def test_version_matches_the_crate() -> None:
    cargo = (Path(__file__).resolve().parents[2] / "Cargo.toml").read_text()
    crate_version = re.search(r'^version = "([^"]+)"', cargo, re.MULTILINE)
    assert crate_version is not None
    assert okta_lifecycle.__version__ == crate_version.group(1)


def test_quote_cannot_be_broken_out_of() -> None:
    hostile = 'x" or status eq "ACTIVE'
    expression = f"profile.login eq {scim.quote(hostile)}"
    # The canonical form is one comparison: the "or" stayed inside the string.
    assert scim.canonical(expression) == expression
    assert " or " not in scim.canonical(expression).replace(scim.quote(hostile), "")


def test_canonical_normalises_operators_and_keeps_needed_parentheses() -> None:
    assert scim.canonical('a EQ "1"   OR b eq "2" and c eq "3"') == 'a eq "1" or b eq "2" and c eq "3"'
    assert scim.canonical('(a eq "1" or b eq "2") and c pr') == '(a eq "1" or b eq "2") and c pr'


def test_bad_filter_raises_a_typed_error_with_the_position() -> None:
    with pytest.raises(scim.FilterSyntaxError, match="character"):
        scim.canonical('profile.login eq "unterminated')
    assert issubclass(scim.FilterSyntaxError, ValueError)
