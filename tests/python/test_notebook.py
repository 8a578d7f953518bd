"""The example notebook, ``examples/lifecycle.ipynb``, executed in a real Jupyter kernel.

The kernel is the Python that runs the tests: a kernelspec written into a temporary folder names
``sys.executable``, so no kernel installed elsewhere on the machine is picked up. It starts in
``examples/``, as Jupyter starts a notebook in its own folder, and each cell has ``CELL_TIMEOUT``
seconds. The checks read what a reader sees, the rendered outputs of the cells (found by their
tags), and the numbers they expect come from the example's data (``examples/lifecycle/org.csv``
and ``hr-today.csv``) and ``examples/policy.toml``'s rules, not from the notebook.

The notebook is committed with its outputs. When a deliberate change makes the committed outputs
stale, refresh them with ``.venv/bin/python tests/python/test_notebook.py``.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import struct
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import zmq
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOK = EXAMPLES / "lifecycle.ipynb"
CELL_TIMEOUT = 120
KERNEL_NAME = "okta-lifecycle-tests"
# Where the outputs of one execution differ from another's: Okta's ids and the journal's run ids.
VOLATILE = re.compile(r"\b00[a-z0-9][0-9A-Za-z]{17}\b|\b\d{8}T\d{6}Z-[0-9A-Za-z]+\b")
# What matplotlib prints the first time it runs on a machine.
FONT_CACHE_NOTICE = re.compile(r"^Matplotlib is building the font cache; this may take a moment\.\n", re.MULTILINE)


# --- the example's data ------------------------------------------------------------------------


def department_group(department: str) -> str:
    """The group ``examples/policy.toml`` puts a department's people in."""
    return "dept-" + department.lower().replace(" & ", "-").replace(" ", "-")


