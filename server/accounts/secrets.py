"""Passwords (argon2id), opaque tokens and invitation codes; only hashes are stored."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when a handle is unknown, so both paths cost the same time.
_dummy_hash = _hasher.hash(secrets.token_urlsafe(16))


def use_hash_parameters(parameters: Parameters) -> None:
    """Change the argon2 cost (the test suite uses the cheapest profile to stay fast)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher.from_parameters(parameters)
    _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))


_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read aloud


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _dummy_hash, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_invitation_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
