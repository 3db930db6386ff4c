"""Routes under /api/v1/auth: register, login, refresh, logout, me."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User
from server.accounts import solved_counts
from server.deps import provide_current_user

Username = Annotated[str, msgspec.Meta(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


class RegisterRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    email: Email
    password: Password


class LoginRequest(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class RefreshRequest(msgspec.Struct):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TokenResponse(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class UserProfile(msgspec.Struct):
    id: int
    username: str
    role: str
    bio: str
    avatar_url: str | None
    solved_count: int
    created_at: datetime


class OwnProfile(UserProfile):
    email: str
    is_active: bool


def public_profile(user: User, solved: int) -> UserProfile:
    return UserProfile(
        id=user.id,
        username=user.username,
        role=user.role.value,
        bio=user.bio,
        avatar_url=user.avatar_url,
        solved_count=solved,
        created_at=user.created_at,
    )


def own_profile(user: User, solved: int) -> OwnProfile:
    """Return the profile with the fields visible only to its owner."""
    public = msgspec.structs.asdict(public_profile(user, solved))
    return OwnProfile(**public, email=user.email, is_active=user.is_active)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/register", status_code=201)
    async def register(self, data: RegisterRequest, state: State, db_session: AsyncSession) -> OwnProfile:
        user = await state.accounts.register(db_session, data.username, data.email, data.password)
        return own_profile(user, 0)

    @post("/login", status_code=200)
    async def login(self, data: LoginRequest, state: State, db_session: AsyncSession) -> TokenResponse:
        pair = await state.accounts.login(db_session, data.username, data.password)
        return TokenResponse(pair.access_token, pair.refresh_token, pair.expires_in)

    @post("/refresh", status_code=200)
    async def refresh(self, data: RefreshRequest, state: State, db_session: AsyncSession) -> TokenResponse:
        pair = await state.accounts.refresh(db_session, data.refresh_token)
        return TokenResponse(pair.access_token, pair.refresh_token, pair.expires_in)

    @post("/logout", status_code=204)
    async def logout(self, data: RefreshRequest, state: State, db_session: AsyncSession) -> None:
        await state.accounts.revoke_family(db_session, data.refresh_token)

    @get("/me", dependencies={"current_user": Provide(provide_current_user)})
    async def me(self, current_user: User, db_session: AsyncSession) -> OwnProfile:
        solved = await solved_counts(db_session, [current_user.id])
        return own_profile(current_user, solved.get(current_user.id, 0))
