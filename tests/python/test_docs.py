"""The documentation's examples run, and the site's navigation holds every page.

Every fenced block of the pages in ``docs/`` and of ``README.md`` is checked by its language:

* ``python``: a page's blocks run in order in one namespace (a block may use what an earlier one
  made), in a scratch directory where ``examples/`` is the repository's. ``OKTA_ORG_URL`` and
  ``OKTA_API_TOKEN`` name a simulator, so an example written for a real org runs against it. A
  block with top-level ``await`` runs in an event loop. A block that imports pytest is a test
  module: it is written to a file and run by pytest, whose tests must pass.
* ``toml``: a lifecycle policy, loaded by the real loader (``Policy.from_toml``). A block after
  ``<!-- policy-error: TEXT -->`` must be refused with an ``InvalidInputError`` containing TEXT.
* ``sh``: each line is a command run by bash in the scratch directory, with the package's
  ``okta-lifecycle`` on ``PATH`` and the same simulator in the environment; it must exit 0, or
  with N when the line ends with a ``# exits N`` comment.

A block after ``<!-- not-run: REASON -->`` is not run; there may be only a few. Blocks in other
languages are shown, not run (sql, rust, text); a ``yaml`` block (a playbook) must at least parse.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from okta_lifecycle import InvalidInputError, Policy
from okta_lifecycle.testing import OktaSimulator

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md")) + [REPO / "README.md"]
RUN = {"python", "toml", "sh"}
SHOWN = {"yaml", "sql", "rust", "text"}
MAX_NOT_RUN = 5

#: The pages the site must have (the file each is in).
REQUIRED_PAGES = {
    "index.md": "what it is, where to start",
    "getting-started.md": "the simulator first, then a real org",
    "python.md": "the Python guide",
    "policy.md": "every policy key",
    "cli.md": "every subcommand and flag",
    "ansible.md": "the Ansible collection",
    "testing.md": "the pytest plugin and the simulator",
    "guarantees.md": "what it promises",
    "operations.md": "the journal, the rate budget, scopes",
    "several-hosts.md": "several hosts on PostgreSQL",
    "benchmarks.md": "measured performance",
    "changelog.md": "the changelog",
    "api.md": "the API reference",
}

FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>```+|~~~+)(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-run|policy-error):\s*(?P<text>.+?)\s*-->\s*$")
EXITS = re.compile(r"#\s*exits\s+(?P<code>\d+)\b")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    text: str
    not_run: str | None
    policy_error: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page, with the marker comment right before each (if any)."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    marker: tuple[str, str] | None = None
    while index < len(lines):
        line = lines[index]
        opening = FENCE.match(line)
        if opening is None:
            matched = MARKER.match(line)
            if matched:
                marker = (matched["kind"], matched["text"])
            elif line.strip():
                marker = None
            index += 1
            continue
        indent, fence, opened = len(opening["indent"]), opening["fence"], index + 1
        language = opening["info"].strip().split(" ")[0].lower()
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            text = lines[index]
            body.append(text[indent:] if text[:indent].strip() == "" else text.lstrip())
            index += 1
        assert index < len(lines), f"{page}: a block opened at line {index} is never closed"
        kind, text = marker or ("", "")
        found.append(
            Block(
                page=page,
                line=opened,
                language=language,
                text="\n".join(body) + "\n",
                not_run=text if kind == "not-run" else None,
                policy_error=text if kind == "policy-error" else None,
            )
        )
        marker = None
        index += 1
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]


def _pages_with(language: str) -> list[Path]:
    return sorted({block.page for block in ALL_BLOCKS if block.language == language and block.not_run is None})


def _id(page: Path) -> str:
    return str(page.relative_to(REPO))


@pytest.fixture
def org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OktaSimulator]:
    """A simulated org named by OKTA_ORG_URL / OKTA_API_TOKEN, and a scratch directory holding the
    repository's examples as the current directory."""
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    with OktaSimulator(seed_users=5) as sim:
        monkeypatch.setenv("OKTA_ORG_URL", sim.url)
        monkeypatch.setenv("OKTA_API_TOKEN", sim.api_token)
        monkeypatch.setenv("OKTA_LIFECYCLE_STATE_DIR", str(tmp_path / ".okta-lifecycle"))
        yield sim


