"""Train and score the emotion and spam models (``kefu social train-emotion``).

scikit-learn is imported here only; serving reads the exported arrays (emotion.py, spam.py).
Training data is ours (``data/emotion_train.csv``, ``data/spam_train.csv``: hand-written,
Apache-2.0 like the project); the test files are never trained on; weibo2018 (research-only
licence) is read from ``../shared/data`` at evaluation time only, through our hand labels
(``data/weibo2018_emotion_labels.csv``: mid and label, no text), and never trained on.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kefu.language.resources import shared_data_dir
from kefu.language.tokenize import cut
from kefu.language.training import fit_linear, sentiment_text
from kefu.social.emotion import DATA_DIR, EMOTIONS, FEATURES, base_encoder, lexicon_emotion

EMOTION_TRAIN = DATA_DIR / "emotion_train.csv"
EMOTION_TEST = DATA_DIR / "emotion_test.csv"
SPAM_TRAIN = DATA_DIR / "spam_train.csv"
SPAM_TEST = DATA_DIR / "spam_test.csv"
WEIBO_LABELS = DATA_DIR / "weibo2018_emotion_labels.csv"
SEED = 20261206
# Regularisation is chosen by 5-fold cross-validation on the training set from these grids;
# the test sets are never consulted.
FAST_C_GRID = (1.0, 3.0, 10.0, 30.0)
DEEP_C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)


class DataError(ValueError):
    """A training file that cannot be used; the message names the file and the row."""


def load_labelled(path: Path, labels: Sequence[str] = EMOTIONS) -> tuple[list[str], list[str]]:
    """``text,label`` CSV with a header. Unknown labels and empty texts are errors naming the
    row (a typo must not silently become a sixth class)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"text", "label"} <= set(reader.fieldnames):
                raise DataError(f"{path}: the header must name the columns text,label")
            texts: list[str] = []
            gold: list[str] = []
            for row_no, row in enumerate(reader, start=2):
                text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
                if not text:
                    raise DataError(f"{path}, row {row_no}: empty text")
                if label not in labels:
                    raise DataError(
                        f"{path}, row {row_no}: label {label!r} is not one of {', '.join(labels)}"
                    )
                texts.append(text)
                gold.append(label)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not texts:
        raise DataError(f"{path}: no rows")
    return texts, gold


def load_weibo_labelled(root: Path | None = None) -> tuple[list[str], list[str]] | str:
    """Our hand labels joined with the weibo2018 texts, or the reason they cannot be."""
    source = (root or shared_data_dir()) / "weibo2018" / "train.txt"
    if not source.is_file():
        return f"{source} not found (weibo2018 is read at run time, never shipped)"
    if not WEIBO_LABELS.is_file():
        return f"{WEIBO_LABELS} not found"
    by_mid: dict[str, str] = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        parts = line.split(",", 2)
        if len(parts) == 3:
            by_mid[parts[0]] = parts[2]
    texts: list[str] = []
    gold: list[str] = []
    with WEIBO_LABELS.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["mid"] in by_mid:
                texts.append(by_mid[row["mid"]])
                gold.append(row["label"])
    if not texts:
        return f"none of the labelled mids are in {source}"
    return texts, gold


# --------------------------------------------------------------------------- metrics


def scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, average="macro", labels=EMOTIONS)), 4),
        "n": len(gold),
    }


def binary_scores(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, float]:
    from sklearn.metrics import f1_score, precision_score, recall_score

    return {
        "precision": round(float(precision_score(gold, pred, zero_division=0)), 4),
        "recall": round(float(recall_score(gold, pred, zero_division=0)), 4),
        "f1": round(float(f1_score(gold, pred, zero_division=0)), 4),
        "n": len(gold),
    }


# --------------------------------------------------------------------------- features


@dataclass(frozen=True)
class Prepared:
    texts: list[str]  # sentiment-prepared (normalised, emoticons as [名字])
    words: list[list[str]]


def prepare(raw: Sequence[str]) -> Prepared:
    texts = [sentiment_text(t[:2000]) for t in raw]
    return Prepared(texts, [cut(t) for t in texts])


def pooled_vectors(
    texts: Sequence[str], progress: Callable[[str], None] | None = None
) -> np.ndarray | None:
    """The pretrained encoder's mean-pooled output per text (no adapters: see emotion.py), or
    None without the encoder."""
    model = base_encoder()
    if model is None:
        return None
    out = np.zeros((len(texts), model.hidden), dtype=np.float32)
    started = time.monotonic()
    step = 160
    for start in range(0, len(texts), step):
        out[start : start + step] = model.pooled(list(texts[start : start + step]))
        if progress:
            done = min(len(texts), start + step)
            progress(f"  encoded {done}/{len(texts)} ({time.monotonic() - started:.0f} s)")
    return out


