"""Session fixtures that start real services: PostgreSQL, Redis and `hubbub serve` processes.

Everything listens on 127.0.0.1 on free ports and is stopped by PID when the session ends.
A missing PostgreSQL or Redis binary skips the tests that need it, except with CI=true, where it
fails them: CI must never pass by skipping the real backends.

Fixtures:
    postgres_cluster  one throwaway cluster per session
    postgres_url      a fresh database in it
    redis_url         one redis-server per session, no persistence
    server            one Hubbub server per engine ("sqlite", "postgres") per session, shared
    server_factory    start extra servers (own data dir, env, flags) that die with the test
    ca_bundle         the PEM file that REQUESTS_CA_BUNDLE / SSL_CERT_FILE point at
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest

from _services import (
    ENGINES,
    CABundle,
    HubbubServer,
    PostgresCluster,
    RedisServer,
    ServerFactory,
    ServiceFailed,
    ServiceUnavailable,
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip locally; fail in CI, where every backend must be present."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CABundle]:
    """Point the official SDKs at the CAs of our servers, with no change to their calling code.

    Sync clients (requests) read REQUESTS_CA_BUNDLE on every request. aiohttp builds its default
    SSL context when it is imported, so async clients also get `connection_verify=<ca.pem>`.
    """
    bundle = CABundle(tmp_path_factory.mktemp("ca") / "hubbub-ca-bundle.pem")
    yield bundle
    bundle.restore_environment()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster()
    except ServiceUnavailable as exc:
        unavailable(str(exc))
    try:
        cluster.start()
    except ServiceFailed as exc:
        cluster.stop()
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.create_database()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    try:
        redis = RedisServer()
    except ServiceUnavailable as exc:
        unavailable(str(exc))
    try:
        redis.start()
    except ServiceFailed as exc:
        redis.stop()
        pytest.fail(str(exc), pytrace=False)
    yield redis.url
    redis.stop()


def _new_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    ca_bundle: CABundle,
    engine: str,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    redis: bool = False,
) -> HubbubServer:
    database_url = None
    if engine == "postgres":
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        database_url = cluster.create_database()
    elif engine != "sqlite":
        raise ValueError(f"unknown engine {engine!r}")
    redis_url = request.getfixturevalue("redis_url") if redis else None
    base = tmp_path_factory.mktemp(f"hubbub-{engine}")
    return HubbubServer(
        base / "data",
        engine=engine,
        database_url=database_url,
        redis_url=redis_url,
        env=env,
        args=args,
        ca_bundle=ca_bundle,
    )


def _start(server: HubbubServer) -> None:
    try:
        server.start()
    except ServiceFailed as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session", params=ENGINES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle
) -> Iterator[HubbubServer]:
    """The shared server for one engine. Tests must not stop it (use `server_factory` for that)."""
    hubbub = _new_server(request, tmp_path_factory, ca_bundle, request.param)
    _start(hubbub)
    yield hubbub
    hubbub.stop()
    _check_log(hubbub)


def _check_log(hubbub: HubbubServer) -> None:
    """A 5xx or a traceback in the server log fails the session, whatever the client saw."""
    errors = hubbub.server_errors()
    if errors:
        pytest.fail(
            f"{hubbub!r} logged server errors:\n" + "\n".join(errors[:20]) + f"\n(log: {hubbub.log})", pytrace=False
        )


@pytest.fixture
def server_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle
) -> Iterator[ServerFactory]:
    """`server_factory(engine="sqlite", env={...}, args=[...], redis=False, start=True)`.

    Each server gets its own data dir (and, for PostgreSQL, its own database) and is stopped when
    the test ends.
    """
    started: list[HubbubServer] = []

    def make(
        engine: str = "sqlite",
        *,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        redis: bool = False,
        start: bool = True,
    ) -> HubbubServer:
        hubbub = _new_server(request, tmp_path_factory, ca_bundle, engine, env, args, redis)
        started.append(hubbub)
        if start:
            _start(hubbub)
        return hubbub

    yield make
    for hubbub in started:
        hubbub.stop()
    for hubbub in started:
        _check_log(hubbub)


def pytest_report_header(config: Any) -> list[str]:
    return [f"CI={os.environ.get('CI', '')!s} (missing PostgreSQL/Redis/Node {'fails' if in_ci() else 'skips'})"]


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
