#!/usr/bin/env python3
"""PyTorch + transformers side of the benchmark harness (see harness.py).

torch_suite.py infer MODEL_DIR 8x128 1x512 ... [--iters N]
torch_suite.py train MODEL_DIR 16x128 [--iters N]
torch_suite.py tokenize MODEL_DIR FILE.jsonl[.gz]
torch_suite.py serve MODEL_DIR   (single passes on request, see paired.py)
Prints one JSON object; seconds are medians over N timed runs after one warm-up run.
"""
import gzip
import json
import statistics
import sys
import time

import torch
from serve_passes import serve

torch.set_num_threads(2)


def ids(b, s, vocab):
    span = min(vocab - 10, 60000)
    return (torch.arange(b * s) * 7919 % span + 5).reshape(b, s)


def parse(argv):
    iters, pos = 3, []
    it = iter(argv)
    for a in it:
        if a == "--iters":
            iters = int(next(it))
        else:
            pos.append(a)
    return iters, pos


def encoder_pass(model_dir):
    """A function timing one forward pass of the encoder at a `BxS` shape, in seconds."""
    from transformers import AutoModel
    model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False).eval()

    def one_pass(spec):
        b, s = map(int, spec.split("x"))
        x = ids(b, s, model.config.vocab_size)
        mask = torch.ones_like(x)
        with torch.inference_mode():
            t = time.perf_counter()
            model(input_ids=x, attention_mask=mask).last_hidden_state.sum().item()
            return time.perf_counter() - t
    return one_pass


def infer(model_dir, shapes, iters):
    one_pass = encoder_pass(model_dir)
    out = {}
    for spec in shapes:
        b, s = map(int, spec.split("x"))
        times = [one_pass(spec) for _ in range(iters + 1)][1:]
        sec = statistics.median(times)
        out[f"infer {spec}"] = {"seconds": sec, "tokens_per_s": b * s / sec}
    return out


def train(model_dir, spec, iters):
    from transformers import AutoModelForTokenClassification
    b, s = map(int, spec.split("x"))
    model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=9).train()
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-5)
    x = ids(b, s, model.config.vocab_size)
    mask = torch.ones_like(x)
    labels = (torch.arange(b * s) % 9).reshape(b, s)
    parts = []
    for i in range(iters + 1):
        t0 = time.perf_counter()
        loss = model(input_ids=x, attention_mask=mask, labels=labels).loss
        loss.item()
        t1 = time.perf_counter()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        if i:
            parts.append((t1 - t0, t2 - t1, t3 - t2))
    f, bw, o = (statistics.median(p[k] for p in parts) for k in range(3))
    return {f"train {spec}": {"seconds": f + bw + o, "forward": f, "backward": bw, "optimizer": o}}


def tokenize(model_dir, path):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(model_dir + "/tokenizer.json")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        texts = [json.loads(l)["text"] for l in f if l.strip()]
    t = time.perf_counter()
    enc = tok.encode_batch(texts)
    sec = time.perf_counter() - t
    return {"tokenize": {"seconds": sec, "documents": len(texts), "tokens": sum(len(e.ids) for e in enc),
                         "docs_per_s": len(texts) / sec}}


def main():
    iters, pos = parse(sys.argv[1:])
    what, model_dir, rest = pos[0], pos[1], pos[2:]
    if what == "serve":
        # single passes on request, see paired.py
        serve(encoder_pass(model_dir))
        return
    if what == "infer":
        out = infer(model_dir, rest, iters)
    elif what == "train":
        out = train(model_dir, rest[0], iters)
    elif what == "tokenize":
        out = tokenize(model_dir, rest[0])
    else:
        sys.exit(f"unknown benchmark {what}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
