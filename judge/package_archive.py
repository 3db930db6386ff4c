"""Safe extraction of a problem package zip into a folder.

A package archive comes from an organizer's upload, so every entry is checked
before a byte is written: no absolute paths, no `..`, no symbolic link that
leaves the package, and caps on the entry count, the total uncompressed size
and the compression ratio (zip bombs). Sizes are counted while extracting, so
a header that understates an entry's size does not get past the caps.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

import msgspec

CHUNK_SIZE = 1024 * 1024
MAX_SYMLINK_DEPTH = 16


class ArchiveLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_entries: int = 20_000
    max_total_bytes: int = 1024 * 1024 * 1024
    # Uncompressed over compressed size of the whole archive. Deflate reaches
    # about 1000:1 at best, which real test data never needs; the ratio is only
    # checked once the archive unpacks to more than `ratio_floor_bytes`.
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 16 * 1024 * 1024


class ArchiveError(Exception):
    """An archive that cannot be extracted safely; the message names the entry."""


def _entry_path(name: str) -> PurePosixPath:
    """Return the entry's relative path, or raise when it could leave the target folder."""
    if "\\" in name:
        raise ArchiveError(f"zip entry {name!r}: backslashes are not allowed in paths")
    if "\x00" in name:
        raise ArchiveError(f"zip entry {name!r}: NUL characters are not allowed in paths")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"zip entry {name!r}: absolute paths are not allowed")
    path = PurePosixPath(name)
    if any(part == ".." for part in path.parts):
        raise ArchiveError(f"zip entry {name!r}: '..' is not allowed in paths")
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts:
        raise ArchiveError(f"zip entry {name!r}: empty path")
    return PurePosixPath(*parts)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _link_target(link: PurePosixPath, target: str) -> PurePosixPath:
    """Resolve a symbolic link target relative to the link's folder; raise when it leaves the archive."""
    if target.startswith("/"):
        raise ArchiveError(f"zip entry {str(link)!r}: symbolic link to the absolute path {target!r} points outside the package")
    parts: list[str] = list(link.parent.parts)
    for part in PurePosixPath(target).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise ArchiveError(f"zip entry {str(link)!r}: symbolic link to {target!r} points outside the package")
            parts.pop()
        else:
            parts.append(part)
    if not parts:
        raise ArchiveError(f"zip entry {str(link)!r}: symbolic link to {target!r} points at the package root")
    return PurePosixPath(*parts)


class _Budget:
    def __init__(self, limits: ArchiveLimits, compressed_total: int) -> None:
        self.limits = limits
        self.compressed_total = max(compressed_total, 1)
        self.written = 0

    def spend(self, count: int, entry: str) -> None:
        self.written += count
        if self.written > self.limits.max_total_bytes:
            raise ArchiveError(
                f"archive unpacks to more than {self.limits.max_total_bytes} bytes (at entry {entry!r}); "
                "it looks like a zip bomb or the test data is too large"
            )
        ratio = self.written / self.compressed_total
        if self.written > self.limits.ratio_floor_bytes and ratio > self.limits.max_ratio:
            raise ArchiveError(
                f"archive expands more than {self.limits.max_ratio:g} times its compressed size (at entry {entry!r}); "
                "it looks like a zip bomb"
            )


def _copy_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: _Budget) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, target.open("wb") as sink:
        for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
            budget.spend(len(chunk), info.filename)
            sink.write(chunk)


def extract_archive(archive_path: Path, destination: Path, limits: ArchiveLimits = ArchiveLimits()) -> None:
    """Extract a zip into `destination`, which must be an empty folder.

    Symbolic links inside the package are replaced by copies of their targets,
    so the extracted tree holds regular files only.
    """
    try:
        archive = zipfile.ZipFile(archive_path)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{archive_path.name} is not a valid zip archive: {exc}") from None
    except OSError as exc:
        raise ArchiveError(f"cannot read {archive_path}: {exc.strerror}") from None

    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            raise ArchiveError(f"archive has {len(entries)} entries, the maximum is {limits.max_entries}")
        declared = sum(info.file_size for info in entries)
        if declared > limits.max_total_bytes:
            raise ArchiveError(
                f"archive declares {declared} bytes uncompressed, the maximum is {limits.max_total_bytes}; "
                "it looks like a zip bomb or the test data is too large"
            )

        budget = _Budget(limits, sum(info.compress_size for info in entries))
        files: dict[PurePosixPath, zipfile.ZipInfo] = {}
        links: dict[PurePosixPath, PurePosixPath] = {}
        for info in entries:
            path = _entry_path(info.filename)
            if info.is_dir():
                (destination / path).mkdir(parents=True, exist_ok=True)
            elif _is_symlink(info):
                target = archive.read(info).decode("utf-8", errors="replace")
                links[path] = _link_target(path, target)
            else:
                if path in files:
                    raise ArchiveError(f"zip entry {info.filename!r} appears twice")
                files[path] = info

        for path, info in files.items():
            try:
                _copy_entry(archive, info, destination / path, budget)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
                raise ArchiveError(f"zip entry {info.filename!r} cannot be read: {exc}") from None
            except RuntimeError as exc:
                # zipfile raises RuntimeError for encrypted entries.
                raise ArchiveError(f"zip entry {info.filename!r} cannot be read: {exc}") from None

        for link, target in links.items():
            resolved = target
            for _ in range(MAX_SYMLINK_DEPTH):
                if resolved not in links:
                    break
                resolved = links[resolved]
            else:
                raise ArchiveError(f"zip entry {str(link)!r}: symbolic links form a loop")
            source = destination / resolved
            if resolved not in files:
                raise ArchiveError(f"zip entry {str(link)!r}: symbolic link target {str(target)!r} is not a file in the package")
            budget.spend(source.stat().st_size, str(link))
            (destination / link).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination / link)


def package_root(extracted: Path) -> Path:
    """Return the package folder inside an extracted archive.

    A package zip holds either the package files at the top or one folder
    named after the problem that holds them.
    """
    if (extracted / "problem.yaml").is_file():
        return extracted
    children = [child for child in extracted.iterdir() if child.name != "__MACOSX"]
    if len(children) == 1 and children[0].is_dir() and (children[0] / "problem.yaml").is_file():
        return children[0]
    raise ArchiveError("problem.yaml not found at the top of the archive or inside its single top-level folder")


def check_folder_links(root: Path) -> None:
    """Raise when a symbolic link inside a package folder points outside it."""
    real_root = root.resolve()
    for folder, directories, names in os.walk(root):
        for name in directories + names:
            path = Path(folder) / name
            if not path.is_symlink():
                continue
            target = path.resolve()
            if target != real_root and real_root not in target.parents:
                relative = path.relative_to(root)
                raise ArchiveError(f"{relative}: symbolic link to {os.readlink(path)!r} points outside the package")
