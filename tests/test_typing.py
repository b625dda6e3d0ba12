"""The SDK is a typed library: `py.typed` ships in the wheel, and a user's script type-checks strictly."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_py_typed(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("hubbub-*.whl")
    assert "hubbub/py.typed" in zipfile.ZipFile(wheel).namelist()


def test_user_script_passes_mypy_strict(tmp_path: Path) -> None:
    """Run from outside the repo, so mypy sees the installed package (as a user would), not `src/`."""
    script = ROOT / "tests" / "typing" / "user_script.py"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path), str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
