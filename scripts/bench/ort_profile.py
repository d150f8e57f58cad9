#!/usr/bin/env python3
"""ONNX Runtime's time per op type for one encoder shape, to set beside examples/bench_layer.rs.

ort_profile.py MODEL.onnx BxS [RUNS]   (threads from ORT_THREADS, default 2)
Prints the optimised graph's op types and, per op type, the median per run in milliseconds.
"""
import collections
import json
import os
import re
import statistics
import sys
import tempfile

import numpy as np
import onnxruntime as ort


def main():
    path, spec = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    b, s = map(int, spec.split("x"))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(os.environ.get("ORT_THREADS", "2"))
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    tmp = tempfile.mkdtemp()
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(tmp, "ort")
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    x = (np.arange(b * s, dtype=np.int64) * 7919 % 60000 + 5).reshape(b, s)
    feed = {"input_ids": x, "attention_mask": np.ones_like(x)}
    for _ in range(runs + 1):
        sess.run(None, feed)
    events = json.load(open(sess.end_profiling()))
    # kernel events in order; a new run starts at each model_run event
    per_run, run = [], None
    for e in events:
        if e.get("cat") == "Session" and e["name"] == "model_run":
            continue
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            node = e["name"][: -len("_kernel_time")]
            if run is None or node in run:
                run = collections.defaultdict(float)
                per_run.append(run)
            run[node] += e["dur"] / 1e3
    per_run = per_run[1:]  # the warm-up
    groups = collections.defaultdict(list)
    for run in per_run:
        totals = collections.defaultdict(float)
        for node, ms in run.items():
            totals[group_of(node)] += ms
        for g, ms in totals.items():
            groups[g].append(ms)
    total = 0.0
    for g, vals in sorted(groups.items(), key=lambda kv: -statistics.median(kv[1])):
        med = statistics.median(vals)
        total += med
        print(f"{g:<40} {med:8.3f} ms per run")
    print(f"{'total':<40} {total:8.3f} ms per run ({len(per_run)} runs)")


def group_of(node):
    """A node name without its layer number: one line per kind of op across the 12 layers."""
    return re.sub(r"\d+", "N", node)


if __name__ == "__main__":
    main()
