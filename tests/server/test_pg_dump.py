"""PostgreSQL backups are `pg_dump`/`pg_restore` (docs/operations.md): a dump restored into a new
database, with the data directory's key files, serves the same data to the official SDK."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from azure.communication.chat import ChatMessageType
from azure.communication.identity import CommunicationUserIdentifier

from _services import CABundle, HubbubServer, PostgresCluster, ServerFactory, service_env
from hubbub.server import datadir

from ._acs import Acs

pytestmark = pytest.mark.postgres


def pg_tool(cluster: PostgresCluster, name: str) -> str:
    path = cluster.bindir / name
    if not path.exists():  # the client tools come with the server binaries; missing means a broken install
        message = f"{name} not found next to {cluster.bindir / 'postgres'}"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(message + " (CI=true: required)", pytrace=False)
        pytest.skip(message)
    return str(path)


def test_pg_dump_restores_into_a_working_server(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster, ca_bundle: CABundle, tmp_path: Path
) -> None:
    original = server_factory("postgres")
    acs = Acs(original)
    alice, bob = acs.new_user(), acs.new_user()
    thread_id = acs.create_thread(alice, "dumped", members=(bob,))
    with acs.thread(alice, thread_id) as client:
        sent = [client.send_message(f"message {n}").id for n in range(20)]
        client.send_read_receipt(sent[-1])

    # The commands docs/operations.md gives, while the server keeps running.
    dump = tmp_path / "hubbub.dump"
    connect = ["-h", "127.0.0.1", "-p", str(postgres_cluster.port), "-U", "postgres"]
    source = str(original.database_url).rsplit("/", 1)[1]
    subprocess.run(
        [pg_tool(postgres_cluster, "pg_dump"), *connect, "-Fc", "-f", str(dump), source], check=True, env=service_env()
    )
    restored_url = postgres_cluster.create_database()
    target = restored_url.rsplit("/", 1)[1]
    subprocess.run(
        [pg_tool(postgres_cluster, "pg_restore"), *connect, "--no-owner", "--exit-on-error", "-d", target, str(dump)],
        check=True,
        env=service_env(),
    )
    original.stop()  # the new server stands in for it

    data_dir = tmp_path / "restored" / "data"
    data_dir.mkdir(parents=True)
    for name in (datadir.KEY_FILE, datadir.CA_CERT, datadir.CA_KEY, datadir.SERVER_CERT, datadir.SERVER_KEY):
        shutil.copy2(original.data_dir / name, data_dir / name)
    restored = HubbubServer(data_dir, engine="postgres", database_url=restored_url, ca_bundle=ca_bundle)
    try:
        restored.start()
        assert restored.access_key == original.access_key
        again = Acs(restored)
        with again.thread(bob, thread_id) as client:  # bob's token from before the dump
            texts = {m.id: m.content.message for m in client.list_messages() if m.type == ChatMessageType.TEXT}
            assert sorted(texts) == sorted(sent)
            assert [r.chat_message_id for r in client.list_read_receipts()] == [sent[-1]]
            client.send_message("after the restore")
        with again.identity() as identity:
            assert identity.get_token(CommunicationUserIdentifier(alice.id), ["chat"]).token
    finally:
        restored.stop()
    assert not restored.server_errors()
