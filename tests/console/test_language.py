"""The customer's language (packet `customer.language`, actions/escalation.py) on the queue and the escalation page."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from crm_backend.db import Escalation, new_session


def set_language(engine: Engine, escalation_id: int, code: str) -> None:
    with new_session(engine) as session:
        escalation = session.get(Escalation, escalation_id)
        escalation.packet = {**escalation.packet, "customer": {**escalation.packet["customer"], "language": code}}
        session.commit()


def test_queue_and_escalation_show_a_language_other_than_english(agent, engine, add_escalation):
    spanish = add_escalation("c-es", reasons=("explicit_request",))
    english = add_escalation("c-en")
    set_language(engine, spanish, "es")
    queue = agent.get("/console/queue").text
    row = queue[queue.index(f'data-id="{spanish}"') :].split("</tr>", 1)[0]
    assert 'class="tag lang"' in row and ">ES<" in row and "Spanish (es)" in row
    other = queue[queue.index(f'data-id="{english}"') :].split("</tr>", 1)[0]
    assert 'class="tag lang"' not in other
    page = agent.get(f"/console/escalations/{spanish}").text
    assert '<dd id="language"><strong>Spanish (es)</strong>' in page
    assert '<dd id="language">English</dd>' in agent.get(f"/console/escalations/{english}").text
