"""Staff users, API tokens and login sessions in the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from live.auth.model import Role
from live.auth.passwords import hash_password_async, new_api_token, token_digest, verify_password_async
from live.db.tables import ApiToken, LoginSession, User
from live.errors import Conflict, InvalidInput, NotFound
from live.sessions.model import zone_of

MIN_PASSWORD = 8
# API tokens live this long unless asked otherwise (`expires_in_days`, `live token create --expires-days`).
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365


def normalize_email(email: str) -> str:
    """The address lower-cased, or a 400 naming it: RFC 5322 syntax checked by email-validator, no DNS lookup.

    Control characters (a CR/LF that would break an `.ics` or a mail header), quoted local parts and
    single-label domains are refused. `test_environment` lets `*.test` addresses through, for demos and tests.
    """
    raw = email.strip()
    try:
        checked = validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        shown = raw if len(raw) <= 80 else raw[:77] + "..."
        raise InvalidInput(f"Email {shown!r} is not an email address: {exc}") from exc
    return checked.normalized.lower()


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    return (await db.execute(select(User).where(User.email == email.strip().lower()))).scalar_one_or_none()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"The password must have at least {MIN_PASSWORD} characters.")
    if len(password) > 1024:
        raise InvalidInput("The password must have at most 1024 characters.")


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
    if password is not None:
        _check_password(password)
    if timezone is not None:
        zone_of(timezone)  # refuses an unknown zone, naming it
    user = User(
        email=email,
        role=role.value,
        name=name or email.split("@")[0].replace(".", " ").title(),
        password_hash=await hash_password_async(password) if password else None,
        timezone=timezone,
    )
    db.add(user)
    await db.flush()
    return user


async def set_password(db: AsyncSession, user: User, password: str) -> None:
    _check_password(password)
    user.password_hash = await hash_password_async(password)
    await db.flush()


async def authenticate(db: AsyncSession, email: str, password: str) -> User | None:
    user = await user_by_email(db, email)
    # An unknown email is verified against a dummy hash: both answers take the same time.
    ok = await verify_password_async(user.password_hash if user is not None else None, password[:1024])
    # A disabled user is refused like a wrong password (after the same work).
    return user if ok and user is not None and user.disabled_at is None else None


async def issue_token(db: AsyncSession, user: User, name: str = "", days: int | None = TOKEN_DAYS) -> tuple[ApiToken, str]:
    """A new token row and the token itself, shown once; `days=None` never expires (until revoked)."""
    token = new_api_token()
    now = datetime.now(UTC)
    row = ApiToken(
        user_id=user.id,
        token_hash=token_digest(token),
        name=name,
        created_at=now,
        expires_at=now + timedelta(days=days) if days is not None else None,
    )
    db.add(row)
    await db.flush()
    return row, token


async def create_token(db: AsyncSession, user: User, name: str = "", days: int | None = TOKEN_DAYS) -> str:
    return (await issue_token(db, user, name, days))[1]


async def user_for_token(db: AsyncSession, token: str) -> User | None:
    """The token's user while the token is neither revoked nor expired; marks it used."""
    now = datetime.now(UTC)
    row = (
        await db.execute(
            select(User, ApiToken)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == token_digest(token),
                ApiToken.revoked_at.is_(None),
                or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
            )
        )
    ).first()
    if row is None:
        return None
    user, api_token = row
    if user.disabled_at is not None:
        return None
    api_token.last_used_at = now
    return user


async def list_users(db: AsyncSession) -> Sequence[User]:
    return (await db.execute(select(User).order_by(User.name, User.email))).scalars().all()


async def get_user(db: AsyncSession, user_id: str) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound(f"Staff user {user_id!r} does not exist.")
    return user


async def update_user(
    db: AsyncSession, actor_id: str, user: User, *, role: Role | None, name: str | None, disabled: bool | None
) -> User:
    """Changes a staff user's role, name or access. Nobody can demote or disable themselves: the last
    admin would lock everyone out of the admin page."""
    if user.id == actor_id and ((role is not None and role.value != user.role) or disabled):
        raise Conflict("You cannot change your own role or disable yourself; ask another admin.", code="self_change")
    if role is not None:
        user.role = role.value
    if name is not None:
        user.name = name
    if disabled is not None:
        user.disabled_at = (user.disabled_at or datetime.now(UTC)) if disabled else None
    await db.flush()
    return user


async def tokens_of(db: AsyncSession, user_id: str | None) -> Sequence[tuple[ApiToken, User]]:
    """Every token (`user_id=None`) or one user's, newest first, with their owners."""
    query = select(ApiToken, User).join(User, User.id == ApiToken.user_id).order_by(ApiToken.created_at.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return (await db.execute(query)).tuples().all()


async def revoke_token(db: AsyncSession, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
    await db.flush()


async def start_login(db: AsyncSession, user: User, lifetime: timedelta) -> LoginSession:
    now = datetime.now(UTC)
    login = LoginSession(user_id=user.id, created_at=now, expires_at=now + lifetime)
    db.add(login)
    await db.flush()
    return login


async def user_for_login(db: AsyncSession, user_id: str, login_id: str) -> User | None:
    """The user of a live login session: one that was neither revoked (sign-out, password change) nor expired."""
    row = (
        await db.execute(
            select(User)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(
                LoginSession.id == login_id,
                User.id == user_id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > datetime.now(UTC),
            )
        )
    ).scalar_one_or_none()
    return row


async def end_logins(db: AsyncSession, user_id: str, only: str | None = None, keep: str | None = None) -> None:
    """Revokes one login session (`only`), or all of a user's but `keep`."""
    query = update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    if only is not None:
        query = query.where(LoginSession.id == only)
    if keep is not None:
        query = query.where(LoginSession.id != keep)
    await db.execute(query.values(revoked_at=datetime.now(UTC)))
