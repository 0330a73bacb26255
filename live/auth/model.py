"""Roles and what each may do: one table, one check."""

from __future__ import annotations

from enum import StrEnum

from live.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    HOST = "host"
    CSM = "csm"


class Action(StrEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_WEBHOOKS = "manage_webhooks"
    READ_ACCOUNTS = "read_accounts"
    WRITE_ACCOUNTS = "write_accounts"
    OVERRIDE_ACCOUNTS = "override_accounts"
    READ_SESSIONS = "read_sessions"
    WRITE_SESSIONS = "write_sessions"
    RUN_SESSIONS = "run_sessions"
    READ_MAIL = "read_mail"  # every message, to anyone: admins only
    MANAGE_SETTINGS = "manage_settings"


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.CSM: frozenset(
        {
            Action.READ_ACCOUNTS,
            Action.WRITE_ACCOUNTS,
            Action.OVERRIDE_ACCOUNTS,
            Action.READ_SESSIONS,
            Action.WRITE_SESSIONS,
            Action.RUN_SESSIONS,
        }
    ),
    Role.HOST: frozenset({Action.READ_ACCOUNTS, Action.READ_SESSIONS, Action.WRITE_SESSIONS, Action.RUN_SESSIONS}),
}


def can(role: Role | str, action: Action) -> bool:
    try:
        return action in PERMISSIONS[Role(role)]
    except ValueError:
        return False


def check_can(role: Role | str, action: Action) -> None:
    if not can(role, action):
        raise Forbidden(f"Role '{role}' may not {action.value.replace('_', ' ')}.")


def lockout_seconds(failures: int, free: int, base: float, cap: float) -> float:
    """How long sign-in stays refused after `failures` failed attempts in a row.

    The first `free` cost nothing (people mistype); then `base`, doubling with each further failure up to
    `cap`: a person waits seconds, a password guesser gets a few dozen tries an hour.
    """
    if failures < free:
        return 0.0
    return float(min(base * 2 ** min(failures - free, 64), cap))
