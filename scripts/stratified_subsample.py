#!/usr/bin/env python3
"""Writes a stratified subsample of a JSON Lines (.gz) file: PER_CLASS records of each label,
chosen with random.Random(SEED). Used for the windows-vs-truncation comparison in
docs/results.md:
  python3 scripts/stratified_subsample.py ../shared/datasets/sanad-khaleej/test.jsonl.gz 143 7 > /tmp/sanad_test_1k.jsonl
"""
import gzip
import json
import random
import sys


def main():
    path, per_class, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    opener = gzip.open if path.endswith(".gz") else open
    rows = [json.loads(line) for line in opener(path, "rt", encoding="utf-8") if line.strip()]
    by_label = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    rng = random.Random(seed)
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        for r in group[:per_class]:
            print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
