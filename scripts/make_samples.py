#!/usr/bin/env python3
"""Make the small committed dataset samples under datasets/ from the full sets in ../shared.

The samples let tests and examples run on real Arabic news text without the full corpora.
Every choice is deterministic (fixed seed), so rerunning this script reproduces the same files.

    python3 scripts/make_samples.py [--shared ../shared/datasets] [--out datasets]

SANAD (AlKhaleej): short articles only (< 1500 characters), 30 per class from train and
10 per class from dev (7 classes, balanced as the corpus is).
ASND: 200 posts from train and 60 from dev; each class gets a floor of a few posts and the
rest is shared out in proportion to class size, so the sample keeps the skew (politics ~half).
"""

import argparse
import gzip
import json
import random
from collections import defaultdict
from pathlib import Path

SEED = 20240611


def read_jsonl(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def by_label(records):
    groups = defaultdict(list)
    for r in records:
        groups[r["label"]].append(r)
    return dict(sorted(groups.items()))


def quotas(groups, total, floor):
    """Per-class counts: `floor` each (or all a class has), the rest in proportion to size
    (largest remainder, ties broken by label name)."""
    base = {k: min(floor, len(v)) for k, v in groups.items()}
    left = total - sum(base.values())
    spare = {k: len(v) - base[k] for k, v in groups.items()}
    pool = sum(spare.values())
    exact = {k: left * s / pool for k, s in spare.items()}
    extra = {k: int(x) for k, x in exact.items()}
    rest = left - sum(extra.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - extra[k]), k))[:rest]:
        extra[k] += 1
    return {k: base[k] + extra[k] for k in groups}


def sample(records, per_class, rng):
    """Pick per_class[label] records of each label; the output is shuffled."""
    chosen = []
    for label, group in by_label(records).items():
        group = sorted(group, key=lambda r: r["id"])
        chosen.extend(rng.sample(group, per_class[label]))
    rng.shuffle(chosen)
    return chosen


def write_jsonl(path: Path, records, fields):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps({k: r[k] for k in fields}, ensure_ascii=False) + "\n")
    print(f"{path}: {len(records)} documents")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parent.parent
    ap.add_argument("--shared", type=Path, default=root.parent / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=root / "datasets")
    args = ap.parse_args()
    rng = random.Random(SEED)

    sanad = args.shared / "sanad-khaleej"
    fields = ["id", "text", "label"]
    for split, per_class in [("train", 30), ("dev", 10)]:
        short = [r for r in read_jsonl(sanad / f"{split}.jsonl.gz") if len(r["text"]) < 1500]
        counts = {label: per_class for label in by_label(short)}
        write_jsonl(args.out / "sanad-sample" / f"{split}.jsonl", sample(short, counts, rng), fields)

    asnd = args.shared / "asnd"
    fields = ["id", "text", "label", "platform"]
    for split, total, floor in [("train", 200, 6), ("dev", 60, 3)]:
        records = read_jsonl(asnd / f"{split}.jsonl")
        counts = quotas(by_label(records), total, floor)
        write_jsonl(args.out / "asnd-sample" / f"{split}.jsonl", sample(records, counts, rng), fields)


if __name__ == "__main__":
    main()
