"""The console's data-subject requests page (``/console/privacy``), for supervisors only.

It lists the requests (pending first) and carries them out through ``crm_backend.services.privacy``: *Export*
downloads everything held about the customer as JSON and completes the request; *Erase* erases the customer from
every store once the supervisor has typed the request's reference; *Reject* closes a request without carrying it
out. A supervisor may also record a request for a customer id (source ``console``). Every POST needs the session's
CSRF token; an agent gets 403 on the page and on every POST.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from crm_backend.api.deps import get_session
from crm_backend.console.auth import Auth, checked_form, settings_of, supervisor_auth
from crm_backend.console.routes import render
from crm_backend.errors import DomainError
from crm_backend.services import customer_records, data_requests, privacy

router = APIRouter(prefix="/console/privacy", include_in_schema=False)
PAGE = "/console/privacy"
NOTICES = {
    "created": "The request was recorded.",
    "existing": "This customer already has a pending request of that kind: here it is.",
    "erased": "The customer was erased from every store; the request is done.",
    "rejected": "The request was rejected.",
}
ERRORS = {
    "confirm": "Type the request's reference to confirm the erasure.",
    "customer_id": "Give a customer number.",
    "kind": "Choose an export or an erasure.",
    "customer_not_found": "There is no customer with that number.",
    "data_request_not_found": "There is no data request with that reference.",
    "data_request_closed": "This request is already closed.",
    "wrong_kind": "That action does not fit this request's kind.",
    "open_orders": "The customer has orders or refunds still open: they are finished first (an order's address is "
    "needed until it is delivered or cancelled). Erase once they are.",
}


def _actor(auth: Auth) -> str:
    return f"agent:{auth.agent.username}"


def _back(*, ok: str = "", error: str = "", reference: str = "") -> RedirectResponse:
    query = f"ok={ok}" if ok else f"error={quote(error)}"
    return RedirectResponse(f"{PAGE}?{query}" + (f"&ref={quote(reference)}" if reference else ""), status_code=303)


@router.get("")
def privacy_page(
    request: Request, auth: Auth = Depends(supervisor_auth), session: Session = Depends(get_session)
) -> Response:
    pending = data_requests.list_requests(session=session, statuses=("pending",))
    closed = data_requests.list_requests(session=session, statuses=("done", "rejected"), limit=50)
    q = request.query_params
    error = q.get("error", "")
    context: dict[str, Any] = {
        "auth": auth,
        "pending": pending,
        "closed": closed,
        "kinds": data_requests.KINDS,
        "reference": q.get("ref", "")[:9],
        "notice": NOTICES.get(q.get("ok", "")),
        "error": ERRORS.get(error, "That did not work." if error else None),
    }
    return render(request, "privacy.html", context)


@router.post("/requests")
def create(
    auth: Auth = Depends(supervisor_auth),
    form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    kind = form.get("kind", "")
    if kind not in data_requests.KINDS:
        return _back(error="kind")
    try:
        customer_id = int(form.get("customer_id", "").strip())
    except ValueError:
        return _back(error="customer_id")
    if not 0 < customer_id < 2**31:
        return _back(error="customer_id")
    try:
        customer_records.Records(customer_id, session=session)  # the customer exists
        request, created = data_requests.create_request(
            session=session, customer_id=customer_id, kind=kind, source="console", requested_by=_actor(auth)
        )
    except DomainError as error:
        session.rollback()
        return _back(error=error.code)
    session.commit()
    return _back(ok="created" if created else "existing", reference=request.reference)


@router.post("/{reference}/export")
def export(
    reference: str,
    request: Request,
    auth: Auth = Depends(supervisor_auth),
    _form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    try:
        data_request = data_requests.get_request(reference[:9], session=session)
        if data_request.kind != "export":
            raise DomainError(409, "wrong_kind", f"{data_request.reference} is not an export request.")
        result = privacy.carry_out(
            data_request,
            session=session,
            settings=settings_of(request),
            by=_actor(auth),
            resource=PAGE,
            agent_id=auth.agent.id,
        )
    except DomainError as error:
        session.rollback()
        return _back(error=error.code, reference=reference[:9])
    body = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    filename = f"customer-{result['customer_id']}-{data_request.reference}.json"
    return Response(
        body,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/{reference}/erase")
def erase(
    reference: str,
    request: Request,
    auth: Auth = Depends(supervisor_auth),
    form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    reference = reference[:9]
    if form.get("confirm", "").strip().upper() != reference.upper():
        return _back(error="confirm", reference=reference)
    try:
        data_request = data_requests.get_request(reference, session=session)
        if data_request.kind != "erase":
            raise DomainError(409, "wrong_kind", f"{data_request.reference} is not an erasure request.")
        privacy.carry_out(data_request, session=session, settings=settings_of(request), by=_actor(auth), resource=PAGE)
    except DomainError as error:
        session.rollback()
        return _back(error=error.code, reference=reference)
    return _back(ok="erased", reference=reference)


@router.post("/{reference}/reject")
def reject(
    reference: str,
    auth: Auth = Depends(supervisor_auth),
    form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    reference = reference[:9]
    try:
        data_request = data_requests.get_request(reference, session=session)
        privacy.reject(data_request, session=session, by=_actor(auth), reason=form.get("reason", "").strip())
    except DomainError as error:
        session.rollback()
        return _back(error=error.code, reference=reference)
    session.commit()
    return _back(ok="rejected", reference=reference)
