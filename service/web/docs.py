"""Interactive API docs (Swagger UI) served entirely by us: works offline, never loads a CDN.

Swagger UI's files are vendored from the npm package swagger-ui-dist by tools/vendor_swagger.sh
into service/static/vendor/swagger-ui-<version>/ (served under /static). To use this router,
include it and build the app with `docs_url=None` so FastAPI's CDN-based /docs is not also added.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_UI_VERSION = "5.35.0"  # keep in step with tools/vendor_swagger.sh
ASSETS = f"/static/vendor/swagger-ui-{SWAGGER_UI_VERSION}"

router = APIRouter()


@router.get("/docs", include_in_schema=False)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over this app's OpenAPI document, with every script and style from /static."""
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
        title=f"{request.app.title} - API docs",
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
    )
