#!/usr/bin/env python3
"""Encoder inference of naba, ONNX Runtime and PyTorch, paired pass by pass.

Each engine is one long-lived process (`serve` mode of bench_suite, ort_suite.py and
torch_suite.py) that runs a single forward pass when asked and answers with its seconds, timed
inside the process. The engines take turns pass by pass (the order rotates every round), so
passes a ratio compares ran within a second or two of each other: a slow spell of this shared
machine, which lasts seconds to minutes, hits both sides of a ratio alike. The harness's
process-per-repeat figures cannot separate engines closer than that noise (an A/A run of one
engine spans 0.82-1.12 there); these ratios can.

Before each timed pass the script waits PAUSE seconds, so that the engine that ran before has
stopped spinning: ONNX Runtime's idle workers spin for 20-50 ms after a pass by default, and
an engine timed within that window shares the cores with them. Measured (e5-small, b1 x s512):
PyTorch's pass took 409 ms right after ONNX Runtime's and 323-339 ms 50-200 ms later; naba's
251 ms right after PyTorch's and 236-241 ms after a pause. Without the pause, the fixed cyclic
order put PyTorch after ONNX Runtime in every round (runs before session 16).

Per shape: median tokens/s of each engine, and the median with its quartiles of the per-round
ratios naba / other. Warm-up: every engine runs every shape twice before timing. The engines are
started afresh for each of --sessions sessions: a process keeps for its whole life whatever luck
it had in where its buffers landed (two identical naba builds, paired in one session, differed
by up to 10% from run to run), and fresh processes average that out.

With --baseline, a second naba build (another bench_suite binary, e.g. from a worktree of an
earlier commit) joins the rotation, and the table gains naba / baseline: how a change moved
naba's speed, measured the same way (with --quantize, the baseline's quantised modes join too, as
`baseline-Q`). With --quantize Q (q8, q4, i16, i8; several comma-separated), naba with
`--quantize Q` joins as `naba-Q`, compared with every other engine, and so does ONNX Runtime on
the model dynamically quantised by `onnxruntime.quantization.quantize_dynamic` (int8 weights per
channel, uint8 activations quantised per call: what ONNX Runtime recommends for transformers on
CPU), as `ort-int8` (the quantised model is written next to the f32 one once).

Usage: .venv/bin/python scripts/bench/paired.py [--rounds 10] [--sessions 3] [--models e5,bert-base]
       [--shapes 8x128,1x512,32x64] [--baseline BENCH_SUITE] [--quantize i16,i8] [--out bench/PAIRED.md]
Needs what harness.py needs (run it once first: it exports the ONNX models).
"""
import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import E5, ENV, PY, ROOT, SUITE, versions, write_report  # noqa: E402

MODELS = {"e5": (E5, os.path.join(ROOT, "bench", ".models", "e5-onnx", "model.onnx"), 250002),
          "bert-base": (os.path.join(ROOT, "bench", ".models", "bert-base-64k"),
                        os.path.join(ROOT, "bench", ".models", "bert-base-64k", "model.onnx"), 64000)}
# seconds of idle before each timed pass: longer than the engines' idle spinning (see above)
PAUSE = 0.1

OTHERS = {"onnxruntime": "ORT", "pytorch": "PyTorch", "baseline": "baseline", "ort-int8": "ORT int8"}


def int8_model(onnx_path):
    """The ONNX model after `quantize_dynamic` (made once, next to it)."""
    out = onnx_path.removesuffix(".onnx") + ".int8.onnx"
    if not os.path.exists(out):
        from ort_matmul import quantize_int8
        quantize_int8(onnx_path, out + ".tmp")
        os.replace(out + ".tmp", out)
    return out


