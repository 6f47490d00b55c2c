"""The trained model's NLU quality, printed on every run: Bitext's validation split and the team's held-out natural
phrasing. The floors are regression guards well below the figures in docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.stack import ensure_model
from tests.bench_runner import bench_figures

ROOT = Path(__file__).resolve().parent.parent

BITEXT_VALIDATION = ROOT.parent / "shared" / "datasets" / "bitext_customer_support" / "validation.csv"


def evaluate(test_file: Path) -> tuple[float, float]:
    figures = bench_figures("nlu_eval.py", "--model", str(ensure_model()), "--test", str(test_file))
    return figures["intent_macro_f1"], figures["entity_f1"]


@pytest.mark.slow
def test_bitext_validation_split():
    if not BITEXT_VALIDATION.exists():
        pytest.skip(f"Bitext validation split not found at {BITEXT_VALIDATION} (../shared/datasets)")
    intent_f1, entity_f1 = evaluate(BITEXT_VALIDATION)
    assert intent_f1 >= 0.98 and entity_f1 >= 0.7


@pytest.mark.slow
def test_held_out_natural_phrasing():
    intent_f1, entity_f1 = evaluate(ROOT / "tests" / "data" / "nlu_natural_test.yml")
    assert intent_f1 >= 0.85 and entity_f1 >= 0.7
