#!/usr/bin/env python3
"""naba vs PyTorch + transformers vs ONNX Runtime on this machine, in ONE interleaved run.

Cases (2 threads each, fresh process per engine, case group and repeat; engines alternate
within every repeat, so a slow spell of the machine hits them alike):
- encoder inference, tokens/s at b8 x s128, b1 x s512, b32 x s64 (naba, PyTorch, ONNX Runtime);
- one token-classification training step at b16 x s128: forward, backward, optimiser (naba with
  row-sparse lazy embedding updates, PyTorch AdamW with clipping);
  both on multilingual-e5-small and on a BERT-base-shaped model (random weights, vocab 64k);
- tokenisation of 10,000 SANAD articles (naba's tokenizers crate vs the `tokenizers` Python
  package, same tokenizer.json);
- end-to-end prediction on SANAD test articles (process start to last result) with a fine-tuned
  topic model: `naba predict` vs a transformers `pipeline`, and cold start (1 document);
- with --quantize Q (several comma-separated): encoder inference of naba with `--quantize Q`
  and of ONNX Runtime on the `quantize_dynamic` model (int8), in the same repeats, set against
  the f32 figures.
Every process's peak RSS is recorded. Each figure is the median over repeats; ratios are
computed within each repeat, then their median taken. Writes bench/RESULTS.md.

Usage: .venv/bin/python scripts/bench/harness.py [--repeats 5] [--iters 3] [--topic-model DIR]
       [--models e5,bert-base] [--train-models e5] [--predict-docs 200] [--tokenize-docs 10000]
       [--quantize i16,i8]
Needs: cargo build --release --example bench_suite && cargo build --release;
       .venv with torch, transformers, onnxruntime, onnx (scripts/bench/make_models.py runs first).
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = os.path.join(ROOT, ".venv", "bin", "python")
SUITE = os.path.join(ROOT, "target", "release", "examples", "bench_suite")
NABA = os.path.join(ROOT, "target", "release", "naba")
E5 = os.path.expanduser("~/.cache/naba/multilingual-e5-small")
SHARED = os.path.join(ROOT, "..", "shared", "datasets", "sanad-khaleej")
ENV = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2", RAYON_NUM_THREADS="2",
           TOKENIZERS_PARALLELISM="true")
SHAPES = ["8x128", "1x512", "32x64"]

PIPELINE = r'''
import json, sys, torch
torch.set_num_threads(2)
from transformers import PreTrainedTokenizerFast, pipeline
model_dir, path = sys.argv[1], sys.argv[2]
texts = [json.loads(l)["text"] for l in open(path, encoding="utf-8") if l.strip()]
# the folder's tokenizer.json (XLM-R Unigram for e5) with the special tokens naba saved
tok = PreTrainedTokenizerFast(tokenizer_file=model_dir + "/tokenizer.json", bos_token="<s>", eos_token="</s>",
                              unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>")
clf = pipeline("text-classification", model=model_dir, tokenizer=tok, device="cpu")
# the length naba's predict truncates to (the model's naba.max_len), so both read as many tokens
max_len = json.load(open(model_dir + "/config.json")).get("naba", {}).get("max_len", 128)
out = clf(texts, batch_size=16, truncation=True, max_length=max_len)
print(len(out), file=sys.stderr)
'''


def run(cmd):
    """Runs cmd under /usr/bin/time: (parsed JSON stdout or None, seconds, peak RSS MB)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, env=ENV)
    sec = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    rss = int(p.stderr.strip().splitlines()[-1]) / 1024
    out = p.stdout.strip().splitlines()
    data = json.loads(out[-1]) if out and out[-1].startswith("{") else None
    return data, sec, rss


def versions():
    import importlib.metadata as md
    v = {k: md.version(k) for k in ["torch", "transformers", "onnxruntime", "tokenizers"]}
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    isa = "AVX-512" if "avx512f" in flags else ("AVX2+FMA" if "avx2" in flags else "no AVX2")
    return v, rev, f"{cpu} ({os.cpu_count()} cores, {isa})"


