#!/usr/bin/env python
"""Per-message cost of the rule-based entity extractor (components/entity_extractor.py), which runs on every message.

  python bench/entity_cost.py                                   # the messages of tests/data/nlu_natural_dev.yml
  python bench/entity_cost.py --test FILE                       # any Rasa NLU YAML file

Prints the mean time per message over all messages and over those with a digit or an "@" (the only ones the
Matcher reads), best of --repeat runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def per_message_us(extractor, texts: list[str], repeat: int) -> float:
    from rasa.shared.nlu.training_data.message import Message

    best = float("inf")
    for _ in range(repeat):
        messages = [Message(data={"text": t}) for t in texts]
        start = time.perf_counter()
        extractor.process(messages)
        best = min(best, time.perf_counter() - start)
    return best / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test", default=str(ROOT / "tests" / "data" / "nlu_natural_dev.yml"))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from rasa.shared.nlu.training_data.loading import load_data

    from components.entity_extractor import SpacyPatternEntityExtractor

    texts = [m.get("text") for m in load_data(args.test).intent_examples]
    structured = [t for t in texts if "@" in t or any(c.isdigit() for c in t)]
    extractor = SpacyPatternEntityExtractor({})
    per_message_us(extractor, texts, 1)  # warm-up: the vocabulary's lexemes
    print(f"all messages:             {len(texts):5d}  {per_message_us(extractor, texts, args.repeat):7.1f} us each")
    if structured:
        mean = per_message_us(extractor, structured, args.repeat)
        print(f"with a digit or an '@':   {len(structured):5d}  {mean:7.1f} us each")


if __name__ == "__main__":
    main()
