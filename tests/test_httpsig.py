"""RFC 9421 conformance (Appendix B.2.6, from the shared test vectors) and what verification refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import http_message_signatures as hms
import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from http_message_signatures import algorithms
from starlette.requests import Request

from federation.httpsig import Refused, sign_request, verify

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "data" / "rfc9421-ed25519-vectors.txt"


def vectors() -> dict[str, str]:
    """name -> value, for `name: value` lines and =====BEGIN/END NAME===== blocks."""
    values: dict[str, str] = {}
    block: str | None = None
    lines: list[str] = []
    for line in VECTORS.read_text().splitlines():
        if line.startswith("=====BEGIN ") and line.endswith("====="):
            block, lines = line[len("=====BEGIN ") : -5], []
        elif block and line == f"=====END {block}=====":
            values[block], block = "\n".join(lines), None
        elif block:
            lines.append(line)
        elif ": " in line and not line.startswith("#"):
            name, value = line.split(": ", 1)
            values[name] = value
    return values


class _Key(hms.HTTPSignatureKeyResolver):
    def __init__(self, private):
        self.private = private

    def resolve_private_key(self, key_id):
        return self.private

    def resolve_public_key(self, key_id):
        return self.private.public_key()


def test_rfc9421_b26_ed25519_signature_is_reproduced_and_verifies():
    v = vectors()
    private = load_pem_private_key(v["PRIVATE KEY PEM"].encode(), None)
    request = httpx.Request(
        v["request.method"],
        v["request.target_uri_assumed_https"],
        headers={
            "Date": v["request.header.date"],
            "Content-Type": v["request.header.content-type"],
            "Content-Digest": v["request.header.content-digest"],
            "Content-Length": v["request.header.content-length"],
        },
        content=v["request.body"].encode(),
    )
    signer = hms.HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Key(private))
    signer.sign(
        request,
        key_id=v["b26.param.keyid"],
        created=datetime.fromtimestamp(int(v["b26.param.created"]), UTC),
        label=v["b26.label"],
        include_alg=False,
        covered_component_ids=[c.strip('"') for c in v["b26.covered_components"].split()],
        use_existing_digest=True,
    )
    assert request.headers["Signature-Input"] == v["b26.header.signature-input"]
    assert request.headers["Signature"] == v["b26.header.signature"]
    verifier = hms.HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_Key(private))
    (result,) = verifier.verify(request, max_age=None)
    assert result.parameters["keyid"] == "test-key-ed25519"
    assert result.label == "sig-b26"


def starlette_request(request: httpx.Request) -> Request:
    scope = {
        "type": "http",
        "method": request.method,
        "scheme": request.url.scheme,
        "server": (request.url.host, 443),
        "path": request.url.path,
        "raw_path": request.url.raw_path.split(b"?")[0],
        "query_string": request.url.query,
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
    }
    return Request(scope)


@pytest.fixture
def signed():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    request = httpx.Request(
        "POST",
        "https://node-b.test/federation/inbox?x=1",
        content=b'{"entries": []}',
        headers={"Content-Type": "application/json"},
    )
    sign_request(request, key, "node-a#k")
    return key, request


async def check(node, request: httpx.Request, body: bytes, key) -> str:
    async with node.db.write() as session:
        return await verify(session, starlette_request(request), body, lambda _kid: key.public_key())


async def test_a_signed_request_verifies_once(node, signed):
    key, request = signed
    assert "content-digest" in request.headers["Signature-Input"]
    assert 'tag="coalition-node/v1"' in request.headers["Signature-Input"]
    assert await check(node, request, request.content, key) == "node-a#k"
    with pytest.raises(Refused, match="replayed"):
        await check(node, request, request.content, key)


async def test_a_changed_body_is_refused(node, signed):
    key, request = signed
    with pytest.raises(Refused) as refused:
        await check(node, request, b'{"entries": [1]}', key)
    assert refused.value.status == 401 and "digest" in refused.value.reason.lower()


async def test_a_missing_required_component_is_refused(node):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    request = httpx.Request(
        "POST", "https://node-b.test/federation/inbox", content=b"{}", headers={"Content-Type": "application/json"}
    )
    signer = hms.HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Key(key))
    now = datetime.now(UTC)
    signer.sign(
        request,
        key_id="node-a#k",
        created=now,
        expires=now.replace(year=now.year + 1),
        nonce="n1",
        tag="coalition-node/v1",
        covered_component_ids=("@method", "@path"),
        body=b"{}",
    )
    with pytest.raises(Refused) as refused:
        await check(node, request, b"{}", key)
    assert refused.value.status == 401


async def test_a_wrong_key_is_refused(node, signed):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _, request = signed
    with pytest.raises(Refused) as refused:
        await check(node, request, request.content, Ed25519PrivateKey.generate())
    assert refused.value.status == 401


async def test_an_expired_signature_is_refused(node):
    from datetime import timedelta

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    request = httpx.Request("GET", "https://node-b.test/federation/logs")
    signer = hms.HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Key(key))
    long_ago = datetime.now(UTC) - timedelta(minutes=30)
    signer.sign(
        request,
        key_id="node-a#k",
        created=long_ago,
        expires=long_ago + timedelta(minutes=5),
        nonce="old",
        tag="coalition-node/v1",
        covered_component_ids=("@method", "@authority", "@path", "@query"),
    )
    with pytest.raises(Refused) as refused:
        await check(node, request, b"", key)
    assert refused.value.status == 401
