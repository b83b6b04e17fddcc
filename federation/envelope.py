"""Signed update envelopes: Ed25519 over the RFC 8785 (JCS) canonical form."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FIELDS = ("v", "origin", "seq", "prev", "ts", "kind", "subject", "body", "key_id", "sig")


class EnvelopeError(ValueError):
    pass


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def check_plain(value: Any, path: str = "body") -> None:
    """Bodies hold only strings, integers, booleans, null, lists and objects: no floats, whose
    canonical form differs between languages."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EnvelopeError(f"{path}: keys are strings")
            check_plain(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_plain(item, f"{path}[{index}]")
    elif not (value is None or isinstance(value, bool | int | str)):
        raise EnvelopeError(f"{path}: {type(value).__name__} is not allowed (strings and integers only)")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def sign(unsigned: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    check_plain(unsigned["body"])
    return {**unsigned, "sig": b64(key.sign(canonical(unsigned)))}


def entry_hash(envelope: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(envelope)).hexdigest()


def check_shape(envelope: Any) -> dict[str, Any]:
    if not isinstance(envelope, dict) or set(envelope) != set(FIELDS):
        raise EnvelopeError("an envelope has exactly the fields " + ", ".join(FIELDS))
    types = {
        "v": int,
        "origin": str,
        "seq": int,
        "prev": str,
        "ts": int,
        "kind": str,
        "subject": str,
        "body": dict,
        "key_id": str,
        "sig": str,
    }
    for name, kind in types.items():
        if not isinstance(envelope[name], kind) or (isinstance(envelope[name], bool) and kind is int):
            raise EnvelopeError(f"'{name}' must be {kind.__name__}")
    if envelope["v"] != 1 or envelope["seq"] < 1:
        raise EnvelopeError("unsupported version or sequence")
    if not envelope["subject"].startswith(envelope["origin"] + "/") and envelope["kind"] != "node.key":
        raise EnvelopeError("only the origin may change its objects: the subject must start with the origin")
    check_plain(envelope["body"])
    return envelope


def verify(envelope: dict[str, Any], key: Ed25519PublicKey) -> bool:
    unsigned = {name: value for name, value in envelope.items() if name != "sig"}
    try:
        key.verify(unb64(envelope["sig"]), canonical(unsigned))
    except (InvalidSignature, ValueError):
        return False
    return True


def canonical_and_hash(envelope: dict[str, Any]) -> tuple[str, str]:
    """The stored form and the entry hash, from one canonicalisation."""
    text = canonical(envelope)
    return text.decode(), hashlib.sha256(text).hexdigest()
