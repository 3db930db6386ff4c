"""GET /health and the API docs."""

from __future__ import annotations

from db.engine import create_engine


async def test_health_reports_database(client):
    response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["components"]["database"]["status"] == "up"


async def test_health_reports_database_down(client, app):
    # Port 1 on loopback has no server, so every connection attempt fails at once.
    app.state.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")

    response = await client.get("/health")

    assert response.status_code == 503
    assert response.json()["components"]["database"]["status"] == "down"


async def test_openapi_docs_served(client):
    schema = await client.get("/docs/openapi.json")
    page = await client.get("/docs")

    assert schema.status_code == 200
    assert "/api/v1/auth/login" in schema.json()["paths"]
    assert page.status_code == 200
    assert "swagger" in page.text.lower()
    # The page loads its assets from this server, never from a CDN.
    assert "https://" not in page.text
    assert (await client.get("/static/swagger-ui/swagger-ui-bundle.js")).status_code == 200
