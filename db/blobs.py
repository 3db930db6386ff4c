"""Content-addressed file store for test data: <root>/ab/cdef... named by sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

CHUNK_SIZE = 1024 * 1024


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"invalid sha256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path_of(sha256)
        if not target.exists():
            self._write_atomically(target, [data])
        return sha256

    def put_file(self, source: Path) -> tuple[str, int]:
        """Copy a file into the store; returns its digest and size."""
        digest = hashlib.sha256()
        size = 0
        with source.open("rb") as stream:
            for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
                digest.update(chunk)
                size += len(chunk)
        sha256 = digest.hexdigest()
        target = self.path_of(sha256)
        if not target.exists():
            with source.open("rb") as stream:
                self._write_atomically(target, iter(lambda: stream.read(CHUNK_SIZE), b""))
        return sha256, size

    def read_bytes(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()

    def _write_atomically(self, target: Path, chunks) -> None:
        # Write to a temporary file in the same folder, then rename: readers never see half a file.
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(descriptor, "wb") as stream:
                for chunk in chunks:
                    stream.write(chunk)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
