"""The public scoreboard page at /contests/{id}/scoreboard and its static files."""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

from litestar import MediaType, Response, get
from litestar.datastructures import State
from litestar.static_files import create_static_files_router

from db.models import ContestState
from server import contests

STATIC_DIR = Path(__file__).resolve().parent / "static"


@cache
def _template() -> str:
    return (STATIC_DIR / "scoreboard.html").read_text(encoding="utf-8")


@get("/contests/{contest_id:int}/scoreboard", media_type=MediaType.HTML, include_in_schema=False, cache=False)
async def scoreboard_page(contest_id: int, state: State) -> Response[str]:
    async with state.live.session_factory() as session:
        contest = await contests.find_contest(session, contest_id)
    if contest is None or contest.state == ContestState.DRAFT:
        body = f"<!doctype html><title>Not found</title><h1>Contest {contest_id} not found</h1>"
        return Response(body, status_code=404, media_type=MediaType.HTML)
    page = _template().replace("{{contest_id}}", str(contest.id)).replace("{{title}}", html.escape(contest.title))
    return Response(page, media_type=MediaType.HTML)


static_files = create_static_files_router(
    path="/static/web", directories=[STATIC_DIR], name="web-static", include_in_schema=False
)

WEB_HANDLERS = [scoreboard_page, static_files]
