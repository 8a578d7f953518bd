"""The boundary between the Rust core and Python: one exception tree rooted at OktaError, and
dict-shaped results whose keys match the TypedDicts the stubs promise."""

from __future__ import annotations

import asyncio
import inspect
import re
import typing
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


def _fits(value: dict[str, object], shape: type) -> None:
    """``value`` has every required key of the TypedDict ``shape`` and no key it does not name."""
    required = shape.__required_keys__  # type: ignore[attr-defined]
    known = required | shape.__optional_keys__  # type: ignore[attr-defined]
    assert required <= value.keys(), f"{shape.__name__} lacks {required - value.keys()}"
    assert value.keys() <= known, f"{shape.__name__} does not name {value.keys() - known}"


def _change_shape(change: dict[str, object]) -> type:
    """The member of the ``types.Change`` union whose ``operation`` names the change's."""
    for member in typing.get_args(types.Change):
        if change["operation"] in typing.get_args(typing.get_type_hints(member)["operation"]):
            return member  # type: ignore[no-any-return]
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
                _fits(change, _change_shape(change))  # type: ignore[arg-type]
                for key in ("user", "group"):
                    if key in change:
                        _fits(change[key], types.UserRef if key == "user" else types.GroupRef)  # type: ignore[literal-required]
                for moved in change.get("changes", []):
                    _fits(moved, types.AttributeChange)  # type: ignore[arg-type]
            for issue in plan.issues:
                _fits(issue, types.RecordIssue)  # type: ignore[arg-type]
            _fits(plan.summary, types.PlanSummary)  # type: ignore[arg-type]
            report = client.apply(plan, override_safety=True)
            for outcome in report.outcomes:
                _fits(outcome, types.Outcome)  # type: ignore[arg-type]
        operations = {change["operation"] for change in plan.changes}
        assert {"update_user", "deactivate_user", "remove_member", "snapshot_user"} <= operations
        leaver = next(c["user"]["login"] for c in plan.changes if c["operation"] == "deactivate_user")
        history = client.history(leaver)
        assert history
        for row in history:
            _fits(row, types.ChangeRecord)  # type: ignore[arg-type]
        snapshots = client.snapshots(leaver)
        assert snapshots
        for snapshot in snapshots:
            _fits(snapshot, types.UserSnapshot)  # type: ignore[arg-type]
        for run in client.runs():
            _fits(run, types.RunInfo)  # type: ignore[arg-type]
        _fits(client.governor_stats(), types.GovernorStats)  # type: ignore[arg-type]
        for request in sim.requests()[:5]:
            _fits(request, types.SimulatorRequest)  # type: ignore[arg-type]
        _fits(sim.counters(), types.SimulatorCounters)  # type: ignore[arg-type]
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
                await client.users.create(["not", "a", "dict"])  # type: ignore[arg-type]
            with pytest.raises(errors.InvalidInputError, match="profile must be a dict"):
                await client.actions.sync_identities("login=ada")  # type: ignore[arg-type]
            with pytest.raises(errors.InvalidInputError, match="next_login"):
                await client.users.create({"login": "a@x.com", "email": "a@x.com"}, next_login="later")

    asyncio.run(main())
