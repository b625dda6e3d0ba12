"""Per-test helpers bound to the shared `server` fixture (one per engine, see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from _services import HubbubServer

from ._acs import Acs, RawApi, User


@pytest.fixture
def acs(server: HubbubServer) -> Acs:
    return Acs(server)


@pytest.fixture
def raw(server: HubbubServer) -> Iterator[RawApi]:
    api = RawApi(server)
    yield api
    api.close()


@pytest.fixture
def alice(acs: Acs) -> User:
    return acs.new_user()


@pytest.fixture
def bob(acs: Acs) -> User:
    return acs.new_user()


@pytest.fixture
def carol(acs: Acs) -> User:
    return acs.new_user()
