"""GET /api/v1/languages: the judge's languages with the result of their start-up self-test."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Literal

import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from judge.languages import LANGUAGES
from db.models import utcnow
from judge.worker import LANGUAGE_REPORT_KEY, LANGUAGE_REPORT_TTL_S, LanguageReport
from server.submissions import field_error

logger = logging.getLogger(__name__)

Status = Literal["ok", "disabled", "broken", "unknown"]


class LanguageInfo(msgspec.Struct):
    id: str
    name: str
    version: str | None
    status: Status
    # Reason the language is disabled, broken or not checked yet.
    reason: str | None
    # A problem's CPU time limit times this is the limit for programs in this language.
    time_multiplier: float = 1.0


async def _reports(state: State) -> dict[str, LanguageReport] | None:
    """Self-test result per language: the embedded judge's, or with Redis the best fresh report of any worker.

    A language is ok when any worker reports it ok; otherwise the newest broken report counts.
    """
    judge = getattr(state, "judge_service", None)
    if judge is not None:
        return judge.language_reports
    redis = getattr(state, "redis", None)
    if redis is None:
        return None
    try:
        raw = await redis.hgetall(LANGUAGE_REPORT_KEY)
    except Exception as exc:  # noqa: BLE001 - the list still shows every language, as unknown
        logger.warning("cannot read the judge language reports from Redis: %s", exc)
        return None

    oldest = utcnow() - timedelta(seconds=LANGUAGE_REPORT_TTL_S)
    reports: dict[str, LanguageReport] = {}
    stale = []
    for key, payload in raw.items():
        try:
            report = msgspec.json.decode(payload, type=LanguageReport)
        except msgspec.DecodeError:
            stale.append(key)
            continue
        if report.reported_at < oldest:
            stale.append(key)
            continue
        best = reports.get(report.id)
        if best is None or _preference(report) > _preference(best):
            reports[report.id] = report
    if stale:
        # Reports of workers that stopped without withdrawing them.
        with contextlib.suppress(Exception):
            await redis.hdel(LANGUAGE_REPORT_KEY, *stale)
    return reports


def _preference(report: LanguageReport) -> tuple[bool, datetime]:
    return (report.status == "ok", report.reported_at)


async def language_statuses(state: State) -> list[LanguageInfo]:
    disabled = set(state.settings.judge.disabled_languages)
    reports = await _reports(state)
    infos = []
    for language in LANGUAGES:
        report = (reports or {}).get(language.id)
        if language.id in disabled:
            info = LanguageInfo(language.id, language.name, None, "disabled", "turned off in judge.disabled_languages")
        elif report is not None:
            info = LanguageInfo(language.id, language.name, report.version, report.status, report.reason)
        elif reports is None and getattr(state, "redis", None) is None and not state.settings.judge.embedded:
            info = LanguageInfo(language.id, language.name, None, "unknown", "no judge runs: judge.embedded is off and redis.url is empty")
        else:
            info = LanguageInfo(language.id, language.name, None, "unknown", "no judge has reported its self-test yet")
        info.time_multiplier = language.time_multiplier
        infos.append(info)
    return infos


async def language_for_submission(state: State, language_id: str) -> None:
    """Accept a known language that is not disabled or broken; an unchecked one is accepted and waits for a judge."""
    infos = {info.id: info for info in await language_statuses(state)}
    usable = sorted(language for language, info in infos.items() if info.status in ("ok", "unknown"))
    info = infos.get(language_id)
    if info is None:
        raise field_error("language", f"unknown language {language_id!r}; use one of: {', '.join(usable)}")
    if info.status == "disabled":
        raise field_error("language", f"language {language_id!r} is disabled; use one of: {', '.join(usable)}")
    if info.status == "broken":
        raise field_error(
            "language", f"language {language_id!r} is unavailable because its judge self-test failed; use one of: {', '.join(usable)}"
        )


class LanguagesController(Controller):
    path = "/api/v1/languages"
    tags = ["languages"]

    @get("/")
    async def list_languages(self, state: State) -> list[LanguageInfo]:
        return await language_statuses(state)