def parse_log(path, runs_per_repeat):
    """(group, engine) -> [(data, seconds, rss)] from the progress lines of a run, complete repeats only."""
    pattern = re.compile(r"^repeat (\d+) (.+) ([\w-]+): ([\d.]+)s (\d+) MB ?(.*)$")
    by_repeat = {}
    for line in open(path, encoding="utf-8"):
        m = pattern.match(line.strip())
        if m:
            r, group, engine, sec, rss, data = m.groups()
            by_repeat.setdefault(int(r), []).append((group, engine, (json.loads(data) if data else None, float(sec), float(rss))))
    results = {}
    for r in sorted(by_repeat):
        if len(by_repeat[r]) == runs_per_repeat:
            for group, engine, res in by_repeat[r]:
                results.setdefault((group, engine), []).append(res)
    return results


EMPTY_ARG = '""'  # how an empty argument is written back in the table's command line


def write_report(path, lines):
    """Writes the markdown `lines` to `path` atomically (temp file + rename) and prints them."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)
    print("\n".join(lines))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--models", default="e5,bert-base")
    ap.add_argument("--topic-model", help="fine-tuned topic folder for the end-to-end case")
    ap.add_argument("--predict-docs", type=int, default=200)
    ap.add_argument("--tokenize-docs", type=int, default=10000)
    ap.add_argument("--quantize", default="", help="also run naba with --quantize Q (e.g. i16; several "
                    "comma-separated) and ONNX Runtime's dynamically quantised model (see paired.py)")
    ap.add_argument("--train-models", help="models for the training-step case (default: all of --models; '' = none)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    ap.add_argument("--from-log", help="rebuild the table from the progress lines of an earlier (or interrupted) "
                    "run, keeping its complete repeats; give the same case options")
    a = ap.parse_args()
    quantize = [q for q in a.quantize.split(",") if q]
    subprocess.run([PY, os.path.join(HERE, "make_models.py"), E5], check=True, env=ENV, capture_output=True)
    models = {"e5": (E5, os.path.join(ROOT, "bench", ".models", "e5-onnx", "model.onnx"), 250002),
              "bert-base": (os.path.join(ROOT, "bench", ".models", "bert-base-64k"),
                            os.path.join(ROOT, "bench", ".models", "bert-base-64k", "model.onnx"), 64000)}
    models = {k: v for k, v in models.items() if k in a.models.split(",")}
    tmp = tempfile.mkdtemp()
    # 10,000 SANAD training articles for tokenisation; test articles for end-to-end prediction
    tok_file, one_file, many_file = (os.path.join(tmp, n) for n in ["tok.jsonl", "one.jsonl", "many.jsonl"])
    with gzip.open(os.path.join(SHARED, "train.jsonl.gz"), "rt", encoding="utf-8") as f, open(tok_file, "w") as g:
        for i, line in zip(range(a.tokenize_docs), f):
            g.write(line)
    with gzip.open(os.path.join(SHARED, "test.jsonl.gz"), "rt", encoding="utf-8") as f:
        test = [l for _, l in zip(range(a.predict_docs), f)]
    open(one_file, "w").write(test[0])
    open(many_file, "w").writelines(test)
    pipe = os.path.join(tmp, "pipeline.py")
    open(pipe, "w").write(PIPELINE)

    groups = []  # (group name, {engine: command})
    for name, (mdir, onnx, vocab) in models.items():
        it = ["--iters", str(a.iters)]
        groups.append((f"{name} infer", {
            "naba": [SUITE, "infer", mdir, *SHAPES, *it],
            "pytorch": [PY, os.path.join(HERE, "torch_suite.py"), "infer", mdir, *SHAPES, *it],
            "onnxruntime": [PY, os.path.join(HERE, "ort_suite.py"), "infer", onnx, str(vocab), *SHAPES, *it]}))
        if quantize:
            from paired import int8_model
            groups.append((f"{name} infer quantized", {
                **{f"naba-{q}": [SUITE, "infer", mdir, *SHAPES, *it, "--quantize", q] for q in quantize},
                "ort-int8": [PY, os.path.join(HERE, "ort_suite.py"), "infer", int8_model(onnx), str(vocab),
                             *SHAPES, *it]}))
        if name in (a.models if a.train_models is None else a.train_models).split(","):
            groups.append((f"{name} train", {
                "naba": [SUITE, "train", mdir, "16x128", "--iters", "2"],
                "pytorch": [PY, os.path.join(HERE, "torch_suite.py"), "train", mdir, "16x128", "--iters", "2"]}))
    groups.append(("tokenize", {
        "naba": [SUITE, "tokenize", E5, tok_file],
        "pytorch": [PY, os.path.join(HERE, "torch_suite.py"), "tokenize", E5, tok_file]}))
    if a.topic_model:
        for label, f in [("predict 1", one_file), (f"predict {a.predict_docs}", many_file)]:
            groups.append((label, {
                "naba": [NABA, "--threads", "2", "predict", "--model", a.topic_model, "--input", f],
                "pytorch": [PY, pipe, a.topic_model, f]}))

    results = {}  # (group, engine) -> list of (data, seconds, rss)
    if a.from_log:
        results = parse_log(a.from_log, sum(len(e) for _, e in groups))
        a.repeats = len(next(iter(results.values()), []))
    for r in range(0 if a.from_log else a.repeats):
        for group, engines in groups:
            for engine, cmd in engines.items():
                res = run(cmd)
                results.setdefault((group, engine), []).append(res)
                print(f"repeat {r} {group} {engine}: {res[1]:.1f}s {res[2]:.0f} MB {json.dumps(res[0]) if res[0] else ''}",
                      file=sys.stderr, flush=True)

    v, rev, cpu = versions()
    lines = ["# Benchmark results", "",
             f"`{' '.join(['.venv/bin/python', 'scripts/bench/harness.py'] + [x or EMPTY_ARG for x in sys.argv[1:]])}` — {datetime.date.today()}, "
             f"naba {rev}, torch {v['torch']}, transformers {v['transformers']}, onnxruntime {v['onnxruntime']}, "
             f"tokenizers {v['tokenizers']}; {cpu}; 2 threads each; medians of {a.repeats} interleaved repeats "
             f"(inference: each repeat the median of {a.iters} runs after a warm-up). Ratios are taken within "
             "each repeat, then their median.", ""]

    def per_repeat(group, engine, key, field):
        return [d[key][field] for d, _, _ in results.get((group, engine), [])]

    def ratio(group, e1, e2, key, field, invert=False, group2=None):
        """Median over repeats of e1 / e2 (e2 from `group2` when given; inverted when `invert`)."""
        xs = per_repeat(group, e1, key, field)
        ys = per_repeat(group2 or group, e2, key, field)
        rs = [(y / x if invert else x / y) for x, y in zip(xs, ys)]
        return med(rs)

    for name in models:
        g = f"{name} infer"
        lines += [f"## Encoder inference, {name} (tokens/s; higher is better)", "",
                  "| shape | naba | PyTorch | ONNX Runtime | naba / PyTorch | naba / ORT |", "|---|---|---|---|---|---|"]
        for s in SHAPES:
            k = f"infer {s}"
            lines.append(f"| b{s.replace('x', ' x s')} | {med(per_repeat(g, 'naba', k, 'tokens_per_s')):.0f} | "
                         f"{med(per_repeat(g, 'pytorch', k, 'tokens_per_s')):.0f} | "
                         f"{med(per_repeat(g, 'onnxruntime', k, 'tokens_per_s')):.0f} | "
                         f"{ratio(g, 'naba', 'pytorch', k, 'tokens_per_s'):.2f}x | "
                         f"{ratio(g, 'naba', 'onnxruntime', k, 'tokens_per_s'):.2f}x |")
        rss = {e: med([x[2] for x in results.get((g, e), [])]) for e in ["naba", "pytorch", "onnxruntime"]}
        lines += ["", f"Peak RSS of the inference processes: naba {rss['naba']:.0f} MB, PyTorch {rss['pytorch']:.0f} MB, "
                  f"ONNX Runtime {rss['onnxruntime']:.0f} MB.", ""]
        q = f"{name} infer quantized"
        for nq in [f"naba-{x}" for x in quantize if (q, f"naba-{x}") in results]:
            lines += [f"## Quantised encoder inference, {name} (tokens/s; `{nq}` is naba with "
                      f"`--quantize {nq.removeprefix('naba-')}`, `ort-int8` ONNX Runtime on the `quantize_dynamic` model)", "",
                      f"| shape | {nq} | ort-int8 | {nq} / naba f32 | {nq} / ORT f32 | {nq} / PyTorch f32 | {nq} / ort-int8 |",
                      "|---|---|---|---|---|---|---|"]
            for s in SHAPES:
                k = f"infer {s}"
                lines.append(f"| b{s.replace('x', ' x s')} | {med(per_repeat(q, nq, k, 'tokens_per_s')):.0f} | "
                             f"{med(per_repeat(q, 'ort-int8', k, 'tokens_per_s')):.0f} | "
                             + " | ".join(f"{ratio(q, nq, e, k, 'tokens_per_s', group2=g2):.2f}x" for e, g2 in
                                          [("naba", g), ("onnxruntime", g), ("pytorch", g), ("ort-int8", q)]) + " |")
            rq = {e: med([x[2] for x in results[(q, e)]]) for e in [nq, "ort-int8"]}
            lines += ["", f"Peak RSS: {nq} {rq[nq]:.0f} MB, ort-int8 {rq['ort-int8']:.0f} MB.", ""]
        g = f"{name} train"
        if (g, "naba") in results:
            k = "train 16x128"
            lines += [f"## One NER training step, {name}, b16 x s128 (seconds; lower is better)", "",
                      "| | forward | backward | optimiser | step | peak RSS |", "|---|---|---|---|---|---|"]
            for e, label in [("naba", "naba"), ("pytorch", "PyTorch")]:
                lines.append(f"| {label} | " + " | ".join(f"{med(per_repeat(g, e, k, f)):.2f}" for f in
                             ["forward", "backward", "optimizer", "seconds"]) +
                             f" | {med([x[2] for x in results[(g, e)]]):.0f} MB |")
            lines += ["", f"naba step time / PyTorch: {ratio(g, 'naba', 'pytorch', k, 'seconds'):.2f}x "
                      "(below 1 = naba faster).", ""]
    g = "tokenize"
    lines += [f"## Tokenisation, {a.tokenize_docs:,} SANAD articles (multilingual-e5-small tokenizer.json)", "",
              "| | seconds | articles/s | tokens |", "|---|---|---|---|"]
    for e, label in [("naba", "naba (tokenizers pipeline, naba's Unigram model)"), ("pytorch", "tokenizers (Python)")]:
        lines.append(f"| {label} | {med(per_repeat(g, e, 'tokenize', 'seconds')):.2f} | "
                     f"{med(per_repeat(g, e, 'tokenize', 'docs_per_s')):.0f} | {per_repeat(g, e, 'tokenize', 'tokens')[0]} |")
    lines.append("")
    if a.topic_model:
        one, many = "predict 1", f"predict {a.predict_docs}"
        lines += [f"## End-to-end topic prediction, SANAD test ({a.topic_model})", "",
                  "| | cold start (1 article) | documents/s | peak RSS |", "|---|---|---|---|"]
        for e, label in [("naba", "`naba predict`"), ("pytorch", "transformers `pipeline`")]:
            t1 = [x[1] for x in results[(one, e)]]
            tn = [x[1] for x in results[(many, e)]]
            dps = med([(a.predict_docs - 1) / (n - o) for o, n in zip(t1, tn)])
            lines.append(f"| {label} | {med(t1):.2f} s | {dps:.1f} | {med([x[2] for x in results[(many, e)]]):.0f} MB |")
        lines += ["", "documents/s = (N - 1) / (t(N) - t(1)) per repeat (load time cancels out).", ""]
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
