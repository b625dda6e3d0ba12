"""Durability: a 201 means the write survives kill -9; restarts keep data and the access key."""

from __future__ import annotations

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant

from _services import ENGINES, ServerFactory

from ._acs import Acs


@pytest.mark.parametrize("engine", ENGINES)
def test_message_survives_kill_9(server_factory: ServerFactory, engine: str) -> None:
    hubbub = server_factory(engine)
    acs = Acs(hubbub)
    alice = acs.new_user()
    thread_id = acs.create_thread(alice, "durable")
    with acs.thread(alice, thread_id) as tc:
        message_id = tc.send_message("acknowledged means stored").id  # 201 received
    hubbub.kill9()  # immediately, no graceful shutdown
    hubbub.start()
    with acs.thread(alice, thread_id) as tc:  # the same token still works: same access key
        message = tc.get_message(message_id)
        listed = [m.id for m in tc.list_messages() if m.type == ChatMessageType.TEXT]
    assert message.content.message == "acknowledged means stored"
    assert listed == [message_id]


@pytest.mark.parametrize("engine", ENGINES)
def test_restart_keeps_data_and_access_key(server_factory: ServerFactory, engine: str) -> None:
    hubbub = server_factory(engine)
    connection_string = hubbub.connection_string
    ca = hubbub.ca_path.read_text()
    acs = Acs(hubbub)
    alice = acs.new_user()
    thread_id = acs.create_thread(alice, "kept")
    with acs.thread(alice, thread_id) as tc:
        tc.send_message("before restart")
    hubbub.restart()
    assert hubbub.connection_string == connection_string
    assert hubbub.ca_path.read_text() == ca
    with acs.chat(alice) as client:
        assert [t.topic for t in client.list_chat_threads()] == ["kept"]
    with acs.thread(alice, thread_id) as tc:
        assert [m.content.message for m in tc.list_messages() if m.type == ChatMessageType.TEXT] == ["before restart"]
        tc.send_message("after restart")
    # identity still works with the same key: new users can be created and join
    bob = acs.new_user()
    with acs.thread(alice, thread_id) as tc:
        assert tc.add_participants([ChatParticipant(identifier=bob.identifier)]) == []