def cross_validated_c(
    fit_score: Callable[[float, list[int], list[int]], float],
    labels: Sequence[str],
    grid: Sequence[float],
) -> tuple[float, dict[str, float]]:
    """The C of ``grid`` with the best mean macro-F1 over 5 stratified folds of the training set."""
    from sklearn.model_selection import StratifiedKFold

    folds = list(
        StratifiedKFold(5, shuffle=True, random_state=SEED).split(np.zeros(len(labels)), labels)
    )
    table = {}
    for c in grid:
        table[str(c)] = round(
            float(np.mean([fit_score(c, list(tr), list(te)) for tr, te in folds])), 4
        )
    best = max(grid, key=lambda c: table[str(c)])
    return best, table


def _macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, average="macro"))


def fit_fast(
    prep: Prepared, labels: Sequence[str], c: float, meta: dict[str, Any] | None = None
) -> Any:
    return fit_linear(
        prep.texts, labels, "sentiment", c=c, class_weight="balanced", meta=meta
    ).model


def fast_proba(model: Any, prep: Prepared) -> np.ndarray:
    """Rows of probabilities in EMOTIONS order."""
    from kefu.language.features import FEATURE_SETS

    fn = FEATURE_SETS[model.feature_set]
    idx = [model.classes.index(c) for c in EMOTIONS]
    return np.array(
        [model.proba(fn(t, w))[idx] for t, w in zip(prep.texts, prep.words, strict=True)]
    )


