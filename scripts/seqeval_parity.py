#!/usr/bin/env python3
"""Check that naba's entity scores equal seqeval's, figure by figure (to 1e-9).

The input is a CoNLL file with `token ... GOLD PRED` per line (blank line between sentences).
seqeval's numbers (default mode, and strict mode under every scheme) are computed here; naba's
come from `examples/entity_scores.rs` run on the same file. Both must agree on every per-type
and averaged precision / recall / F1 / support, and on which strict schemes reject the tags.

Usage:
  seqeval_parity.py PRED.conll                      # real predictions: token gold pred
  seqeval_parity.py --corrupt GOLD.conll [--seed 13 --rate 0.15] [--keep DIR]
        # no model yet: make predictions by corrupting the gold tags of a `token TAG` file,
        # then check that file and the same data converted to IOBES
  seqeval_parity.py --fuzz 3000 [--seed 7]          # random odd tag sequences (both prefix styles)
  seqeval_parity.py --make-fixture tests/metrics_seqeval_fixture.json
        # small random cases with seqeval's answers, for the Rust tests (no Python needed there)

naba is run as `cargo run --release --example entity_scores` (honours CARGO_TARGET_DIR), or as
the binary given with --naba-bin. Requires `pip install seqeval`.
"""

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import warnings

from seqeval.metrics import classification_report, f1_score
from seqeval.scheme import BILOU, IOB1, IOB2, IOBES, IOE1, IOE2

SCHEMES = {"IOB1": IOB1, "IOE1": IOE1, "IOB2": IOB2, "IOE2": IOE2, "IOBES": IOBES, "BILOU": BILOU}
INVISIBLE_MARKS = re.compile("[\u200e\u200f\u200b]")
TOLERANCE = 1e-9
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------- reading files
def read_columns(path):
    """Sentences of rows (lists of columns), with naba's CoNLL rules (see src/data/conll.rs)."""
    sentences, current = [], []
    with open(path, encoding="utf-8-sig") as handle:
        for line in handle.read().splitlines():
            fields = [f for f in re.split("[ \t]+", line) if f]
            if not fields or fields[0] == "-DOCSTART-":
                if current:
                    sentences.append(current)
                    current = []
                continue
            fields = [INVISIBLE_MARKS.sub("", f) for f in fields]
            if fields[0]:
                current.append(fields)
    if current:
        sentences.append(current)
    return sentences


def read_gold_pred(path):
    sentences = read_columns(path)
    gold = [[row[-2] for row in s] for s in sentences]
    pred = [[row[-1] for row in s] for s in sentences]
    return gold, pred


def write_gold_pred(path, tokens, gold, pred):
    with open(path, "w", encoding="utf-8") as handle:
        for toks, gs, ps in zip(tokens, gold, pred):
            for t, g, p in zip(toks, gs, ps):
                handle.write(f"{t} {g} {p}\n")
            handle.write("\n")


# ----------------------------------------------------------------------------- seqeval side
def seqeval_scores(gold, pred, suffix=False):
    """seqeval's report in every mode: {"default": {...}, "strict": {scheme: {...}}}."""
    out = {"default": seqeval_report(gold, pred, suffix, None), "strict": {}}
    for name, scheme in SCHEMES.items():
        out["strict"][name] = seqeval_report(gold, pred, suffix, scheme)
    return out


def seqeval_report(gold, pred, suffix, scheme):
    """classification_report(output_dict=True, zero_division=0) as {"per_type", "micro", ...},
    or {"error": ...} when seqeval raises."""
    kwargs = {"mode": "strict", "scheme": scheme} if scheme else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's mean of an empty array
            report = classification_report(gold, pred, output_dict=True, zero_division=0, suffix=suffix, **kwargs)
            micro_f1 = f1_score(gold, pred, average="micro", zero_division=0, suffix=suffix, **kwargs)
    except (ValueError, KeyError, IndexError) as error:
        return {"error": f"{type(error).__name__}: {error}"}

    def prf(row):
        return {"precision": float(row["precision"]), "recall": float(row["recall"]),
                "f1": float(row["f1-score"]), "support": int(row["support"])}

    averages = {"micro avg", "macro avg", "weighted avg"}
    result = {
        "per_type": {k: prf(v) for k, v in report.items() if k not in averages},
        "micro": prf(report["micro avg"]),
        "macro_avg": prf(report["macro avg"]),
        "weighted": prf(report["weighted avg"]),
    }
    assert same_number(result["micro"]["f1"], float(micro_f1)), "seqeval's f1_score disagrees with its report"
    return result


# ----------------------------------------------------------------------------- naba side
def naba_scores(path, args, suffix=False):
    if args.naba_bin:
        command = [args.naba_bin, path]
    else:
        command = ["cargo", "run", "--quiet", "--release", "--example", "entity_scores", "--", path]
    if suffix:
        command.append("--suffix")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"naba failed ({' '.join(command)}):\n{done.stderr}")
    return json.loads(done.stdout)


