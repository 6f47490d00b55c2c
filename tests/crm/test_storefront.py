"""The storefront page and the widget file, served by the CRM without an API key."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from crm_backend.app import create_app
from crm_backend.settings import Settings


def app_with(tmp_path: Path, **overrides: str) -> TestClient:
    values = {"env": "development", **overrides}
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'crm.db'}", relay_enabled=False, **values)
    return TestClient(create_app(settings))


def embedded_config(page: str) -> dict[str, str]:
    match = re.search(r"<script>window\.ShopCareChat = (.*?);</script>", page)
    assert match, "the storefront embeds the widget's config object"
    return json.loads(match.group(1))


def test_storefront_embeds_the_widget_with_one_script_tag_pointing_at_rasa(tmp_path):
    with app_with(tmp_path, rasa_url="http://127.0.0.1:5999") as client:
        response = client.get("/shop")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert embedded_config(response.text)["socketUrl"] == "http://127.0.0.1:5999"
    assert response.text.count('<script src="/widget/shopcare-widget.js" defer></script>') == 1
    assert "Espresso Machine" in response.text and "£149.00" in response.text


def test_the_public_socket_url_wins_and_cannot_break_out_of_the_script(tmp_path):
    hostile = "https://chat.example.com/</script><script>alert(1)</script>"
    with app_with(tmp_path, widget_socket_url=hostile) as client:
        page = client.get("/shop").text
    assert "</script><script>alert(1)" not in page
    assert embedded_config(page)["socketUrl"] == hostile  # escaped in the page, the same string once parsed


def test_widget_file_is_served_as_javascript_when_built(tmp_path):
    built = tmp_path / "dist"
    built.mkdir()
    (built / "shopcare-widget.js").write_text("window.built = true;")
    with app_with(tmp_path, widget_dir=str(built)) as client:
        response = client.get("/widget/shopcare-widget.js")
    assert response.status_code == 200 and response.text == "window.built = true;"
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"


def test_missing_widget_build_gets_a_clear_404_not_a_stack_trace(tmp_path):
    with app_with(tmp_path, widget_dir=str(tmp_path / "nowhere")) as client:
        response = client.get("/widget/shopcare-widget.js")
    assert response.status_code == 404 and "make widget" in response.text
