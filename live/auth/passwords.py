"""Argon2 password hashing (off the event loop) and opaque API tokens (stored only as SHA-256)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

TOKEN_PREFIX = "live_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password with the current parameters, verified when an email has no account.

    Verifying it costs what verifying a real password costs, so a wrong email and a wrong password take
    the same time and the answer time does not tell who has an account.
    """
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """`verify_password` on a worker thread: argon2 takes ~170 ms of CPU that must not stall the event loop.

    argon2-cffi releases the GIL while it hashes, so the loop keeps serving other requests meanwhile.
    """
    return await asyncio.to_thread(verify_password, password_hash, password)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