def _run_python(block: Block, namespace: dict[str, Any], workdir: Path) -> None:
    if re.search(r"^\s*import pytest\b", block.text, re.MULTILINE):
        module = workdir / f"test_docs_example_{block.line}.py"
        module.write_text(block.text, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"{block.where}: its tests failed\n{result.stdout}\n{result.stderr}"
        assert re.search(r"\b\d+ passed\b", result.stdout), f"{block.where}: no test ran\n{result.stdout}"
        return
    code = compile(block.text, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # noqa: S307 - the documentation's own example
    if inspect.iscoroutine(result):
        asyncio.run(result)


@pytest.mark.parametrize("page", _pages_with("python"), ids=_id)
def test_python_examples_run(page: Path, org: OktaSimulator, tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    ran = 0
    for block in blocks(page):
        if block.language != "python" or block.not_run is not None:
            continue
        try:
            _run_python(block, namespace, tmp_path)
        except Exception as error:
            raise AssertionError(f"the example at {block.where} failed: {error!r}") from error
        ran += 1
    assert ran > 0


@pytest.mark.parametrize("page", _pages_with("toml"), ids=_id)
def test_policy_examples_load(page: Path) -> None:
    for block in blocks(page):
        if block.language != "toml" or block.not_run is not None:
            continue
        if block.policy_error is None:
            policy = Policy.from_toml(block.text)
            assert policy.name, block.where
            continue
        with pytest.raises(InvalidInputError) as refused:
            Policy.from_toml(block.text)
        assert block.policy_error in str(refused.value), f"{block.where}: {refused.value}"


def test_yaml_examples_parse() -> None:
    playbooks = [block for block in ALL_BLOCKS if block.language == "yaml"]
    assert playbooks
    for block in playbooks:
        document = yaml.safe_load(block.text)
        assert isinstance(document, list) and all("tasks" in play for play in document), block.where


def _commands(text: str) -> Iterator[str]:
    """The commands of a shell block: one a line, a trailing backslash continuing it."""
    pending = ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.strip()[:-1].strip() + " "
            continue
        command = (pending + line.strip()).strip()
        pending = ""
        if command and not command.startswith("#"):
            yield command


@pytest.mark.parametrize("page", _pages_with("sh"), ids=_id)
def test_shell_examples_run(page: Path, org: OktaSimulator, tmp_path: Path) -> None:
    environment = dict(os.environ)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    ran = 0
    for block in blocks(page):
        if block.language != "sh" or block.not_run is not None:
            continue
        for command in _commands(block.text):
            expected = EXITS.search(command)
            want = int(expected["code"]) if expected else 0
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                env=environment,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == want, (
                f"{block.where}: `{command}` exited {result.returncode}, not {want}\n{result.stdout}\n{result.stderr}"
            )
            ran += 1
    assert ran > 0


def test_every_block_is_run_or_marked() -> None:
    languages = {block.language for block in ALL_BLOCKS}
    unknown = languages - RUN - SHOWN
    assert not unknown, f"blocks in languages that are neither run nor shown: {unknown}"
    not_run = [block for block in ALL_BLOCKS if block.not_run is not None]
    assert all(block.language in RUN for block in not_run), "a not-run marker on a block that is not run anyway"
    assert len(not_run) <= MAX_NOT_RUN, "too many examples are not run: " + ", ".join(b.where for b in not_run)
    run = [block for block in ALL_BLOCKS if block.language in RUN and block.not_run is None]
    assert len(run) >= 25, f"only {len(run)} examples run"
    assert sum(block.language == "python" for block in run) >= 15
    assert sum(block.policy_error is not None for block in run) >= 3


def test_the_block_reader() -> None:
    page = DOCS / "policy.md"
    found = [block for block in blocks(page) if block.policy_error is not None]
    assert found and all(block.language == "toml" for block in found)
    first = found[0]
    assert page.read_text(encoding="utf-8").splitlines()[first.line - 1].startswith("```toml")
    assert list(_commands("a \\\n  b\n# c\n\nd  # exits 1\n")) == ["a b", "d  # exits 1"]


def _nav_files(entries: list[Any]) -> Iterator[str]:
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            for value in entry.values():
                yield from _nav_files(value) if isinstance(value, list) else _nav_files([value])


def test_every_page_is_in_the_nav() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = list(_nav_files(config["nav"]))
    assert len(nav) == len(set(nav)), "a page is twice in the nav"
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    assert pages == set(nav), f"in docs/ but not in the nav: {pages - set(nav)}; in the nav only: {set(nav) - pages}"
    missing = {name: what for name, what in REQUIRED_PAGES.items() if name not in nav}
    assert not missing, f"pages the site must have: {missing}"
    assert config["validation"] == {
        "omitted_files": "warn",
        "absolute_links": "warn",
        "unrecognized_links": "warn",
        "anchors": "warn",
    }


def test_the_readme_is_a_front_page() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "## Set-up on a fresh machine" in text
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [target for target in targets if not re.match(r"[a-z]+:", target)]
    assert any(target.startswith("docs/") for target in local)
    for target in local:
        assert (REPO / target).exists(), f"README.md links to {target}, which is not there"
    linked = {target.removeprefix("docs/") for target in local if target.startswith("docs/")}
    assert set(REQUIRED_PAGES) - {"index.md"} <= linked, set(REQUIRED_PAGES) - linked


#: Where each table of a policy is documented in docs/policy.md (the heading or the action's bold
#: name that opens its part), and how to put an unknown key into examples/policy.toml's table.
POLICY_TABLES: dict[str, tuple[str, str, str]] = {
    "top level": ("### Top level", 'name = "acme-workforce"\n', 'name = "acme-workforce"\nzz_unknown = 1\n'),
    "source": ("### `[source]`", "[source]\n", "[source]\nzz_unknown = 1\n"),
    "movers": ("### `[movers]`", "[movers]\n", "[movers]\nzz_unknown = 1\n"),
    "workflow": ("### `[[workflow]]`", 'name = "leaver"\n', 'name = "leaver"\nzz_unknown = 1\n'),
    "safety": ("### `[safety]`", "[safety]\n", "[safety]\nzz_unknown = 1\n"),
}
#: Each workflow action, as a one-action workflow appended to the example policy.
POLICY_ACTIONS = {
    "sync_identities": "",
    "create_entitlement": ', name = "g"',
    "manage_relationships": ', groups = ["g"]',
    "deprovision_identity": "",
    "reactivate_identity": "",
    "reset_password": "",
}


def _allowed_keys(policy: str) -> list[str]:
    """The keys the loader allows where ``zz_unknown`` was put, from the error that names them."""
    with pytest.raises(InvalidInputError) as refused:
        Policy.from_toml(policy)
    message = str(refused.value)
    assert "unknown field `zz_unknown`" in message, message
    keys = re.findall(r"`([a-z_]+)`", message.split("expected", 1)[1])
    assert keys, message
    return keys


def _part(page: str, opening: str) -> str:
    """The text of docs/policy.md from ``opening`` to the next heading or action (bold name)."""
    start = page.index(opening) + len(opening)
    ends = [m.start() for m in re.finditer(r"^(#{1,3} |\*\*`)", page[start:], re.MULTILINE)]
    return page[start : start + ends[0]] if ends else page[start:]


def test_the_policy_reference_names_every_key_the_loader_allows() -> None:
    page = (DOCS / "policy.md").read_text(encoding="utf-8")
    example = (REPO / "examples" / "policy.toml").read_text(encoding="utf-8")
    Policy.from_toml(example)
    documented = 0
    for table, (opening, anchor, replacement) in POLICY_TABLES.items():
        assert example.count(anchor) == 1, f"{table}: {anchor!r} is not once in examples/policy.toml"
        part = _part(page, opening)
        for key in _allowed_keys(example.replace(anchor, replacement)):
            assert f"| `{key}` |" in part, f"policy key `{key}` of {table} is not in docs/policy.md under {opening}"
            documented += 1
    for action, required in POLICY_ACTIONS.items():
        policy = example + (
            f'\n[[workflow]]\nname = "probe"\nwhen = \'status eq "Probe"\'\n'
            f'actions = [ {{ action = "{action}"{required}, zz_unknown = 1 }} ]\n'
        )
        part = _part(page, f"**`{action}`**")
        for key in _allowed_keys(policy):
            if key == "action":
                continue
            assert f"| `{key}` |" in part, f"option `{key}` of {action} is not in docs/policy.md under {action}"
            documented += 1
    assert documented > 30, documented


def test_the_command_line_page_names_every_subcommand_and_flag() -> None:
    import argparse

    from okta_lifecycle import cli

    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    subcommands = _part(page, "## Subcommands")
    parser = cli._parser()
    choices = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    assert len(choices) == 1
    named = 0
    for name, command in choices[0].choices.items():
        assert re.search(rf"^\| `{re.escape(name)}[ `]", subcommands, re.MULTILINE), (
            f"subcommand {name} is not in docs/cli.md"
        )
        for action in command._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert f"`{flag}" in page, f"flag {flag} of {name} is not in docs/cli.md"
                    named += 1
    assert named > 40, named
