#!/usr/bin/env python
"""Out-of-scope benchmark: does the assistant decline other-domain requests and still understand its customers?

  python bench/oos_eval.py                       # the shipped model (models/shopcare.tar.gz)
  python bench/oos_eval.py --model FILE --sweep  # also the threshold sweep on the tuning half (how it was chosen)
  python bench/oos_eval.py --unseen-intents      # also: rejection of whole domains the detector never saw

Data (../shared/datasets/clinc150/train_val.json, or --clinc): the detector trains on CLINC's *train* split
(data/out_of_scope/other_domains.txt, scripts/import_datasets.py). CLINC's *validation* split, restricted to the
same other-domain intents plus its oos utterances and minus those that name orders, refunds, payments or accounts,
is cut in two by position: even rows chose the threshold (--sweep, with tests/data/nlu_natural_dev.yml), odd rows are
the measure here, never trained or tuned on. Business-intent quality: the held-out natural test set
(tests/data/nlu_natural_test.yml) and Bitext's validation split, parsed by the same model.

A request counts as rejected when the model does not act on it: intent ``out_of_scope`` (the honest out-of-scope
reply) or ``nlu_fallback`` (a request to rephrase). Both rates are printed.
Per-message cost: the detector alone, one message per call, on the measured requests.
Last line: ``oos_reject_rate=<x> intent_macro_f1=<y>`` (odd half of CLINC validation; natural test macro-F1).
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import logging
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import yaml
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "bench"))
from import_datasets import CLINC_UNRELATED, OOS_COLLISIONS  # noqa: E402
from nlu_eval import load_examples, parse_all  # noqa: E402

from components.out_of_scope import OutOfScopeDetector, OutOfScopeModel  # noqa: E402

CLINC = REPO.parent / "shared" / "datasets" / "clinc150" / "train_val.json"
BITEXT_VALIDATION = REPO.parent / "shared" / "datasets" / "bitext_customer_support" / "validation.csv"
NATURAL_TEST = REPO / "tests" / "data" / "nlu_natural_test.yml"
NATURAL_DEV = REPO / "tests" / "data" / "nlu_natural_dev.yml"
REJECTED = {"out_of_scope", "nlu_fallback"}


def clinc_validation(path: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """(tuning half, measuring half, text -> CLINC intent) of the other-domain validation requests."""
    data = json.loads(path.read_text(encoding="utf-8"))
    unrelated = set(CLINC_UNRELATED)
    rows = [(t, label) for t, label in data["val"] if label in unrelated] + [(t, "oos") for t, _ in data["oos_val"]]
    rows = [(t, label) for t, label in rows if not OOS_COLLISIONS.search(t)]
    return [t for t, _ in rows[0::2]], [t for t, _ in rows[1::2]], dict(rows)


def detector_of(model_path: str) -> OutOfScopeModel:
    """The OutOfScopeModel inside a packed Rasa model."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(model_path) as tar:
            members = [m for m in tar.getmembers() if m.name.endswith("out_of_scope.joblib")]
            if not members:
                sys.exit(f"{model_path} has no out-of-scope detector")
            tar.extract(members[0], tmp)
        return joblib.load(Path(tmp) / members[0].name)


def macro_f1(examples: list[dict], parsed: list[dict]) -> float:
    gold = [e["intent"] for e in examples]
    pred = [(p.get("intent") or {}).get("name") or "None" for p in parsed]
    return float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0))


def rejection(parsed: list[dict]) -> tuple[float, float]:
    names = [(p.get("intent") or {}).get("name") for p in parsed]
    return sum(n in REJECTED for n in names) / len(names), sum(n == "out_of_scope" for n in names) / len(names)


def configured() -> dict:
    """The detector's settings in config.yml (over its defaults)."""
    pipeline = yaml.safe_load((REPO / "config.yml").read_text())["pipeline"]
    own = next(c for c in pipeline if c["name"].endswith("OutOfScopeDetector"))
    return {**OutOfScopeDetector.get_default_config(), **own}


def would_be(parsed: dict, threshold: float, unsure_threshold: float | None = None) -> str:
    """The intent this parse would get with other detector thresholds (the pipeline's rules; threshold > 1: off)."""
    settings = configured()
    unsure_threshold = settings["unsure_threshold"] if unsure_threshold is None else unsure_threshold
    if threshold > 1:
        unsure_threshold = threshold
    fallback = settings["unsure_confidence"]
    verdict = parsed.get("out_of_scope") or {}
    if "score" not in verdict:  # the classifier itself said out_of_scope
        return (parsed.get("intent") or {}).get("name") or "None"
    original = verdict["intent"]
    confidence = next((r["confidence"] for r in parsed["intent_ranking"] if r["name"] == original), 0.0)
    keep = set(settings["keep_with_entities"])
    kept = any(e.get("entity") in keep for e in parsed.get("entities") or [])  # an entity of this shop
    unsure = confidence < fallback
    if verdict["score"] >= (unsure_threshold if unsure else threshold) and not kept:
        return "out_of_scope"
    return "nlu_fallback" if unsure else original


def sweep(tune: list[dict], dev_examples: list[dict], dev: list[dict]) -> None:
    print("\nthreshold sweep (tuning half of CLINC validation; natural dev set):")
    print(f"{'threshold':>9} {'unsure':>6} {'rejected':>9} {'natural dev macro-F1':>21}")
    gold = [e["intent"] for e in dev_examples]
    for th in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.01):
        for unsure in (0.5, 0.7) if th <= 1 else (1.01,):
            rate = sum(would_be(p, th, unsure) in REJECTED for p in tune) / len(tune)
            pred = [would_be(p, th, unsure) for p in dev]
            f1 = f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0)
            note = "  (detector off)" if th > 1 else ""
            print(f"{th:9.2f} {min(unsure, th):6.2f} {rate:9.3f} {f1:21.4f}{note}")


