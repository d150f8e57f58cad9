#!/usr/bin/env python3
"""Throughput of naba's normaliser next to CAMeL Tools' on the SANAD AlKhaleej test set.

Both normalise every article (field `text`, UTF-8 bytes counted) in memory, single-threaded:
CAMeL Tools with normalize_unicode, dediac_ar, normalize_alef_ar, normalize_alef_maksura_ar and
normalize_teh_marbuta_ar in that order, naba with the same five steps (and with presets) through
`examples/normalize_lines.rs --bench`. The load average is printed before and after, since the
numbers mean little on a busy machine.

    python3 scripts/bench_normalize.py [--rounds 3]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time

from camel_tools.utils.dediac import dediac_ar
from camel_tools.utils.normalize import (normalize_alef_ar, normalize_alef_maksura_ar,
                                         normalize_teh_marbuta_ar, normalize_unicode)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from normalize_vs_camel import ROOT, build_example  # noqa: E402

FIVE = "none+unicode_nfkc+remove_diacritics+unify_alef+alef_maksura_to_yeh+teh_marbuta_to_heh"


def camel_five(text):
    return normalize_teh_marbuta_ar(normalize_alef_maksura_ar(normalize_alef_ar(
        dediac_ar(normalize_unicode(text)))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "datasets",
                                                       "sanad-khaleej", "test.jsonl.gz"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with gzip.open(args.data, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    # naba reads one text per line: articles keep their inner lines as separate lines, which
    # changes nothing for these per-character steps.
    lines = [l for t in texts for l in t.split("\n")]
    data = "".join(l + "\n" for l in lines).encode("utf-8")
    size = sum(len(l.encode("utf-8")) for l in lines)
    print(f"SANAD test: {len(texts)} articles, {len(lines)} lines, {size / 1e6:.2f} MB of text")
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")

    example = build_example()
    results = []
    for spec, offsets in [(FIVE, False), (FIVE, True), ("arabert", False), ("arabert", True),
                          ("full", True)]:
        cmd = [example, spec, "--bench", str(args.rounds)] + (["--offsets"] if offsets else [])
        out = json.loads(subprocess.run(cmd, input=data, stdout=subprocess.PIPE,
                                        check=True).stdout)
        results.append((f"naba {spec if spec != FIVE else 'five CAMeL steps'}"
                        f"{' +offset map' if offsets else ''}", out["mb_per_s"]))

    # End to end through normalize_stream (what `naba normalize` does), stdin to a pipe.
    best = None
    for _ in range(args.rounds):
        started = time.perf_counter()
        subprocess.run([example, "arabert"], input=data, stdout=subprocess.DEVNULL, check=True)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    results.append(("naba arabert, normalize_stream stdin->stdout", size / 1e6 / best))

    best = None
    for _ in range(args.rounds):
        started = time.perf_counter()
        for line in lines:
            camel_five(line)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    results.append(("CAMeL Tools five steps", size / 1e6 / best))
    started = time.perf_counter()
    for line in lines:
        dediac_ar(line)
    results.append(("CAMeL Tools dediac_ar alone", size / 1e6 / (time.perf_counter() - started)))

    for name, mbs in results:
        print(f"{name:45} {mbs:9.1f} MB/s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
