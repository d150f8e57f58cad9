#!/usr/bin/env python3
"""TF-IDF (word 1-2 + char 2-4 grams) + linear SVM topic baseline, as quoted in the topic issue.

    .venv/bin/pip install scikit-learn
    .venv/bin/python scripts/tfidf_baseline.py ../shared/datasets/sanad-khaleej [--scores OUT_DIR]

Fits on train, prints accuracy / macro-F1 on dev and test; with --scores writes each split's
per-class decision scores as JSONL (id, gold, scores by label) for comparison with naba's models.
"""
import argparse
import gzip
import json
import os
import sys
import time


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def split_path(root, name):
    for ext in (".jsonl.gz", ".jsonl"):
        p = os.path.join(root, name + ext)
        if os.path.exists(p):
            return p
    sys.exit(f"no {name}.jsonl[.gz] in {root}")


def main():
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.svm import LinearSVC

    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--scores", help="write <split>.scores.jsonl here")
    ap.add_argument("--splits", default="dev,test")
    a = ap.parse_args()
    started = time.time()
    train = read(split_path(a.root, "train"))
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2)
    texts = [d["text"] for d in train]
    x = hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    svm = LinearSVC(C=1.0).fit(x, [d["label"] for d in train])
    print(f"fit on {len(train)} documents in {time.time() - started:.0f} s")
    for name in a.splits.split(","):
        docs = read(split_path(a.root, name))
        t = [d["text"] for d in docs]
        xs = hstack([word.transform(t), char.transform(t)]).tocsr()
        scores = svm.decision_function(xs)
        pred = svm.classes_[scores.argmax(1)]
        gold = [d["label"] for d in docs]
        print(
            f"{name}: accuracy {accuracy_score(gold, pred):.4f} "
            f"macro-F1 {f1_score(gold, pred, average='macro'):.4f} ({len(docs)} documents)"
        )
        if a.scores:
            os.makedirs(a.scores, exist_ok=True)
            with open(os.path.join(a.scores, f"{name}.scores.jsonl"), "w", encoding="utf-8") as f:
                for d, s in zip(docs, scores):
                    row = {"id": d.get("id"), "gold": d["label"]}
                    row["scores"] = {c: float(v) for c, v in zip(svm.classes_, s)}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"total {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