def fit_deep(x: np.ndarray, labels: Sequence[str], c: float) -> dict[str, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(0)
    scale = x.std(0) + 1e-6
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    clf.fit((x - mean) / scale, labels)
    return {
        "coef": clf.coef_.astype(np.float32),
        "intercept": clf.intercept_.astype(np.float32),
        "mean": mean.astype(np.float32),
        "scale": scale.astype(np.float32),
        "classes": np.array(clf.classes_),
    }


def deep_proba(head: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    z = ((x - head["mean"]) / head["scale"]) @ head["coef"].T + head["intercept"]
    z -= z.max(-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(-1, keepdims=True)
    classes = [str(c) for c in head["classes"]]
    return p[:, [classes.index(c) for c in EMOTIONS]]


def save_deep(head: dict[str, np.ndarray], path: Path, meta: dict[str, Any]) -> None:
    meta = {**meta, "classes": [str(c) for c in head["classes"]], "features": FEATURES}
    np.savez_compressed(
        path,
        coef=head["coef"],
        intercept=head["intercept"],
        mean=head["mean"],
        scale=head["scale"],
        __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    )


def labels_of(p: np.ndarray) -> list[str]:
    return [EMOTIONS[i] for i in p.argmax(1)]


# --------------------------------------------------------------------------- the whole run


def train_emotion(
    data: Sequence[Path] = (),
    *,
    ours: bool = True,
    out_dir: Path = DATA_DIR,
    test: Path | None = EMOTION_TEST,
    deep: bool = True,
    spam: bool = True,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit the emotion models (and the spam model) and score them against the lexicon
    baseline on the test set and the weibo2018 hand labels. Returns the report (also written
    to ``out_dir/emotion_report.json``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ([EMOTION_TRAIN] if ours else []) + list(data)
    if not files:
        raise DataError("no training data: give --data FILE.csv or keep our set")
    raw: list[str] = []
    labels: list[str] = []
    for path in files:
        t, g = load_labelled(path)
        raw += t
        labels += g
    missing = [c for c in EMOTIONS if labels.count(c) < 2]
    if missing:
        raise DataError(
            f"every emotion needs at least 2 training rows; too few: {', '.join(missing)}"
        )
    progress(f"training on {len(raw)} posts from {', '.join(str(f) for f in files)}")
    prep = prepare(raw)
    folds_possible = min(labels.count(c) for c in EMOTIONS) >= 5
    report: dict[str, Any] = {"train_size": len(raw), "train_files": [str(f) for f in files]}

    def cv_fast(c: float, tr: list[int], te: list[int]) -> float:
        sub = Prepared([prep.texts[i] for i in tr], [prep.words[i] for i in tr])
        m = fit_fast(sub, [labels[i] for i in tr], c)
        held = Prepared([prep.texts[i] for i in te], [prep.words[i] for i in te])
        return _macro_f1([labels[i] for i in te], labels_of(fast_proba(m, held)))

    fast_c, table = (
        cross_validated_c(cv_fast, labels, FAST_C_GRID) if folds_possible else (10.0, {})
    )
    progress(f"fast model: C={fast_c} (5-fold macro-F1 by C: {table})")
    fast = fit_fast(prep, labels, fast_c, meta={"task": "emotion", "cv": table})
    fast.save(out_dir / "emotion.joblib")
    report["fast"] = {"C": fast_c, "cv_macro_f1": table}

    head = None
    if deep:
        x = pooled_vectors(prep.texts, progress)
        if x is None:
            progress("deep model skipped: the encoder's weights are not installed")
        else:

            def cv_deep(c: float, tr: list[int], te: list[int]) -> float:
                h = fit_deep(x[tr], [labels[i] for i in tr], c)
                return _macro_f1([labels[i] for i in te], labels_of(deep_proba(h, x[te])))

            deep_c, dtable = (
                cross_validated_c(cv_deep, labels, DEEP_C_GRID) if folds_possible else (0.1, {})
            )
            progress(f"deep head: C={deep_c} (5-fold macro-F1 by C: {dtable})")
            head = fit_deep(x, labels, deep_c)
            save_deep(
                head,
                out_dir / "emotion_deep.npz",
                {"C": deep_c, "train_size": len(raw), "cv": dtable},
            )
            report["deep"] = {"C": deep_c, "cv_macro_f1": dtable}

    evaluations: dict[str, Any] = {}
    sets: dict[str, tuple[list[str], list[str]] | str] = {}
    if test is not None:
        sets["test"] = load_labelled(test)
    sets["weibo2018"] = load_weibo_labelled()
    for name, loaded in sets.items():
        if isinstance(loaded, str):
            evaluations[name] = {"skipped": loaded}
            progress(f"{name}: skipped: {loaded}")
            continue
        t_raw, gold = loaded
        t_prep = prepare(t_raw)
        p_fast = fast_proba(fast, t_prep)
        row = {
            "lexicon baseline": scores(gold, [lexicon_emotion(t) for t in t_prep.texts]),
            "fast": scores(gold, labels_of(p_fast)),
        }
        if head is not None:
            xt = pooled_vectors(t_prep.texts)
            assert xt is not None
            p_deep = deep_proba(head, xt)
            row["deep"] = scores(gold, labels_of(p_deep))
            row["fast+deep (shipped)"] = scores(gold, labels_of((p_fast + p_deep) / 2))
        evaluations[name] = row
        for model_name, s in row.items():
            progress(
                f"{name:10s} {model_name:22s} accuracy {s['accuracy']:.3f}  macro-F1 {s['macro_f1']:.3f}  (n={s['n']})"
            )
    report["evaluation"] = evaluations
    if spam:
        report["spam"] = train_spam(out_dir=out_dir, progress=progress)
    (out_dir / "emotion_report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    )
    return report


def train_spam(
    *,
    out_dir: Path = DATA_DIR,
    ads: Path = SPAM_TRAIN,
    test_ads: Path = SPAM_TEST,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Adverts (``spam``) against our emotion training posts (``ham``: ordinary posts of every
    mood, complaints included, so anger is not mistaken for an advert). Scored on the separate
    advert test file against the emotion test posts, as the model alone, the cheap signals
    alone and the shipped combination."""
    from kefu.language.linear import LinearTextModel
    from kefu.language.normalize import normalize, strip_markup
    from kefu.social import spam as spam_mod

    spam_texts, _ = load_labelled(ads, labels=("spam",))
    ham_texts, _ = load_labelled(EMOTION_TRAIN)
    texts = [spam_mod.model_text(strip_markup(normalize(t)).text) for t in spam_texts + ham_texts]
    labels = ["spam"] * len(spam_texts) + ["ham"] * len(ham_texts)
    model = fit_linear(
        texts, labels, "sentiment", c=10.0, class_weight="balanced", meta={"task": "spam"}
    ).model
    model.save(out_dir / "spam.joblib")
    test_spam, _ = load_labelled(test_ads, labels=("spam",))
    test_ham, _ = load_labelled(EMOTION_TEST)
    raw = test_spam + test_ham
    gold = [True] * len(test_spam) + [False] * len(test_ham)
    loaded = LinearTextModel.load(out_dir / "spam.joblib")
    from kefu.language.features import FEATURE_SETS

    fn = FEATURE_SETS[loaded.feature_set]
    model_only, signals_only, combined = [], [], []
    for r in raw:
        markup = strip_markup(normalize(r))
        p = float(loaded.proba(fn(spam_mod.model_text(markup.text)))[loaded.classes.index("spam")])
        model_only.append(p >= spam_mod.THRESHOLD)
        keep = 1.0
        for name in spam_mod.signals(r, len(markup.urls)):
            keep *= 1.0 - spam_mod.SIGNAL_WEIGHTS[name]
        signals_only.append(1.0 - keep >= spam_mod.THRESHOLD)
        combined.append(1.0 - keep * (1.0 - p) >= spam_mod.THRESHOLD)
    result = {
        "train": {"spam": len(spam_texts), "ham": len(ham_texts)},
        "signals only (baseline)": binary_scores(gold, signals_only),
        "model only": binary_scores(gold, model_only),
        "model + signals (shipped)": binary_scores(gold, combined),
    }
    for k, v in result.items():
        if k != "train":
            progress(
                f"spam      {k:26s} precision {v['precision']:.3f}  recall {v['recall']:.3f}  F1 {v['f1']:.3f}  (n={v['n']})"
            )
    return result


def train_emotion_command(
    data: list[Path] = [],  # noqa: B006 - typer reads the default
    only_data: bool = False,
    out: Path = DATA_DIR,
    test: Path | None = None,
    fast_only: bool = False,
) -> None:
    """``kefu social train-emotion [--data FILE.csv]… [--only-data] [--out DIR] [--test FILE.csv]
    [--fast-only]`` (mounted by social/cli.py)."""
    import typer

    try:
        train_emotion(
            data,
            ours=not only_data,
            out_dir=out,
            test=test or (EMOTION_TEST if not only_data else None),
            deep=not fast_only,
            progress=typer.echo,
        )
    except DataError as exc:
        raise typer.BadParameter(str(exc)) from None
