//! naba's packed-weight gemm behind a C ABI, so that `scripts/bench/paired_gemm.py` can call it
//! and ONNX Runtime's MatMul (or a second naba build) in one process, call by call: a slow spell
//! of the machine then hits both sides of a ratio alike.
//! `cargo build --release --example gemm_ffi` -> `target/release/examples/libgemm_ffi.so`.

use naba::model::sgemm::{matmul, PackedWeight, Start, WeightFormat};

/// A packed weight with its zero bias.
pub struct Weight {
    packed: PackedWeight,
    zeros: Vec<f32>,
}

/// Packs `w` (`[n, k]` row-major) into a [`Weight`] that [`naba_gemm`] takes.
///
/// # Safety
/// `w` must point to `n * k` floats.
#[no_mangle]
pub unsafe extern "C" fn naba_pack(w: *const f32, n: usize, k: usize) -> *mut Weight {
    naba_pack_format(w, n, k, 0)
}

/// [`naba_pack`] with the weight kept as f32 (`format` 0), as 16-bit integers for integer
/// products (`format` 1, `--quantize i16`) or as 7-bit ones (`format` 2, `--quantize i8`).
///
/// # Safety
/// `w` must point to `n * k` floats.
#[no_mangle]
pub unsafe extern "C" fn naba_pack_format(
    w: *const f32,
    n: usize,
    k: usize,
    format: u32,
) -> *mut Weight {
    let w = std::slice::from_raw_parts(w, n * k);
    let format = match format {
        0 => WeightFormat::F32,
        1 => WeightFormat::Int16,
        _ => WeightFormat::Int8,
    };
    Box::into_raw(Box::new(Weight {
        packed: PackedWeight::with_format(w, n, k, format),
        zeros: vec![0.0; n],
    }))
}

/// Frees a weight from [`naba_pack`].
///
/// # Safety
/// `w` from [`naba_pack`], not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn naba_free(w: *mut Weight) {
    drop(Box::from_raw(w));
}

/// `c = a w^T` for `a`: `[m, k]`, into a fresh output as ONNX Runtime's MatMul makes one, then
/// copied to `c` (`[m, n]`) when `c` is not null (to check the result; timed calls pass null).
///
/// # Safety
/// `w` from [`naba_pack`]; `a` must point to `m * k` floats, `c` (if not null) to `m * n`.
#[no_mangle]
pub unsafe extern "C" fn naba_gemm(w: *const Weight, a: *const f32, m: usize, c: *mut f32) {
    let w = &*w;
    let a = std::slice::from_raw_parts(a, m * w.packed.k());
    let out = matmul(a, m, &w.packed, Start::Bias(&w.zeros), |_| {});
    if !c.is_null() {
        std::ptr::copy_nonoverlapping(out.as_ptr(), c, out.len());
    }
}

/// Sets the size of rayon's global pool and the allocator settings naba's binary uses; call
/// before the first product.
#[no_mangle]
pub extern "C" fn naba_threads(n: usize) {
    naba::alloc::keep_freed_memory();
    // the caller is one of the pool's threads, as ONNX Runtime's caller is one of its own
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .use_current_thread()
        .build_global();
}
