"""This node's identity: its id, its current signing key, and the history of its public keys."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.envelope import b64, unb64
from federation.tables import NodeKey
from server.keys import create_key, load_key
from server.settings import Settings


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key_b64: str) -> str:
    """What admins compare before trusting a peer: SHA-256 of the raw public key, in hex."""
    return hashlib.sha256(unb64(public_key_b64)).hexdigest()


def public_key(public_key_b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(unb64(public_key_b64))


@dataclass
class Identity:
    node_id: str
    key: Ed25519PrivateKey

    @property
    def public_b64(self) -> str:
        return b64(raw_public(self.key.public_key()))

    @property
    def key_id(self) -> str:
        return f"{self.node_id}#{fingerprint(self.public_b64)[:16]}"


def load_identity(settings: Settings, *, create: bool = False) -> Identity:
    if not settings.node_id:
        raise ValueError("The node has no node_id: run `coalition init`, or set COALITION_NODE_ID.")
    path: Path = settings.key_file
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"No node key at {path}; run `coalition init` first.")
        create_key(path)
    return Identity(settings.node_id, load_key(path))


async def ensure_own_key(session: AsyncSession, identity: Identity) -> None:
    """Record the current key in the key history the first time it is used."""
    if await session.get(NodeKey, identity.key_id) is None:
        session.add(
            NodeKey(key_id=identity.key_id, origin=identity.node_id, public_key=identity.public_b64, valid_from=0)
        )
        await session.flush()


async def keys_of(session: AsyncSession, origin: str) -> list[NodeKey]:
    return list(await session.scalars(select(NodeKey).where(NodeKey.origin == origin).order_by(NodeKey.valid_from)))


def now() -> int:
    return int(time.time())
