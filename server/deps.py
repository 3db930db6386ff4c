"""Request dependencies: database session, current user, role guards."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Request
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Role, User
from server.security import InvalidTokenError

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="codearena"'}


async def provide_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    async with state.session_factory() as session:
        yield session


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("the Authorization header must be `Bearer <access token>`", headers=BEARER_CHALLENGE)
    return token.strip()


async def user_from_token(state: State, session: AsyncSession, token: str) -> User:
    try:
        claims = state.access_tokens.decode(token)
    except InvalidTokenError:
        raise NotAuthorizedException("invalid or expired access token; log in again", headers=BEARER_CHALLENGE) from None
    user = await session.get(User, int(claims["sub"]))
    if user is None or not user.is_active:
        raise NotAuthorizedException("invalid or expired access token; log in again", headers=BEARER_CHALLENGE)
    return user


async def provide_optional_user(request: Request, state: State, db_session: AsyncSession) -> User | None:
    token = _bearer_token(request)
    if token is None:
        return None
    return await user_from_token(state, db_session, token)


async def provide_current_user(request: Request, state: State, db_session: AsyncSession) -> User:
    token = _bearer_token(request)
    if token is None:
        raise NotAuthorizedException("authentication required: send `Authorization: Bearer <access token>`", headers=BEARER_CHALLENGE)
    return await user_from_token(state, db_session, token)


def require_staff(user: User) -> None:
    """Allow organizers and admins."""
    if user.role not in (Role.ADMIN, Role.ORGANIZER):
        raise PermissionDeniedException("this action needs the organizer or admin role")


def require_admin(user: User) -> None:
    if user.role != Role.ADMIN:
        raise PermissionDeniedException("this action needs the admin role")


def is_staff(user: User | None) -> bool:
    return user is not None and user.role in (Role.ADMIN, Role.ORGANIZER)
