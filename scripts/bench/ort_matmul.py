"""ONNX Runtime's MatMul on the encoder's projection shapes, for comparison with naba's gemm
(`cargo run --release --example bench_gemm`): best-of-N GFLOP/s of `C = A W` with W a constant
initializer (prepacked by ONNX Runtime, as naba prepacks its weights).

    .venv/bin/python scripts/bench/ort_matmul.py [THREADS] [REPEATS]
"""

import os
import sys
import time

import numpy as np
import onnxruntime as ort
import onnx
from onnx import TensorProto, helper, numpy_helper

# (m, n, k) as in examples/bench_gemm.rs
SHAPES = [(1024, 384, 384), (1024, 1152, 384), (1024, 1536, 384), (1024, 384, 1536),
          (512, 1152, 384), (512, 1536, 384), (512, 384, 1536), (2048, 1536, 384),
          (2048, 384, 1536), (512, 2304, 768), (512, 3072, 768), (512, 768, 3072), (1024, 2304, 768),
          (1024, 768, 3072)]


def quantize_int8(src, dst):
    """The ONNX model file `src` through `onnxruntime.quantization.quantize_dynamic` (int8
    weights per channel, uint8 activations quantised per call) into `dst`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True)


def quantize_dynamic_model(model):
    """`model` after `quantize_int8`."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "f32.onnx"), os.path.join(d, "int8.onnx")
        onnx.save(model, src)
        quantize_int8(src, dst)
        return onnx.load(dst)


def matmul_session(w, threads, rows, spinning=True, quantized=False):
    """An ONNX Runtime session of one MatMul `C = A w`, `w` (`[k, n]`) a constant initializer;
    `rows`: A's row count, or a name for a dynamic one; `spinning`: whether idle workers spin;
    `quantized`: the model through `quantize_dynamic` (int8 weights per column, uint8
    activations quantised per call, as ONNX Runtime's docs recommend for transformers on CPU)."""
    k, n = w.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "w"], ["c"])], "matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [rows, k])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [rows, n])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if quantized:
        model = quantize_dynamic_model(model)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    for m, n, k in SHAPES:
        w = np.random.default_rng(0).random((k, n), dtype=np.float32) - 0.5
        s = matmul_session(w, threads, m)
        a = np.random.default_rng(1).random((m, k), dtype=np.float32)
        s.run(None, {"a": a})
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            s.run(None, {"a": a})
            best = min(best, time.perf_counter() - t)
        print(f"{m:>5} x {n:>5} x {k:>5}: onnxruntime {2 * m * n * k / best / 1e9:6.1f} GFLOP/s")


if __name__ == "__main__":
    main()