class Engine:
    """One serving process: ask(shape) -> seconds of one pass."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV)

    def ask(self, request):
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"engine {self.proc.args} ended: exit status {self.proc.wait()}")
        return float(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def run_model(name, rounds, sessions, shapes, baseline, quantize=()):
    mdir, onnx, vocab = MODELS[name]
    commands = {
        "naba": [SUITE, "serve", mdir],
        "onnxruntime": [PY, os.path.join(HERE, "ort_suite.py"), "serve", onnx, str(vocab)],
        "pytorch": [PY, os.path.join(HERE, "torch_suite.py"), "serve", mdir],
    }
    if baseline:
        commands["baseline"] = [baseline, "serve", mdir]
    for q in quantize:
        commands[f"naba-{q}"] = [SUITE, "serve", mdir, "--quantize", q]
        if baseline:
            commands[f"baseline-{q}"] = [baseline, "serve", mdir, "--quantize", q]
    if quantize:
        commands["ort-int8"] = [PY, os.path.join(HERE, "ort_suite.py"), "serve", int8_model(onnx), str(vocab)]
    names = list(commands)
    secs = {(e, s): [] for e in names for s in shapes}
    rss = {e: 0.0 for e in names}
    for session in range(sessions):
        # fresh processes each session: where a process's buffers land in memory can make it a
        # few percent faster or slower for its whole life, so one session alone would keep that
        engines = {e: Engine(cmd) for e, cmd in commands.items()}
        for _ in range(2):
            for shape in shapes:
                for e in engines.values():
                    e.ask(shape)
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for shape in shapes:
                for e in order:
                    time.sleep(PAUSE)
                    secs[(e, shape)].append(engines[e].ask(shape))
            print(f"{name} session {session + 1}/{sessions} round {r + 1}/{rounds}", file=sys.stderr, flush=True)
        for e in names:
            rss[e] = max(rss[e], engines[e].ask("rss"))
            engines[e].close()
    subjects = ["naba"] + [f"naba-{q}" for q in quantize]
    pairs = [(s, o) for i, s in enumerate(subjects) for o in names if o != s and o not in subjects[:i]]
    label = {**OTHERS, **{s: s for s in subjects}}
    lines = [f"## {name}", "",
             "| shape | " + " | ".join(f"{e} tokens/s" for e in names) + " | " +
             " | ".join(f"{s} / {label.get(o, o)} (quartiles)" for s, o in pairs) + " |",
             "|---" * (1 + len(names) + len(pairs)) + "|"]
    for s in shapes:
        b, n = map(int, s.split("x"))
        cells = [f"{b * n / statistics.median(secs[(e, s)]):.0f}" for e in names]
        for subject, other in pairs:
            lo, mid, hi = quartiles([o / x for x, o in zip(secs[(subject, s)], secs[(other, s)])])
            cells.append(f"**{mid:.2f}x** ({lo:.2f}-{hi:.2f})")
        lines.append(f"| b{b} x s{n} | " + " | ".join(cells) + " |")
    lines += ["", "Peak RSS of the serving processes: " +
              ", ".join(f"{e} {rss[e]:.0f} MB" for e in names) + ".", ""]
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10, help="rounds per session")
    ap.add_argument("--sessions", type=int, default=3, help="fresh engine processes this many times")
    ap.add_argument("--models", default="e5,bert-base")
    ap.add_argument("--shapes", default="8x128,1x512,32x64")
    ap.add_argument("--baseline", help="another naba bench_suite binary to pair with this one")
    ap.add_argument("--quantize", default="",
                    help="also run naba with --quantize Q (q8, q4, i16, i8; several comma-separated)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "PAIRED.md"))
    a = ap.parse_args()
    shapes = a.shapes.split(",")
    v, rev, cpu = versions()
    lines = ["# Encoder inference, paired pass by pass", "",
             f"`{' '.join(['.venv/bin/python', 'scripts/bench/paired.py'] + sys.argv[1:])}`"
             f" — {datetime.date.today()}, naba {rev}, onnxruntime {v['onnxruntime']}, torch {v['torch']}; "
             f"{cpu}; 2 threads each; {a.sessions} sessions of fresh processes x {a.rounds} rounds, one pass per "
             "engine and shape each, the engines' order rotating. Ratios are per round (passes seconds apart), "
             "then their median and quartiles over all rounds.", ""]
    for name in a.models.split(","):
        lines += run_model(name, a.rounds, a.sessions, shapes, a.baseline, [q for q in a.quantize.split(",") if q])
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
