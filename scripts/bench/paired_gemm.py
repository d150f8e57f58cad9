#!/usr/bin/env python3
"""naba's gemm against ONNX Runtime's MatMul (MLAS), in one process, call by call.

`ort_matmul.py` and `examples/bench_gemm.rs` time the two engines in separate processes, minutes
apart, and this machine moves by 10-30% from one spell to the next, so their figures cannot tell
a 10% gap from none. Here naba's gemm is loaded into the Python process (the C ABI of
`examples/gemm_ffi.rs`) beside an ONNX Runtime session, and the engines take turns call by call,
the order rotating every round: the two calls of a ratio run milliseconds apart.

Each timed call follows an untimed one of the same engine (warm caches, as inside a model's
layer loop), or, with --cold, a sweep over 64 MB that evicts both engines' data. ONNX Runtime's
workers do not spin (`session.intra_op.allow_spinning` 0), so that they leave the cores to
naba's between calls. With --baseline LIB, another naba build (the same example built at
another commit or with other constants) joins the rotation (with --integer, its integer products
too); repeat it for several. With
--integer, naba's integer products join as `naba-i16` (`--quantize i16`: 16-bit weights and
activations) and `naba-i8` (`--quantize i8`: 7-bit weights, byte activations with zero points),
and ONNX Runtime's dynamically quantised MatMul (`quantize_dynamic`, int8 weights per column,
uint8 activations) as `ort-int8`, each compared with the f32 engines and with each other.

Per shape: median GFLOP/s of each engine and the median with quartiles of the per-round ratios.

Usage: .venv/bin/python scripts/bench/paired_gemm.py [--threads 2] [--rounds 20]
       [--shapes 512x2304x768,...] [--cold] [--baseline OTHER_libgemm_ffi.so ...] [--integer]
(builds `cargo build --release --example gemm_ffi` first)
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import time

import numpy as np

from ort_matmul import matmul_session

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "target", "release", "examples", "libgemm_ffi.so")
# (m, n, k): e5-small's projections at 512 and 1,024 rows, then BERT-base's at 512 and 2,048
SHAPES = "512x1152x384,512x1536x384,512x384x1536,1024x1152x384,512x2304x768,512x3072x768,512x768x3072,2048x2304x768"


def naba_lib(path, threads):
    lib = ctypes.CDLL(path)
    lib.naba_pack.restype = ctypes.c_void_p
    lib.naba_pack.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
    lib.naba_gemm.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    lib.naba_threads.argtypes = [ctypes.c_size_t]
    lib.naba_free.argtypes = [ctypes.c_void_p]
    if hasattr(lib, "naba_pack_format"):
        lib.naba_pack_format.restype = ctypes.c_void_p
        lib.naba_pack_format.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_uint32]
    lib.naba_threads(threads)
    return lib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--shapes", default=SHAPES)
    ap.add_argument("--cold", action="store_true", help="evict the caches before every timed call")
    ap.add_argument("--baseline", action="append", default=[],
                    help="another naba build's libgemm_ffi.so (repeat for several; each is named by its file name)")
    ap.add_argument("--integer", "--int16", action="store_true",
                    help="add naba's integer products and ONNX Runtime's dynamically quantised MatMul")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "gemm_ffi"], cwd=ROOT, check=True)
    libs = {"naba": naba_lib(LIB, a.threads)}
    for path in a.baseline:
        name = "baseline" if len(a.baseline) == 1 else os.path.basename(path).removesuffix(".so")
        libs[name] = naba_lib(path, a.threads)
    # engines: name -> (library, packing format); ONNX Runtime's are sessions
    engines = {name: (lib, 0) for name, lib in libs.items()}
    integer = ["naba-i16", "naba-i8"] if a.integer else []
    for fmt, name in enumerate(integer, start=1):
        engines[name] = (libs["naba"], fmt)
        for base in list(libs)[1:]:
            engines[f"{base}{name.removeprefix('naba')}"] = (libs[base], fmt)
    names = ["onnxruntime"] + (["ort-int8"] if a.integer else []) + list(engines)
    evict = np.zeros(16 << 20, dtype=np.float32)
    subjects = ["naba"] + integer
    pairs = [(s, o) for s in subjects for o in names if o != s and not (o in subjects and subjects.index(o) > subjects.index(s))]
    print(f"{a.threads} threads, {a.rounds} rounds, {'cold' if a.cold else 'warm'} caches\n")
    print("| m x n x k | " + " | ".join(f"{e} GFLOP/s" for e in names) + " | " +
          " | ".join(f"{s} / {o} (quartiles)" for s, o in pairs) + " |")
    print("|---" * (1 + len(names) + len(pairs)) + "|")
    for spec in a.shapes.split(","):
        m, n, k = map(int, spec.split("x"))
        rng = np.random.default_rng(0)
        w = rng.random((k, n), dtype=np.float32) - 0.5
        x = rng.random((m, k), dtype=np.float32) - 0.5
        sessions = {"onnxruntime": matmul_session(w, a.threads, "m", spinning=False)}
        if a.integer:
            sessions["ort-int8"] = matmul_session(w, a.threads, "m", spinning=False, quantized=True)
        w_rows = np.ascontiguousarray(w.T)  # [n, k], as naba packs it
        packed = {e: lib.naba_pack_format(w_rows.ctypes.data, n, k, fmt) if fmt else lib.naba_pack(w_rows.ctypes.data, n, k)
                  for e, (lib, fmt) in engines.items()}
        expected = sessions["onnxruntime"].run(None, {"a": x})[0]
        scale = abs(expected).max()
        got = {}
        for e, (lib, fmt) in engines.items():
            got[e] = np.empty((m, n), dtype=np.float32)
            lib.naba_gemm(packed[e], x.ctypes.data, m, got[e].ctypes.data)
            tol = [1e-3, 1e-3 * scale, 3e-2 * scale][fmt]
            assert np.allclose(got[e], expected, atol=tol), f"{e}: {abs(got[e] - expected).max()} off"
        if a.integer:
            got["ort-int8"] = sessions["ort-int8"].run(None, {"a": x})[0]
            print(f"<!-- {m}x{n}x{k}: largest error / largest output: " +
                  ", ".join(f"{e} {abs(got[e] - expected).max() / scale:.1e}" for e in integer + ["ort-int8"]) +
                  " -->", flush=True)

        def call(e):
            if e in sessions:
                sessions[e].run(None, {"a": x})
            else:
                engines[e][0].naba_gemm(packed[e], x.ctypes.data, m, None)

        def timed(e):
            if a.cold:
                evict[::16] += 1.0
            else:
                call(e)
            t = time.perf_counter()
            call(e)
            return time.perf_counter() - t

        secs = {e: [] for e in names}
        for r in range(a.rounds):
            for e in names[r % len(names):] + names[:r % len(names)]:
                secs[e].append(timed(e))
        flops = 2.0 * m * n * k
        cells = [f"{flops / statistics.median(secs[e]) / 1e9:.1f}" for e in names]
        for subject, other in pairs:
            q = statistics.quantiles([o / s for s, o in zip(secs[subject], secs[other])], n=4)
            cells.append(f"**{q[1]:.2f}x** ({q[0]:.2f}-{q[2]:.2f})")
        print(f"| {m} x {n} x {k} | " + " | ".join(cells) + " |", flush=True)
        for e, (lib, _) in engines.items():
            lib.naba_free(packed[e])


if __name__ == "__main__":
    main()
