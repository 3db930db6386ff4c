"""Routes for judge workers on other machines: GET /api/v1/judge/blobs/{sha256}.

A worker authenticates with `Authorization: Bearer <judge.worker_token>`.
With an empty token setting the route returns 404, as if it did not exist.
"""

from __future__ import annotations

import hmac
import re

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.response import File

from db.models import Blob

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="codearena-judge"'}


def _check_worker_token(request: Request, expected: str) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise NotAuthorizedException("send `Authorization: Bearer <judge.worker_token>`", headers=_CHALLENGE)


class JudgeController(Controller):
    path = "/api/v1/judge"
    tags = ["judge"]
    include_in_schema = False

    @get("/blobs/{sha256:str}", media_type="application/octet-stream")
    async def get_blob(self, sha256: str, request: Request, state: State) -> File:
        token = state.settings.judge.worker_token
        if not token:
            raise NotFoundException("test data downloads are off: judge.worker_token is empty")
        _check_worker_token(request, token)
        if not _SHA256.match(sha256):
            raise ValidationException(
                "invalid path parameter sha256: expected 64 lowercase hex digits",
                extra=[{"key": "sha256", "message": "expected 64 lowercase hex digits", "source": "path"}],
            )
        async with state.session_factory() as session:
            known = await session.get(Blob, sha256)
        path = state.blobs.path_of(sha256)
        if known is None or not path.is_file():
            raise NotFoundException(f"blob {sha256} not found")
        return File(path=path, media_type="application/octet-stream", filename=sha256)
