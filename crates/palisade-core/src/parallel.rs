//! Independent jobs over every core: scoped threads take the next job from a shared counter
//! (so a slow job does not hold up a queue behind it) and results come back in job order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The number of worker threads to use by default: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Run `job(i)` for every `i` in `order` (a permutation of `0..order.len()`: the order jobs
/// start in) on up to `threads` threads. Result `i` is in slot `i`. Once a result makes
/// `stop` true no further job starts; the slots of jobs that never ran are `None`.
pub fn map<R: Send>(
    order: &[usize],
    threads: usize,
    job: impl Fn(usize) -> R + Sync,
    stop: impl Fn(&R) -> bool + Sync,
) -> Vec<Option<R>> {
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..order.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, order.len().max(1)) {
            s.spawn(|| {
                while !stopped.load(Ordering::Relaxed) {
                    let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let r = job(i);
                    stopped.fetch_or(stop(&r), Ordering::Relaxed);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_job_order_from_any_start_order() {
        let order = [3, 1, 0, 2];
        let r = map(&order, 3, |i| i * 10, |_| false);
        assert_eq!(r, vec![Some(0), Some(10), Some(20), Some(30)]);
    }

    #[test]
    fn a_stopping_result_starts_no_more_jobs() {
        let order: Vec<usize> = (0..100).collect();
        let r = map(&order, 1, |i| i, |&v| v == 5);
        assert_eq!(r.iter().flatten().count(), 6);
        assert!(r[6..].iter().all(Option::is_none));
    }
}
