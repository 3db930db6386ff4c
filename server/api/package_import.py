"""POST /api/v1/problems/import: organizers upload a Kattis problem package as a zip.

The zip is sent either as the raw body (Content-Type application/zip or
application/octet-stream) or as the field `file` of a multipart/form-data
body. The body is capped at limits.max_upload_bytes; the archive is then
checked entry by entry while it is extracted (paths, links, zip bombs).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User
from judge.packages import LoadOptions, PackageError, load_package, open_package
from server.deps import provide_current_user, require_staff
from server.errors import ConflictError
from server.package_export import ExportError, export_problem, load_problem_for_export
from server.packages import ImportResult, PackageConflict, import_package

ZIP_TYPES = ("application/zip", "application/x-zip-compressed", "application/octet-stream")
CHUNK_SIZE = 1024 * 1024


class PayloadTooLarge(HTTPException):
    status_code = 413


def _invalid_package(error: PackageError) -> ValidationException:
    return ValidationException(
        "invalid package: " + "; ".join(error.messages),
        extra=[{"key": "file", "message": message, "source": "body"} for message in error.messages],
    )


async def _save_upload(request: Request, target: Path, max_bytes: int) -> None:
    """Write the uploaded zip to `target`, whichever way it was sent, within `max_bytes`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationException(
                "invalid field file: send the package zip as the multipart field `file`",
                extra=[{"key": "file", "message": "missing; send the package zip as the multipart field `file`", "source": "body"}],
            )
        written = 0
        with target.open("wb") as sink:
            while chunk := await upload.read(CHUNK_SIZE):
                written += len(chunk)
                if written > max_bytes:
                    raise PayloadTooLarge(f"the package is larger than the upload limit of {max_bytes} bytes")
                await asyncio.to_thread(sink.write, chunk)
        await upload.close()
    elif content_type in ZIP_TYPES:
        written = 0
        with target.open("wb") as sink:
            async for chunk in request.stream():
                written += len(chunk)
                if written > max_bytes:
                    raise PayloadTooLarge(f"the package is larger than the upload limit of {max_bytes} bytes")
                await asyncio.to_thread(sink.write, chunk)
    else:
        raise HTTPException(
            status_code=415,
            detail="send the package as application/zip, or as the field `file` of multipart/form-data",
        )
    if written == 0:
        raise ValidationException(
            "invalid field file: the upload is empty",
            extra=[{"key": "file", "message": "the upload is empty", "source": "body"}],
        )


class PackageImportController(Controller):
    path = "/api/v1/problems"
    tags = ["problems"]

    @post("/import", status_code=201, dependencies={"current_user": Provide(provide_current_user)})
    async def import_problem_package(
        self,
        request: Request,
        state: State,
        db_session: AsyncSession,
        current_user: User,
        replace: bool = False,
        slug: Annotated[str | None, Parameter(max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")] = None,
        public: bool = True,
    ) -> ImportResult:
        """Import a problem package zip; `replace=true` updates an existing slug as a new version, else 409."""
        require_staff(current_user)
        settings = state.settings
        options = LoadOptions(max_test_bytes=settings.limits.max_test_bytes)
        scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="codearena-upload-"))
        try:
            archive = scratch / "package.zip"
            await _save_upload(request, archive, settings.limits.max_upload_bytes)
            try:
                with open_package(archive, options) as (root, short_name):
                    package = await asyncio.to_thread(load_package, root, short_name, options)
                    return await import_package(
                        db_session,
                        state.blobs,
                        package,
                        limits=settings.limits,
                        author_id=current_user.id,
                        slug=slug,
                        replace=replace,
                        is_public=public,
                    )
            except PackageError as exc:
                raise _invalid_package(exc) from None
            except PackageConflict as exc:
                raise ConflictError(f"{exc}: add ?replace=true", extra={"field": "slug"}) from None
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)

    @get("/{problem_key:str}/package", dependencies={"current_user": Provide(provide_current_user)})
    async def export_problem_package(
        self, problem_key: str, state: State, db_session: AsyncSession, current_user: User
    ) -> Response[bytes]:
        """Download the problem as a Kattis problem package zip (organizers)."""
        require_staff(current_user)
        if await load_problem_for_export(db_session, problem_key) is None:
            raise NotFoundException(f"problem {problem_key!r} not found")
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="codearena-export-"))
        try:
            archive = await export_problem(db_session, state.blobs, problem_key, folder, as_zip=True)
        except ExportError as exc:
            await asyncio.to_thread(shutil.rmtree, folder, True)
            raise HTTPException(status_code=500, detail=str(exc)) from None
        data = await asyncio.to_thread(archive.read_bytes)
        await asyncio.to_thread(shutil.rmtree, folder, True)
        return Response(
            content=data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{archive.name}"'},
        )
