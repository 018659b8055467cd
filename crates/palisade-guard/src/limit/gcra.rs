//! GCRA (the generic cell rate algorithm) on one atomic: a rate and a burst per key with no
//! timer and no queue. The state is the theoretical arrival time (TAT) of the next request;
//! a request at `now` is admitted when `TAT - now <= (burst - 1) · T`, with `T = 1 / rate`, and
//! moves TAT on by `T`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The limiter state of one tenant: nanoseconds on the guard's clock.
#[derive(Debug, Default)]
pub struct Gcra {
    tat: AtomicU64,
}

/// The interval between requests and the tolerance, in nanoseconds.
pub fn params(rate: f64, burst: u32) -> (u64, u64) {
    let t = (1e9 / rate).max(1.0) as u64;
    (t, t.saturating_mul(u64::from(burst.max(1)) - 1))
}

impl Gcra {
    /// Admits a request at `now` (ns), or says how long until one would be admitted.
    pub fn check(&self, now: u64, rate: f64, burst: u32) -> Result<(), Duration> {
        let (t, tau) = params(rate, burst);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now);
            if start - now > tau {
                return Err(Duration::from_nanos(start - now - tau));
            }
            match self.tat.compare_exchange_weak(
                tat,
                start + t,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(seen) => tat = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let g = Gcra::default();
        let now = 100 * SEC;
        // 10/s with a burst of 5: five at once, the sixth waits 100 ms.
        for _ in 0..5 {
            assert!(g.check(now, 10.0, 5).is_ok());
        }
        assert_eq!(g.check(now, 10.0, 5), Err(Duration::from_millis(100)));
        assert!(g.check(now + SEC / 10, 10.0, 5).is_ok());
        assert!(g.check(now + SEC / 10, 10.0, 5).is_err());
        // Idle time refills the burst, never beyond it.
        let later = now + 60 * SEC;
        for _ in 0..5 {
            assert!(g.check(later, 10.0, 5).is_ok());
        }
        assert!(g.check(later, 10.0, 5).is_err());
    }

    #[test]
    fn a_fresh_state_has_its_whole_burst_at_time_zero() {
        let g = Gcra::default();
        assert_eq!((0..4).filter(|_| g.check(0, 1.0, 3).is_ok()).count(), 3);
    }

    #[test]
    fn concurrent_callers_never_exceed_the_burst() {
        let g = std::sync::Arc::new(Gcra::default());
        let admitted: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let g = g.clone();
                    s.spawn(move || (0..1000).filter(|_| g.check(SEC, 1.0, 50).is_ok()).count())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(admitted, 50);
    }
}
