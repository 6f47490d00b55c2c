"""Every customer-facing text the actions send is a domain response: the names they utter exist in domain.yml."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from shopcare_core.escalation.decision import Thresholds

ROOT = Path(__file__).resolve().parent.parent.parent
RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]


def test_every_response_an_action_names_is_in_the_domain():
    named = {
        name
        for path in (ROOT / "actions").glob("*.py")
        for name in re.findall(r"[\"'](utter_\w+)[\"']", path.read_text())
    }
    assert len(named) > 40
    assert sorted(named - set(RESPONSES)) == []


def test_every_escalation_reason_opens_with_its_own_response():
    """actions/escalation.py utters utter_escalation_<main reason> unless a trigger's first reply was said."""
    assert sorted(r for r in Thresholds.load().weights if f"utter_escalation_{r}" not in RESPONSES) == []


def test_no_action_writes_a_customer_text_in_python():
    """Only the CRM's own texts (a policy text) pass through as text=; everything else is a response."""
    texts = [
        f"{path.name}: {line.strip()}"
        for path in sorted((ROOT / "actions").glob("*.py"))
        for line in path.read_text().splitlines()
        if re.search(r"utter_message\(\s*text=", line)
    ]
    assert texts == ['policies.py: dispatcher.utter_message(text=policy["text"])']
