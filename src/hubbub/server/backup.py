"""Backups of a data directory: one tar archive with the embedded database, the access key and the TLS files.

A backup must restore a server that existing clients cannot tell from the original: the database
alone is not enough, because the access key signs every token (and makes up the connection string)
and the CA is what clients were told to trust. So the archive holds

    manifest.json    format, Hubbub version, schema version, SHA-256 of the database copy
    hubbub.db        a consistent copy of the database (rollback-journal mode, one file)
    access-key       the data directory's key files, when present
    ca.pem, ca-key.pem, server.pem, server-key.pem

The database copy is taken online while the server keeps writing, and is the snapshot of the moment
the backup starts: everything committed before it, so every request already answered 2xx
(`store/snapshot.py` says how).

Restoring checks the archive (manifest, checksum, `PRAGMA integrity_check`, a schema version this
Hubbub can run) before it touches the data directory, and refuses while a server has the target
database open. Deployments on a database server back it up with its own tools (docs/operations.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from hubbub import __version__
from hubbub.server import datadir
from hubbub.server.store import snapshot
from hubbub.server.store.engines import EMBEDDED_FILE

FORMAT = "hubbub-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = EMBEDDED_FILE
DATA_FILES = (datadir.KEY_FILE, datadir.CA_CERT, datadir.CA_KEY, datadir.SERVER_CERT, datadir.SERVER_KEY)
"""The data directory's files that a restored server needs besides the database."""
PUBLIC_FILES = (datadir.CA_CERT, datadir.SERVER_CERT)
DEFAULT_PAGES_PER_STEP = 1024

Progress = snapshot.Progress


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


class DatabaseInUse(BackupError):
    """A process (a running server) has the target database open."""


@dataclasses.dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    schema_version: int
    pages: int
    database_bytes: int
    files: tuple[str, ...]
    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class RestoreResult:
    data_dir: Path
    schema_version: int
    files: tuple[str, ...]
    created_at: str | None


def _checked(path: Path) -> int:
    """`snapshot.check_database`, its refusal worded for someone restoring a backup."""
    try:
        return snapshot.check_database(path)
    except snapshot.SchemaTooNew as exc:
        raise BackupError(
            f"{exc}: restore it with the Hubbub version that made it, or a newer one (this is {__version__})"
        ) from exc
    except snapshot.SnapshotError as exc:
        raise BackupError(str(exc)) from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _compression(path: Path) -> str:
    name = path.name.lower()
    return "gz" if name.endswith((".tar.gz", ".tgz", ".gz")) else ""


def create_backup(
    data_dir: Path,
    archive: Path,
    *,
    pages_per_step: int = DEFAULT_PAGES_PER_STEP,
    progress: Progress | None = None,
    clock: Callable[[], float] | None = None,
) -> BackupResult:
    """Write a backup archive of `data_dir` to `archive` (`.tar`, or gzip-compressed for `.tar.gz`/`.tgz`).

    The archive is written next to its final name and renamed into place, with mode 0600 (it holds
    the access key and private keys).
    """
    clock = clock or time.monotonic
    db_path = data_dir / DATABASE
    if not db_path.is_file():
        raise BackupError(f"there is no {snapshot.ENGINE_TITLE} database at {db_path} (is --data-dir right?)")
    archive = archive.resolve()
    archive.parent.mkdir(parents=True, exist_ok=True)
    started = clock()
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".hubbub-backup-") as scratch:
        copy = Path(scratch) / DATABASE
        try:
            pages = snapshot.copy_database(db_path, copy, pages_per_step=pages_per_step, progress=progress)
        except snapshot.SnapshotError as exc:
            raise BackupError(str(exc)) from exc
        version = _checked(copy)
        files = tuple(name for name in DATA_FILES if (data_dir / name).is_file())
        manifest = {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "hubbubVersion": __version__,
            "engine": snapshot.ENGINE,
            "schemaVersion": version,
            "createdAt": dt.datetime.now(dt.UTC).isoformat(),
            "database": {"name": DATABASE, "bytes": copy.stat().st_size, "sha256": _sha256(copy)},
            "files": list(files),
        }
        partial = Path(scratch) / archive.name
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode=f"w:{_compression(archive)}") as tar:  # type: ignore[call-overload]
                body = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(body), 0o600, int(time.time())
                tar.addfile(info, io.BytesIO(body))
                tar.add(copy, arcname=DATABASE, recursive=False)
                for name in files:
                    tar.add(data_dir / name, arcname=name, recursive=False)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, archive)
    _fsync_dir(archive.parent)
    return BackupResult(
        path=archive,
        schema_version=version,
        pages=pages,
        database_bytes=int(manifest["database"]["bytes"]),  # type: ignore[index]
        files=files,
        seconds=clock() - started,
    )