@dataclass
class Day:
    """What today's HR export means for the org, worked out from the two CSV files."""

    joiners: list[str] = field(default_factory=list)
    movers: list[str] = field(default_factory=list)
    leavers: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # (event, operation, login) of every change the policy makes.
    changes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    # (login, department before, department today) of each mover who changes department.
    department_moves: list[tuple[str, str, str]] = field(default_factory=list)
    # login -> the department HR gives today.
    departments: dict[str, str] = field(default_factory=dict)
    # login -> (groups, roles) held this morning.
    holdings: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    @property
    def operations(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (_, operation, _), count in self.changes.items():
            counts[operation] += count
        return counts


def read_rows(name: str) -> list[dict[str, str]]:
    with (EXAMPLES / "lifecycle" / name).open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def today() -> Day:
    accounts = {row["employee_number"]: row for row in read_rows("org.csv") if row["employee_number"]}
    day = Day()
    for record in read_rows("hr-today.csv"):
        login = record["work_email"].lower()
        account = accounts.get(record["employee_id"])
        help_desk = record["job_title"].lower() == "it support"
        day.departments[login] = record["department"]
        if record["status"] == "Terminated":
            assert account is not None, f"a leaver the org does not hold: {login}"
            groups = account["groups"].split(";")
            roles = [role for role in account["roles"].split(";") if role]
            day.leavers.append(login)
            day.holdings[login] = (groups, roles)
            for operation in ["snapshot_user", "deactivate_user", "clear_sessions"]:
                day.changes["leaver", operation, login] += 1
            day.changes["leaver", "remove_member", login] += len(groups)
            day.changes["leaver", "unassign_role", login] += len(roles)
        elif account is None:
            day.joiners.append(login)
            day.changes["joiner", "create_user", login] += 1
            day.changes["joiner", "assign_role", login] += help_desk
        # The policy's TITLE capitalises each word, as str.title() does for these titles.
        elif (account["department"], account["title"]) != (record["department"], record["job_title"].title()):
            day.movers.append(login)
            day.changes["mover", "update_user", login] += 1
            if account["department"] != record["department"]:
                day.department_moves.append((login, account["department"], record["department"]))
                day.changes["mover", "add_member", login] += 1
                day.changes["mover", "remove_member", login] += 1
        else:
            day.unchanged.append(login)
    day.changes = +day.changes  # drop the zero counts
    return day


# --- running the notebook ----------------------------------------------------------------------

# nbformat's functions carry no annotations: the three this module calls, typed.


def read_notebook() -> NotebookNode:
    notebook: NotebookNode = nbformat.read(NOTEBOOK, as_version=4)
    return notebook


def write_notebook(notebook: NotebookNode) -> None:
    nbformat.write(notebook, NOTEBOOK)


def code_cell(source: str) -> NotebookNode:
    cell: NotebookNode = nbformat.v4.new_code_cell(source)
    return cell


@dataclass
class Run:
    notebook: NotebookNode
    token: str  # the simulated org's API token
    python: str  # the kernel's sys.executable


def execute(notebook: NotebookNode) -> Run:
    """Execute ``notebook`` in place in a fresh kernel of this Python, in ``examples/``; then read
    the simulated org's API token and the kernel's Python from the kernel (outside the notebook)."""
    with tempfile.TemporaryDirectory(prefix="okta-lifecycle-kernels-") as kernels:
        write_kernel_spec(Path(kernels) / KERNEL_NAME, overrides={"display_name": "okta-lifecycle tests"})
        specs = KernelSpecManager(kernel_dirs=[kernels], ensure_native_kernel=False)
        # The kernel's channels are encrypted (CurveZMQ) where pyzmq can, as the kernelspec allows.
        encryption = "auto" if zmq.has("curve") else "disabled"
        manager = AsyncKernelManager(
            kernel_name=KERNEL_NAME, kernel_spec_manager=specs, transport_encryption=encryption
        )
        client = NotebookClient(
            notebook,
            km=manager,
            timeout=CELL_TIMEOUT,
            record_timing=False,
            resources={"metadata": {"path": str(EXAMPLES)}},
        )
        probe = code_cell("import sys\nprint(simulator.api_token)\nprint(sys.executable)")
        with client.setup_kernel(cleanup_kc=True):
            client.execute()
            notebook.cells.append(probe)
            try:
                client.execute_cell(probe, len(notebook.cells) - 1, store_history=False)
            finally:
                notebook.cells.pop()
    token, python = "".join(output.get("text", "") for output in probe.outputs).splitlines()
    return Run(notebook, token, python)


@pytest.fixture(scope="module")
def run() -> Run:
    return execute(read_notebook())


@pytest.fixture(scope="module")
def committed() -> NotebookNode:
    return read_notebook()


@pytest.fixture(scope="module")
def day() -> Day:
    return today()


# --- reading the outputs -----------------------------------------------------------------------


def tagged(notebook: NotebookNode, tag: str) -> NotebookNode:
    cells = [cell for cell in notebook.cells if tag in cell.metadata.get("tags", [])]
    assert len(cells) == 1, f"one cell tagged {tag!r}, found {len(cells)}"
    cell: NotebookNode = cells[0]
    return cell


def stdout(cell: NotebookNode) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def rich(cell: NotebookNode, mime: str) -> list[str]:
    """Every ``mime`` output of a cell (display data and results)."""
    return [
        str(o.data[mime])
        for o in cell.outputs
        if o.output_type in ("display_data", "execute_result") and mime in o.data
    ]


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_table(cell: NotebookNode) -> list[dict[str, str]]:
    """The rows of the one HTML table a cell displays, as dicts keyed by the header."""
    parser = _Tables()
    for html in rich(cell, "text/html"):
        parser.feed(html)
    assert len(parser.tables) == 1, f"one HTML table in the cell, found {len(parser.tables)}"
    header, *rows = parser.tables[0]
    assert all(len(row) == len(header) for row in rows), "every row has a value for each column"
    return [dict(zip(header, row, strict=True)) for row in rows]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "a PNG image"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def seen(cell: NotebookNode) -> list[tuple[str, str]]:
    """What a reader sees of a cell's output as text, with the ids of one execution blanked:
    stdout, stderr (less matplotlib's first-run notice), and the HTML and plain text of each
    display (the PNG of a figure is compared by its presence only)."""
    shown: list[tuple[str, str]] = []
    for stream in ("stdout", "stderr"):
        text = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == stream)
        text = FONT_CACHE_NOTICE.sub("", text)
        if text:
            shown.append((stream, text))
    for output in cell.outputs:
        if output.output_type in ("display_data", "execute_result"):
            for mime in sorted(output.data):
                shown.append((mime, "" if mime.startswith("image/") else str(output.data[mime])))
        elif output.output_type == "error":
            shown.append(("error", f"{output.ename}: {output.evalue}"))
    return [(kind, VOLATILE.sub("<id>", text)) for kind, text in shown]


# --- the checks --------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["executed now", "committed"])
def test_every_cell_ran_in_order_without_an_error(which: str, run: Run, committed: NotebookNode) -> None:
    notebook = run.notebook if which == "executed now" else committed
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), "one clean run, top to bottom"
    for cell in code:
        kinds = [output.output_type for output in cell.outputs]
        assert "error" not in kinds, f"cell {cell.id} failed"
        assert [t for k, t in seen(cell) if k == "stderr"] == [], f"cell {cell.id} wrote to stderr"


