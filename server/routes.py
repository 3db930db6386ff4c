"""Every route handler of the application, grouped by domain."""

from __future__ import annotations

from server.api.auth import AuthController
from server.api.health import HealthController
from server.api.problems import ProblemsController
from server.api.users import UsersController

ROUTE_HANDLERS: list = [
    AuthController,
    UsersController,
    ProblemsController,
    HealthController,
]
