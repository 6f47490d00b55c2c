"""Accuracy and cost of the language detector (components/language.py) on short customer messages.

    python bench/language_eval.py                                   # the held-out test set
    python bench/language_eval.py --test tests/data/language_dev.yml
    python bench/language_eval.py --english-nlu data/nlu             # also: false-foreign rate on the English NLU data

For English, "en" and "und" (too little text) are right; for every other language only that language is right.
Prints accuracy per language, the English false-foreign rate, the foreign accuracy and the cost per message; the last
line is `foreign_accuracy=<x> english_false_foreign=<y> ms_per_message=<z>`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.language import ENGLISH, LanguageDetector  # noqa: E402

ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def load_set(path: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]
    return [(code, str(text)) for code, texts in data.items() for text in texts]


def english_nlu(folder: Path) -> list[str]:
    """Every example of the NLU training data (English), annotations removed."""
    texts = []
    for path in sorted(folder.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in (block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(ANNOTATION.sub(r"\1", line[2:]))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test", type=Path, default=Path("tests/data/language_short.yml"))
    parser.add_argument("--english-nlu", type=Path, help="a folder of English NLU data: false-foreign rate on it")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--english-share", type=float, default=0.3)
    parser.add_argument("--min-letters", type=int, default=4)
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    detector = LanguageDetector(args.threshold, args.min_letters, args.english_share)
    print(f"model loaded in {time.perf_counter() - started:.2f} s")
    items = load_set(args.test)
    for _, text in items[:20]:  # warm-up
        detector.detect(text)

    costs: list[float] = []
    right: dict[str, list[bool]] = {}
    errors: list = []
    for code, text in items:
        t0 = time.perf_counter()
        detection = detector.detect(text)
        costs.append(time.perf_counter() - t0)
        ok = not detection.foreign if code == ENGLISH else detection.code == code
        right.setdefault(code, []).append(ok)
        if not ok:
            errors.append((code, text, detection))

    words = [len(text.split()) for _, text in items]
    print(f"test set {args.test}: {len(items)} messages, median {statistics.median(words):.0f} words")
    print(f"{'language':>8} {'n':>4} {'accuracy':>8}")
    for code, oks in right.items():
        print(f"{code:>8} {len(oks):4d} {statistics.mean(oks):8.3f}")
    foreign = [ok for code, oks in right.items() if code != ENGLISH for ok in oks]
    english = right.get(ENGLISH, [])
    false_foreign = 1 - statistics.mean(english) if english else 0.0
    print(f"foreign messages recognised: {sum(foreign)}/{len(foreign)} = {statistics.mean(foreign):.3f}")
    print(f"English taken for another language: {len(english) - sum(english)}/{len(english)} = {false_foreign:.3f}")
    if args.show_errors:
        for code, text, detection in errors:
            print(f"  {code}: {text!r} -> {detection.code} {detection.confidence}")

    if args.english_nlu:
        texts = english_nlu(args.english_nlu)
        wrong = [(t, d) for t in texts if (d := detector.detect(t)).foreign]
        print(
            f"English NLU data {args.english_nlu}: {len(wrong)}/{len(texts)} = {len(wrong) / len(texts):.4f} "
            "taken for another language"
        )
        if args.show_errors:
            for text, detection in wrong:
                print(f"  {text!r} -> {detection.code} {detection.confidence:.3f}")

    ms = statistics.mean(costs) * 1000
    p99 = sorted(costs)[int(len(costs) * 0.99) - 1] * 1000
    print(f"cost per message: mean {ms:.3f} ms, p99 {p99:.3f} ms")
    print(
        f"foreign_accuracy={statistics.mean(foreign):.3f} english_false_foreign={false_foreign:.3f} "
        f"ms_per_message={ms:.3f}"
    )


if __name__ == "__main__":
    main()
