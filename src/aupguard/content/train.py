"""Train the spam/smishing classifier (build time only; needs scikit-learn).

    python -m aupguard.content.train            # rebuilds src/aupguard/content/model/spam-model.json

Training data, and nothing else:

* ``../shared/data/sms-spam-collection/train.tsv``: the first 30% of the SMS
  Spam Collection (Almeida et al. 2011), 1,672 messages. Its ``test.tsv`` is
  never read here: it is what `aupguard eval` reports on.
* ``data/corpus/written-train.tsv``: modern smishing, promotional and
  legitimate transactional messages written for this project. Its held-out
  sibling ``written-holdout.tsv`` is never read here either.

Model: L2-normalised binary features (`aupguard.content.features`), a linear
SVM (liblinear, C=0.5), and a Platt sigmoid fitted on 10-fold cross-validated
margins. Weighting the written examples up cost recall on the SMS corpus in
cross-validation without curing false positives on modern transactional
messages (those are handled in the pack: see rules/spam.yaml), so they count
once like the rest. Everything runs with a fixed seed, so the same data
gives the same file byte for byte (a test checks it). The model keeps the
weights and the words seen in training (for the out-of-domain confidence);
cross-validation figures and the recommended threshold go into its ``info``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from aupguard.content.classifier import Model
from aupguard.content.features import prepare, tagged, words
from aupguard.engine.normalise import normalise

__all__ = ["SEED", "read_labelled", "train"]

SEED = 20261123
WRITTEN_WEIGHT = 1.0
C = 0.5
ALLOWED_CV_FALSE_POSITIVES = 2
"""The operating threshold lets through at most this many of the SMS training ham in
cross-validation (2 of 1,435: 0.14%)."""
HIGH_MARGIN = 0.3
"""Above this margin the score alone decides, whatever else the message looks like."""
FOLDS = 10
_ROUND = 5
_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SMS = _ROOT.parent / "shared" / "data" / "sms-spam-collection" / "train.tsv"
DEFAULT_WRITTEN = _ROOT / "data" / "corpus" / "written-train.tsv"
DEFAULT_OUT = Path(__file__).resolve().parent / "model" / "spam-model.json"


def read_labelled(path: Path) -> list[tuple[bool, str]]:
    """(is_spam, text) of a ``label<TAB>text`` file; labels are ``spam`` and ``ham``."""
    out = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab or label not in ("spam", "ham"):
            raise ValueError(f"{path}:{number}: expected spam|ham<TAB>text")
        out.append((label == "spam", text))
    return out


def _mcc(tp: int, fp: int, fn: int, tn: int) -> float:
    den = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / den if den else 0.0


def _cv_table(
    probabilities: Any, y: Any, g: Any, names: list[str], extra: Iterable[float]
) -> dict[str, Any]:
    """Recall, false-positive rate and MCC per training file at a few thresholds."""
    cv: dict[str, Any] = {}
    for threshold in sorted({0.3, 0.5, 0.7, 0.9, *extra}):
        row: dict[str, Any] = {}
        for group, name in enumerate(names):
            m = g == group
            pred = probabilities[m] >= threshold
            tp = int((pred & y[m]).sum())
            fp = int((pred & ~y[m]).sum())
            fn = int((~pred & y[m]).sum())
            tn = int((~pred & ~y[m]).sum())
            row[name] = {
                "recall": round(tp / max(1, tp + fn), 4),
                "false_positive_rate": round(fp / max(1, fp + tn), 4),
                "mcc": round(_mcc(tp, fp, fn, tn), 4),
            }
        cv[str(threshold)] = row
    return cv


def train(sources: Sequence[tuple[Path, float]]) -> Model:
    """Train on labelled files, each with a sample weight."""
    try:
        import numpy as np
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
        from sklearn.preprocessing import normalize
        from sklearn.svm import LinearSVC
    except ImportError:  # pragma: no cover - dev dependency
        raise SystemExit("training needs scikit-learn: pip install -e '.[dev]'") from None

    texts: list[str] = []
    labels: list[bool] = []
    weights: list[float] = []
    groups: list[int] = []
    for group, (path, weight) in enumerate(sources):
        for is_spam, text in read_labelled(path):
            texts.append(prepare(normalise(text)))
            labels.append(is_spam)
            weights.append(weight)
            groups.append(group)
    y = np.array(labels)
    w = np.array(weights)
    g = np.array(groups)
    vectorizer = CountVectorizer(analyzer=tagged, binary=True)
    matrix = normalize(vectorizer.fit_transform(texts).astype(np.float64))

    def fit(rows: Any) -> Any:
        return LinearSVC(C=C, random_state=SEED, max_iter=20_000).fit(
            matrix[rows], y[rows], sample_weight=w[rows]
        )

    margins = np.zeros(len(y))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    for train_rows, test_rows in folds.split(matrix, y * 2 + g):
        margins[test_rows] = fit(train_rows).decision_function(matrix[test_rows])
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(margins.reshape(-1, 1), y)
    a, b = -float(platt.coef_[0][0]), -float(platt.intercept_[0])
    probabilities = 1 / (1 + np.exp(a * margins + b))

    sms_ham = np.sort(margins[(g == 0) & ~y])
    # just above the highest ham score that must stay below the threshold
    operating = float(sms_ham[-(ALLOWED_CV_FALSE_POSITIVES + 1)])
    thresholds = {
        "threshold": math.ceil(float(1 / (1 + np.exp(a * operating + b))) * 1e4 + 1e-9) / 1e4,
        "threshold_high": round(float(1 / (1 + np.exp(a * HIGH_MARGIN + b))), 4),
    }
    cv = _cv_table(probabilities, y, g, [p.name for p, _ in sources], thresholds.values())

    model = fit(np.arange(len(y)))
    names = vectorizer.get_feature_names_out()
    chars: dict[str, float] = {}
    lexical: dict[str, float] = {}
    for name, weight in zip(names, model.coef_[0], strict=True):
        value = round(float(weight), _ROUND)
        if value == 0.0:
            continue
        (chars if name[0] == "c" else lexical)[name[1:]] = value
    vocabulary = {
        word for text in texts for word in words(text) if len(word) > 1 and word.isalpha()
    }
    info = {
        "trained_on": [
            {
                "file": p.name,
                "messages": int((g == i).sum()),
                "spam": int(y[g == i].sum()),
                "weight": wt,
            }
            for i, (p, wt) in enumerate(sources)
        ],
        "algorithm": f"linear SVM (liblinear), C={C}, L2-normalised binary features; "
        f"Platt sigmoid on {FOLDS}-fold cross-validated margins",
        "seed": SEED,
        "recommended": thresholds,
        "cross_validation": cv,
    }
    return Model(
        bias=round(float(model.intercept_[0]), _ROUND),
        platt_a=round(a, _ROUND),
        platt_b=round(b, _ROUND),
        chars=chars,
        lexical=lexical,
        vocabulary=frozenset(vocabulary),
        info=info,
    )


def write_model(model: Model, out: Path) -> None:
    out.write_text(
        json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms", type=Path, default=DEFAULT_SMS)
    parser.add_argument(
        "--written",
        type=Path,
        action="append",
        help="written examples (repeat for several files; default: data/corpus/written-train.tsv)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    written = args.written or [DEFAULT_WRITTEN]
    for path in (args.sms, *written):
        if not path.is_file():
            raise SystemExit(f"{path}: no such file")
    model = train([(args.sms, 1.0), *((w, WRITTEN_WEIGHT) for w in written)])
    write_model(model, args.out)
    print(json.dumps(model.info["cross_validation"], indent=1))
    print("recommended:", json.dumps(model.info["recommended"]))
    print(f"wrote {args.out}: {len(model.chars)} character and {len(model.lexical)} word weights")


if __name__ == "__main__":
    main()
