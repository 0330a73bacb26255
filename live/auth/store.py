"""Staff users and API tokens in the database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live.auth.model import Role
from live.auth.passwords import hash_password, new_api_token, token_digest, verify_password
from live.db.tables import ApiToken, User
from live.errors import Conflict, InvalidInput
from live.sessions.model import zone_of


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 320:
        raise InvalidInput(f"Email {email!r} is not an email address.")
    return email


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    return (await db.execute(select(User).where(User.email == email.strip().lower()))).scalar_one_or_none()


async def create_user(
    db: AsyncSession, email: str, role: Role | str, password: str | None, name: str = "", timezone: str | None = None
) -> User:
    email = normalize_email(email)
    try:
        role = Role(role)
    except ValueError as exc:
        raise InvalidInput(f"Role {role!r} is not one of admin, host, csm.") from exc
    if await user_by_email(db, email) is not None:
        raise Conflict(f"A staff user with email {email!r} already exists.")
    if password is not None and len(password) < 8:
        raise InvalidInput("The password must have at least 8 characters.")
    if timezone is not None:
        zone_of(timezone)  # refuses an unknown zone, naming it
    user = User(
        email=email,
        role=role.value,
        name=name or email.split("@")[0].replace(".", " ").title(),
        password_hash=hash_password(password) if password else None,
        timezone=timezone,
    )
    db.add(user)
    await db.flush()
    return user


async def set_password(db: AsyncSession, user: User, password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("The password must have at least 8 characters.")
    user.password_hash = hash_password(password)
    await db.flush()


async def authenticate(db: AsyncSession, email: str, password: str) -> User | None:
    user = await user_by_email(db, email)
    if user is None:
        # Hash anyway so a missing user and a wrong password take the same time.
        verify_password(None, password)
        return None
    return user if verify_password(user.password_hash, password) else None


async def create_token(db: AsyncSession, user: User) -> str:
    token = new_api_token()
    db.add(ApiToken(user_id=user.id, token_hash=token_digest(token)))
    await db.flush()
    return token


async def user_for_token(db: AsyncSession, token: str) -> User | None:
    row = (
        await db.execute(
            select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id).where(
                ApiToken.token_hash == token_digest(token)
            )
        )
    ).first()
    if row is None:
        return None
    user, api_token = row
    api_token.last_used_at = datetime.now(UTC)
    return user
