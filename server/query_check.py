"""Reject query parameters an API endpoint does not take, so a misspelt filter fails instead of being ignored."""

from __future__ import annotations

from functools import cache

from litestar import Request
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler

API_PREFIX = "/api/"


@cache
def accepted_query_parameters(handler: BaseRouteHandler, path_parameters: frozenset[str]) -> frozenset[str]:
    """Return the query parameter names the handler and its dependencies declare, aliases applied."""
    # Only the names of the path parameters matter for telling them apart from query parameters.
    model = handler.create_kwargs_model(path_parameters=dict.fromkeys(path_parameters))  # type: ignore[arg-type]
    return frozenset(parameter.field_alias for parameter in model.expected_query_params)


async def reject_unknown_query_parameters(request: Request) -> None:
    if not request.url.path.startswith(API_PREFIX) or not request.query_params:
        return
    accepted = accepted_query_parameters(request.route_handler, frozenset(request.path_params))
    unknown = sorted(set(request.query_params) - accepted)
    if not unknown:
        return
    takes = ", ".join(sorted(accepted)) if accepted else "no query parameters"
    raise ValidationException(
        detail=f"unknown query parameter {unknown[0]!r}: this endpoint takes {takes}",
        extra=[{"key": name, "message": f"unknown query parameter; accepted: {takes}", "source": "query"} for name in unknown],
    )
