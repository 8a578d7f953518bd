"""The side-by-side benchmarks (benchmarks/run.py) still run: a few seconds at tiny sizes, so that
the script cannot rot. Figures are not checked here; benchmarks/results.md holds the real run."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"
CASES = ("B1", "B1S", "B2", "B3", "B4", "B5", "B6", "SB")


@pytest.mark.skipif(importlib.util.find_spec("okta") is None, reason="Okta's Python SDK is not installed")
def test_benchmarks_smoke(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--smoke", "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.splitlines()
    for case in CASES:
        assert any(line.startswith(f"{case}: ") for line in lines), (case, completed.stdout)
    assert (tmp_path / "results.md").read_text().startswith("# Benchmarks")
    assert (tmp_path / "results.json").exists()
