"""The layer order (README, "Layers") holds: `lint-imports` with pyproject's contract.

`make test` fails on an upward import, including one inside a function.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports(*, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(cli), "--no-cache", "--no-logo"], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_layers_every_import_points_down():
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_layers_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    # The same contract over a copy of two layers, one of them importing upward lazily.
    for package, body in (("events", "def f():\n    from destinations import models\n"), ("destinations", "")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["events", "destinations"]\n'
        '[[tool.importlinter.contracts]]\nname = "down"\ntype = "layers"\nlayers = ["destinations", "events"]\n'
    )
    result = _lint_imports(cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "events is not allowed to import destinations" in result.stdout
