"""Data-subject requests as a service: one pending request per customer and kind, even when two processes race."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from crm_backend.db import AuditLog, DataRequest, new_session
from crm_backend.errors import DomainError
from crm_backend.services import data_requests
from tests.factories import make_customer


def test_a_request_raced_by_another_process_returns_the_one_it_created(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with new_session(engine) as session:
        customer_id = make_customer(session).id
        session.commit()
    first, second = new_session(engine), new_session(engine)
    looked = {"first": False}
    real_pending = data_requests._pending

    def pending_unseen_by_first(session, customer_id, kind):  # type: ignore[no-untyped-def]
        if session is first and not looked["first"]:  # the first process looked before the second one wrote
            looked["first"] = True
            return None
        return real_pending(session, customer_id, kind)

    monkeypatch.setattr(data_requests, "_pending", pending_unseen_by_first)
    winner, created = data_requests.create_request(
        session=second, customer_id=customer_id, kind="erase", source="cli", requested_by="cli:b"
    )
    second.commit()
    assert created
    raced, created = data_requests.create_request(
        session=first, customer_id=customer_id, kind="erase", source="assistant", requested_by="bot:a"
    )
    first.commit()
    assert not created and raced.reference == winner.reference
    with new_session(engine) as session:
        rows = session.execute(select(DataRequest)).scalars().all()
        assert [(r.kind, r.status, r.requested_by) for r in rows] == [("erase", "pending", "cli:b")]
        creations = session.execute(select(AuditLog).where(AuditLog.action == "data_request.erase.create")).all()
        assert len(creations) == 1
    first.close()
    second.close()


def test_a_done_request_lets_a_new_one_be_made_and_a_closed_one_cannot_be_completed_twice(engine: Engine) -> None:
    with new_session(engine) as session:
        customer_id = make_customer(session).id
        request, _ = data_requests.create_request(
            session=session, customer_id=customer_id, kind="export", source="console", requested_by="agent:sue"
        )
        data_requests.complete_request(request, session=session, by="agent:sue", result={"crm": 3})
        session.commit()
        again, created = data_requests.create_request(
            session=session, customer_id=customer_id, kind="export", source="console", requested_by="agent:sue"
        )
        session.commit()
        assert created and again.reference != request.reference
        with pytest.raises(DomainError) as closed:
            data_requests.complete_request(request, session=session, by="agent:sue")
        assert closed.value.code == "data_request_closed"
