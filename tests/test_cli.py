"""The CLI's options are the settings' fields: one default, one variable, flags win over variables."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hubbub.cli import main
from hubbub.server.datadir import KEY_FILE


def run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, env=env)
    return result.exit_code, result.output.strip()


def test_connection_string_reads_the_access_key_and_ports_from_settings(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert run(["connection-string", *data, "--http"], {"HUBBUB_ACCESS_KEY": "a2V5"}) == (
        0,
        "endpoint=http://127.0.0.1:8080/;accesskey=a2V5",
    )
    env = {"HUBBUB_HTTPS_PORT": "9000", "HUBBUB_PUBLIC_HOST": "chat.example"}
    code, out = run(["connection-string", *data], env)
    assert code == 0 and out.startswith("endpoint=https://chat.example:9000/;accesskey=")
    key = out.rsplit("accesskey=", 1)[1]
    assert (tmp_path / KEY_FILE).read_text().strip() == key  # generated once, kept in the data dir
    assert run(["connection-string", *data, "--https-port", "9100"], env)[1].startswith(
        "endpoint=https://chat.example:9100/"
    )


def test_bad_variable_and_disabled_port_are_usage_errors(tmp_path: Path) -> None:
    code, out = run(["connection-string", "--data-dir", str(tmp_path)], {"HUBBUB_HTTPS_PORT": "x"})
    assert code == 2 and "HUBBUB_HTTPS_PORT='x' is not valid" in out
    code, out = run(["connection-string", "--data-dir", str(tmp_path), "--http", "--http-port", "0"], {})
    assert code == 2 and "plain-HTTP port is disabled" in out


def test_help_shows_each_default_and_variable_once() -> None:
    code, out = run(["serve", "--help"], {})
    assert code == 0
    for text in ("HUBBUB_DATA_DIR", "[default: .hubbub]", "HUBBUB_RATE_LIMIT", "[default: false]", "[default: info]"):
        assert text in " ".join(out.split()), text
