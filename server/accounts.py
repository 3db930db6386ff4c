"""Accounts: registration, login, refresh-token rotation, profiles."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from litestar.exceptions import NotAuthorizedException
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RefreshToken, Role, Submission, User, utcnow
from server.errors import ConflictError
from server.security import AccessTokens, Passwords, hash_refresh_token, new_refresh_token

logger = logging.getLogger(__name__)

# One message for unknown user and wrong password, so responses do not reveal which usernames exist.
BAD_CREDENTIALS = "invalid username or password"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class Accounts:
    def __init__(self, passwords: Passwords, access_tokens: AccessTokens, refresh_ttl_s: int) -> None:
        self.passwords = passwords
        self.access_tokens = access_tokens
        self.refresh_ttl_s = refresh_ttl_s

    async def register(
        self, session: AsyncSession, username: str, email: str, password: str, role: Role = Role.CONTESTANT
    ) -> User:
        email = email.strip().lower()
        taken = await session.scalar(
            select(User.username).where(or_(func.lower(User.username) == username.lower(), User.email == email))
        )
        if taken is not None:
            field = "username" if taken.lower() == username.lower() else "email"
            raise ConflictError(f"{field} is already registered", extra={"field": field})

        user = User(username=username, email=email, password_hash=await self.passwords.hash(password), role=role)
        session.add(user)
        try:
            await session.commit()
        except IntegrityError:
            # A concurrent registration took the name between the check and the insert.
            await session.rollback()
            raise ConflictError("username or email is already registered") from None
        logger.info("registered user %s (id %d, role %s)", user.username, user.id, user.role)
        return user

    async def login(self, session: AsyncSession, username: str, password: str) -> TokenPair:
        user = await session.scalar(select(User).where(func.lower(User.username) == username.lower()))
        valid = await self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not valid or not user.is_active:
            raise NotAuthorizedException(BAD_CREDENTIALS)

        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = await self.passwords.hash(password)
            logger.info("rehashed password of user %d with new argon2 parameters", user.id)
        return await self._issue(session, user, family_id=str(uuid.uuid4()))

    async def refresh(self, session: AsyncSession, token: str) -> TokenPair:
        stored = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token)))
        now = utcnow()
        if stored is None:
            raise NotAuthorizedException("invalid refresh token; log in again")
        if stored.used_at is None and stored.revoked_at is not None:
            raise NotAuthorizedException("refresh token was revoked by a logout or a detected reuse; log in again")
        if stored.used_at is not None:
            # A rotated token came back, so someone else has a copy: end the whole login.
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == stored.family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await session.commit()
            logger.warning("refresh token reuse for user %d; revoked family %s", stored.user_id, stored.family_id)
            raise NotAuthorizedException("refresh token was already used; this login is revoked, log in again")
        if stored.expires_at <= now:
            raise NotAuthorizedException("refresh token expired; log in again")

        user = await session.get(User, stored.user_id)
        if user is None or not user.is_active:
            raise NotAuthorizedException("invalid refresh token; log in again")
        stored.used_at = now
        return await self._issue(session, user, family_id=stored.family_id)

    async def revoke_family(self, session: AsyncSession, token: str) -> None:
        stored = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token)))
        if stored is None:
            return
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == stored.family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await session.commit()

    async def _issue(self, session: AsyncSession, user: User, family_id: str) -> TokenPair:
        refresh_token = new_refresh_token()
        session.add(
            RefreshToken(
                user_id=user.id,
                family_id=family_id,
                token_hash=hash_refresh_token(refresh_token),
                expires_at=utcnow() + timedelta(seconds=self.refresh_ttl_s),
            )
        )
        await session.commit()
        return TokenPair(
            access_token=self.access_tokens.issue(user.id, user.role.value),
            refresh_token=refresh_token,
            expires_in=self.access_tokens.ttl_s,
        )


async def solved_counts(session: AsyncSession, user_ids: list[int]) -> dict[int, int]:
    """Count distinct problems each user has solved, leaving out contests still running (their boards may be frozen)."""
    from server.stats import counted_accepted

    if not user_ids:
        return {}
    rows = await session.execute(
        select(Submission.user_id, func.count(func.distinct(Submission.problem_id)))
        .where(Submission.user_id.in_(user_ids), counted_accepted())
        .group_by(Submission.user_id)
    )
    return {user_id: count for user_id, count in rows.all()}
