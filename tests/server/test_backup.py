"""`hubbub backup` / `hubbub restore` on SQLite: an online copy under send load, restored into a new
data directory, serves every message acknowledged before the backup to the official SDK, with the
same access key and the same tokens."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
from azure.communication.chat import ChatMessageType
from azure.communication.identity import CommunicationUserIdentifier
from click.testing import CliRunner

from _services import ServerFactory, hubbub_command, service_env
from hubbub.cli import main
from hubbub.server import backup
from hubbub.server.store import snapshot

from ._acs import Acs

SENDERS = 4
MAX_MESSAGES = 6_000
"""The load is bounded: each sender stops at its share of this, or when told to."""


class SendLoad:
    """Threads that send messages with the official SDK and note when each 201 came back."""

    def __init__(self, acs: Acs, token_user: object, thread_id: str) -> None:
        self.acs, self.user, self.thread_id = acs, token_user, thread_id
        self.acked: list[tuple[float, str]] = []  # (monotonic time the 201 was received, message id)
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(SENDERS)]

    def _run(self, sender: int) -> None:
        try:
            with self.acs.thread(self.user, self.thread_id) as client:  # type: ignore[arg-type]
                for n in range(MAX_MESSAGES // SENDERS):
                    if self._stop.is_set():
                        return
                    message_id = client.send_message(f"sender {sender} message {n}").id
                    with self._lock:
                        self.acked.append((time.monotonic(), message_id))
        except BaseException as exc:
            self.errors.append(exc)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, f"only {len(self.acked)} messages sent in {timeout} s"
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        assert not self.errors, self.errors


def test_backup_under_send_load_restores_into_a_new_data_dir(
    server_factory: ServerFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hubbub = server_factory("sqlite")
    acs = Acs(hubbub)
    alice, bob = acs.new_user(), acs.new_user()
    thread_id = acs.create_thread(alice, "under load", members=(bob,))
    load = SendLoad(acs, alice, thread_id)
    load.start()
    load.wait_for(300)  # a database with some history, and the senders at full speed

    archive = tmp_path / "hubbub-backup.tar.gz"
    backup_started = time.monotonic()
    made = hubbub.cli("backup", str(archive), "--data-dir", str(hubbub.data_dir), "--pages-per-step", "2")
    backup_finished = time.monotonic()
    load.wait_for(len(load.acked) + 50)  # the server kept taking messages after the copy
    load.stop()

    acked_before = {message_id for at, message_id in load.acked if at < backup_started}
    acked_during = [message_id for at, message_id in load.acked if backup_started <= at < backup_finished]
    assert "Backed up" in made.stdout and archive.stat().st_mode & 0o777 == 0o600
    assert acked_during, "the backup did not overlap the send load"

    restored = server_factory("sqlite", start=False)
    assert not restored.data_dir.exists()
    done = hubbub.cli("restore", str(archive), "--data-dir", str(restored.data_dir))
    assert "Restored" in done.stdout
    restored.start()
    assert restored.access_key == hubbub.access_key  # the same connection string, on the new port
    assert restored.ca_path.read_bytes() == hubbub.ca_path.read_bytes()

    again = Acs(restored)
    with again.thread(alice, thread_id) as client:  # alice's token from the original server
        found = {m.id for m in client.list_messages(results_per_page=200) if m.type == ChatMessageType.TEXT}
        missing = acked_before - found
        assert not missing, f"{len(missing)} of {len(acked_before)} acknowledged messages missing after restore"
        assert found <= {message_id for _, message_id in load.acked}  # nothing invented
        new_id = client.send_message("after the restore").id
    with again.thread(bob, thread_id) as client:
        assert client.get_message(new_id).content.message == "after the restore"
    with again.identity() as identity:  # the original access key signs identity requests
        carol = identity.create_user()
        assert identity.get_token(CommunicationUserIdentifier(alice.id), ["chat"]).token

    assert carol.properties["id"]
    with capsys.disabled():
        print(
            f"\nbackup under load: {len(acked_before)} messages acknowledged before the backup,"
            f" {len(acked_before & found)} found after restore, {len(acked_during)} acknowledged during"
            f" the backup, {len(found)} restored in all; backup command {backup_finished - backup_started:.2f} s"
            f" ({made.stdout.strip()})"
        )


def test_restore_refuses_while_a_server_uses_the_data_dir(server_factory: ServerFactory, tmp_path: Path) -> None:
    hubbub = server_factory("sqlite")
    acs = Acs(hubbub)
    alice = acs.new_user()
    archive = tmp_path / "backup.tar"
    hubbub.cli("backup", str(archive), "--data-dir", str(hubbub.data_dir))
    acs.create_thread(alice, "made after the backup")
    refused = hubbub.cli("restore", str(archive), "--data-dir", str(hubbub.data_dir), "--force", check=False)
    assert refused.returncode == 1
    assert "running Hubbub server" in refused.stderr and "stop it" in refused.stderr
    with acs.chat(alice) as client:  # nothing was replaced
        assert [t.topic for t in client.list_chat_threads()] == ["made after the backup"]

    hubbub.stop()
    hubbub.cli("restore", str(archive), "--data-dir", str(hubbub.data_dir), "--force")
    hubbub.start()
    with acs.chat(alice) as client:
        assert list(client.list_chat_threads()) == []  # back to the backup's state


# -- checks before anything is replaced (the CLI in-process, on real files) ----------------------------


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"HUBBUB_DATABASE_URL": "", "HUBBUB_ACCESS_KEY": ""})
    return result.exit_code, result.output


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, Path]:
    """A data directory with a migrated database and key, and a backup of it."""
    data = tmp_path / "data"
    assert cli("migrate", "--data-dir", str(data))[0] == 0
    assert cli("connection-string", "--data-dir", str(data))[0] == 0  # makes the access key
    archive = tmp_path / "made.tar"
    code, out = cli("backup", str(archive), "--data-dir", str(data))
    assert code == 0, out
    return data, archive


def write_archive(path: Path, database: bytes, manifest: dict[str, object] | None = None) -> None:
    import hashlib

    manifest = manifest or {
        "format": backup.FORMAT,
        "formatVersion": backup.FORMAT_VERSION,
        "engine": "sqlite",
        "schemaVersion": 1,
        "database": {"name": "hubbub.db", "bytes": len(database), "sha256": hashlib.sha256(database).hexdigest()},
        "files": [],
    }
    with tarfile.open(path, "w") as tar:
        for name, body in (("manifest.json", json.dumps(manifest).encode()), ("hubbub.db", database)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


def test_restore_into_a_new_dir_brings_the_key_and_certificates(made: tuple[Path, Path], tmp_path: Path) -> None:
    data, archive = made
    target = tmp_path / "new"
    code, out = cli("restore", str(archive), "--data-dir", str(target))
    assert code == 0, out
    assert (target / "access-key").read_text() == (data / "access-key").read_text()
    assert (target / "access-key").stat().st_mode & 0o777 == 0o600
    assert snapshot.check_database(target / "hubbub.db") == snapshot.latest_schema_version()
    code, out = cli("restore", str(archive), "--data-dir", str(target))
    assert code == 1 and "already holds hubbub.db, access-key" in out and "--force" in out
    assert cli("restore", str(archive), "--data-dir", str(target), "--force")[0] == 0


def test_restore_refuses_what_is_not_a_sound_hubbub_backup(made: tuple[Path, Path], tmp_path: Path) -> None:
    data, archive = made
    target = tmp_path / "target"

    def refused(path: Path) -> str:
        code, out = cli("restore", str(path), "--data-dir", str(target))
        assert code == 1, out
        assert not (target / "hubbub.db").exists()
        return " ".join(out.split())

    text = tmp_path / "notes.txt"
    text.write_text("not a backup")
    assert "neither a Hubbub backup archive nor a SQLite database" in refused(text)

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    assert "not a Hubbub database" in refused(other)

    database = (data / "hubbub.db").read_bytes()
    damaged = tmp_path / "damaged.tar"
    archive_bytes = bytearray(archive.read_bytes())
    offset = archive_bytes.index(snapshot.MAGIC) + 4096 + 200  # inside the second page of the copy
    archive_bytes[offset : offset + 64] = os.urandom(64)
    damaged.write_bytes(bytes(archive_bytes))
    assert "does not match its checksum" in refused(damaged)

    corrupt = bytearray(database)
    page_size = int.from_bytes(corrupt[16:18], "big")
    corrupt[page_size + 8 : page_size + 200] = os.urandom(192)  # a b-tree page, consistently checksummed
    corrupted = tmp_path / "corrupted.tar"
    write_archive(corrupted, bytes(corrupt))
    assert "integrity check" in refused(corrupted) or "not a readable SQLite database" in refused(corrupted)

    newer_db = tmp_path / "newer.db"
    newer_db.write_bytes(database)
    with sqlite3.connect(newer_db) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (999)")
    conn.close()
    newer = tmp_path / "newer.tar"
    write_archive(newer, newer_db.read_bytes())
    assert "schema version 999, newer than this Hubbub" in refused(newer)

    write_archive(tmp_path / "alien.tar", database, {"format": "something-else"})
    assert "not a Hubbub backup" in refused(tmp_path / "alien.tar")


def test_backup_and_restore_point_postgresql_at_pg_dump(tmp_path: Path) -> None:
    env = service_env({"HUBBUB_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    archive = tmp_path / "x.tar"
    archive.write_bytes(b"")
    for args in (["backup", str(archive)], ["restore", str(archive)]):
        done = subprocess.run([*hubbub_command(), *args], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 2 and "pg_" in done.stderr, done.stderr
