"""Rasa's own checks: the training data validates, and every test story is predicted exactly (NLU + dialogue)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from scripts.stack import BIN, base_env, ensure_model

ROOT = Path(__file__).resolve().parent.parent

# Responses uttered by custom actions are never named in stories or rules; Rasa's validator warns about them.
# `foreign_language` is set by components/language.py, never classified from training examples.
EXPECTED_WARNING = re.compile(
    r"The utterance '\w+' is not used in any story or rule"
    r"|The intent 'foreign_language' is listed in the domain file, but is not found in the NLU training data"
)


def test_rasa_data_validate_finds_no_problem():
    done = subprocess.run(
        [str(BIN / "rasa"), "data", "validate"], cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    warnings = [
        line
        for line in output.splitlines()
        if "UserWarning" in line and "rasa/shared/utils/io.py" in line and not EXPECTED_WARNING.search(line)
    ]
    assert warnings == []


@pytest.mark.slow
def test_every_test_story_is_predicted_exactly(tmp_path):
    model = ensure_model()
    done = subprocess.run(
        [
            str(BIN / "rasa"),
            "test",
            "core",
            "--model",
            str(model),
            "--stories",
            "tests/test_stories.yml",
            "--e2e",  # every message is parsed: its intent and entities are checked too, not only the actions
            "--fail-on-prediction-errors",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = (
        (tmp_path / "failed_test_stories.yml").read_text() if (tmp_path / "failed_test_stories.yml").exists() else ""
    )
    assert done.returncode == 0, failed or (done.stdout + done.stderr)[-3000:]
    report = json.loads((tmp_path / "story_report.json").read_text())
    stories = (ROOT / "tests" / "test_stories.yml").read_text().count("- story:")
    assert stories >= 15
    print(f"conversation accuracy: {report['conversation_accuracy']}")
    assert report["conversation_accuracy"]["accuracy"] == 1.0
