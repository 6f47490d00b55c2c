#!/usr/bin/env python
"""NLU benchmark: intent macro-F1 / accuracy and entity P/R/F1 of a Rasa model on a test set.

  python bench/nlu_eval.py --test tests/data/nlu_natural_dev.yml                  # newest model in models/
  python bench/nlu_eval.py --model models/x.tar.gz --test FILE
  python bench/nlu_eval.py --config config.yml --train data/nlu --test FILE       # trains an NLU-only model first
  python bench/nlu_eval.py --config config.yml --banking77-split ../shared/datasets/banking77/train.csv

--test accepts Rasa NLU YAML, a Bitext-style CSV (utterance,intent,entity_type,entity_value,start_offset,end_offset)
or a Banking77-style CSV (text,category). Entities are scored by exact (start, end, type) match and, separately, by
(type, normalised value). The last line is always `intent_macro_f1=<x> entity_f1=<y>` (entity_f1 = exact-span micro F1).
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # custom components referenced by config.yml
SEED = 42


def load_examples(path: str) -> list[dict]:
    """Test examples as dicts: text, intent, entities [{start, end, entity, value}]."""
    if path.endswith(".csv"):
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if {"text", "category"} <= set(df.columns):  # Banking77
            return [{"text": t, "intent": c, "entities": []} for t, c in zip(df["text"], df["category"])]
        examples = []
        for r in df.itertuples():  # Bitext: at most one span per row
            ents = []
            if r.entity_type and r.start_offset:
                s, e = int(float(r.start_offset)), int(float(r.end_offset))
                if r.utterance[s:e].lower() != r.entity_value.lower():
                    s = r.utterance.lower().find(r.entity_value.lower())
                    e = s + len(r.entity_value)
                if s >= 0:
                    ents.append({"start": s, "end": e, "entity": r.entity_type, "value": r.utterance[s:e]})
            examples.append({"text": r.utterance, "intent": r.intent, "entities": ents})
        return examples
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(path)
    return [
        {"text": m.get("text"), "intent": m.get("intent"), "entities": m.get("entities") or []}
        for m in data.intent_examples
    ]


def write_yaml(examples: list[dict], path: Path) -> None:
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    msgs = [Message.build(text=e["text"].replace("[", "(").replace("]", ")"), intent=e["intent"]) for e in examples]
    TrainingData(training_examples=msgs).persist_nlu(str(path))


def train(config: str, train_paths: list[str], workdir: Path) -> tuple[str, float, set]:
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.loading import load_data

    data_dir = workdir / "train_data"
    data_dir.mkdir(exist_ok=True)
    for i, p in enumerate(train_paths):
        files = [p] if os.path.isfile(p) else sorted(glob.glob(f"{p}/**/*.y*ml", recursive=True))
        for j, f in enumerate(files):
            shutil.copy(f, data_dir / f"{i:02d}_{j:03d}_{Path(f).name}")
    intents = {m.get("intent") for m in load_data(str(data_dir)).intent_examples}
    start = time.perf_counter()
    model = train_nlu(config=config, nlu_data=str(data_dir), output=str(workdir / "models"))
    elapsed = time.perf_counter() - start
    if not model:
        sys.exit("training failed")
    return str(model), elapsed, intents


async def parse_all(model_path: str, texts: list[str]) -> tuple[list[dict], set]:
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    results = [await agent.parse_message(t) for t in texts]
    domain = getattr(agent, "domain", None)
    return results, set(domain.intents) if domain and domain.intents else set()


def norm_value(entity: str, value) -> str:
    v = str(value).lower().strip().lstrip("#")
    if entity == "refund_amount":
        v = re.sub(r"[£$€]|\b(pounds?|quid|dollars?|euros?|gbp|usd)\b", "", v)
        v = re.sub(r"\.00$", "", v.strip())
    return re.sub(r"\s+", "", v)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def entity_scores(gold: list[list[dict]], pred: list[list[dict]]) -> dict:
    counts: dict[str, Counter] = {k: Counter() for k in ("span", "value")}  # keys (type, 'tp'|'fp'|'fn')
    for g, p in zip(gold, pred):
        for kind in counts:
            key = (
                (lambda e: (e["start"], e["end"], e["entity"]))
                if kind == "span"
                else (lambda e: (e["entity"], norm_value(e["entity"], e.get("value", ""))))
            )
            gs, ps = Counter(key(e) for e in g), Counter(key(e) for e in p)
            etype = (lambda k: k[2]) if kind == "span" else (lambda k: k[0])
            for k in gs | ps:
                tp = min(gs[k], ps[k])
                counts[kind][(etype(k), "tp")] += tp
                counts[kind][(etype(k), "fp")] += ps[k] - tp
                counts[kind][(etype(k), "fn")] += gs[k] - tp
    return counts


def report_entities(counts: dict) -> float:
    types = sorted({t for kind in counts.values() for t, _ in kind})
    if not types:
        print("\nentities: none in the test set and none predicted")
        return 0.0
    print(f"\n{'entity':18} {'gold':>5} {'P':>6} {'R':>6} {'F1':>6} | value-match {'P':>6} {'R':>6} {'F1':>6}")
    for t in types + ["MICRO"]:
        row = []
        for kind in ("span", "value"):
            c = counts[kind]
            n = {
                x: (sum(v for (tt, xx), v in c.items() if xx == x) if t == "MICRO" else c[(t, x)])
                for x in ("tp", "fp", "fn")
            }
            row.append(prf(n["tp"], n["fp"], n["fn"]))
        gold_n = n["tp"] + n["fn"]
        (p, r, f), (vp, vr, vf) = row
        print(f"{t:18} {gold_n:5d} {p:6.3f} {r:6.3f} {f:6.3f} |             {vp:6.3f} {vr:6.3f} {vf:6.3f}")
    return row[0][2]


def evaluate(model_path: str, examples: list[dict], known: set) -> tuple[float, float]:
    results, domain_intents = asyncio.run(parse_all(model_path, [e["text"] for e in examples]))
    known = known or domain_intents or {r["name"] for res in results for r in res.get("intent_ranking", [])}
    y_true = [e["intent"] for e in examples]
    y_pred = [(res.get("intent") or {}).get("name") or "None" for res in results]
    labels = sorted(set(y_true))
    macro = f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    print(
        f"\nintent accuracy={accuracy_score(y_true, y_pred):.4f}  macro-F1={macro:.4f} over {len(labels)} test intents"
    )
    unknown = sorted(set(labels) - known)
    if unknown:
        n_unk = sum(y in unknown for y in y_true)
        known_labels = [label for label in labels if label in known]
        kf = f1_score(y_true, y_pred, labels=known_labels, average="macro", zero_division=0) if known_labels else 0.0
        print(
            f"{len(unknown)} test intents ({n_unk} examples) unknown to the model, e.g. {unknown[:5]}; "
            f"macro-F1 over the {len(known_labels)} known intents={kf:.4f}"
        )
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    conf = Counter((t, q) for t, q in zip(y_true, y_pred) if t != q)
    print(f"\nworst intents:\n{'intent':28} {'n':>4} {'P':>6} {'R':>6} {'F1':>6}  most often predicted as")
    for i in sorted(range(len(labels)), key=lambda i: (f[i], labels[i]))[:10]:
        top = [f"{q} ({n})" for (t, q), n in conf.most_common() if t == labels[i]][:2]
        print(f"{labels[i]:28} {s[i]:4d} {p[i]:6.3f} {r[i]:6.3f} {f[i]:6.3f}  {', '.join(top)}")
    print("\ntop confusions (gold -> predicted: count):")
    for (t, q), n in conf.most_common(15):
        print(f"  {t} -> {q}: {n}")
    gold_ents = [e["entities"] for e in examples]
    pred_ents = []
    for res in results:
        seen: dict[tuple, dict] = {}
        for e in res.get("entities", []):
            seen.setdefault((e["start"], e["end"], e["entity"]), e)
        pred_ents.append(list(seen.values()))
    ent_f1 = report_entities(entity_scores(gold_ents, pred_ents))
    return macro, ent_f1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="trained model .tar.gz (default: newest in models/)")
    ap.add_argument("--config", help="pipeline config; with --train or --banking77-split trains a fresh NLU model")
    ap.add_argument("--train", action="append", default=[], help="training file or folder (repeatable)")
    ap.add_argument("--test", help="Rasa YAML, Bitext CSV or Banking77 CSV")
    ap.add_argument("--banking77-split", help="Banking77 CSV: stratified 80/20 split, train on 80%%, test on 20%%")
    ap.add_argument("--verbose", action="store_true", help="keep Rasa's log output")
    args = ap.parse_args()
    if not args.verbose:
        logging.disable(logging.WARNING)
        os.environ.setdefault("LOG_LEVEL", "ERROR")
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.ERROR)
    workdir = Path(tempfile.mkdtemp(prefix="nlu_eval_"))
    train_time: float | None = None
    known: set[str] = set()
    n_train: int | str = "?"
    try:
        if args.banking77_split:
            if not args.config:
                sys.exit("--banking77-split needs --config")
            data = load_examples(args.banking77_split)
            intents = [e["intent"] for e in data]
            train_part, test = train_test_split(data, test_size=0.2, random_state=SEED, stratify=intents)
            write_yaml(train_part, workdir / "banking77_train.yml")
            args.train, name = (
                [str(workdir / "banking77_train.yml")],
                f"{args.banking77_split} (20% stratified, seed {SEED})",
            )
        elif args.test:
            test, name = load_examples(args.test), args.test
        else:
            sys.exit("give --test FILE or --banking77-split FILE")
        model: str | None
        if args.config and args.train:
            model, train_time, known = train(args.config, args.train, workdir)
            n_train = sum(len(load_examples(str(f))) for f in sorted((workdir / "train_data").iterdir()))
        else:
            newest = max(glob.glob(str(REPO / "models" / "*.tar.gz")), key=os.path.getmtime, default=None)
            model = args.model or newest
            if not model:
                sys.exit("no model: give --model or --config with --train")
        print(
            f"data set: {name}\ntest examples: {len(test)}  test intents: {len(set(e['intent'] for e in test))}  "
            f"gold entities: {sum(len(e['entities']) for e in test)}"
        )
        print(
            f"model: {model}"
            + (
                f"\ntrained on: {args.train} ({n_train} examples, {len(known)} intents) "
                f"with {args.config} in {train_time:.1f}s"
                if train_time is not None
                else ""
            )
        )
        macro, ent_f1 = evaluate(model, test, known)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"intent_macro_f1={macro:.4f} entity_f1={ent_f1:.4f}")


if __name__ == "__main__":
    main()
