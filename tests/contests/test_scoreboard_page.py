"""The projector scoreboard page in headless Chromium, updated live over its WebSocket."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from db.models import Role
from tests.contests.conftest import create_live_contest, participant_id, store_submission

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
async def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 900})
            yield page
        finally:
            await browser.close()


async def test_page_shows_accepted_submission_live(live_server, live_http, live_account, db, browser_page):
    organizer = await live_account("organizer", Role.ORGANIZER)
    names = ("ann", "bob", "cid")
    accounts = {name: await live_account(name) for name in names}
    contest = await create_live_contest(live_http, organizer, problems=3, title="Regional Final")
    for account in accounts.values():
        assert (await live_http.post(f"/api/v1/contests/{contest['id']}/register", headers=account.headers)).status_code == 201
    labels = {problem["label"]: problem["problem_id"] for problem in contest["problems"]}
    for name, label, minute, verdict in (("bob", "A", 12, "AC"), ("cid", "A", 20, "WA"), ("cid", "B", 25, None)):
        submission = await store_submission(db, contest, accounts[name].id, labels[label], timedelta(minutes=minute), verdict)
        await (live_server.judged if verdict else live_server.queued)(submission)

    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = await page.goto(f"{live_server.base_url}/contests/{contest['id']}/scoreboard")
    assert response.status == 200
    await page.wait_for_selector("#connection.online", timeout=5000)
    await page.wait_for_selector("#board-body tr", timeout=5000)
    await page.evaluate("window.loadedOnce = true")
    ann = await participant_id(db, contest, accounts["ann"].id)
    bob = await participant_id(db, contest, accounts["bob"].id)
    cell = f'td[data-team="{ann}"][data-problem="{labels["B"]}"] .cell.solved'

    submission = await store_submission(db, contest, accounts["ann"].id, labels["B"], timedelta(minutes=30), "AC")
    started = time.monotonic()
    await live_server.judged(submission)
    await page.wait_for_selector(cell, timeout=1000)
    shown_after_s = time.monotonic() - started

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "scoreboard.png"), full_page=True)
    assert shown_after_s < 1.0
    assert await page.evaluate("window.loadedOnce") is True
    assert await page.inner_text(cell) == "+\n30 min"
    assert await page.locator(f'td[data-team="{bob}"][data-problem="{labels["A"]}"] .cell.solved.first').count() == 1
    assert await page.locator(f'td[data-problem="{labels["B"]}"] .cell.pending').count() == 1
    assert await page.locator(f'td[data-problem="{labels["A"]}"] .cell.failed').count() == 1
    ranks = await page.locator("#board-body td.rank").all_inner_texts()
    names_in_order = await page.locator("#board-body td.name").all_inner_texts()
    assert list(zip(ranks, names_in_order)) == [("1", "bob"), ("2", "ann"), ("3", "cid")]
    assert await page.inner_text("#title") == "Regional Final"
    assert await page.is_hidden("#frozen-banner")
    assert errors == []


async def test_page_shows_frozen_banner(live_server, live_http, live_account, browser_page):
    organizer = await live_account("organizer", Role.ORGANIZER)
    contest = await create_live_contest(live_http, organizer, problems=1)
    page = browser_page
    await page.goto(f"{live_server.base_url}/contests/{contest['id']}/scoreboard")
    await page.wait_for_selector("#connection.online", timeout=5000)

    response = await live_http.post(f"/api/v1/contests/{contest['id']}/freeze", headers=organizer.headers)
    assert response.status_code == 200

    await page.wait_for_selector("#frozen-banner:not([hidden])", timeout=2000)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "scoreboard-frozen.png"))
    assert await page.text_content("#phase") == "frozen"


async def test_page_for_unknown_contest_is_404(live_server, live_http):
    response = await live_http.get("/contests/999/scoreboard")

    assert response.status_code == 404
    assert "not found" in response.text
    assert (await live_http.get("/static/web/scoreboard.js")).status_code == 200
    assert (await live_http.get("/static/web/scoreboard.css")).status_code == 200
