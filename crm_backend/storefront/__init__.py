"""The demo storefront (``/shop``) and the built web chat widget (``/widget/shopcare-widget.js``).

The storefront is what a shop's own page looks like with the widget embedded: one ``<script>`` tag and a small config
object pointing at the Rasa server's socket.io endpoint (``CRM_WIDGET_SOCKET_URL``, else ``CRM_RASA_URL``). The
widget itself is built from ``widget/`` by ``make widget`` (npm + esbuild); the CRM only serves the file.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path
from string import Template

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from crm_backend.catalogue import CATALOGUE

WIDGET_FILE = "shopcare-widget.js"
FEATURED = ("KIT-001", "ELE-001", "CLO-002", "HOM-004", "GAR-003", "SPO-001")

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def page_template() -> Template:
    return Template((Path(__file__).parent / "shop.html").read_text())


def script_json(value: object) -> str:
    """JSON that is safe inside an inline ``<script>``: no ``</script>``, ``<!--`` or ``&`` can close or bend it."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")


def product_cards() -> str:
    rows = {sku: (name, category, pence) for sku, name, category, pence in CATALOGUE}
    cards = []
    for sku in FEATURED:
        name, category, pence = rows[sku]
        cards.append(
            f'<li class="card"><div class="art {html.escape(category)}" aria-hidden="true"></div>'
            f'<h3>{html.escape(name)}</h3><p class="price">£{pence / 100:.2f}</p>'
            f'<button type="button" class="buy">Add to basket</button></li>'
        )
    return "\n".join(cards)


@router.get("/shop", response_class=HTMLResponse)
def storefront(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    config = {
        "socketUrl": settings.widget_socket_url or settings.rasa_url,
        "title": "ShopCare",
        "subtitle": "We usually answer in seconds",
        "welcome": "Hi! Ask me about an order, a refund, delivery or your account.",
    }
    page = page_template().substitute(
        config=script_json(config), products=product_cards(), widget=f"/widget/{WIDGET_FILE}"
    )
    return HTMLResponse(page)


@router.get(f"/widget/{WIDGET_FILE}")
def widget_script(request: Request) -> Response:
    path = Path(request.app.state.settings.widget_dir) / WIDGET_FILE
    if not path.is_file():
        return PlainTextResponse(
            "The chat widget is not built: run `make widget` (npm ci + esbuild in widget/).", status_code=404
        )
    # no-cache: the browser revalidates (cheap: ETag) so a rebuilt widget is picked up at once
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "no-cache"})