def _read_manifest(tar: tarfile.TarFile) -> dict[str, object]:
    try:
        member = tar.getmember(MANIFEST)
        handle = tar.extractfile(member)
        manifest = json.load(handle) if handle is not None else None
    except (KeyError, ValueError) as exc:
        raise BackupError(f"not a Hubbub backup: no readable {MANIFEST} ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"not a Hubbub backup: {MANIFEST} does not say format {FORMAT!r}")
    if manifest.get("formatVersion") != FORMAT_VERSION:
        raise BackupError(f"backup format version {manifest.get('formatVersion')} is not supported here")
    return manifest


def _extract(tar: tarfile.TarFile, name: str, target: Path) -> None:
    """Extract one regular file by its exact name; nothing else in the archive is ever written."""
    try:
        member = tar.getmember(name)
    except KeyError as exc:
        raise BackupError(f"the backup lists {name} but does not contain it") from exc
    handle = tar.extractfile(member) if member.isfile() else None
    if handle is None:
        raise BackupError(f"{name} in the backup is not a regular file")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644 if name in PUBLIC_FILES else 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := handle.read(1 << 20):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def _unpack(archive: Path, scratch: Path) -> tuple[dict[str, object] | None, tuple[str, ...]]:
    """Unpack a backup archive (or take a bare database file) into `scratch`; return (manifest, data files)."""
    if snapshot.is_database_file(archive):
        _copy_file(archive, scratch / DATABASE)
        return None, ()
    if not tarfile.is_tarfile(archive):
        raise BackupError(f"{archive} is neither a Hubbub backup archive nor a {snapshot.ENGINE_TITLE} database")
    try:
        with tarfile.open(archive, "r:*") as tar:
            manifest = _read_manifest(tar)
            if manifest.get("engine") != snapshot.ENGINE:
                raise BackupError(
                    f"this backup is of a {manifest.get('engine')} database; only {snapshot.ENGINE_TITLE} restores here"
                )
            names = manifest.get("files")
            if not isinstance(names, list) or any(name not in DATA_FILES for name in names):
                raise BackupError(f"{MANIFEST} lists unexpected files: {names!r}")
            _extract(tar, DATABASE, scratch / DATABASE)
            expected = manifest.get("database")
            if not isinstance(expected, dict) or _sha256(scratch / DATABASE) != expected.get("sha256"):
                raise BackupError("the database in the backup does not match its checksum: the archive is damaged")
            for name in names:
                _extract(tar, name, scratch / name)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BackupError(f"{archive} is damaged: {exc}") from exc
    return manifest, tuple(names)


def _copy_file(source: Path, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def restore_backup(archive: Path, data_dir: Path, *, force: bool = False) -> RestoreResult:
    """Put the backup `archive` into `data_dir`, which no server may be using.

    Everything is checked in a scratch directory inside `data_dir` first; only then are the files
    renamed into place. A data directory that already holds a database or an access key is left
    alone unless `force`. A bare database file (not an archive) restores the database only.
    """
    if not archive.is_file():
        raise BackupError(f"{archive} does not exist")
    db_path = data_dir / DATABASE
    if snapshot.database_in_use(db_path):
        raise DatabaseInUse(f"a running Hubbub server (or another process) has {db_path} open: stop it, then restore")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".hubbub-restore-") as tmp:
        scratch = Path(tmp)
        manifest, files = _unpack(archive, scratch)
        version = _checked(scratch / DATABASE)
        existing = [name for name in (DATABASE, *files) if (data_dir / name).exists()]
        if existing and not force:
            raise BackupError(
                f"{data_dir} already holds {', '.join(existing)}: restore into a new data directory,"
                " or pass --force to replace them"
            )
        if snapshot.database_in_use(db_path):  # again, right before the swap
            raise DatabaseInUse(f"a process opened {db_path} during the restore: stop it, then restore")
        for suffix in snapshot.SIDECAR_SUFFIXES:
            # A stale WAL would be replayed onto the restored database.
            (data_dir / (DATABASE + suffix)).unlink(missing_ok=True)
        for name in files:
            os.replace(scratch / name, data_dir / name)
        os.replace(scratch / DATABASE, db_path)
    _fsync_dir(data_dir)
    created = manifest.get("createdAt") if manifest else None
    return RestoreResult(
        data_dir=data_dir,
        schema_version=version,
        files=(DATABASE, *files),
        created_at=str(created) if created is not None else None,
    )
