"""`random_ids.uuid4`: version 4 UUIDs from a pool of `os.urandom` bytes, none handed out twice."""

from __future__ import annotations

import os
import uuid

from hubbub.server import random_ids


def test_ids_are_version_4_and_never_repeat() -> None:
    ids = [random_ids.uuid4() for _ in range(5_000)]  # past several 4 KiB refills
    assert all(isinstance(i, uuid.UUID) and i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_hand_out_the_parents_next_ids() -> None:
    random_ids.uuid4()  # the pool holds unused bytes when the process forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, b"".join(random_ids.uuid4().bytes for _ in range(8)))
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 4096):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    parent = b"".join(random_ids.uuid4().bytes for _ in range(8))
    assert len(child) == len(parent) == 128
    assert {child[i : i + 16] for i in range(0, 128, 16)}.isdisjoint({parent[i : i + 16] for i in range(0, 128, 16)})
