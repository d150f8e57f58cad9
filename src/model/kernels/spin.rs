//! Keeping the pool's threads awake through a forward pass.
//!
//! A forward pass is a hundred or so parallel regions with short serial stretches between
//! them. Between regions rayon's idle workers go to sleep, and each region wakes them again.
//! After the machine has been idle (a stream of requests with gaps between them), a pass whose
//! cores keep dropping into sleep runs slowly: measured on a 2-core VM, e5-small at b1 x s64
//! took 39 ms per pass with 0.5 s gaps between passes, against 26 ms back to back. ONNX
//! Runtime's workers spin between ops and show no such gap. [`with_spinning_pool`] makes
//! naba's do the same for the length of a pass.

use std::sync::atomic::{AtomicBool, Ordering};

/// Pause instructions between two looks for work of an idle spinning thread (about a
/// microsecond on Zen 3).
const IDLE_PAUSES: usize = 32;

/// Runs `f` on one of the pool's threads (this one if it is in the pool; a caller outside waits)
/// while the pool's other threads spin, looking for work (rayon's parallel regions inside `f`)
/// instead of sleeping between regions. They stop when `f` returns. With one thread it just
/// runs `f`. So there are as many busy threads as the pool has, never more: a caller outside the
/// pool does not compete with spinning threads for the cores.
pub fn with_spinning_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let threads = rayon::current_num_threads();
    if threads < 2 {
        return f();
    }
    let done = AtomicBool::new(false);
    rayon::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|_| {
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        // look again in a microsecond or so: polling the other threads' queues
                        // without a pause slows their own pushes and pops
                        for _ in 0..IDLE_PAUSES {
                            std::hint::spin_loop();
                        }
                    }
                }
            });
        }
        // set on the way out, unwinding included: a panic in `f` must not leave the spinners
        // spinning and the scope waiting for them forever
        let _stop = StopOnDrop(&done);
        f()
    })
}

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn parallel_work_inside_runs_to_completion_and_the_spinners_stop() {
        // parallel regions inside, as a forward pass has, and a value out
        let sum = with_spinning_pool(|| {
            (0..50)
                .map(|i| (0..10_000u64).into_par_iter().map(|x| x * i).sum::<u64>())
                .sum::<u64>()
        });
        let want: u64 = (0..50).map(|i| i * (0..10_000u64).sum::<u64>()).sum();
        assert_eq!(sum, want);
        // and from inside the pool, as naba's binary runs when a pool thread calls it
        let inner: u64 =
            rayon::scope(|_| with_spinning_pool(|| (0..1000u64).into_par_iter().sum::<u64>()));
        assert_eq!(inner, (0..1000u64).sum::<u64>());
    }

    #[test]
    fn a_panic_inside_reaches_the_caller_instead_of_hanging() {
        let caught = std::panic::catch_unwind(|| {
            with_spinning_pool(|| -> u64 { panic!("inside the pass") })
        });
        let message = caught.expect_err("the panic is propagated");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"inside the pass"));
    }
}
