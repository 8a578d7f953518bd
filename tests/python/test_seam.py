"""The boundary between the Rust core and Python: one exception tree, rooted at OktaError."""

from __future__ import annotations

import inspect

import pytest

import okta_lifecycle
from okta_lifecycle import errors, scim
from okta_lifecycle.testing import OktaSimulator


def test_every_exception_class_of_the_package_is_an_okta_error() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    assert all(inspect.isclass(cls) and issubclass(cls, errors.OktaError) for cls in classes)
    # The package exports each one under the same name.
    assert all(getattr(okta_lifecycle, name) is getattr(errors, name) for name in errors.__all__)
    # The built-in second bases that callers already rely on stay.
    assert issubclass(errors.FilterSyntaxError, errors.InvalidInputError)
    assert issubclass(errors.FilterSyntaxError, ValueError)
    assert issubclass(errors.NotFoundError, LookupError)
    assert issubclass(errors.ClosedError, RuntimeError)


def test_a_filter_that_does_not_parse_is_an_invalid_input_error() -> None:
    with pytest.raises(errors.FilterSyntaxError, match="character") as raised:
        scim.canonical('profile.login eq "unterminated')
    assert isinstance(raised.value, errors.OktaError)
    assert scim.FilterSyntaxError is errors.FilterSyntaxError


@pytest.mark.parametrize(
    "options",
    [
        {"faults": {"typo": 0.5}},
        {"faults": {"500": 2.0}},
        {"rate_limits": "fast"},
        {"concurrency_limit": 0},
        {"rate_limit_window_seconds": -1.0},
    ],
    ids=["unknown-fault", "probability", "rate-limits", "concurrency", "window"],
)
def test_the_simulator_refuses_bad_options_with_invalid_input_errors(options: dict[str, object]) -> None:
    with pytest.raises(errors.InvalidInputError) as raised:
        OktaSimulator(**options)  # type: ignore[arg-type]
    assert isinstance(raised.value, ValueError)


def test_closed_clients_and_simulators_raise_closed_error() -> None:
    with OktaSimulator() as sim:
        client = sim.client()
        client.close()
        with pytest.raises(errors.ClosedError, match="closed"):
            client.users.get("nobody@example.com")
        with pytest.raises(errors.ClosedError, match="closed"):
            client.runs()
    with pytest.raises(errors.ClosedError, match="closed"):
        sim.counters()