# ----------------------------------------------------------------------------- comparing
def same_number(a, b):
    if a is None or b is None:  # serde_json writes NaN as null
        a = math.nan if a is None else a
        b = math.nan if b is None else b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= TOLERANCE


def compare_report(label, ours, theirs, problems):
    """Append a line to `problems` for every figure that differs; return the figures compared."""
    if "error" in ours or "error" in theirs:
        if ("error" in ours) != ("error" in theirs):
            problems.append(f"{label}: naba {ours.get('error', 'ok')!r} vs seqeval {theirs.get('error', 'ok')!r}")
        return 0
    compared = 0
    if sorted(ours["per_type"]) != sorted(theirs["per_type"]):
        problems.append(f"{label}: types {sorted(ours['per_type'])} vs {sorted(theirs['per_type'])}")
        return compared
    rows = [(f"type {k}", ours["per_type"][k], theirs["per_type"][k]) for k in theirs["per_type"]]
    rows += [(k, ours[k], theirs[k]) for k in ("micro", "macro_avg", "weighted")]
    for name, a, b in rows:
        for field in ("precision", "recall", "f1", "support"):
            compared += 1
            if not same_number(a[field], b[field]):
                problems.append(f"{label} {name} {field}: naba {a[field]} vs seqeval {b[field]}")
    return compared


def check_file(path, args, suffix=False, quiet=False):
    gold, pred = read_gold_pred(path)
    theirs = seqeval_scores(gold, pred, suffix)
    ours = naba_scores(path, args, suffix)
    problems = []
    compared = compare_report("default", ours["default"], theirs["default"], problems)
    for name in SCHEMES:
        compared += compare_report(f"strict {name}", ours["strict"][name], theirs["strict"][name], problems)
    if not quiet:
        print(f"{path}: {len(gold)} sentences, {sum(map(len, gold))} tokens, suffix={suffix}")
        print_summary("default", theirs["default"])
        for name in SCHEMES:
            print_summary(f"strict {name}", theirs["strict"][name])
    status = "OK" if not problems else f"{len(problems)} MISMATCHES"
    print(f"parity {status}: {compared} figures compared (tolerance {TOLERANCE})")
    for line in problems[:30]:
        print("  " + line)
    return not problems


def print_summary(label, report):
    if "error" in report:
        print(f"  {label:<14} seqeval rejects the tags ({report['error'][:70]})")
        return
    m, a = report["micro"], report["macro_avg"]
    print(f"  {label:<14} micro P/R/F1 {m['precision']:.6f} {m['recall']:.6f} {m['f1']:.6f} "
          f"(support {m['support']}), macro F1 {a['f1']:.6f}, {len(report['per_type'])} types")


# ----------------------------------------------------------------------------- corruption
def corrupt(gold, rng, rate):
    """Predictions from gold IOB2 tags: ~`rate` of the tokens get one of the typical errors."""
    types = sorted({t[2:] for s in gold for t in s if t != "O"})
    pred = []
    for tags in gold:
        out = list(tags)
        for i, tag in enumerate(tags):
            if rng.random() >= rate:
                continue
            kind = tag[2:]
            other = rng.choice([t for t in types if t != kind] or types)
            if tag == "O":
                out[i] = rng.choice([f"I-{other}", f"B-{other}"])  # spurious entity, often I- without B-
            elif tag.startswith("B-"):
                out[i] = rng.choice([f"B-{other}", "O", f"I-{kind}"])  # flip type, drop, B->I
            else:
                out[i] = rng.choice([f"I-{other}", "O", f"B-{kind}"])  # flip type, cut, split
        pred.append(out)
    return pred


def iob2_to_iobes(tags):
    """IOB2 (possibly broken: I- after O counts as a start) to IOBES."""
    starts = [t != "O" and (t.startswith("B-") or i == 0 or tags[i - 1][2:] != t[2:] or tags[i - 1] == "O")
              for i, t in enumerate(tags)]
    out = []
    for i, tag in enumerate(tags):
        if tag == "O":
            out.append("O")
            continue
        continues = i + 1 < len(tags) and tags[i + 1] != "O" and tags[i + 1][2:] == tag[2:] and not starts[i + 1]
        letter = ("B" if continues else "S") if starts[i] else ("I" if continues else "E")
        out.append(f"{letter}-{tag[2:]}")
    return out


