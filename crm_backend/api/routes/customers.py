"""Customer-scoped endpoints: profile, orders, cancellation, refunds, invoices, shipping address, data requests
(grant-checked)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from crm_backend.api import schemas as s
from crm_backend.api import views
from crm_backend.api.deps import (
    CustomerId,
    PoliciesDep,
    SessionDep,
    WriterDep,
    model_response,
    read_grant,
    route_of,
    write_grant,
)
from crm_backend.services import access, customers, data_requests, invoices, orders, refunds
from crm_backend.services.grants import Grant

# Every route needs the CRM's identity grant for this customer (read_grant); writes a strong one (write_grant).
router = APIRouter(prefix="/customers/{customer_id}", tags=["customers"], dependencies=[Depends(read_grant)])
WRITE = [Depends(write_grant)]
ReadGrant = Annotated[Grant, Depends(read_grant)]  # the router's own check (FastAPI runs it once per request)


def _audited(response: Response, request: Request, session: Session, grant: Grant) -> Response:
    """``response`` (the customer's personal data) once its read is in the access log: the conversation that holds
    the grant, and the proof it was earned with."""
    access.record_read(
        session=session,
        actor=f"bot:{grant.conversation_id}",
        customer_id=grant.customer_id,
        purpose=access.grant_purpose(grant.strength),
        resource=route_of(request),
    )
    access.commit_read(session=session)
    return response


@router.get("", response_model=s.CustomerPublic)
def get_customer(customer_id: CustomerId, request: Request, session: SessionDep, grant: ReadGrant) -> Response:
    customer = customers.get_customer(customer_id, session=session)
    return _audited(model_response(views.customer_public(customer)), request, session, grant)


@router.get("/orders", response_model=list[s.OrderSummary], tags=["orders"])
def list_orders(
    customer_id: CustomerId, limit: Annotated[int, Query(ge=1, le=100)] = 10, *, session: SessionDep
) -> Response:
    customers.get_customer(customer_id, session=session)
    return model_response(
        [views.order_summary(o) for o in orders.list_orders(customer_id, session=session, limit=limit)]
    )


@router.get("/orders/{order_number}", response_model=s.OrderDetail, tags=["orders"])
def get_order(
    customer_id: CustomerId,
    order_number: str,
    request: Request,
    session: SessionDep,
    policies: PoliciesDep,
    grant: ReadGrant,
) -> Response:
    order = orders.get_order(customer_id, order_number, session=session)
    return _audited(model_response(views.order_detail(order, policies)), request, session, grant)


@router.get("/orders/{order_number}/cancellation", response_model=s.CancellationQuotePublic, tags=["orders"])
def cancellation_quote(
    customer_id: CustomerId,
    order_number: str,
    session: SessionDep,
    policies: PoliciesDep,
) -> Response:
    order = orders.get_order(customer_id, order_number, session=session)
    return model_response(views.cancellation_public(orders.quote_cancellation(order, policies=policies)))


@router.post("/orders/{order_number}/cancel", response_model=s.CancelResult, tags=["orders"], dependencies=WRITE)
def cancel_order(customer_id: CustomerId, order_number: str, body: s.CancelRequest, writer: WriterDep) -> JSONResponse:
    def action() -> s.CancelResult:
        order = orders.get_order(customer_id, order_number, session=writer.session, for_update=True)
        quote = orders.cancel_order(
            order,
            session=writer.session,
            policies=writer.policies,
            reason=body.reason,
            actor=writer.actor,
            idempotency_key=writer.key,
        )
        writer.session.refresh(order)
        public = views.cancellation_public(quote)
        return s.CancelResult(
            order=views.order_detail(order, writer.policies),
            fee=public.fee,
            refund_amount=public.refund_amount,
            payment_outcome=public.payment_outcome,
        )

    return writer.run(body.dict(), 200, action)


@router.get("/orders/{order_number}/refund-eligibility", response_model=s.RefundQuotePublic, tags=["refunds"])
def refund_eligibility(
    customer_id: CustomerId,
    order_number: str,
    session: SessionDep,
    policies: PoliciesDep,
) -> Response:
    order = orders.get_order(customer_id, order_number, session=session)
    return model_response(views.refund_quote_public(refunds.refund_quote(order, policies=policies)))


@router.post(
    "/orders/{order_number}/refunds",
    response_model=s.RefundPublic,
    status_code=201,
    tags=["refunds"],
    dependencies=WRITE,
)
def create_refund(customer_id: CustomerId, order_number: str, body: s.RefundCreate, writer: WriterDep) -> JSONResponse:
    def action() -> s.RefundPublic:
        order = orders.get_order(customer_id, order_number, session=writer.session, for_update=True)
        refund = refunds.create_refund(
            order,
            session=writer.session,
            policies=writer.policies,
            amount=body.amount,
            reason=body.reason,
            actor=writer.actor,
            idempotency_key=writer.key,
        )
        return views.refund_public(refund)

    return writer.run(body.dict(), 201, action)


@router.put(
    "/orders/{order_number}/shipping-address", response_model=s.OrderDetail, tags=["orders"], dependencies=WRITE
)
def change_shipping_address(
    customer_id: CustomerId, order_number: str, body: s.AddressUpdate, writer: WriterDep
) -> JSONResponse:
    def action() -> s.OrderDetail:
        order = orders.get_order(customer_id, order_number, session=writer.session, for_update=True)
        orders.change_shipping_address(
            order,
            session=writer.session,
            policies=writer.policies,
            line1=body.line1,
            line2=body.line2,
            city=body.city,
            postcode=body.postcode,
            country=body.country,
            actor=writer.actor,
            idempotency_key=writer.key,
        )
        return views.order_detail(order, writer.policies)

    return writer.run(body.dict(), 200, action)


@router.get("/refunds", response_model=list[s.RefundPublic], tags=["refunds"])
def list_refunds(customer_id: CustomerId, session: SessionDep) -> Response:
    customers.get_customer(customer_id, session=session)
    return model_response([views.refund_public(r) for r in refunds.list_refunds(customer_id, session=session)])


@router.get("/refunds/{reference}", response_model=s.RefundPublic, tags=["refunds"])
def get_refund(customer_id: CustomerId, reference: str, session: SessionDep) -> Response:
    return model_response(views.refund_public(refunds.get_refund(customer_id, reference, session=session)))


@router.get("/invoices", response_model=list[s.InvoicePublic], tags=["invoices"])
def list_invoices(customer_id: CustomerId, session: SessionDep, policies: PoliciesDep) -> Response:
    customers.get_customer(customer_id, session=session)
    return model_response(
        [views.invoice_public(i, policies) for i in invoices.list_invoices(customer_id, session=session)]
    )


@router.get("/invoices/{invoice_number}", response_model=s.InvoicePublic, tags=["invoices"])
def get_invoice(
    customer_id: CustomerId,
    invoice_number: str,
    session: SessionDep,
    policies: PoliciesDep,
) -> Response:
    return model_response(
        views.invoice_public(invoices.get_invoice(customer_id, invoice_number, session=session), policies)
    )


@router.post(
    "/data-requests",
    response_model=s.DataRequestPublic,
    status_code=201,
    responses={200: {"model": s.DataRequestPublic, "description": "The customer's pending request of this kind"}},
    tags=["privacy"],
)
def create_data_request(
    customer_id: CustomerId,
    body: s.DataRequestCreate,
    grant: Annotated[Grant, Depends(write_grant)],
    writer: WriterDep,
) -> JSONResponse:
    """A request for a supervisor to export or erase the customer's data; nothing is exported or erased here.

    The proof and the conversation come from the grant (a strong one: one-time code or shop login)."""

    def action() -> s.DataRequestPublic:
        customers.get_customer(customer_id, session=writer.session)
        request, created = data_requests.create_request(
            session=writer.session,
            customer_id=customer_id,
            kind=body.kind,
            source="assistant",
            requested_by=f"bot:{grant.conversation_id}",
            conversation_id=grant.conversation_id,
            proof=grant.strength,
        )
        return s.DataRequestPublic(
            reference=request.reference, kind=request.kind, status=request.status, created=created
        )

    return writer.run(body.dict(), 201, action, status_of=lambda result: 201 if result.created else 200)