def unseen_intents(clinc: Path, threshold: float, folds: int = 3) -> None:
    """Leave-intents-out: train the detector without a third of the other-domain intents, measure on theirs."""
    from rasa.shared.nlu.training_data.loading import load_data

    from components.out_of_scope import in_domain_examples

    data = json.loads(clinc.read_text(encoding="utf-8"))
    own, own_other = in_domain_examples(load_data(str(REPO / "data" / "nlu")))
    intents = sorted(CLINC_UNRELATED)
    print(f"\nunseen other-domain intents ({folds} folds of {len(intents)} intents, threshold {threshold}):")
    rates = []
    for k in range(folds):
        held = set(intents[k::folds])
        train = [t for t, label in data["train"] if label in CLINC_UNRELATED and label not in held]
        train += [t for t, _ in data["oos_train"]]
        train = [t for t in train if not OOS_COLLISIONS.search(t)]
        test = [t for t, label in data["val"] if label in held and not OOS_COLLISIONS.search(t)]
        model = OutOfScopeModel().fit(own, train + own_other)
        rate = float(np.mean(model.score(test) >= threshold))
        rates.append(rate)
        print(f"  fold {k + 1}: {len(held)} intents never seen, {len(test)} requests, detector rejects {rate:.3f}")
    print(f"  mean {np.mean(rates):.3f} (the detector alone, without the intent classifier's fallback)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="trained model .tar.gz (default: newest in models/)")
    ap.add_argument("--clinc", type=Path, default=CLINC)
    ap.add_argument("--bitext", type=Path, default=BITEXT_VALIDATION)
    ap.add_argument("--sweep", action="store_true", help="threshold sweep on the tuning half and the natural dev set")
    ap.add_argument("--unseen-intents", action="store_true", help="leave-intents-out measure (trains 3 detectors)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    if not args.clinc.exists():
        sys.exit(f"CLINC150 not found at {args.clinc} (../shared/datasets)")
    model = args.model or max(glob.glob(str(REPO / "models" / "*.tar.gz")), key=os.path.getmtime, default=None)
    if not model:
        sys.exit("no model: train one (python scripts/stack.py train) or give --model")
    tune, measure, clinc_intent = clinc_validation(args.clinc)
    natural = load_examples(str(NATURAL_TEST))
    sets = {"natural test": natural}
    if args.bitext.exists():
        sets["Bitext validation"] = load_examples(str(args.bitext))
    if args.sweep:
        sets["natural dev"] = load_examples(str(NATURAL_DEV))
    texts = measure + (tune if args.sweep else []) + [e["text"] for v in sets.values() for e in v]
    parsed, _ = asyncio.run(parse_all(model, texts))
    out, parsed = parsed[: len(measure)], parsed[len(measure) :]
    if args.sweep:
        tune_parsed, parsed = parsed[: len(tune)], parsed[len(tune) :]
    results = {}
    for name, examples in sets.items():
        results[name], parsed = parsed[: len(examples)], parsed[len(examples) :]

    print(f"model: {model}")
    print(
        f"other-domain requests: CLINC150 validation, {len(set(clinc_intent.values()))} intents incl. oos; "
        f"measured on the odd half ({len(measure)} requests), threshold chosen on the even half ({len(tune)})"
    )
    rejected, honest = rejection(out)
    print(f"rejected {rejected:.3f} (out_of_scope reply {honest:.3f}, ask to rephrase {rejected - honest:.3f})")
    oos_only = [p for t, p in zip(measure, out) if clinc_intent[t] == "oos"]
    print(
        f"  of which CLINC's own out-of-scope utterances ({len(oos_only)}, the published anchors' measure): "
        f"rejected {rejection(oos_only)[0]:.3f}"
    )
    accepted = [(t, p["intent"]["name"]) for t, p in zip(measure, out) if p["intent"]["name"] not in REJECTED]
    by_intent: dict[str, int] = {}
    for _, name in accepted:
        by_intent[name] = by_intent.get(name, 0) + 1
    print("taken for one of ours:", ", ".join(f"{k} {v}" for k, v in sorted(by_intent.items(), key=lambda x: -x[1])))
    for text, name in accepted[:12]:
        print(f"  {name:24} {text}  [{clinc_intent[text]}]")

    for name, examples in sets.items():
        if name == "natural dev":
            continue
        rej = sum((p.get("intent") or {}).get("name") == "out_of_scope" for p in results[name])
        gold_oos = sum(e["intent"] == "out_of_scope" for e in examples)
        without = [{"intent": {"name": would_be(p, 1.01)}} for p in results[name]]
        print(
            f"{name}: {len(examples)} examples, intent macro-F1 {macro_f1(examples, results[name]):.4f} "
            f"(detector off {macro_f1(examples, without):.4f}); out_of_scope {rej} (gold out_of_scope {gold_oos})"
        )
    if args.sweep:
        sweep(tune_parsed, sets["natural dev"], results["natural dev"])

    detector = detector_of(model)
    timings = []
    for text in measure[:500]:
        start = time.perf_counter()
        detector.score([text])
        timings.append((time.perf_counter() - start) * 1000)
    print(
        f"detector cost per message: p50 {np.percentile(timings, 50):.3f} ms, p95 {np.percentile(timings, 95):.3f} ms"
    )
    if args.unseen_intents:
        unseen_intents(args.clinc, float(configured()["threshold"]))
    print(f"oos_reject_rate={rejected:.4f} intent_macro_f1={macro_f1(natural, results['natural test']):.4f}")


if __name__ == "__main__":
    main()
