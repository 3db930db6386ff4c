"""RFC 9457 problem details for every error response."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ConflictError(HTTPException):
    status_code = 409


class TooManyRequestsError(HTTPException):
    status_code = 429


def _problem(status: int, detail: str, request: Request, **extra: Any) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


_NAMED_FIELD = re.compile(r"(?:missing required field|unknown field) `([^`]+)`")
_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


_REGEX = re.compile(r"^Expected `str` matching regex '(.*)'$")


def _plain_message(message: str) -> str:
    """Reword msgspec messages a user cannot act on as they are."""
    regex = _REGEX.match(message)
    if regex:
        # msgspec shows the pattern with its backslashes escaped once more.
        return f"does not have the expected format (pattern {regex.group(1).replace(chr(92) * 2, chr(92))})"
    if message in ("'data'", ""):
        return "the request body is missing; send a JSON object"
    return message


def _name_field(key: Any, message: str) -> tuple[Any, str]:
    """Name the body field msgspec complains about; Litestar reports those under the key `data`."""
    at_path = _AT_PATH.search(message)
    if at_path:
        message = message[: at_path.start()]
        key = at_path.group(1) if key in (None, "data") else f"{key}.{at_path.group(1)}"
    named = _NAMED_FIELD.search(message)
    if named and key in (None, "data"):
        key = named.group(1)
    elif named:
        key = f"{key}.{named.group(1)}"
    if key == "data":
        key = None
    return key, _plain_message(message)


def _validation_errors(extra: Any) -> list[dict[str, Any]]:
    # Litestar lists each failed field as {"message", "key", "source"}.
    errors = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            field, message = _name_field(item.get("key"), str(item.get("message", "")))
            errors.append({"field": field, "message": message, "source": item.get("source")})
    return errors


def handle_validation_error(request: Request, exc: ValidationException) -> Response[dict[str, Any]]:
    errors = _validation_errors(exc.extra)
    detail = exc.detail
    if errors and errors[0].get("field"):
        detail = f"invalid field {errors[0]['field']}: {errors[0]['message']}"
    elif errors and errors[0].get("message"):
        detail = f"invalid request body: {errors[0]['message']}"
    return _problem(exc.status_code, detail, request, errors=errors or None)


def _is_decode_error(detail: str) -> bool:
    # msgspec's JSON decoder messages, which Litestar passes on as a plain 400.
    return any(marker in detail for marker in ("truncated", "JSON is malformed", "Invalid JSON", "trailing characters"))


def handle_http_error(request: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    detail = exc.detail
    if exc.status_code == 400 and _is_decode_error(detail):
        detail = f"malformed JSON body: {detail}"
    response = _problem(exc.status_code, detail, request, **extra)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def handle_unexpected_error(request: Request, exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return _problem(500, "internal server error; the operator can find the cause in the server log", request)


exception_handlers = {
    ValidationException: handle_validation_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected_error,
}
