#!/usr/bin/env python3
"""How far quantised inference moves multilingual-e5-small's sentence vectors, for naba and for
ONNX Runtime side by side: each engine's quantised vectors against its own f32 ones, on the same
texts, tokenised, truncated and pooled the same way (`naba embed`'s mean pooling, no prefix).

naba runs `naba embed --quantize none|i16|i8` (and whatever --naba-modes lists); ONNX Runtime
runs the f32 export and its `quantize_dynamic` model (int8 weights per channel, uint8
activations per tensor; `bench/.models/e5-onnx/`, written by make_models.py / paired.py).
naba f32 against ONNX Runtime f32 is reported too: it checks that both sides pool the same
vectors, so that the quantised columns compare like with like.

Usage: .venv/bin/python scripts/bench/quant_fidelity.py [--texts 200] [--max-len 128]
       [--data ../shared/datasets/sanad-khaleej/dev.jsonl.gz] [--naba-modes i16,i8]
       [--out bench/FIDELITY.md]
Texts are the first N articles of --data (JSON Lines with a "text" field, .gz or not).
"""
import argparse
import datetime
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
E5 = os.path.expanduser("~/.cache/naba/multilingual-e5-small")
ONNX = os.path.join(ROOT, "bench", ".models", "e5-onnx")


def read_texts(path, n):
    opener = gzip.open if path.endswith(".gz") else open
    texts = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                # one text per line for `naba embed --input`
                texts.append(" ".join(json.loads(line)["text"].split()))
            if len(texts) == n:
                break
    return texts


def naba_vectors(texts, mode, max_len):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write("\n".join(texts) + "\n")
        path = f.name
    try:
        out = subprocess.run(
            [os.path.join(ROOT, "target", "release", "naba"), "--threads", "2", "embed",
             "--model", E5, "--max-len", str(max_len), "--quantize", mode, "--input", path],
            check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    return np.array([json.loads(line)["embedding"] for line in out.splitlines() if line.strip()])


def ort_vectors(texts, model, max_len):
    tok = tokenizers.Tokenizer.from_file(os.path.join(E5, "tokenizer.json"))
    tok.enable_truncation(max_len)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    out = []
    for text in texts:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        v = sess.run(None, feed)[0][0].mean(0)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=200)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "datasets", "sanad-khaleej", "dev.jsonl.gz"))
    ap.add_argument("--naba-modes", default="i16,i8")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "FIDELITY.md"))
    a = ap.parse_args()
    for need in (os.path.join(ONNX, "model.onnx"), os.path.join(ONNX, "model.int8.onnx"), E5):
        if not os.path.exists(need):
            sys.exit(f"missing {need}: run `naba model fetch-e5` and scripts/bench/make_models.py "
                     "(and paired.py --quantize i8 once, for the int8 model)")
    texts = read_texts(a.data, a.texts)
    naba_f32 = naba_vectors(texts, "none", a.max_len)
    ort_f32 = ort_vectors(texts, os.path.join(ONNX, "model.onnx"), a.max_len)
    rows = [("naba f32 vs ONNX Runtime f32 (same pooling?)", cosines(naba_f32, ort_f32))]
    for mode in filter(None, a.naba_modes.split(",")):
        rows.append((f"naba `--quantize {mode}` vs naba f32", cosines(naba_vectors(texts, mode, a.max_len), naba_f32)))
    ort_int8 = ort_vectors(texts, os.path.join(ONNX, "model.int8.onnx"), a.max_len)
    rows.append(("ONNX Runtime int8 (`quantize_dynamic`) vs ONNX Runtime f32", cosines(ort_int8, ort_f32)))
    lines = [
        "# Quantised sentence vectors against f32",
        "",
        f"`{' '.join(['.venv/bin/python', 'scripts/bench/quant_fidelity.py'] + sys.argv[1:])}` — "
        f"{datetime.date.today()}, multilingual-e5-small, the first {len(texts)} texts of "
        f"`{os.path.relpath(a.data, ROOT)}`, at most {a.max_len} tokens, mean pooling, no prefix. "
        "Cosine of each text's vector to the same engine's f32 vector; 1 - cosine is the error.",
        "",
        "| | cosine min | cosine mean | 1 - cosine, mean |",
        "|---|---|---|---|",
    ]
    for name, c in rows:
        error = 1 - c.mean()
        # f32 rounding can put a cosine of two equal vectors a hair above 1
        error = f"{error:.2e}" if error >= 1e-7 else "< 1e-7"
        lines.append(f"| {name} | {min(c.min(), 1):.6f} | {min(c.mean(), 1):.6f} | {error} |")
    report = "\n".join(lines) + "\n"
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(report)
    os.replace(tmp, a.out)
    print(report)


if __name__ == "__main__":
    main()
