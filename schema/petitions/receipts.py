"""Receipts and the signature-set digest.

A receipt is the petition id and a random salt, held only by the signer. The node stores just
the commitment SHA-256(domain, petition, salt), so a commitment says nothing about who signed or
when. The set of commitments is summarised by MuHash (a product of hashes modulo a prime,
Bellare-Micciancio; the modulus and the 3072-bit size are those Bitcoin Core uses for its UTXO set
hash): adding or removing one signature updates it in constant time, the order of signing does
not matter, and anyone holding the published commitment list can recompute it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable

from server.errors import BadInput

DOMAIN = b"coalition-node/petition-receipt/v1\x00"
PRIME = 2**3072 - 1103717
STATE_BYTES = 384
EMPTY_STATE = f"{1:0{STATE_BYTES * 2}x}"


def new_receipt(petition_id: str) -> tuple[str, str]:
    """(receipt for the signer, commitment for the node)."""
    salt = secrets.token_bytes(16)
    receipt = f"{petition_id}.{base64.urlsafe_b64encode(salt).decode().rstrip('=')}"
    return receipt, commitment(petition_id, salt)


def commitment(petition_id: str, salt: bytes) -> str:
    return hashlib.sha256(DOMAIN + petition_id.encode() + b"\x00" + salt).hexdigest()


def read_receipt(receipt: str) -> tuple[str, str]:
    """(petition id, commitment) from a receipt, or ``BAD_USER_INPUT``."""
    try:
        petition_id, encoded = receipt.strip().split(".", 1)
        salt = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        raise BadInput(
            "This is not a petition receipt; copy the whole value you were given.", field="receipt"
        ) from None
    if len(salt) != 16 or not petition_id:
        raise BadInput("This is not a petition receipt; copy the whole value you were given.", field="receipt")
    return petition_id, commitment(petition_id, salt)


def _element(commitment_hex: str) -> int:
    return int.from_bytes(hashlib.shake_256(bytes.fromhex(commitment_hex)).digest(STATE_BYTES), "big") % PRIME


def add(state: str, commitment_hex: str) -> str:
    return f"{int(state, 16) * _element(commitment_hex) % PRIME:0{STATE_BYTES * 2}x}"


def remove(state: str, commitment_hex: str) -> str:
    return f"{int(state, 16) * pow(_element(commitment_hex), -1, PRIME) % PRIME:0{STATE_BYTES * 2}x}"


def state_of(commitments: Iterable[str]) -> str:
    state = EMPTY_STATE
    for value in commitments:
        state = add(state, value)
    return state


def digest(state: str) -> str:
    """The short public form of the set: SHA-256 of the MuHash state."""
    return hashlib.sha256(bytes.fromhex(state)).hexdigest()
