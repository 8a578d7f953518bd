"""The boundary between the Rust core and Python: one exception tree rooted at OktaError, and
dict-shaped results whose keys match the TypedDicts the stubs promise."""

from __future__ import annotations

import asyncio
import inspect
import re
import typing
from collections.abc import Mapping
from pathlib import Path

import pytest

import okta_lifecycle
from okta_lifecycle import errors, scim, types
from okta_lifecycle.testing import OktaSimulator

REPO = Path(__file__).resolve().parents[2]


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
        OktaSimulator(**options)  # type: ignore[arg-type]  # the wrong values are the point
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


class _TypedDictClass(typing.Protocol):
    """What a ``TypedDict`` class tells about its keys at run time."""

    __required_keys__: frozenset[str]
    __optional_keys__: frozenset[str]


def _fits(value: Mapping[str, object], shape: _TypedDictClass) -> None:
    """``value`` has every required key of the TypedDict ``shape`` and no key it does not name."""
    required = shape.__required_keys__
    known = required | shape.__optional_keys__
    assert required <= value.keys(), f"{shape} lacks {required - value.keys()}"
    assert value.keys() <= known, f"{shape} does not name {value.keys() - known}"


def _change_shape(change: types.Change) -> _TypedDictClass:
    """The member of the ``types.Change`` union whose ``operation`` names the change's."""
    for member in typing.get_args(types.Change):
        if change["operation"] in typing.get_args(typing.get_type_hints(member)["operation"]):
            shape: _TypedDictClass = member
            return shape
    raise AssertionError(f"no member of types.Change is for {change['operation']}")


def test_every_operation_of_the_core_has_its_own_member_of_the_change_union() -> None:
    operations: list[str] = []
    for member in typing.get_args(types.Change):
        operations += typing.get_args(typing.get_type_hints(member)["operation"])
    assert len(operations) == len(set(operations)), "one member per operation"
    # The operation names the Rust core's plan serializes (src/lifecycle/plan.rs, `Operation`).
    source = (REPO / "src" / "lifecycle" / "plan.rs").read_text()
    enum = source.split("pub enum Operation {", 1)[1].split("\n}\n", 1)[0]
    variants = re.findall(r"^    ([A-Z][A-Za-z]+) \{", enum, re.M)
    snake = {re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower() for name in variants}
    assert len(snake) == 14 and set(operations) == snake


def test_a_type_checker_narrows_a_change_on_its_operation(tmp_path: Path) -> None:
    mypy = pytest.importorskip("mypy.api")
    good = tmp_path / "good.py"
    good.write_text(
        "from okta_lifecycle.types import Change\n"
        "def describe(change: Change) -> str:\n"
        "    if change['operation'] == 'create_user':\n"
        "        return change['login'] + str(len(change.get('groups', [])))\n"
        "    if change['operation'] in ('add_member', 'remove_member'):\n"
        "        return change['group']['name']\n"
        "    if change['operation'] == 'reset_password':\n"
        "        return str(change['revoke_sessions'])\n"
        "    return change['action']\n"
    )
    out, err, status = mypy.run(["--strict", "--no-incremental", str(good)])
    assert status == 0, out + err
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "from okta_lifecycle.types import Change\n"
        "def login(change: Change) -> str:\n"
        "    return change['login']\n"
    )
    out, _, status = mypy.run(["--strict", "--no-incremental", str(wrong)])
    assert status == 1 and "login" in out, out


def test_the_dict_shaped_results_have_the_keys_their_typed_dicts_name() -> None:
    policy = okta_lifecycle.Policy.from_file(REPO / "examples" / "policy.toml")
    with OktaSimulator() as sim:
        client = sim.client()
        for day in ("day1", "day3"):
            plan = client.plan(policy, REPO / "examples" / "hr" / f"{day}.csv")
            assert plan.changes and plan.issues
            for change in plan.changes:
                _fits(change, _change_shape(change))
                if change["operation"] != "create_group" and change["operation"] != "create_user":
                    _fits(change["user"], types.UserRef)
                if change["operation"] in ("add_member", "remove_member"):
                    _fits(change["group"], types.GroupRef)
                if change["operation"] == "update_user":
                    for moved in change["changes"]:
                        _fits(moved, types.AttributeChange)
            for issue in plan.issues:
                _fits(issue, types.RecordIssue)
            _fits(plan.summary, types.PlanSummary)
            report = client.apply(plan, override_safety=True)
            for outcome in report.outcomes:
                _fits(outcome, types.Outcome)
        operations = {change["operation"] for change in plan.changes}
        assert {"update_user", "deactivate_user", "remove_member", "snapshot_user"} <= operations
        leaver = next(c["user"]["login"] for c in plan.changes if c["operation"] == "deactivate_user")
        history = client.history(leaver)
        assert history
        for row in history:
            _fits(row, types.ChangeRecord)
        snapshots = client.snapshots(leaver)
        assert snapshots
        for snapshot in snapshots:
            _fits(snapshot, types.UserSnapshot)
        for run in client.runs():
            _fits(run, types.RunInfo)
        _fits(client.governor_stats(), types.GovernorStats)
        for request in sim.requests()[:5]:
            _fits(request, types.SimulatorRequest)
        _fits(sim.counters(), types.SimulatorCounters)
        events = list(client.actions.source_of_identity(mover_attributes=["department"]))
        assert events


def test_an_argument_refused_inside_an_async_call_is_an_invalid_input_error() -> None:
    # The profile check runs inside the call's Rust future, on a runtime thread: the refusal must
    # travel back as data and become an exception only where the GIL is held (debug builds assert
    # that no exception is built on a runtime thread, which would turn this into InternalError).
    async def main() -> None:
        with OktaSimulator() as sim:
            client = sim.async_client()
            with pytest.raises(errors.InvalidInputError, match="profile must be a dict"):
                await client.users.create(["not", "a", "dict"])  # type: ignore[arg-type]  # the wrong type is the point
            with pytest.raises(errors.InvalidInputError, match="profile must be a dict"):
                await client.actions.sync_identities("login=ada")  # type: ignore[arg-type]  # the wrong type is the point
            with pytest.raises(errors.InvalidInputError, match="next_login"):
                await client.users.create(
                    {"login": "a@x.com", "email": "a@x.com"},
                    next_login="later",  # type: ignore[arg-type]  # the wrong value is the point
                )

    asyncio.run(main())
