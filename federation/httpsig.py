"""RFC 9421 HTTP Message Signatures on every federation request (Ed25519), with RFC 9530
Content-Digest, created/expires, a nonce remembered for the window, and a fixed tag."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import http_message_signatures as hms
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import algorithms
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from federation.tables import SeenNonce
from server.db import utcnow

TAG = "coalition-node/v1"
WINDOW = timedelta(minutes=5)
WITH_BODY = ("@method", "@authority", "@path", "@query", "content-type", "content-digest")
WITHOUT_BODY = ("@method", "@authority", "@path", "@query")


class Refused(Exception):
    """A request that fails verification: ``status`` is 401 (who are you?) or 403 (not you)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class _Keys(hms.HTTPSignatureKeyResolver):
    def __init__(
        self, private: Ed25519PrivateKey | None = None, public: Callable[[str], Ed25519PublicKey] | None = None
    ):
        self.private, self.public = private, public

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        assert self.private is not None
        return self.private

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        assert self.public is not None
        key = self.public(key_id)
        if key is None:
            raise Refused(401, f"unknown key '{key_id}'")
        return key


def sign_request(request: httpx.Request, key: Ed25519PrivateKey, key_id: str) -> httpx.Request:
    created = datetime.now(UTC)
    body = request.content
    signer = hms.HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(private=key))
    signer.sign(
        request,
        key_id=key_id,
        created=created,
        expires=created + WINDOW,
        nonce=secrets.token_urlsafe(16),
        tag=TAG,
        label="coalition",
        covered_component_ids=WITH_BODY if body else WITHOUT_BODY,
        body=body or None,
    )
    return request


def key_id_of(request: Request) -> str:
    """The keyid parameter of the request's signature (checked for real by ``verify``)."""
    signature_input = request.headers.get("signature-input", "")
    marker = 'keyid="'
    if marker not in signature_input:
        raise Refused(401, "the request is not signed (RFC 9421 Signature-Input with a keyid is required)")
    return signature_input.split(marker, 1)[1].split('"', 1)[0]


async def verify(
    session: AsyncSession, request: Request, body: bytes, public_key: Callable[[str], Ed25519PublicKey | None]
) -> str:
    """Check the signature, digest, window and nonce of an incoming request; returns the key id."""
    message = httpx.Request(request.method, str(request.url), headers=request.headers.raw, content=body)
    verifier = hms.HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(public=public_key))
    try:
        results = verifier.verify(
            message,
            max_age=WINDOW,
            expect_tag=TAG,
            require_components=WITH_BODY if body else WITHOUT_BODY,
            body=body or None,
        )
    except Refused:
        raise
    except hms.InvalidSignature as error:
        raise Refused(401, f"signature refused: {error}") from None
    except hms.HTTPMessageSignaturesException as error:
        raise Refused(401, f"signature refused: {error}") from None
    result = results[0]
    expires = result.parameters.get("expires")
    if expires is None:
        raise Refused(401, "the signature needs an 'expires' parameter")
    nonce = result.nonce or result.parameters.get("nonce")
    if not nonce:
        raise Refused(401, "the signature needs a 'nonce' parameter")
    now = utcnow()
    await session.execute(delete(SeenNonce).where(SeenNonce.expires_at < now))
    try:
        async with session.begin_nested():
            session.add(SeenNonce(nonce=str(nonce)[:100], expires_at=now + WINDOW * 2))
    except IntegrityError:
        raise Refused(401, "replayed request: this nonce was already used") from None
    return result.parameters["keyid"]
