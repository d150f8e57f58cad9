#!/usr/bin/env python3
"""Embedding benchmark: naba vs PyTorch + transformers on the same machine, interleaved.

For each engine and each repeat, two fresh processes run: one embeds 1 sentence (cold load to
first embedding: wall time and peak RSS), one embeds N sentences; throughput is
(N - 1) / (t_N - t_1) sentences/s. Both use 2 threads, mean pooling, max_len 512, sentences in
length-sorted batches (naba: token budget; PyTorch: batches of 32 sorted by length).

Usage: .venv/bin/python scripts/bench_embed.py [--model DIR] [--n 1000] [--repeats 3]
Needs: torch, transformers (.venv), a built naba (cargo build --release), ANERcorp test sentences.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TORCH_SCRIPT = r'''
import sys, time, torch
torch.set_num_threads(2)
from transformers import AutoModel
from tokenizers import Tokenizer
model_dir, path = sys.argv[1], sys.argv[2]
texts = [l.rstrip("\n") for l in open(path, encoding="utf-8") if l.strip()]
tok = Tokenizer.from_file(model_dir + "/tokenizer.json")
tok.enable_truncation(512)
model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
encs = tok.encode_batch(texts)
order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
out = [None] * len(texts)
with torch.inference_mode():
    for s in range(0, len(order), 32):
        idx = order[s:s + 32]
        width = max(len(encs[i].ids) for i in idx)
        ids = torch.ones((len(idx), width), dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for r, i in enumerate(idx):
            n = len(encs[i].ids)
            ids[r, :n] = torch.tensor(encs[i].ids)
            mask[r, :n] = 1
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
        for r, i in enumerate(idx):
            out[i] = e[r]
print(len(out), file=sys.stderr)
'''


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (seconds, peak RSS MB)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    rss_kb = int(p.stderr.strip().splitlines()[-1])
    return dt, rss_kb / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/naba/multilingual-e5-small"))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "datasets", "anercorp", "test.conll"))
    a = ap.parse_args()
    sents, cur = [], []
    for line in open(a.data, encoding="utf-8"):
        line = line.strip()
        if not line:
            if cur:
                sents.append(" ".join(cur))
            cur = []
        else:
            cur.append(line.split()[0])
    sents = sents[: a.n]
    tmp = tempfile.mkdtemp()
    one, many = os.path.join(tmp, "one.txt"), os.path.join(tmp, "many.txt")
    open(one, "w").write(sents[0] + "\n")
    open(many, "w").write("\n".join(sents) + "\n")
    script = os.path.join(tmp, "torch_embed.py")
    open(script, "w").write(TORCH_SCRIPT)
    naba = os.path.join(ROOT, "target", "release", "naba")
    py = os.path.join(ROOT, ".venv", "bin", "python")
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2", RAYON_NUM_THREADS="2")
    engines = {
        "naba": lambda f: [naba, "--threads", "2", "embed", "--model", a.model, "--input", f],
        "pytorch": lambda f: [py, script, a.model, f],
    }
    res = {k: {"load": [], "rss": [], "many": [], "rss_many": []} for k in engines}
    for r in range(a.repeats):
        for name, cmd in engines.items():  # interleaved
            t1, rss1 = timed(cmd(one), env)
            tn, rssn = timed(cmd(many), env)
            res[name]["load"].append(t1)
            res[name]["rss"].append(rss1)
            res[name]["many"].append(tn - t1)
            res[name]["rss_many"].append(rssn)
            print(f"repeat {r} {name}: first embedding {t1:.2f}s ({rss1:.0f} MB), {len(sents)} sentences {tn:.2f}s", file=sys.stderr)
    tokens = sum(len(s.split()) for s in sents)
    rows = []
    for name, v in res.items():
        rows.append((name, statistics.median(v["load"]), statistics.median(v["rss"]),
                     (len(sents) - 1) / statistics.median(v["many"]), statistics.median(v["rss_many"])))
    print(f"\n{len(sents)} ANERcorp test sentences ({tokens} words), 2 threads, medians of {a.repeats}\n")
    print("| engine | cold load to first embedding | peak RSS (1 sentence) | sentences/s | peak RSS (all) |")
    print("|---|---|---|---|---|")
    for n, load, rss, thr, rssn in rows:
        print(f"| {n} | {load:.2f} s | {rss:.0f} MB | {thr:.1f} | {rssn:.0f} MB |")
    base = dict((r[0], r) for r in rows)
    print(f"\nnaba / pytorch: load {base['naba'][1] / base['pytorch'][1]:.2f}x time, throughput {base['naba'][3] / base['pytorch'][3]:.2f}x")


if __name__ == "__main__":
    main()
