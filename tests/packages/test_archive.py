"""Unsafe package archives and folders: clear errors, and nothing imported."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from judge.package_archive import ArchiveError, ArchiveLimits, extract_archive
from judge.packages import LoadOptions, PackageError, load_package, open_package
from tests.packages.conftest import LEGACY_PACKAGE, count_rows, write_package, zip_folder


def zip_with(archive: Path, entries: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as output:
        for name, content in entries.items():
            output.writestr(name, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            output.writestr(info, target)
    return archive


def package_entries(prefix: str = "hello/") -> dict[str, bytes]:
    return {prefix + name: content.encode() for name, content in LEGACY_PACKAGE.items()}


def load_archive(archive: Path, options: LoadOptions = LoadOptions()):
    with open_package(archive, options) as (root, short_name):
        return load_package(root, short_name, options)


def test_valid_zip_loads(tmp_path):
    package = load_archive(zip_with(tmp_path / "hello.zip", package_entries()))

    assert package.short_name == "hello"
    assert len(package.tests) == 3


def test_zip_without_top_folder_uses_archive_name(tmp_path):
    package = load_archive(zip_with(tmp_path / "greeting.zip", package_entries(prefix="")))

    assert package.short_name == "greeting"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../evil.txt", "'..' is not allowed"),
        ("hello/../../evil.txt", "'..' is not allowed"),
        ("/etc/evil.txt", "absolute paths are not allowed"),
        ("C:/evil.txt", "absolute paths are not allowed"),
        ("hello\\..\\evil.txt", "backslashes are not allowed"),
    ],
)
def test_escaping_path_rejected(tmp_path, name, expected):
    archive = zip_with(tmp_path / "bad.zip", {**package_entries(), name: b"owned\n"})

    with pytest.raises(PackageError) as caught:
        load_archive(archive)

    assert expected in str(caught.value)
    assert repr(name) in str(caught.value)
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_outside_rejected(tmp_path):
    archive = zip_with(tmp_path / "bad.zip", package_entries(), links={"hello/data/secret/3.in": "../../../../etc/passwd"})

    with pytest.raises(PackageError, match="points outside the package"):
        load_archive(archive)


def test_absolute_symlink_rejected(tmp_path):
    archive = zip_with(tmp_path / "bad.zip", package_entries(), links={"hello/data/secret/3.in": "/etc/passwd"})

    with pytest.raises(PackageError, match="points outside the package"):
        load_archive(archive)


def test_symlink_inside_becomes_copy(tmp_path):
    links = {"hello/data/secret/3.in": "1.in", "hello/data/secret/3.ans": "../secret/1.ans"}
    package = load_archive(zip_with(tmp_path / "ok.zip", package_entries(), links=links))

    assert [test.name for test in package.tests][-1] == "secret/3"
    assert package.tests[-1].input_size == len(LEGACY_PACKAGE["data/secret/1.in"])


def test_symlink_loop_rejected(tmp_path):
    links = {"hello/a.txt": "b.txt", "hello/b.txt": "a.txt"}

    with pytest.raises(PackageError, match="loop"):
        load_archive(zip_with(tmp_path / "loop.zip", package_entries(), links=links))


def test_zip_bomb_ratio_rejected(tmp_path):
    # 64 MiB of zeros compress to about 64 KiB: a ratio near 1000.
    entries = {**package_entries(), "hello/data/secret/bomb.in": bytes(64 * 1024 * 1024), "hello/data/secret/bomb.ans": b"0\n"}
    archive = zip_with(tmp_path / "bomb.zip", entries)

    with pytest.raises(PackageError, match="zip bomb"):
        load_archive(archive)


def test_total_size_cap_rejected(tmp_path):
    archive = zip_with(tmp_path / "big.zip", {**package_entries(), "hello/big.bin": os.urandom(300_000)})
    options = LoadOptions(archive=ArchiveLimits(max_total_bytes=200_000))

    with pytest.raises(PackageError, match="the maximum is 200000"):
        load_archive(archive, options)


def test_understated_sizes_still_capped(tmp_path):
    # The central directory claims 10 bytes for a 300 kB entry: extraction must not trust it.
    archive = zip_with(tmp_path / "liar.zip", {**package_entries(), "hello/big.bin": os.urandom(300_000)})
    data = bytearray(archive.read_bytes())
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(b"hello/big.bin")] != b"hello/big.bin":
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    options = LoadOptions(archive=ArchiveLimits(max_total_bytes=200_000))

    with pytest.raises(PackageError) as caught:
        load_archive(archive, options)

    assert "hello/big.bin" in str(caught.value)


def test_entry_count_cap_rejected(tmp_path):
    entries = {**package_entries(), **{f"hello/junk/{index}.txt": b"x" for index in range(30)}}
    options = LoadOptions(archive=ArchiveLimits(max_entries=20))

    with pytest.raises(PackageError, match="entries, the maximum is 20"):
        load_archive(zip_with(tmp_path / "many.zip", entries), options)


def test_not_a_zip_rejected(tmp_path):
    archive = tmp_path / "fake.zip"
    archive.write_bytes(b"this is not a zip archive")

    with pytest.raises(PackageError, match="not a valid zip archive"):
        load_archive(archive)


def test_zip_without_problem_yaml_rejected(tmp_path):
    entries = {name: content for name, content in package_entries().items() if not name.endswith("problem.yaml")}

    with pytest.raises(PackageError, match="problem.yaml not found"):
        load_archive(zip_with(tmp_path / "none.zip", entries))


def test_extraction_writes_only_inside(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    archive = zip_with(tmp_path / "bad.zip", {"ok.txt": b"fine", "../escape.txt": b"no"})

    with pytest.raises(ArchiveError):
        extract_archive(archive, target)

    assert not (tmp_path / "escape.txt").exists()


def test_folder_symlink_outside_rejected(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    root = write_package(tmp_path / "hello", LEGACY_PACKAGE)
    (root / "data/secret/3.in").symlink_to(secret)
    (root / "data/secret/3.ans").write_text("x\n")

    with pytest.raises(PackageError, match="points outside the package"):
        with open_package(root):
            pass


def test_folder_symlink_inside_allowed(tmp_path):
    root = write_package(tmp_path / "hello", LEGACY_PACKAGE)
    (root / "data/secret/3.in").symlink_to(root / "data/secret/1.in")
    (root / "data/secret/3.ans").symlink_to("1.ans")

    with open_package(root) as (folder, short_name):
        package = load_package(folder, short_name)

    assert package.tests[-1].name == "secret/3"


@pytest.mark.parametrize("kind", ["escape", "bomb", "malformed", "missing-answer"])
async def test_bad_upload_imports_nothing(client, organizer, db, tmp_path, kind):
    await client.post(
        "/api/v1/problems/import",
        content=zip_folder(write_package(tmp_path / "first", LEGACY_PACKAGE), tmp_path / "first.zip").read_bytes(),
        headers={**organizer.headers, "content-type": "application/zip"},
    )
    before = await count_rows(db)
    entries = package_entries(prefix="second/")
    if kind == "escape":
        entries["second/../../x.txt"] = b"x"
    elif kind == "bomb":
        entries["second/data/secret/bomb.in"] = bytes(64 * 1024 * 1024)
        entries["second/data/secret/bomb.ans"] = b"0\n"
    elif kind == "malformed":
        entries["second/problem.yaml"] = b"name: [broken\n"
    else:
        del entries["second/data/secret/2.ans"]
    archive = zip_with(tmp_path / "second.zip", entries)

    response = await client.post(
        "/api/v1/problems/import",
        content=archive.read_bytes(),
        headers={**organizer.headers, "content-type": "application/zip"},
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("invalid field file: ")
    assert response.json()["errors"][0]["field"] == "file"
    assert await count_rows(db) == before
    assert (await client.get("/api/v1/problems/second", headers=organizer.headers)).status_code == 404
