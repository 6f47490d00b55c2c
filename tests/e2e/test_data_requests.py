"""A data request over Rasa's REST channel against the running stack: the strongest proof, a yes for an erasure, a
request left for a supervisor (nothing erased)."""

from __future__ import annotations

import re
import time

from sqlalchemy import create_engine, select

from crm_backend.db import DataRequest
from tests.e2e.conftest import joined
from tests.support import one_time_code


def test_an_erasure_request_needs_a_code_and_a_yes_and_is_left_for_a_supervisor(stack, chat, crm_api):
    reply = joined(chat("delete all my personal data please"))
    assert "find your account" in reply and "number of any order" in reply
    assert "e-mail address or postcode" in joined(chat("10011"))
    asked = time.time()
    reply = joined(chat("M1 1AE"))  # a postcode finds Ben, but proves too little for this
    assert "you're verified" in reply and "request the erasure of your personal data" in reply
    assert "DR-" not in reply
    reply = joined(chat(one_time_code(stack.crm_url, "ben.okafor@example.com", after=asked - 1)))
    assert "that's confirmed" in reply and "Shall I send the erasure request?" in reply
    assert "one month" in reply and "invoices for 6 years" in reply

    reply = joined(chat("yes"))
    found = re.search(r"DR-\d{6}", reply)
    assert found and "one month" in reply, reply
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(DataRequest.kind, DataRequest.status, DataRequest.proof, DataRequest.conversation_id).where(
                    DataRequest.reference == found.group(0)
                )
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("erase", "pending", "one_time_code", chat.conversation_id)
    assert crm_api.get("/customers/2/orders/10011").status_code == 200  # nothing erased: a supervisor decides
