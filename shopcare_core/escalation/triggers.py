"""Must-escalate triggers in a customer's message: legal, regulatory or chargeback threats, threats to go to the press
or social media, product-safety incidents and signs of a vulnerable customer. Pure and cheap (a few compiled regular
expressions per message); the vocabulary is in triggers.yml.

`detect(text)` returns the triggers found, one per reason code, in the order of triggers.yml. A group's patterns run
only on a message containing one of its anchor words. A match is dropped when
it sits between double quotes, inside an ignored span (a product name, a colour, an idiom) or after a negation cue in
its clause (unless its group says `negation: false`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TRIGGERS_FILE = Path(__file__).with_name("triggers.yml")
MAX_CHARS = 2000  # as components/message_guard.py: NLU reads no more of a message
APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
QUOTED = re.compile(r'"[^"\n]{0,300}"|\u201c[^\u201d\n]{0,300}\u201d')
WORD = re.compile(r"[a-z0-9&']+")
CLAUSE_END = re.compile(r"[.,;:!?()\n]")


@dataclass(frozen=True)
class Trigger:
    reason: str  # the reason code (legal_threat, chargeback_threat, media_threat, safety_issue, vulnerable_customer)
    kind: str  # the group that matched (legal, regulator, fire, bereavement, ...)
    phrase: str  # the words that matched, as the customer wrote them


@dataclass(frozen=True)
class _Group:
    reason: str
    kind: str
    pattern: re.Pattern[str]
    negation: bool
    anchors: frozenset[str]


class Lexicon:
    def __init__(self, config: Mapping[str, Any]) -> None:
        negation = config.get("negation") or {}
        self.window = int(negation.get("window", 4))
        cues = list(negation.get("cues") or ())
        if not all(isinstance(c, str) for c in cues):  # YAML reads a bare no as false: quote every cue
            raise ValueError(f"negation cues must be strings: {cues!r}")
        self.cues = {c.lower() for c in cues}
        breaks = [re.escape(str(b).lower()) for b in negation.get("clause_breaks") or ()]
        self.clause_break = re.compile(r"\b(?:" + "|".join(breaks) + r")\b") if breaks else None
        ignore = [str(p) for p in config.get("ignore") or ()]
        self.ignore = re.compile(_alternation(ignore)) if ignore else None
        self.groups = [
            _Group(
                reason,
                str(group["kind"]),
                re.compile(_alternation(group["patterns"])),
                group.get("negation", True),
                frozenset(str(a).lower() for a in group.get("anchors") or ()),
            )
            for reason, groups in (config.get("triggers") or {}).items()
            for group in groups
        ]
        self.reasons = tuple(dict.fromkeys(g.reason for g in self.groups))

    @classmethod
    def load(cls, path: Path | str = TRIGGERS_FILE) -> Lexicon:
        return cls(yaml.safe_load(Path(path).read_text()))

    def detect(self, text: str | None) -> tuple[Trigger, ...]:
        if not text:
            return ()
        original = text[:MAX_CHARS]
        # the same length as the original, so a match's span names the customer's own words
        lowered = original.translate(APOSTROPHES).lower()
        if len(lowered) != len(original):  # a few characters lower-case to two
            original = lowered
        words = {w.strip("'") for w in WORD.findall(lowered)}
        candidates = [g for g in self.groups if not g.anchors or not words.isdisjoint(g.anchors)]
        if not candidates:
            return ()
        masked = QUOTED.sub(_blank, lowered)
        if self.ignore is not None:
            masked = self.ignore.sub(_blank, masked)
        found: dict[str, Trigger] = {}
        for group in candidates:
            if group.reason in found:
                continue
            for match in group.pattern.finditer(masked):
                if group.negation and self._negated(masked, match.start()):
                    continue
                phrase = original[match.start() : match.end()].strip()
                found[group.reason] = Trigger(group.reason, group.kind, phrase)
                break
        return tuple(found[r] for r in self.reasons if r in found)

    def _negated(self, text: str, start: int) -> bool:
        before = text[max(0, start - 120) : start]
        ends = [m.end() for m in CLAUSE_END.finditer(before)]
        if self.clause_break is not None:
            ends += [m.end() for m in self.clause_break.finditer(before)]
        clause = before[max(ends) :] if ends else before
        words = WORD.findall(clause)[-self.window :]
        joined = " ".join(words)
        return any(w in self.cues or w.endswith("n't") for w in words) or any(
            " " in cue and cue in joined for cue in self.cues
        )


def _alternation(patterns: Iterable[str]) -> str:
    return "|".join(f"(?<![\\w])(?:{p})(?![\\w])" for p in patterns)


def _blank(match: re.Match[str]) -> str:
    return " " * (match.end() - match.start())


@functools.lru_cache(maxsize=4)
def lexicon(path: str = str(TRIGGERS_FILE)) -> Lexicon:
    return Lexicon.load(path)


def detect(text: str | None) -> tuple[Trigger, ...]:
    """The triggers in `text` with the shipped vocabulary (triggers.yml, read once)."""
    return lexicon().detect(text)
