"""The GraphQL endpoint itself: limits, error codes, masking, the SDL file and the health check."""

from __future__ import annotations

import logging

import pytest

from schema.assembly import SDL_FILE, sdl


def test_the_exported_sdl_is_current():
    assert SDL_FILE.read_text() == sdl(), "schema/schema.graphql is stale: run `coalition export-schema`"


async def test_query_depth_is_limited(node):
    deep = "{ councils { " + "edges { node { decisions { " * 4 + "pageInfo { hasNextPage }" + " } } }" * 4 + " } }"
    error = await node.error(deep)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "exceeds maximum operation depth" in error["message"]


async def test_aliases_are_limited(node):
    many = "{ " + " ".join(f"a{n}: node {{ id }}" for n in range(40)) + " }"
    error = await node.error(many)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "aliases" in error["message"]


async def test_tokens_are_limited(node):
    huge = "{ " + " ".join("node { id }" for _ in range(2000)) + " }"
    error = await node.error(huge)
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "more than 4000 tokens" in error["message"]


async def test_unknown_fields_and_bad_variables_have_codes(node):
    assert (await node.error("{ nothing }"))["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    error = await node.error("query($f: Int!) { councils(first: $f) { nodes { id } } }", {"f": "ten"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_internal_errors_are_masked_and_logged(node, monkeypatch, caplog):
    from schema.councils import service

    def broken(_viewer):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service, "visible_councils", broken)
    with caplog.at_level(logging.ERROR, logger="coalition.graphql"):
        error = await node.error("{ councils { nodes { id } } }")
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret internal detail" not in error["message"]
    assert any("secret internal detail" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


async def test_node_info_and_health(node):
    data = await node.data("{ node { id name region defaultLanguage languages baseUrl } }")
    assert data["node"] == {
        "id": "node-a",
        "name": "Test Coalition",
        "region": "East Africa",
        "defaultLanguage": "en",
        "languages": ["en", "sw", "fr"],
        "baseUrl": "https://node-a.test",
    }
    health = await node.client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["database"] == "ok"


@pytest.mark.parametrize(
    "url",
    ["sqlite+aiosqlite:////nonexistent/directory/node.db", "postgresql+asyncpg://nobody@127.0.0.1:1/none"],
    ids=["sqlite", "postgresql"],
)
async def test_health_reports_an_unreachable_database(url, tmp_path):
    import httpx

    from server.app import create_app
    from server.settings import Settings

    app = create_app(Settings(node_id="n", data_dir=tmp_path, database_url=url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n.test") as client:
        health = await client.get("/healthz")
    assert health.status_code == 503
    assert health.headers["retry-after"] == "30"
    assert health.json()["database"] == "unreachable"


@pytest.mark.parametrize("path", ["/graphql"])
async def test_graphiql_is_off_outside_development(node, path):
    response = await node.client.get(path, headers={"Accept": "text/html"})
    assert "graphiql" not in response.text.lower()
