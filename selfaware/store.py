"""The one artifact store: immutable blobs in a NATS Object Store bucket, named by their sha256.

Content addressing makes writes idempotent (putting the same bytes twice stores one object) and lets an event
carry a small `ArtifactRef` instead of data. Readers keep a local cache under `cache_dir`, written atomically
(temporary file, then rename), so a crash never leaves a half-written blob or adapter directory behind. A digest
is checked before it names an object or a cache path (`_digest`), so `../..` never leaves the cache.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import nats.js.errors
import structlog
from nats.js.api import ObjectStoreConfig

from selfaware.errors import DataError, NotFound
from selfaware.ids import sha256_problem
from selfaware.v1 import records_pb2 as rec

log = structlog.get_logger(__name__)

ARTIFACTS_BUCKET = "selfaware-artifacts"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest(value: str) -> str:
    """`value` if it is a sha256 digest; a DataError (permanent: retrying cannot fix a name) otherwise."""
    if problem := sha256_problem(value):
        raise DataError(f"artifact {problem}")
    return value


def tar_directory(path: Path) -> bytes:
    """A deterministic tar of `path` (sorted names, zeroed times and owners): same files, same sha256."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            info = tar.gettarinfo(str(file), arcname=str(file.relative_to(path)))
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o644
            with file.open("rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


class ArtifactStore:
    """Put and get content-addressed artifacts."""

    def __init__(self, obs: object, cache_dir: Path) -> None:
        self._obs = obs
        self.cache_dir = cache_dir

    @classmethod
    async def open(cls, js: object, cache_dir: Path, replicas: int = 1, create: bool = True) -> ArtifactStore:
        """Open (creating if needed and `create`) the artifacts bucket; every service may call this. `replicas`:
        copies on a NATS cluster, used when the bucket is created (an existing bucket keeps its own)."""
        if not create:  # a service on its own NATS user: `selfaware.provision` created it
            return cls(await js.object_store(ARTIFACTS_BUCKET), cache_dir)  # type: ignore[attr-defined]
        try:
            obs = await js.create_object_store(ARTIFACTS_BUCKET, config=ObjectStoreConfig(  # type: ignore[attr-defined]
                description="selfaware datasets, adapters, evaluation records and reports, by sha256",
                replicas=replicas))
        except nats.js.errors.BadRequestError:
            obs = await js.object_store(ARTIFACTS_BUCKET)  # type: ignore[attr-defined]
        return cls(obs, cache_dir)

    async def exists(self, sha256: str) -> bool:
        digest = _digest(sha256)
        try:
            await self._obs.get_info(digest)  # type: ignore[attr-defined]
            return True
        except nats.js.errors.ObjectNotFoundError:
            return False

    async def names(self) -> set[str]:
        """The sha256 names of every stored artifact."""
        try:
            return {info.name for info in await self._obs.list()}  # type: ignore[attr-defined]
        except nats.js.errors.NotFoundError:  # an empty bucket
            return set()

    async def put_bytes(self, data: bytes, media_type: str) -> rec.ArtifactRef:
        """Store `data` unless an object with the same sha256 is already there."""
        digest = sha256_hex(data)
        if not await self.exists(digest):
            await self._obs.put(digest, data)  # type: ignore[attr-defined]
            log.debug("artifact_stored", sha256=digest, size=len(data), media_type=media_type)
        _atomic_write(self._blob_path(digest), data)
        return rec.ArtifactRef(sha256=digest, size=len(data), media_type=media_type)

    async def get_bytes(self, ref: rec.ArtifactRef | str) -> bytes:
        """Read an artifact (from the local cache when present); NotFound if the store lacks it."""
        digest = _digest(ref if isinstance(ref, str) else ref.sha256)
        cached = self._blob_path(digest)
        if cached.exists():
            return cached.read_bytes()
        try:
            result = await self._obs.get(digest)  # type: ignore[attr-defined]
        except nats.js.errors.ObjectNotFoundError:
            raise NotFound(f"artifact {digest} is not in the store") from None
        data = bytes(result.data)
        if sha256_hex(data) != digest:
            raise RuntimeError(f"artifact {digest} is corrupt: its bytes hash differently")
        _atomic_write(cached, data)
        return data

    async def put_dir(self, path: Path) -> rec.ArtifactRef:
        """Store a directory (e.g. a PEFT adapter) as a deterministic tar."""
        return await self.put_bytes(tar_directory(path), "application/x-tar")

    async def get_dir(self, ref: rec.ArtifactRef) -> Path:
        """Unpack a stored directory into the cache once and return its path."""
        target = self.cache_dir / "dirs" / _digest(ref.sha256)
        if target.exists():
            return target
        data = await self.get_bytes(ref)
        staging = Path(tempfile.mkdtemp(dir=self._ensure(self.cache_dir / "dirs"), prefix=".tmp-"))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(staging, filter="data")
        try:
            os.rename(staging, target)
        except OSError:  # another worker unpacked the same artifact first
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _blob_path(self, digest: str) -> Path:
        return self.cache_dir / "blobs" / digest

    @staticmethod
    def _ensure(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path
