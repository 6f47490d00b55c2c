"""How the training-data mix moves the intent classifier on natural phrasing (the method outside Rasa, seconds).

Trains the project's TF-IDF + calibrated LinearSVC (components/intent_classifier.build_pipeline) on data/nlu with the
Bitext share capped at K examples per intent (a fixed sample), optionally with CLINC150 out-of-scope examples, and
scores the team's natural-phrasing dev set (tests/data/nlu_natural_dev.yml) and Bitext's validation split. Used to
choose --bitext-per-intent and to drop CLINC (docs/benchmarks.md). The held-out natural *test* set is not read here.

    python bench/nlu_data_mix.py --bitext-per-intent 40,100,200,0 --C 1 [--clinc-yml FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rasa.shared.nlu.training_data.loading import load_data
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from components.intent_classifier import build_pipeline  # noqa: E402


def load(paths: list[Path]) -> tuple[list[str], np.ndarray, np.ndarray]:
    texts, intents, sources = [], [], []
    for path in paths:
        for example in load_data(str(path)).intent_examples:
            texts.append(example.get("text"))
            intents.append(example.get("intent"))
            sources.append(path.name)
    return texts, np.array(intents), np.array(sources)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bitext-per-intent", default="40,100,200,0", help="comma list; 0 = all")
    parser.add_argument("--C", default="1", help="comma list of LinearSVC C values")
    parser.add_argument(
        "--bitext-full",
        type=Path,
        default=None,
        help="an unsampled bitext.yml (scripts/import_datasets.py --bitext-per-intent 0 --out DIR)",
    )
    parser.add_argument("--clinc-yml", type=Path, default=None, help="out_of_scope_clinc.yml to add (--clinc)")
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()

    own = sorted(p for p in (ROOT / "data" / "nlu").glob("*.yml") if p.name != "bitext.yml")
    bitext = args.bitext_full or ROOT / "data" / "nlu" / "bitext.yml"
    paths = own + [bitext] + ([args.clinc_yml] if args.clinc_yml else [])
    texts, intents, sources = load(paths)
    dev_x, dev_y, _ = load([ROOT / "tests" / "data" / "nlu_natural_dev.yml"])
    validation = pd.read_csv(args.datasets / "bitext_customer_support" / "validation.csv")
    print(
        f"training pool: {len(texts)} examples ({(sources == bitext.name).sum()} Bitext); "
        f"dev: nlu_natural_dev.yml ({len(dev_x)}); Bitext validation ({len(validation)})"
    )
    for k in (int(v) for v in args.bitext_per_intent.split(",")):
        rng = np.random.RandomState(0)
        keep = sources != bitext.name
        for intent in sorted(set(intents[sources == bitext.name])):
            idx = np.where((sources == bitext.name) & (intents == intent))[0]
            keep[rng.choice(idx, min(k, len(idx)) if k else len(idx), replace=False)] = True
        for c in (float(v) for v in args.C.split(",")):
            pipeline = build_pipeline({"C": c, "calibration_folds": 3, "random_state": 42})
            started = time.perf_counter()
            pipeline.fit([t for t, m in zip(texts, keep) if m], intents[keep])
            seconds = time.perf_counter() - started
            dev = f1_score(dev_y, pipeline.predict(dev_x), average="macro")
            val = f1_score(validation.intent, pipeline.predict(validation.utterance.tolist()), average="macro")
            print(
                f"bitext_per_intent={k or 'all':>4} C={c:<4} n={keep.sum():5d} dev_macro_f1={dev:.4f} "
                f"bitext_val_macro_f1={val:.4f} fit={seconds:.1f}s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
