"""Fuzz every operation of the Chat and Identity swaggers against a real server on each engine.

Schemathesis turns each operation of the official swaggers (copied into `swagger/`, layout kept so
the `$ref`s resolve) into a Hypothesis strategy of requests, both valid ones (positive mode) and
ones that break the schema (negative mode). Every request is authenticated the way the SDKs do it:
a real bearer token for chat, HMAC-SHA256 over the exact bytes sent for identity (spec §3). Half
the time a path id is swapped for a real one (a thread the caller is in, a message in it, a live
identity), so requests get past the 404 and reach the rules and the store; one case in eight of
each kind also gets an edge value (`with_edge_values`: a NUL, an integer past 64 bits).

Checks: no 5xx; every 4xx is JSON with the ACS error body (spec §7.1); afterwards the server log
holds no 5xx, traceback, or value the database had to refuse (`store.engine.refused_value`).

Deterministic: a fixed seed, no example database, a bounded example count per operation.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode

from _services import ENGINES, HubbubServer, ServerFactory

from ._acs import CHAT_API_VERSION, CHAT_API_VERSION_2025, IDENTITY_API_VERSION, Acs, User, sign_hmac

SWAGGER = Path(__file__).parent / "swagger"
SEED = int(os.environ.get("HUBBUB_FUZZ_SEED", "20261204"))
"""Fixed: the same requests on every run and on every machine (override to explore, then add what
a new seed finds to test_bad_input.py)."""
SCALE = float(os.environ.get("HUBBUB_FUZZ_SCALE", "1"))
"""Multiplies every example count (a long exploratory run: HUBBUB_FUZZ_SCALE=10)."""


@dataclasses.dataclass(frozen=True)
class Spec:
    path: str
    api_version: str
    examples: dict[GenerationMode, int]
    """Examples per operation and generation mode."""


SPECS = [
    Spec(
        "Chat/stable/2024-03-07/communicationserviceschat.json",
        CHAT_API_VERSION,
        {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 60},
    ),
    Spec(
        "Chat/stable/2025-03-15/communicationserviceschat.json",
        CHAT_API_VERSION_2025,
        {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15},
    ),
    Spec(
        "Identity/stable/2023-10-01/CommunicationIdentity.json",
        IDENTITY_API_VERSION,
        {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 60},
    ),
]
_SERVER_SIDE_MISSES = ("database refused a value",)
EDGE_INTEGERS = (2**31, 2**63, 10**30, -(2**63) - 1)
"""Past int32, past int64: values a fuzzer rarely draws that broke paging before (skip=10^30)."""


def checksum(case: schemathesis.Case) -> int:
    """A stable number for a generated case (`hash()` of a str changes with every process)."""
    return zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())


def with_edge_values(case: schemathesis.Case, pick: int) -> None:
    """Deterministically (by `pick`, the case's checksum) put one edge value where generation rarely
    does: a NUL in one string of the body, a huge integer in a paging parameter, a NUL in a path id."""
    kind = pick % 8
    if kind == 0 and isinstance(case.body, dict | list):
        leaves = list(_string_leaves(case.body))
        if leaves:
            container, key = leaves[pick // 8 % len(leaves)]
            container[key] += "\x00"
    elif kind == 1 and isinstance(case.query, dict):
        for name in ("skip", "maxPageSize"):
            if name in case.query:
                case.query[name] = EDGE_INTEGERS[pick // 8 % len(EDGE_INTEGERS)]
    elif kind == 2 and case.path_parameters:
        name = sorted(case.path_parameters)[pick // 8 % len(case.path_parameters)]
        case.path_parameters[name] = f"{case.path_parameters[name]}%00"


def _string_leaves(value: Any) -> Iterator[tuple[Any, Any]]:
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(item, str):
            yield value, key
        elif isinstance(item, dict | list):
            yield from _string_leaves(item)


@dataclasses.dataclass
class Targets:
    """Real ids for path parameters: the caller's thread and message, a live identity."""

    caller: User
    thread: str
    message: str
    identity: str

    def real(self, name: str) -> str | None:
        return {"chatThreadId": self.thread, "chatMessageId": self.message, "id": self.identity}.get(name)


@dataclasses.dataclass
class Fuzzer:
    server: HubbubServer
    client: httpx.Client
    statuses: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    failures: list[str] = dataclasses.field(default_factory=list)
    skipped: int = 0

    def targets(self) -> Targets:
        """A fresh caller with a thread (with a second member) and a message, and a victim identity."""
        acs = Acs(self.server)
        caller, other, victim = acs.new_users(3)
        thread = acs.create_thread(caller, "fuzz", (other,))
        sent = self.client.post(
            f"/chat/threads/{thread}/messages",
            params={"api-version": CHAT_API_VERSION},
            json={"content": "seed"},
            headers={"Authorization": f"Bearer {caller.token}"},
        )
        assert sent.status_code == 201, sent.text
        return Targets(caller, thread, sent.json()["id"], victim.id)

    def build(self, case: schemathesis.Case, spec: Spec, targets: Targets) -> httpx.Request | None:
        pick = checksum(case)  # before real ids go in: they differ from run to run
        for name, value in list((case.path_parameters or {}).items()):
            real = targets.real(name)
            if real is not None and zlib.crc32(repr(value).encode()) % 2 == 0:
                case.path_parameters[name] = real  # type: ignore[index]
        with_edge_values(case, pick)
        kwargs = case.as_transport_kwargs(base_url=self.server.https_url)
        params = {str(k): v for k, v in (kwargs.get("params") or {}).items()}
        params["api-version"] = spec.api_version  # a wrong one is a 400 at the door: covered elsewhere
        query = urlencode([(k, str(v)) for k, v in params.items()])
        headers = {
            str(k): str(v)
            for k, v in (kwargs.get("headers") or {}).items()
            if str(k).lower() not in {"authorization", "host", "content-length"}
        }
        body = b""
        if "json" in kwargs:
            body = json.dumps(kwargs["json"]).encode()
        elif kwargs.get("data") is not None:
            data = kwargs["data"]
            body = data if isinstance(data, bytes) else str(data).encode()
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = case.media_type or "application/json"
        url = kwargs["url"] + "?" + query
        try:
            request = self.client.build_request(case.method, url, content=body, headers=headers)
        except (httpx.InvalidURL, UnicodeEncodeError, ValueError, TypeError):
            return None  # headers or URL no HTTP client can send: nothing to learn from them
        if spec.path.startswith("Identity"):
            target = request.url.raw_path.decode("ascii")
            signed = sign_hmac(
                case.method,
                target,
                body,
                str(self.server.access_key),
                host=urlsplit(self.server.https_url).netloc,
            )
            request.headers.update(signed)
        else:
            request.headers["Authorization"] = f"Bearer {targets.caller.token}"
        return request

    def check(self, case: schemathesis.Case, request: httpx.Request, response: httpx.Response) -> None:
        status = response.status_code
        self.statuses[f"{case.operation.label} {status}"] += 1
        problem = None
        if status >= 500:
            problem = "server error"
        elif status >= 400:
            problem = acs_error_problem(response)
        if problem:
            self.failures.append(
                f"{problem}: {request.method} {request.url.raw_path.decode('ascii')[:300]} "
                f"body={request.content[:300]!r} -> {status} {response.text[:300]!r}"
            )

    def run(self, spec: Spec) -> None:
        schema = schemathesis.openapi.from_path(str(SWAGGER / spec.path))
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode, examples in spec.examples.items():
                targets = self.targets()
                self.run_operation(operation, mode, examples, spec, targets)

    def run_operation(self, operation: Any, mode: GenerationMode, examples: int, spec: Spec, targets: Targets) -> None:
        @seed(SEED)
        @settings(
            max_examples=max(1, round(examples * SCALE)),
            database=None,
            deadline=None,
            phases=[Phase.generate],  # nothing is raised, so nothing to shrink: failures are collected
            suppress_health_check=list(HealthCheck),
            verbosity=hypothesis.Verbosity.quiet,
        )
        @given(operation.as_strategy(generation_mode=mode))
        def fuzz(case: schemathesis.Case) -> None:
            request = self.build(case, spec, targets)
            if request is None:
                self.skipped += 1
                return
            try:
                response = self.client.send(request)
            except (httpx.RemoteProtocolError, httpx.LocalProtocolError):
                self.skipped += 1  # refused by h11 before or after the server saw it
                return
            self.check(case, request, response)

        with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # negative mode: nothing to break
            fuzz()


def acs_error_problem(response: httpx.Response) -> str | None:
    """What is wrong with a 4xx answer, or None when it carries the ACS error body (spec §7.1)."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return "4xx without a JSON body"
    try:
        body = response.json()
    except ValueError:
        return "4xx with a body that is not JSON"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "4xx without an error object"
    if not (isinstance(error.get("code"), str) and error["code"]):
        return "4xx without error.code"
    if not (isinstance(error.get("message"), str) and error["message"]):
        return "4xx without error.message"
    return None


@pytest.fixture
def fuzz_server(server_factory: ServerFactory, request: pytest.FixtureRequest) -> Iterator[HubbubServer]:
    yield server_factory(request.param)


@pytest.mark.parametrize("fuzz_server", ENGINES, indirect=True)
def test_fuzz_every_operation(fuzz_server: HubbubServer, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    with httpx.Client(verify=fuzz_server.ssl_context(), timeout=30, base_url=fuzz_server.https_url) as client:
        fuzzer = Fuzzer(fuzz_server, client)
        for spec in SPECS:
            fuzzer.run(spec)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        total = sum(fuzzer.statuses.values())
        by_status = collections.Counter(label.rsplit(" ", 1)[1] for label in fuzzer.statuses.elements())
        print(
            f"\nfuzz[{fuzz_server.engine}] seed={SEED}: {total} requests ({fuzzer.skipped} unsendable) "
            f"in {elapsed:.0f} s; statuses {dict(sorted(by_status.items()))}"
        )
    assert not fuzzer.failures, f"{len(fuzzer.failures)} bad answers:\n" + "\n".join(fuzzer.failures[:30])
    log = fuzz_server.log.read_text(errors="replace").splitlines()
    misses = [line for line in log if any(miss in line for miss in _SERVER_SIDE_MISSES)]
    assert not misses, "the API let through values the database refused:\n" + "\n".join(misses[:20])
    errors = fuzz_server.server_errors()
    assert not errors, "the server logged errors:\n" + "\n".join(errors[:20])