def test_plan_table_names_each_change_of_the_day(run: Run, day: Day) -> None:
    cell = tagged(run.notebook, "plan")
    assert stdout(cell) == (
        f"{len(day.joiners) + len(day.movers) + len(day.leavers) + len(day.unchanged)} records: "
        f"{len(day.joiners)} joiners, {len(day.movers)} movers, {len(day.leavers)} leavers, "
        f"{len(day.unchanged)} unchanged, 0 with issues; {day.changes.total()} changes\n"
    )
    rows = html_table(cell)
    assert Counter((row["event"], row["operation"], row["user"]) for row in rows) == day.changes
    assert sorted(int(row["#"]) for row in rows) == list(range(1, day.changes.total() + 1))

    def details(operation: str, login: str) -> list[str]:
        return [row["details"] for row in rows if row["operation"] == operation and row["user"] == login]

    for login, before, after in day.department_moves:
        [update] = details("update_user", login)
        assert f"department: {before} → {after}" in update
        assert details("add_member", login) == [department_group(after)]
        assert details("remove_member", login) == [department_group(before)]
    for login, (groups, roles) in day.holdings.items():
        assert sorted(details("remove_member", login)) == sorted(groups)
        assert details("unassign_role", login) == roles
    for joiner in day.joiners:
        [create] = details("create_user", joiner)
        department = day.departments[joiner]
        assert create.startswith(f"{department}, ")
        assert create.endswith(f"; in all-staff, {department_group(department)}")


def test_report_counts_every_change_as_done(run: Run, day: Day) -> None:
    cell = tagged(run.notebook, "report")
    total = day.changes.total()
    assert stdout(cell) == f"{total} changes: {total} succeeded\nplanning the same export again: 0 changes\n"
    rows = html_table(cell)
    assert {row["status"] for row in rows} == {"succeeded"}
    assert {row["operation"]: int(row["changes"]) for row in rows} == dict(day.operations)


def test_history_shows_what_became_of_the_administrator_who_left(run: Run, day: Day) -> None:
    [(leaver, (groups, roles))] = [(login, held) for login, held in day.holdings.items() if held[1]]
    cell = tagged(run.notebook, "history")
    lines = stdout(cell).splitlines()
    assert lines[0] == f"{leaver} is DEPROVISIONED, admin roles: none"
    rows = html_table(cell)
    expected = Counter({operation: count for (_, operation, login), count in day.changes.items() if login == leaver})
    assert Counter(row["operation"] for row in rows) == expected
    assert {row["status"] for row in rows} == {"succeeded"}
    assert {row["action"] for row in rows} == {"deprovision_identity"}
    assert sorted(row["details"] for row in rows if row["operation"] == "remove_member") == sorted(groups)
    [snapshot] = [line for line in lines if line.startswith("recorded before deprovisioning:")]
    for held in [*groups, *roles]:
        assert held in snapshot


def test_chart_is_a_picture(run: Run) -> None:
    cell = tagged(run.notebook, "chart")
    [picture] = rich(cell, "image/png")
    data = base64.b64decode(picture)
    width, height = png_size(data)
    assert 400 <= width <= 2000 and 200 <= height <= 1200, (width, height)
    assert len(data) > 5_000, "a chart, not an empty canvas"


def test_the_kernel_is_this_python(run: Run) -> None:
    assert run.python == sys.executable


def test_the_simulators_token_is_never_shown(run: Run) -> None:
    assert len(run.token) >= 20, "the token was read from the kernel"
    for cell in run.notebook.cells:
        assert run.token not in cell.source
        if cell.cell_type == "code":
            assert run.token not in json.dumps(cell.outputs), f"cell {cell.id} shows the API token"


def test_committed_outputs_are_those_of_a_fresh_run(run: Run, committed: NotebookNode) -> None:
    for fresh, kept in zip(run.notebook.cells, committed.cells, strict=True):
        if fresh.cell_type == "code":
            assert seen(kept) == seen(fresh), (
                f"cell {kept.id}: the committed outputs are stale; refresh them with "
                ".venv/bin/python tests/python/test_notebook.py"
            )


def main() -> None:
    """Execute the notebook and write it back with its fresh outputs."""
    notebook = read_notebook()
    execute(notebook)  # raises CellExecutionError, naming the cell, if one fails
    write_notebook(notebook)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
