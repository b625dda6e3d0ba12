"""Every sample in samples/ runs to completion against a live `hubbub serve` (plain http)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from _services import HubbubServer

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples").glob("*.py"))


def test_there_are_sync_and_async_samples() -> None:
    names = {p.stem for p in SAMPLES}
    for base in ("identity_sample", "chat_client_sample", "chat_thread_client_sample"):
        assert {base, f"{base}_async"} <= names


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_runs(sample: Path, sdk_server: HubbubServer) -> None:
    env = {
        **os.environ,
        "HUBBUB_ENDPOINT": sdk_server.http_url,
        "HUBBUB_CONNECTION_STRING": sdk_server.http_connection_string,
        "PYTHONWARNINGS": "error",
    }
    done = subprocess.run([sys.executable, str(sample)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, f"{sample.name} failed:\n{done.stdout}\n{done.stderr}"
