//! Per-tenant admission: a rate limit (GCRA, local or shared through Redis) and a concurrency
//! limit that sheds load instead of queueing it, so one tenant's flood waits on its own quota
//! and never in front of another tenant's requests.
//!
//! State is kept per tenant *name*, outside the configuration, so a hot reload that changes a
//! tenant's limits keeps its current budget and in-flight count.

pub mod gcra;
pub mod redis;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct TenantState {
    gcra: gcra::Gcra,
    inflight: AtomicUsize,
}

impl TenantState {
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }
}

/// What the rate limit decided, and whether Redis had to be bypassed to decide it.
pub struct RateDecision {
    pub admitted: Result<(), Duration>,
    pub redis_error: Option<String>,
}

pub struct Limiter {
    start: Instant,
    states: RwLock<HashMap<String, Arc<TenantState>>>,
    redis: Option<(redis::Client, String)>,
}

impl Limiter {
    pub fn new(redis: Option<&crate::config::Redis>) -> Result<Limiter, String> {
        let redis = match redis {
            Some(r) => Some((
                redis::Client::new(
                    redis::Address::parse(&r.url)?,
                    Duration::from_millis(r.timeout_ms),
                ),
                r.prefix.clone(),
            )),
            None => None,
        };
        Ok(Limiter {
            start: Instant::now(),
            states: RwLock::new(HashMap::new()),
            redis,
        })
    }

    pub fn shared(&self) -> bool {
        self.redis.is_some()
    }

    pub fn state(&self, tenant: &str) -> Arc<TenantState> {
        if let Some(s) = self
            .states
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
        {
            return s.clone();
        }
        self.states
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant.to_string())
            .or_default()
            .clone()
    }

    /// One request's worth of the tenant's rate budget.
    pub async fn rate(
        &self,
        tenant: &str,
        state: &TenantState,
        rate: f64,
        burst: u32,
    ) -> RateDecision {
        if let Some((client, prefix)) = &self.redis {
            let (t, tau) = gcra::params(rate, burst);
            match client.gcra(&format!("{prefix}{tenant}"), t, tau).await {
                Ok(admitted) => {
                    return RateDecision {
                        admitted,
                        redis_error: None,
                    };
                }
                Err(e) => {
                    return RateDecision {
                        admitted: self.local(state, rate, burst),
                        redis_error: Some(e),
                    };
                }
            }
        }
        RateDecision {
            admitted: self.local(state, rate, burst),
            redis_error: None,
        }
    }

    fn local(&self, state: &TenantState, rate: f64, burst: u32) -> Result<(), Duration> {
        // A fresh tenant state (TAT 0) is at or before any `now`: the whole burst is free.
        let now = self.start.elapsed().as_nanos() as u64;
        state.gcra.check(now, rate, burst)
    }
}

/// A request counted against its tenant's concurrency limit until dropped.
pub struct InFlight(Arc<TenantState>);

impl InFlight {
    /// Enters when fewer than `max` of the tenant's requests are in flight.
    pub fn enter(state: &Arc<TenantState>, max: usize) -> Option<InFlight> {
        let mut n = state.inflight.load(Ordering::Relaxed);
        loop {
            if n >= max {
                return None;
            }
            match state.inflight.compare_exchange_weak(
                n,
                n + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(InFlight(state.clone())),
                Err(seen) => n = seen,
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_is_released_on_drop_and_state_survives_lookups() {
        let l = Limiter::new(None).unwrap();
        let s = l.state("a");
        let one = InFlight::enter(&s, 2).unwrap();
        let two = InFlight::enter(&l.state("a"), 2).unwrap();
        assert!(InFlight::enter(&s, 2).is_none());
        drop(one);
        assert_eq!(s.inflight(), 1);
        assert!(InFlight::enter(&s, 2).is_some());
        drop(two);
        assert_eq!(l.state("a").inflight(), 0);
        assert_eq!(l.state("b").inflight(), 0);
    }
}
