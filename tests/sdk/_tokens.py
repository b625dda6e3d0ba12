"""Build JWT-shaped user tokens for client-side tests (the client only reads `exp`)."""

from __future__ import annotations

import base64
import json
import time


def fake_token(expires_in: float, subject: str = "8:acs:test") -> str:
    """A token whose payload says it expires `expires_in` seconds from now (not signed)."""
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    claims = {"skypeid": subject, "exp": int(time.time() + expires_in)}
    payload = base64.b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.sig"
