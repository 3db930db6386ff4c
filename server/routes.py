"""Every route handler of the application, grouped by domain."""

from __future__ import annotations

from server.api.auth import AuthController
from server.api.clarifications import ClarificationsController
from server.api.contests import ContestsController
from server.api.health import HealthController
from server.api.judge import JudgeController
from server.api.languages import LanguagesController
from server.api.package_import import PackageImportController
from server.api.problems import ProblemsController
from server.api.stats import StatsController
from server.api.submissions import ProblemRejudgeController, SubmissionsController
from server.api.users import UsersController
from server.api.ws import WEBSOCKET_HANDLERS
from server.api.ws_contests import WS_HANDLERS as CONTEST_WS_HANDLERS
from server.api.docs import swagger_assets
from server.web.pages import WEB_HANDLERS

ROUTE_HANDLERS: list = [
    AuthController,
    UsersController,
    PackageImportController,
    ProblemsController,
    HealthController,
    SubmissionsController,
    ProblemRejudgeController,
    LanguagesController,
    StatsController,
    JudgeController,
    *WEBSOCKET_HANDLERS,
    ContestsController,
    ClarificationsController,
    *CONTEST_WS_HANDLERS,
    *WEB_HANDLERS,
    swagger_assets,
]