def run_corrupt(args):
    sentences = read_columns(args.corrupt)
    tokens = [[row[0] for row in s] for s in sentences]
    gold = [[row[-1] for row in s] for s in sentences]
    pred = corrupt(gold, random.Random(args.seed), args.rate)
    changed = sum(g != p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    total = sum(map(len, gold))
    print(f"corrupted {changed} of {total} tags ({100 * changed / total:.1f}%), seed {args.seed}, rate {args.rate}")
    folder = args.keep or tempfile.mkdtemp(prefix="naba-parity-")
    os.makedirs(folder, exist_ok=True)
    iob2_path = os.path.join(folder, "pred-iob2.conll")
    iobes_path = os.path.join(folder, "pred-iobes.conll")
    write_gold_pred(iob2_path, tokens, gold, pred)
    write_gold_pred(iobes_path, tokens, [iob2_to_iobes(t) for t in gold], [iob2_to_iobes(t) for t in pred])
    ok = check_file(iob2_path, args)
    ok = check_file(iobes_path, args) and ok
    return ok


# ----------------------------------------------------------------------------- random cases
ODD_TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "L-LOC", "U-LOC", "I-ORG", "B-ORG",
            "E-ORG", "B", "I", "E", "S", "X", "PER", ".-PER", "I-", "B--LOC-", "B-PER-X", "U-PER", "O-PER",
            "B-شخص", "I-شخص", "ب-X"]


def suffix_style(tag):
    """B-PER -> PER-B; tags without a `-` stay as they are."""
    prefix, _, kind = tag.partition("-")
    return f"{kind}-{prefix}" if kind else tag


def random_pools(rng, suffix):
    """Tag pools: mostly valid ones (so strict schemes accept some cases) and an odd one."""
    pools = [["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"],
             ["O", "B-PER", "I-PER", "L-PER", "U-LOC"], ["O", "I-PER", "I-LOC", "E-PER"], ODD_TAGS]
    return [[suffix_style(t) for t in pool] for pool in pools] if suffix else pools


def random_case(rng, sentences, pool):
    """Random gold sentences (0 to 7 tags) and predictions that differ in ~30% of the tags."""
    gold = [[rng.choice(pool) for _ in range(rng.randint(0, 7))] for _ in range(sentences)]
    pred = [[rng.choice(pool) if rng.random() < 0.3 else t for t in s] for s in gold]
    return gold, pred


def run_fuzz(args):
    rng = random.Random(args.seed)
    ok = True
    folder = tempfile.mkdtemp(prefix="naba-fuzz-")
    for suffix in (False, True):
        for p, pool in enumerate(random_pools(rng, suffix)):
            gold, pred = random_case(rng, args.fuzz, pool)
            path = os.path.join(folder, f"fuzz-{int(suffix)}-{p}.conll")
            write_gold_pred(path, [["w"] * len(s) for s in gold], gold, pred)
            print(f"pool {p}, suffix={suffix}: ", end="")
            ok = check_file(path, args, suffix=suffix, quiet=True) and ok
    return ok


def compact(report):
    """A report as the fixture stores it: {"error": true} or rows [precision, recall, f1, support]
    (NaN written as null, as serde_json does)."""
    if "error" in report:
        return {"error": True}

    def row(r):
        return [None if math.isnan(r[k]) else r[k] for k in ("precision", "recall", "f1")] + [r["support"]]

    return {"per_type": {k: row(v) for k, v in report["per_type"].items()},
            "micro": row(report["micro"]), "macro_avg": row(report["macro_avg"]), "weighted": row(report["weighted"])}


def make_fixture(args):
    rng = random.Random(args.seed)
    cases = []
    for n in range(args.cases):
        suffix = n % 6 == 5
        pool = random_pools(rng, suffix)[n % 5]
        gold, pred = random_case(rng, rng.randint(1, 4), pool)
        scores = seqeval_scores(gold, pred, suffix)
        expected = {"default": compact(scores["default"])}
        expected.update({f"strict {k}": compact(v) for k, v in scores["strict"].items()})
        cases.append({"gold": gold, "pred": pred, "suffix": suffix, "expected": expected})
    with open(args.make_fixture, "w", encoding="utf-8") as handle:
        handle.write('{"generator":"scripts/seqeval_parity.py --make-fixture","seqeval":"1.2.2","cases":[\n')
        handle.write(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases))
        handle.write("\n]}\n")
    print(f"wrote {len(cases)} cases to {args.make_fixture}")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", help="CoNLL file with token, gold and predicted columns")
    parser.add_argument("--suffix", action="store_true", help="tags carry the prefix last (PER-B)")
    parser.add_argument("--corrupt", metavar="GOLD", help="make predictions by corrupting this `token TAG` file")
    parser.add_argument("--rate", type=float, default=0.15, help="share of tokens to corrupt (default 0.15)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", metavar="DIR", help="where to write the corrupted files (default: a temp dir)")
    parser.add_argument("--fuzz", type=int, metavar="N", help="check N random sentences per tag pool")
    parser.add_argument("--make-fixture", metavar="PATH", help="write random cases with seqeval's answers")
    parser.add_argument("--cases", type=int, default=100, help="number of fixture cases (default 100)")
    parser.add_argument("--naba-bin", help="prebuilt entity_scores binary instead of cargo run")
    args = parser.parse_args()
    if args.make_fixture:
        ok = make_fixture(args)
    elif args.corrupt:
        ok = run_corrupt(args)
    elif args.fuzz:
        ok = run_fuzz(args)
    elif args.file:
        ok = check_file(args.file, args, suffix=args.suffix)
    else:
        parser.error("give a file, --corrupt, --fuzz or --make-fixture")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
