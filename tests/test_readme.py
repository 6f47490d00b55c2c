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


def test_env_example_lists_every_setting_of_the_action_and_rasa_servers():
    from actions.settings import ActionServerSettings
    from channels.settings import RasaServerSettings

    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), flags=re.M))
    for settings in (ActionServerSettings, RasaServerSettings):
        names = {env.upper() for field in settings.__fields__.values() for env in field.field_info.extra["env_names"]}
        assert names and names <= documented, sorted(names - documented)


def test_only_the_settings_modules_read_the_environment():
    """The action server, the channels and the components read their settings through one object per process."""
    readers = sorted(
        str(path.relative_to(ROOT))
        for folder in ("actions", "channels", "components")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text()) and path.name != "settings.py"
    )
    assert readers == []
