"""The token checker in process: what it remembers of a checked token, and what it checks every time."""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest

from hubbub.server.errors import Unauthorized
from hubbub.server.tokens import TokenService

KEY = base64.b64encode(b"k" * 32).decode()


def test_a_remembered_token_still_expires() -> None:
    tokens = TokenService(KEY)
    soon = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=59)  # a 1-minute token with 1 s left
    token, _ = tokens.issue("8:acs:x_1", ["chat"], 0, minutes=1, now=soon)
    assert tokens.verify(token).user_id == "8:acs:x_1"
    time.sleep(max(0.0, (soon + dt.timedelta(minutes=1)).timestamp() - time.time()) + 1.1)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(token)


def test_only_checked_tokens_are_remembered() -> None:
    tokens = TokenService(KEY)
    token, _ = tokens.issue("8:acs:x_1", ["chat"], 0, minutes=60, now=dt.datetime.now(dt.UTC))
    tokens.verify(token)
    header, payload, signature = token.split(".")
    for forged in (f"{header}.{payload}.{signature[:-2]}AA", f"{header}.{payload[:-2]}.{signature}", token + "."):
        for _ in range(2):  # refused, and refused again: a refusal is not remembered as a pass
            with pytest.raises(Unauthorized, match="not valid"):
                tokens.verify(forged)
    other = TokenService(base64.b64encode(b"o" * 32).decode())
    with pytest.raises(Unauthorized, match="not valid"):
        other.verify(token)  # another key's checker knows nothing of this one's tokens
