"""Accuracy of the language models against plain baselines, on data they were not trained on.

Run: .venv/bin/python benchmarks/language_models.py [--cv]   (needs ../shared/data; a few minutes)
- intents: the shipped model on our own test split vs char 1–3-gram TF-IDF + LR trained on the
  same (un-augmented) training file, both without rules;
- SMP2017-ECDT task 1 develop: our intent engine vs the char TF-IDF + LR baseline; with
  ``--cv`` also the engine's 5-fold cross-validated accuracy on SMP2017 train, the figure engine
  choices are made on (develop is never used to choose);
- sentiment: the shipped model on our weibo2018 held-out split vs char TF-IDF + LR.
"""

from __future__ import annotations

import json
import sys

from kefu.language import training
from kefu.language.evaluation import sentiment_heldout
from kefu.language.intents import intent_model


def intent_baseline() -> dict[str, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tr_t, tr_l = training.load_intent_csv(training.INTENT_TRAIN)
    te_t, te_l = training.load_intent_csv(training.INTENT_TEST)
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    x = vec.fit_transform([training.intent_text(t) for t in tr_t])
    clf = LogisticRegression(C=10, max_iter=3000).fit(x, tr_l)
    pred = clf.predict(vec.transform([training.intent_text(t) for t in te_t]))
    return training.scores(te_l, list(pred))


def main() -> None:
    model = intent_model()
    te_t, te_l = training.load_intent_csv(training.INTENT_TEST)
    model_only = training.predict(model, [training.intent_text(t) for t in te_t])
    report = {
        "intent_own_test_split": {
            "shipped (rules + model + threshold)": training.evaluate_intents(model),
            "shipped model alone": training.scores(te_l, model_only),
            "baseline char tfidf + LR": intent_baseline(),
        },
        "intent_out_of_domain_smp2017_develop": training.out_of_domain_rejection(model),
        "smp2017_develop": training.smp2017_yardstick(),
        "sentiment_weibo2018_heldout": {
            "shipped": sentiment_heldout(),
            "baseline char tfidf + LR": training.sentiment_baseline(),
        },
    }
    if "--cv" in sys.argv[1:]:
        report["smp2017_train_5fold_cv"] = training.smp2017_cross_validation()
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
