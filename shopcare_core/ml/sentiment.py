"""Message sentiment for customer-service chat (pure: text in, scores out; nothing runs at import time).

``normalise``: lower case, digits masked, e-mails/URLs/@handles replaced, emojis/emoticons -> polarity tokens, censored
swearing ("f***ing") restored and tagged, negation scope marked ("not happy" -> "not not_happy"), marker tokens for
ALL CAPS, "!!!"/"???" runs and sarcasm ("great, another delay", "yeah right", "🙄"). ``dense_features``: lexicon
counts (negation-flipped, intensifier-weighted) and surface cues. ``SentimentModel``: TF-IDF word 1-2 + char_wb 2-5
grams + dense features -> multinomial logistic regression; ``score`` computes the dot product directly (< 2 ms).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from shopcare_core.ml.tfidf import transformer

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")

POSITIVE = set(
    """thanks thank thx ty ta cheers great good brilliant excellent amazing awesome perfect lovely fantastic superb
    wonderful love loved loves lovin happy pleased delighted glad impressed impressive helpful quick fast easy
    smooth best nice fab recommend appreciate appreciated grateful legend star chuffed kind friendly reliable
    bargain beautiful gorgeous enjoy enjoyed sorted solved thrilled pleasure yay satisfied pleasant pleasantly
    polite professional efficient prompt speedy swift seamless painless hassle-free outstanding exceptional
    fabulous marvellous terrific splendid stellar incredible phenomenal spectacular hero heroes kudos bravo
    congrats congratulations favourite favorite fave cute comfy comfortable cosy stylish blessed nicest kindest
    finest greatest woohoo hooray excited exciting fun beauty gem genius smashing ace cracking stoked wicked
    accommodating responsive attentive generous caring sweet lucky glorious tremendous""".split()
)
NEGATIVE = set(
    """bad worse worst terrible awful horrible horrific horrendous dreadful appalling shocking shocked disgusting
    disgusted disgrace disgraceful pathetic useless hopeless rubbish poor poorly unacceptable ridiculous ridiculus
    joke scam scammers scammed cheated rip-off ripoff disappointed dissapointed disappointing disappointment angry
    anger annoyed annoying furious livid fuming upset frustrated frustrating frustration fed sick hate hated hates
    broken damaged smashed cracked faulty defective missing lost late delay delayed delays cancelled canceled
    wrong nobody rude complaint complain complaining waste wasted wasting slow stuck waiting still again problem
    problems issue issues fail failed fails failure nightmare shambles farce laughable embarrassing ashamed
    overcharged twice unhappy gutted crap garbage trash ruined ruin ruins mess incompetent incompetence lie lied
    lies liar refuse refused ignored ignore ignoring worried unreliable unprofessional dirty filthy mouldy mold
    mould stranded horrid nasty sucks sucked suck crappy lousy inconvenience inconvenient disaster disastrous
    chaos chaotic mistake error errors glitch bug crash crashed crashes worthless unbelievable outrageous outrage
    insulting insult disrespectful arrogant clueless misleading misled dodgy shoddy flimsy cheap overpriced
    expensive hassle headache stress stressful stressed anxious worst-ever sad unfortunately unfortunate excuse
    excuses confused confusing broke torn ripped leaking leak stolen theft fraud fraudulent ridiculously painfully
    hung abandoned annoy irritated irritating infuriating infuriated mad miserable tired exhausted cranky grumpy
    upsetting""".split()
)
PROFANITY = set(
    """fuck fucking fucked fuckin fck fk fkn wtf wtaf ffs omfg shit shite shitty crap crappy bloody damn damned hell
    piss pissed bullshit bs arse ass arsehole asshole bastard bollocks""".split()
)
INTENSIFIERS = set(
    """very really so extremely incredibly absolutely totally completely utterly super deeply ridiculously painfully
    highly truly seriously well proper bloody fucking such most way too""".split()
)
NEGATORS = set("not no never nothing nobody none neither nor without cannot nowhere".split())
SCOPE_END = set("but however although though yet".split())
EMOJI_POS = set("😊🙂😀😃😄😁😍🥰❤♥💕💖👍👌🙏🎉✨💯🤩😎🥳💅👏😘🤗🌟⭐☺😇")
EMOJI_NEG = set("😡😠🤬😤😒😞😢😭😩😫👎💔🤦😑😕😟😣😖🤮😱😬😓😔☹")
EMOJI = dict.fromkeys(map(ord, EMOJI_POS), " _emopos_ ") | dict.fromkeys(map(ord, EMOJI_NEG), " _emoneg_ ")
EMOJI[ord("🙄")] = " _emoneg_ _sarc_ "
EMOTICONS = dict.fromkeys(":) :-) :D ;) <3".split(), " _emopos_ ")
EMOTICONS.update(dict.fromkeys(":( :-( :/ :'(".split(), " _emoneg_ "))
CONTRACTIONS = re.compile(
    r"\b(do|does|did|is|are|was|were|has|have|had|would|could|should|wo|ca|ai|must|need)n[’']?t\b"
    r"|\b(can|don|won|didn|isn|doesn|haven|wasn|aren|couldn|wouldn|shouldn|hasn)[’']?t\b"
)
BARE_NOT = re.compile(r"\b(dont|cant|wont|didnt|isnt|doesnt|havent|wasnt|arent|couldnt|wouldnt|aint)\b")
CENSORED = re.compile(r"\bf[\*#@!\-_]+(?:k|ck|ing|in|ed|er)?\w*|\bs[\*#@]+t\b|\bsh[\*#@]+t\b", re.I)
SARCASM = [
    re.compile(p)
    for p in (
        r"^\W*(oh |well |wow\W* |yeah\W* )?(great|brilliant|fantastic|perfect|wonderful|lovely|amazing|superb|"
        r"marvellous|nice|cool|fab|super|excellent)\b.{0,40}\b(another|again|still|late|delay\w*|wrong|lost|"
        r"nothing|not|broken|hours?|waiting|excuse|never)\b",
        r"\bjust (perfect|great|brilliant|wonderful|fantastic|lovely)\b",
        r"\byeah,? (right|sure)\b",
        r"\b(thanks|cheers|thank you) (a lot )?for (nothing|ruining|wasting|the \w+ (delay|wait))",
        r"\b(great|brilliant|amazing|excellent|fantastic|good|wonderful) \w+,? not\W*$",
        r"\bwell done\b.{0,30}\b(lost|late|wrong|again|weeks?)\b|\b(lost|late|wrong|weeks?)\b.{0,30}\bwell done\b",
        r"\b(love|loving|so glad|how lovely|what a surprise|oh joy)\b.{0,30}\b(waiting|wait|again|nothing|late|hold)",
        r"\bsure,? i'?ll just\b",
    )
]
_SUBS = (
    (r"[^\s@]{1,64}@[^\s@]{1,253}\.\w+", " _email_ "),
    (r"https?://\S+|www\.\S+", " _url_ "),
    (r"@\w+", " "),
    ("#", " "),
    (r"\d", "0"),
)
SUBSTITUTIONS = [(re.compile(p), r) for p, r in _SUBS]
TOKEN = re.compile(r"_[a-z]+_|[a-z0-9][a-z0-9'’\-]*|[.,!?;:]")
N_DENSE = 13
DEFAULTS: dict[str, Any] = {
    "C": 4.0,
    "dense_weight": 0.5,
    "class_weight": "balanced",
    "min_df": 1,
    "word_ngrams": (1, 2),
    "char_ngrams": (2, 5),
}


def _markers(raw: str) -> list[str]:
    """Tokens for surface cues that lower-casing and tokenising would lose."""
    words = re.findall(r"[A-Za-z]{2,}", raw)
    caps = [w for w in words if w.isupper() and len(w) >= 3]
    marks = []
    if caps and (len(caps) >= 2 or len(words) <= 2 or len(caps) / len(words) >= 0.5):
        marks.append("_caps_")
    marks += ["_exclrun_"] * len(re.findall(r"!{2,}|[!?]*\?![!?]*|!\?", raw))
    marks += ["_quesrun_"] * len(re.findall(r"\?{2,}", raw))
    low = raw.lower()
    marks += ["_elong_"] * bool(re.search(r"([a-z])\1{2,}", low)) + ["_sarc_"] * any(p.search(low) for p in SARCASM)
    return marks


def tokens(text: str) -> list[str]:
    """Normalised tokens with negation scope marked (the shared basis of ``normalise`` and ``dense_features``)."""
    raw = text or ""
    marks = _markers(raw)
    t = CENSORED.sub(" fucking ", raw)
    for k, v in EMOTICONS.items():
        t = t.replace(k, v)
    t = t.translate(EMOJI).lower()
    for pattern, repl in SUBSTITUTIONS:
        t = pattern.sub(repl, t)
    t = CONTRACTIONS.sub(lambda m: (m.group(1) or m.group(2)) + " not", t)
    t = BARE_NOT.sub(lambda m: m.group(1)[:-2] + " not", t)
    t = re.sub(r"([a-z])\1{2,}", r"\1\1", t)
    out: list[str] = []
    scope = 0
    for tok in TOKEN.findall(t):
        if tok in ".,!?;:" or tok in SCOPE_END or tok in NEGATORS:
            scope = 3 if tok in NEGATORS else 0
        elif scope and not tok.startswith("_"):
            tok, scope = "not_" + tok, scope - 1
        out.append(tok)
        if tok in PROFANITY:
            out.append("_prof_")
    return out + marks


def normalise(text: str) -> str:
    """The text the TF-IDF vectorisers see."""
    return " ".join(tokens(text))


def dense_features(text: str, toks: Sequence[str] | None = None) -> np.ndarray:
    """Lexicon and surface features, each roughly in [0, 1]."""
    toks = tokens(text) if toks is None else toks
    pos = neg = 0.0
    prev = ""
    for tok in toks:
        negated = tok.startswith("not_")
        word = tok[4:] if negated else tok
        weight = 2.0 if prev in INTENSIFIERS else 1.0
        if word in POSITIVE:
            neg, pos = (neg + weight, pos) if negated else (neg, pos + weight)
        elif word in NEGATIVE:
            pos, neg = (pos + 0.5 * weight, neg) if negated else (pos, neg + weight)
        prev = word
    count = toks.count
    n_words = max(1, sum(1 for t in toks if t[0].isalnum()))
    raw = text or ""
    capped = [min(count(m), 2) / 2 for m in ("_prof_", "_exclrun_", "_quesrun_", "_emopos_", "_emoneg_")]
    lexicon = [min(pos, 4) / 4, min(neg, 4) / 4, float(pos > 0 and neg > 0)]
    surface = [float("_caps_" in toks), float("_sarc_" in toks), float("?" in raw), min(raw.count("!"), 3) / 3]
    return np.array([*lexicon, *capped, *surface, min(np.log1p(n_words) / 4, 1.0)])


class SentimentModel:
    """Three-class message sentiment; ``score`` returns label, score = P(pos) - P(neg) and the probabilities."""

    def __init__(self, words: TfidfVectorizer, chars: TfidfVectorizer, clf: LogisticRegression, dense_weight: float):
        self.words, self.chars, self.clf, self.dense_weight = words, chars, clf, dense_weight
        self.classes = [str(c) for c in clf.classes_]
        self._coef = clf.coef_.T.astype(np.float64)
        self._intercept = clf.intercept_.astype(np.float64)

    @staticmethod
    def _docs(texts: Iterable[str]) -> tuple[list[str], np.ndarray]:
        docs, dense = [], []
        for text in texts:
            toks = tokens(text)
            docs.append(" ".join(toks))
            dense.append(dense_features(text, toks))
        return docs, np.vstack(dense) if dense else np.zeros((0, N_DENSE))

    def _matrix(self, docs: list[str], dense: np.ndarray, fit: bool = False) -> sp.csr_matrix:
        if fit:
            self.__dict__.pop("_transforms", None)
            w, c = self.words.fit_transform(docs), self.chars.fit_transform(docs)
        else:
            if "_transforms" not in self.__dict__:  # scikit-learn's arithmetic without its per-call checks (tfidf.py)
                self._transforms = (transformer(self.words), transformer(self.chars))
            w, c = (transform(docs) for transform in self._transforms)
        return sp.hstack([w, c, sp.csr_matrix(dense * self.dense_weight)], format="csr")

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], **params: Any) -> SentimentModel:
        """Fit on texts and labels (negative/neutral/positive).

        params: C, dense_weight, class_weight, min_df, word_ngrams, char_ngrams (defaults in ``DEFAULTS``)."""
        p = {**DEFAULTS, **params}
        words = TfidfVectorizer(
            token_pattern=r"\S+",
            ngram_range=tuple(p["word_ngrams"]),
            lowercase=False,
            sublinear_tf=True,
            min_df=p["min_df"],
        )
        chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=tuple(p["char_ngrams"]), sublinear_tf=True, min_df=2, lowercase=False
        )
        clf = LogisticRegression(C=p["C"], class_weight=p["class_weight"], max_iter=3000)
        model = cls.__new__(cls)
        model.words, model.chars, model.dense_weight = words, chars, p["dense_weight"]
        docs, dense = cls._docs(texts)
        clf.fit(model._matrix(docs, dense, fit=True), np.asarray(labels))
        return cls(words, chars, clf, p["dense_weight"])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        docs, dense = self._docs(texts)
        logits = self._matrix(docs, dense) @ self._coef + self._intercept
        logits = np.asarray(logits) - np.max(logits, axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def _result(self, probs: np.ndarray) -> dict[str, Any]:
        pr = {c: float(p) for c, p in zip(self.classes, probs, strict=True)}
        label = self.classes[int(np.argmax(probs))]
        score = float(np.clip(pr.get("positive", 0.0) - pr.get("negative", 0.0), -1.0, 1.0))
        return {"label": label, "score": score, "probabilities": pr}

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_transforms"}

    def score(self, text: str) -> dict[str, Any]:
        """One message, the same way the NLU component scores it (``score_many``)."""
        return self.score_many([text or ""])[0]

    def score_many(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        if not texts:
            return []
        return [self._result(p) for p in self.predict_proba(list(texts))]

    def predict(self, texts: Sequence[str]) -> list[str]:
        probs = self.predict_proba(list(texts))
        return [self.classes[i] for i in np.argmax(probs, axis=1)]

    def save(self, path: str | Path) -> None:
        joblib.dump(self, path)

    @classmethod
    def load(cls, path: str | Path) -> SentimentModel:
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} does not hold a SentimentModel")
        return model


def read_labelled_csv(path: str | Path) -> pd.DataFrame:
    """``text,label`` or the airline format (``text,airline_sentiment``) as a DataFrame with text and label."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "label" not in df.columns and "airline_sentiment" in df.columns:
        df = df.rename(columns={"airline_sentiment": "label"})
    df = df[["text", "label"]]
    return df[df["label"].isin(LABELS)].reset_index(drop=True)


def split(df: pd.DataFrame, holdout_fraction: float = 0.2, seed: int = 13) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic stratified (train, held-out) split."""
    train, held = train_test_split(df, test_size=holdout_fraction, random_state=seed, stratify=df["label"])
    return train.reset_index(drop=True), held.reset_index(drop=True)


def train_from_csv(
    path: str | Path, holdout_fraction: float = 0.2, seed: int = 13, **params: Any
) -> tuple[SentimentModel, pd.DataFrame]:
    """Train on the CSV minus a fixed stratified held-out split; returns (model, held-out DataFrame)."""
    df = read_labelled_csv(path)
    train, held = split(df, holdout_fraction, seed) if holdout_fraction > 0 else (df, df.iloc[0:0])
    return SentimentModel.train(train["text"].tolist(), train["label"].tolist(), **params), held
