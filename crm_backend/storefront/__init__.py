"""The demo storefront (``/shop``) and the built web chat widget (``/widget/shopcare-widget.js``).

The storefront is what a shop's own page looks like with the widget embedded: one ``<script>`` tag and a small config
object pointing at the Rasa server's socket.io endpoint (``CRM_WIDGET_SOCKET_URL``, else ``CRM_RASA_URL``). The
widget itself is built from ``widget/`` by ``make widget`` (npm + esbuild); the CRM only serves the file.

In development (``CRM_ENV=development``) the page has a "log in as" switch for the demo personas: it plays the shop's
own backend, signing an identity token (``CRM_SHOP_LOGIN_SECRET``) for the chosen customer, which the widget passes
to the assistant. Outside development the switch does not exist and ``?as=`` is ignored.
"""

from __future__ import annotations

import html
import json
import time
from functools import lru_cache
from pathlib import Path
from string import Template

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from crm_backend.seeding.catalogue import CATALOGUE
from crm_backend.seeding.personas import PERSONAS

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


SHOP_LOGIN_MINUTES = 60


def shop_identity_token(email: str, secret: str, minutes: int = SHOP_LOGIN_MINUTES) -> str:
    """What a shop's backend gives a logged-in customer's page: an HS256 JWT of the e-mail and an expiry."""
    now = int(time.time())
    return jwt.encode({"email": email, "iat": now, "exp": now + minutes * 60}, secret, algorithm="HS256")


def login_switch(current: str | None) -> str:
    """The demo's "log in as" form: a guest and each persona."""
    options = ['<option value="">Guest (not logged in)</option>'] + [
        f'<option value="{html.escape(p["email"])}"{" selected" if p["email"] == current else ""}>'
        f"{html.escape(p['first_name'])} {html.escape(p['last_name'])}</option>"
        for p in PERSONAS
    ]
    return (
        '<form class="login" method="get" action="/shop"><label for="as">Log in as</label> '
        f'<select id="as" name="as" onchange="this.form.submit()">{"".join(options)}</select>'
        '<noscript><button type="submit">Go</button></noscript></form>'
    )


@router.get("/shop", response_class=HTMLResponse)
def storefront(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    config: dict[str, object] = {
        "socketUrl": settings.widget_socket_url or settings.rasa_url,
        "title": "ShopCare",
        "subtitle": "We usually answer in seconds",
        "welcome": "Hi! Ask me about an order, a refund, delivery or your account.",
    }
    login = ""
    if settings.development:
        chosen = request.query_params.get("as") or None
        current = chosen if chosen in {p["email"] for p in PERSONAS} else None
        if current:
            config["identityToken"] = shop_identity_token(current, settings.shop_login_secret)
        login = login_switch(current)
    page = page_template().substitute(
        config=script_json(config), products=product_cards(), widget=f"/widget/{WIDGET_FILE}", login=login
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
