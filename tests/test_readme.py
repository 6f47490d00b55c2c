"""The README tells the truth: every path it names exists, and it gives the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
GENERATED = {"models/shopcare.fingerprint", "var/rasa_events.db", "models/churn.joblib", "var/crm.db"}


def test_readme_gives_the_two_commands_first():
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block


PATH = re.compile(r"`([A-Za-z_.][\w./-]*(?:/|\.(?:py|yml|yaml|md|toml|example)))`")


def named_paths() -> set[str]:
    """Paths in backticks; in a tour row about a folder (`crm_backend/`), bare names are inside that folder."""
    named = set()
    for line in README.splitlines():
        row = re.match(r"\| `([\w/-]+/)` \|", line)
        for path in PATH.findall(line):
            top = path.split("/")[0]
            inside = row and not (ROOT / top).exists() and "/" not in path.rstrip("/")
            named.add(row.group(1) + path if inside and row else path)
    return named


def test_every_path_the_readme_names_exists():
    named = named_paths()
    missing = sorted(p for p in named if p not in GENERATED and not p.startswith("../") and not (ROOT / p).exists())
    assert len(named) > 30
    assert missing == []


def test_env_example_lists_every_crm_setting():
    from crm_backend.settings import Settings

    documented = set(re.findall(r"^(CRM_\w+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    assert {f"CRM_{name.upper()}" for name in Settings.__fields__} <= documented
