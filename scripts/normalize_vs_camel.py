#!/usr/bin/env python3
"""Compare naba's Arabic normaliser with CAMeL Tools on ANERcorp and SANAD.

Every ANERcorp sentence (train + test, tokens joined by spaces) and the first N SANAD
AlKhaleej test articles (field `text`) are normalised by CAMeL Tools (`dediac_ar`,
`normalize_alef_ar`, `normalize_alef_maksura_ar`, `normalize_teh_marbuta_ar`,
`normalize_unicode`) and by naba (`cargo run --release --example normalize_lines -- SPEC`)
with the matching step(s), in the same order, and the outputs are compared.

Texts are fed to naba one line at a time (articles split at '\\n'); every compared step is
local to a line, and an article counts as differing when any of its lines differs.

    pip install --no-deps camel-tools && pip install emoji   # the utils need only `emoji`
    python3 scripts/normalize_vs_camel.py [--sanad 2000] [--golden datasets/text/camel_golden.tsv]
"""
import argparse
import collections
import gzip
import json
import os
import re
import subprocess
import sys
import unicodedata

from camel_tools.utils.dediac import dediac_ar
from camel_tools.utils.normalize import (normalize_alef_ar, normalize_alef_maksura_ar,
                                         normalize_teh_marbuta_ar, normalize_unicode)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def chain(*functions):
    def apply(text):
        for f in functions:
            text = f(text)
        return text
    return apply


# naba's documented departures from CAMeL Tools, written in Python, to check that every
# difference is one of them. (1) remove_diacritics also removes U+0653..U+065F and the Quranic
# marks U+06D6..U+06ED (the set; CAMeL's dediac_ar removes U+064B..U+0652 and U+0670).
NABA_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")


def naba_dediac(text):
    return NABA_DIACRITICS.sub("", text)


# (2) presentation_forms is NFKC on U+FB50..U+FDFF and U+FE70..U+FEFF only, char by char
# (no NFKC of other compatibility chars such as '…', no reordering of marks).
def naba_presentation_forms(text):
    return "".join(normalize_unicode(c) if 0xFB50 <= ord(c) <= 0xFDFF or 0xFE70 <= ord(c) <= 0xFEFF
                   else c for c in text)


CAMEL_FIVE = chain(normalize_unicode, dediac_ar, normalize_alef_ar, normalize_alef_maksura_ar,
                   normalize_teh_marbuta_ar)
# (name, naba spec, CAMeL Tools function applied in the same order, Python model of naba)
COMPARISONS = [
    ("dediac", "none+remove_diacritics", dediac_ar, naba_dediac),
    ("alef", "none+unify_alef", normalize_alef_ar, normalize_alef_ar),
    ("alef_maksura", "none+alef_maksura_to_yeh", normalize_alef_maksura_ar,
     normalize_alef_maksura_ar),
    ("teh_marbuta", "none+teh_marbuta_to_heh", normalize_teh_marbuta_ar,
     normalize_teh_marbuta_ar),
    ("unicode", "none+unicode_nfkc", normalize_unicode, normalize_unicode),
    ("presentation_forms", "none+presentation_forms", normalize_unicode,
     naba_presentation_forms),
    ("all_five",
     "none+unicode_nfkc+remove_diacritics+unify_alef+alef_maksura_to_yeh+teh_marbuta_to_heh",
     CAMEL_FIVE,
     chain(normalize_unicode, naba_dediac, normalize_alef_ar, normalize_alef_maksura_ar,
           normalize_teh_marbuta_ar)),
]
GOLDEN_SPEC = COMPARISONS[-1][1]


def load_anercorp(folder):
    sentences = []
    for split in ("train", "test"):
        tokens = []
        with open(os.path.join(folder, f"{split}.conll"), encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if parts:
                    tokens.append(parts[0])
                elif tokens:
                    sentences.append(" ".join(tokens))
                    tokens = []
        if tokens:
            sentences.append(" ".join(tokens))
    return sentences


def load_sanad(path, limit):
    texts = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if len(texts) == limit:
                break
            texts.append(json.loads(line)["text"])
    return texts


def build_example():
    """Builds the naba example once; returns the path of its executable."""
    out = subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--example", "normalize_lines",
         "--message-format=json"], stdout=subprocess.PIPE, check=True, cwd=ROOT).stdout
    for line in out.decode("utf-8").splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] == "normalize_lines":
            return msg["executable"]
    raise SystemExit("cargo did not report the normalize_lines executable")


