"""The API reference page /api/v1/docs: Swagger UI from HCRM's own files over its own OpenAPI
document, for signed-in users only; nothing is loaded from another site."""
from __future__ import annotations

import re

from core.testing import login as sign_in
from core.testing import make_hospital, make_user


def test_the_reference_is_served_to_signed_in_users_from_local_assets(app, client):
    with app.app_context():
        make_user(make_hospital("H1"), "nurse", roles=("staff",))
    anonymous = client.get("/api/v1/docs")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]  # a page, not a 401 JSON
    sign_in(client, "nurse")
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert 'data-spec-url="/api/v1/openapi.json"' in page.text
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page.text)
    assert any(s.endswith("vendor/swagger-ui/swagger-ui-bundle.js") for s in sources)
    assert any(s.endswith("vendor/swagger-ui/swagger-ui.css") for s in sources)
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "<script>" not in page.text  # the CSP allows no inline script
    for asset in sources:
        if "/static/" in asset:
            response = client.get(asset)
            assert response.status_code == 200, asset
            if asset.endswith(".js") or asset.endswith(".css"):
                body = response.get_data(as_text=True)
                assert "sourceMappingURL" not in body, asset  # no request for a missing .map
                response.close()
    init = client.get("/static/core/api_docs.js").text
    assert "validatorUrl: null" in init  # Swagger UI would otherwise call validator.swagger.io
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.json["openapi"].startswith("3.")
    assert "/api/v1/docs" not in spec.json["paths"]  # a page, not an API operation
