"""The sync SDK is generated from the async one; fail when the generated copy is stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_sync_code_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, f"run `python scripts/unasync.py`:\n{done.stdout}\n{done.stderr}"


def test_sdk_does_not_import_the_server() -> None:
    code = (
        "import sys, hubbub.chat, hubbub.chat.aio, hubbub.identity, hubbub.identity.aio; "
        "bad = [m for m in sys.modules if m.startswith('hubbub.server') or m in "
        "('starlette', 'uvicorn', 'asyncpg', 'redis', 'jwt')]; "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
