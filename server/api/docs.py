"""Swagger UI assets served by the server itself, so /docs works without internet access."""

from __future__ import annotations

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

ASSETS_PATH = "/static/swagger-ui"

swagger_assets = create_static_files_router(
    path=ASSETS_PATH, directories=[swagger_ui_path], name="swagger-ui", include_in_schema=False
)


def swagger_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        path="/",
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        # Litestar's default favicon comes from a CDN; an empty data URL keeps the page fully local.
        favicon="<link rel='icon' href='data:,'>",
    )
