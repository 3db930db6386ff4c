"""Routes under /api/v1/users: list, profile by id or username, profile edits, roles."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, patch
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Role, User
from server.accounts import solved_counts
from server.api.auth import Email, OwnProfile, UserProfile, own_profile, public_profile
from server.deps import provide_current_user, require_admin
from server.errors import ConflictError

AvatarUrl = Annotated[str, msgspec.Meta(max_length=2048, pattern=r"^https?://\S+$")]


class ProfileUpdate(msgspec.Struct, forbid_unknown_fields=True):
    bio: Annotated[str, msgspec.Meta(max_length=2000)] | msgspec.UnsetType = msgspec.UNSET
    avatar_url: AvatarUrl | None | msgspec.UnsetType = msgspec.UNSET
    email: Email | msgspec.UnsetType = msgspec.UNSET


class RoleUpdate(msgspec.Struct, forbid_unknown_fields=True):
    role: Role
    is_active: bool | msgspec.UnsetType = msgspec.UNSET


class UserPage(msgspec.Struct):
    items: list[UserProfile]
    total: int
    page: int
    per_page: int


async def find_user(session: AsyncSession, id_or_username: str) -> User:
    if id_or_username.isdigit():
        user = await session.get(User, int(id_or_username))
    else:
        user = await session.scalar(select(User).where(func.lower(User.username) == id_or_username.lower()))
    if user is None:
        raise NotFoundException(f"user {id_or_username!r} not found")
    return user


class UsersController(Controller):
    path = "/api/v1/users"
    tags = ["users"]

    @get("/")
    async def list_users(
        self,
        db_session: AsyncSession,
        page: Annotated[int, Parameter(ge=1, le=100000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=100)] = 20,
        q: Annotated[str | None, Parameter(max_length=64)] = None,
    ) -> UserPage:
        query = select(User).where(User.is_active.is_(True))
        if q:
            query = query.where(User.username.ilike(f"%{q}%"))
        total = await db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
        users = (await db_session.scalars(query.order_by(User.id).offset((page - 1) * per_page).limit(per_page))).all()
        solved = await solved_counts(db_session, [user.id for user in users])
        return UserPage([public_profile(user, solved.get(user.id, 0)) for user in users], total, page, per_page)

    @get("/{id_or_username:str}")
    async def get_user(self, id_or_username: str, db_session: AsyncSession) -> UserProfile:
        user = await find_user(db_session, id_or_username)
        solved = await solved_counts(db_session, [user.id])
        return public_profile(user, solved.get(user.id, 0))

    @patch("/me", dependencies={"current_user": Provide(provide_current_user)})
    async def update_me(self, data: ProfileUpdate, current_user: User, db_session: AsyncSession) -> OwnProfile:
        if data.bio is not msgspec.UNSET:
            current_user.bio = data.bio
        if data.avatar_url is not msgspec.UNSET:
            current_user.avatar_url = data.avatar_url
        if data.email is not msgspec.UNSET:
            email = data.email.strip().lower()
            taken = await db_session.scalar(select(User.id).where(User.email == email, User.id != current_user.id))
            if taken is not None:
                raise ConflictError("email is already registered", extra={"field": "email"})
            current_user.email = email
        await db_session.commit()
        solved = await solved_counts(db_session, [current_user.id])
        return own_profile(current_user, solved.get(current_user.id, 0))

    @patch("/{user_id:int}/role", dependencies={"current_user": Provide(provide_current_user)})
    async def update_role(self, user_id: int, data: RoleUpdate, current_user: User, db_session: AsyncSession) -> UserProfile:
        require_admin(current_user)
        user = await db_session.get(User, user_id)
        if user is None:
            raise NotFoundException(f"user {user_id} not found")
        user.role = data.role
        if data.is_active is not msgspec.UNSET:
            user.is_active = data.is_active
        await db_session.commit()
        solved = await solved_counts(db_session, [user.id])
        return public_profile(user, solved.get(user.id, 0))
