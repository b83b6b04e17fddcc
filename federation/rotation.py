"""Key rotation: the new key is announced in the node's own log, signed by the old key, so a
peer that was offline for weeks follows the chain when it returns."""

from __future__ import annotations

import os
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation.apply import KEY_KIND
from federation.identity import Identity, ensure_own_key, load_identity, now
from federation.log import LogWriter
from federation.tables import NodeKey
from server.db import Database
from server.settings import Settings


async def rotate(db: Database, settings: Settings) -> Identity:
    """Create a new key, announce it signed by the current one, and make it current.
    A running server picks the new key up when it restarts."""
    old = load_identity(settings)
    new = Identity(settings.node_id, Ed25519PrivateKey.generate())
    staged = settings.key_file.with_suffix(".next")
    pem = new.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    moment = now()
    async with db.write() as session:
        await ensure_own_key(session, old)
        body = {"key_id": new.key_id, "public_key": new.public_b64, "previous": old.key_id}
        await LogWriter(old).append_signed(session, KEY_KIND, f"{settings.node_id}/node/key", body, old)
        previous = await session.get(NodeKey, old.key_id)
        previous.valid_until = moment + 1  # the announcement itself is still signed by the old key
        session.add(NodeKey(key_id=new.key_id, origin=settings.node_id, public_key=new.public_b64, valid_from=moment))
    retired = settings.key_file.with_name(f"retired-{int(time.time())}-{settings.key_file.name}")
    os.replace(settings.key_file, retired)
    os.replace(staged, settings.key_file)
    return new
