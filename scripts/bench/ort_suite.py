#!/usr/bin/env python3
"""ONNX Runtime side of the benchmark harness (see harness.py): encoder inference only.

ort_suite.py infer MODEL.onnx VOCAB 8x128 1x512 ... [--iters N]
ort_suite.py serve MODEL.onnx VOCAB   (single passes on request, see paired.py)
Prints one JSON object; seconds are medians over N timed runs after one warm-up run, and
best_seconds the fastest of them.
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort
from serve_passes import serve


def main():
    iters, pos = 3, []
    it = iter(sys.argv[1:])
    for a in it:
        if a == "--iters":
            iters = int(next(it))
        else:
            pos.append(a)
    what, path, vocab, shapes = pos[0], pos[1], int(pos[2]), pos[3:]
    if what not in ("infer", "serve"):
        sys.exit("ONNX Runtime runs inference only")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(os.environ.get("ORT_THREADS", "2"))
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    span = min(vocab - 10, 60000)

    def one_pass(spec):
        b, s = map(int, spec.split("x"))
        x = (np.arange(b * s, dtype=np.int64) * 7919 % span + 5).reshape(b, s)
        mask = np.ones_like(x)
        t = time.perf_counter()
        sess.run(None, {"input_ids": x, "attention_mask": mask})[0].sum()
        return time.perf_counter() - t

    if what == "serve":
        serve(one_pass)
        return
    out = {}
    for spec in shapes:
        b, s = map(int, spec.split("x"))
        times = [one_pass(spec) for _ in range(iters + 1)][1:]
        sec = statistics.median(times)
        out[f"infer {spec}"] = {"seconds": sec, "tokens_per_s": b * s / sec,
                                "best_seconds": min(times)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
