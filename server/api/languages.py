"""GET /api/v1/languages: the judge's languages with the result of their start-up self-test."""

from __future__ import annotations

import logging
from typing import Literal

import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from judge.languages import LANGUAGES
from judge.worker import LANGUAGE_REPORT_KEY, LanguageReport
from server.submissions import field_error

logger = logging.getLogger(__name__)

Status = Literal["ok", "disabled", "broken", "unknown"]


class LanguageInfo(msgspec.Struct):
    id: str
    name: str
    version: str | None
    status: Status
    # Why the language is disabled, broken or not checked yet.
    reason: str | None


async def _reports(state: State) -> dict[str, LanguageReport] | None:
    """Self-test results by language id: from the embedded judge or, with Redis, the latest worker report."""
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
    reports = {}
    for payload in raw.values():
        try:
            report = msgspec.json.decode(payload, type=LanguageReport)
        except msgspec.DecodeError:
            continue
        reports[report.id] = report
    return reports


async def language_statuses(state: State) -> list[LanguageInfo]:
    disabled = set(state.settings.judge.disabled_languages)
    reports = await _reports(state)
    infos = []
    for language in LANGUAGES:
        report = (reports or {}).get(language.id)
        if language.id in disabled:
            infos.append(LanguageInfo(language.id, language.name, None, "disabled", "turned off in judge.disabled_languages"))
        elif report is not None:
            infos.append(LanguageInfo(language.id, language.name, report.version, report.status, report.reason))
        elif reports is None and getattr(state, "redis", None) is None and not state.settings.judge.embedded:
            infos.append(LanguageInfo(language.id, language.name, None, "unknown", "no judge runs: judge.embedded is off and redis.url is empty"))
        else:
            infos.append(LanguageInfo(language.id, language.name, None, "unknown", "the judge has not run its self-test yet"))
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