EXAMPLE = None


def naba(spec, lines):
    """Normalises `lines` (no '\\n' inside) with the naba example; returns the output lines."""
    global EXAMPLE
    EXAMPLE = EXAMPLE or build_example()
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    out = subprocess.run([EXAMPLE, spec], input=data, stdout=subprocess.PIPE,
                         check=True).stdout.decode("utf-8")
    result = out.split("\n")
    assert result[-1] == "" and len(result) == len(lines) + 1, "line count changed"
    return result[:-1]


def char_delta(camel, ours):
    """Chars CAMeL output has more of (+) and naba output has more of (-)."""
    more = collections.Counter(camel)
    more.subtract(collections.Counter(ours))
    return {c: n for c, n in more.items() if n}


def describe(c):
    return f"U+{ord(c):04X} {unicodedata.name(c, '?')}"


def compare(corpus, texts, name, spec, camel_fn, model_fn):
    lines, owner = [], []
    for i, text in enumerate(texts):
        for line in text.split("\n"):
            lines.append(line)
            owner.append(i)
    ours = naba(spec, lines)
    differing, unexplained, delta, example = set(), set(), collections.Counter(), None
    for line, mine, i in zip(lines, ours, owner):
        theirs = camel_fn(line)
        if theirs != mine:
            differing.add(i)
            if model_fn(line) != mine:
                unexplained.add(i)
            changes = char_delta(theirs, mine)
            delta.update({f"{describe(c)} {'camel+' if n > 0 else 'naba+'}": abs(n)
                          for c, n in changes.items()})
            if not changes:
                delta["same chars, marks in another order (NFKC canonical ordering)"] += 1
            example = example or (line, theirs, mine)
    print(f"{corpus:10} {name:20} {len(texts):6} texts  {len(differing):5} differ"
          f"  {len(unexplained):5} unexplained")
    for what, n in delta.most_common(10):
        print(f"{'':12}{n:6}x {what}")
    return len(differing), len(unexplained), example


def write_golden(path, texts, limit):
    """Lines that exercise the steps, with CAMeL Tools' all-five output, where naba agrees."""
    interesting = [t for t in texts
                   if any(c in t for c in "\u064b\u064e\u064f\u0650\u0651\u0652أإآىة")
                   or any(0xFB50 <= ord(c) <= 0xFEFF for c in t)]
    picked = [t for t in interesting if "\t" not in t and len(t) < 400][:limit]
    ours = naba(GOLDEN_SPEC, picked)
    rows = [(t, CAMEL_FIVE(t)) for t, mine in zip(picked, ours) if CAMEL_FIVE(t) == mine]
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# spec\t{GOLDEN_SPEC}\n")
        for text, expected in rows:
            f.write(f"{text}\t{expected}\n")
    print(f"wrote {len(rows)} golden lines to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "datasets"))
    parser.add_argument("--sanad", type=int, default=2000, help="SANAD test articles to use")
    parser.add_argument("--golden", help="also write a golden TSV sample for the Rust tests")
    args = parser.parse_args()

    corpora = {
        "anercorp": load_anercorp(os.path.join(args.data, "anercorp")),
        "sanad": load_sanad(os.path.join(args.data, "sanad-khaleej", "test.jsonl.gz"), args.sanad),
    }
    total = total_unexplained = 0
    for corpus, texts in corpora.items():
        for name, spec, camel_fn, model_fn in COMPARISONS:
            n, unexplained, example = compare(corpus, texts, name, spec, camel_fn, model_fn)
            total += n
            total_unexplained += unexplained
            if example:
                line, theirs, mine = example
                i = next(k for k, (a, b) in enumerate(zip(theirs, mine)) if a != b) \
                    if any(a != b for a, b in zip(theirs, mine)) else min(len(theirs), len(mine))
                print(f"{'':12}first: camel {theirs[max(0, i-15):i+15]!r}")
                print(f"{'':12}       naba  {mine[max(0, i-15):i+15]!r}")
    print(f"total differing outputs: {total}, unexplained: {total_unexplained}")
    if args.golden:
        lines = corpora["anercorp"] + [l for t in corpora["sanad"] for l in t.split("\n")]
        presentation = [l for l in lines if any(0xFB50 <= ord(c) <= 0xFEFF for c in l)]
        sample = presentation + corpora["anercorp"][::40] + [
            l for t in corpora["sanad"][:300:3] for l in t.split("\n")[:2]]
        write_golden(args.golden, sample, 200)
    return 1 if total_unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
