"""The console's Dev outbox page (``/console/dev/outbox``): the mail the development mail sink received, newest first,
for a logged-in agent. ``install`` registers it, and its nav link, only when ``CRM_ENV=development`` (404 elsewhere)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from crm_backend.console.auth import Auth, current_auth, settings_of
from crm_backend.mailsink import OUTBOX_LIMIT, read_outbox

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/dev/outbox")
def dev_outbox(request: Request, auth: Auth = Depends(current_auth)) -> Response:
    to = request.query_params.get("to", "").strip()[:320]
    context = {
        "auth": auth,
        "to": to,
        "mails": read_outbox(settings_of(request).dev_mail_store, to=to or None),
        "limit": OUTBOX_LIMIT,
    }
    return request.app.state.console_templates.TemplateResponse(request, "dev_outbox.html", context)
