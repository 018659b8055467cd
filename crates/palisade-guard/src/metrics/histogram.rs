//! The histograms observed on every request (request and model-server durations, OOD
//! distances), kept in one shard per serving thread and summed when `/metrics` is read.
//!
//! `prometheus_client`'s histogram takes a write lock for each observation. Every serving
//! thread observing the same model's series takes the same lock, so its cache line (and the
//! buckets') passed between the cores on each request. Here a thread adds to its own shard,
//! which no other serving thread writes; the reader sums the shards.

use crate::server::serving_thread;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::family::MetricConstructor;
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One cache line's worth of cells (128 bytes: the line and the one the processor fetches
/// with it), so that shards never share a line.
#[repr(align(128))]
#[derive(Debug, Default)]
struct Line([AtomicU64; 16]);

/// A histogram with fixed upper bounds, in shards.
#[derive(Debug, Clone)]
pub struct Histogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Upper bounds, ascending; a last bucket, `+Inf`, follows them.
    bounds: Arc<[f64]>,
    shards: usize,
    /// Lines per shard.
    stride: usize,
    /// Each shard: the sum (as `f64` bits), then the count of each bucket.
    lines: Box<[Line]>,
}

impl Inner {
    fn cell(&self, shard: usize, word: usize) -> &AtomicU64 {
        &self.lines[shard * self.stride + word / 16].0[word % 16]
    }
}

impl Histogram {
    /// A histogram with these upper bounds (ascending) and `shards` shards (at least one):
    /// serving thread `i` observes into shard `i`, every other thread into shard 0. A thread
    /// past the last shard wraps around; shards are updated atomically, so threads that share
    /// one lose nothing.
    pub fn new(bounds: impl Into<Arc<[f64]>>, shards: usize) -> Histogram {
        let bounds = bounds.into();
        let shards = shards.max(1);
        let stride = (2 + bounds.len()).div_ceil(16);
        Histogram {
            inner: Arc::new(Inner {
                lines: (0..shards * stride).map(|_| Line::default()).collect(),
                bounds,
                shards,
                stride,
            }),
        }
    }

    pub fn observe(&self, v: f64) {
        let inner = &*self.inner;
        let shard = serving_thread() % inner.shards;
        // The first bucket whose bound is at least `v`; `+Inf` for what is above them all,
        // and for NaN, so that `+Inf` always holds every observation.
        let bucket = if v.is_nan() {
            inner.bounds.len()
        } else {
            inner.bounds.partition_point(|b| *b < v)
        };
        inner.cell(shard, 1 + bucket).fetch_add(1, Relaxed);
        let sum = inner.cell(shard, 0);
        let mut seen = sum.load(Relaxed);
        while let Err(now) =
            sum.compare_exchange_weak(seen, (f64::from_bits(seen) + v).to_bits(), Relaxed, Relaxed)
        {
            seen = now;
        }
    }

    /// The sum, the count and each bucket's own count (not cumulative), the `+Inf` bucket
    /// last with the bound `f64::MAX` (how `prometheus_client` writes `+Inf`). The count is
    /// the buckets' total, so it always agrees with them.
    fn totals(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let inner = &*self.inner;
        let mut buckets: Vec<(f64, u64)> = inner
            .bounds
            .iter()
            .copied()
            .chain([f64::MAX])
            .map(|b| (b, 0))
            .collect();
        let mut sum = 0.0;
        for shard in 0..inner.shards {
            sum += f64::from_bits(inner.cell(shard, 0).load(Relaxed));
            for (i, (_, n)) in buckets.iter_mut().enumerate() {
                *n += inner.cell(shard, 1 + i).load(Relaxed);
            }
        }
        let count = buckets.iter().map(|(_, n)| n).sum();
        (sum, count, buckets)
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.totals();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Makes a family's histograms: these bounds, this many shards.
#[derive(Debug, Clone)]
pub struct Shape {
    pub bounds: Arc<[f64]>,
    pub shards: usize,
}

impl MetricConstructor<Histogram> for Shape {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.bounds.clone(), self.shards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::histogram::Histogram as Reference;
    use prometheus_client::registry::Registry;

    fn text(metric: impl EncodeMetric + Send + Sync + std::fmt::Debug + 'static) -> String {
        let mut registry = Registry::default();
        registry.register("h", "a histogram", metric);
        let mut out = String::new();
        encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn reads_as_prometheus_clients_histogram_whatever_the_shards() {
        let bounds = [0.5, 1.0, 2.0, 4.0];
        let values = [0.1, 0.5, 0.7, 1.0, 1.5, 3.9, 4.0, 4.1, 100.0, -3.0];
        let reference = Reference::new(bounds);
        let sharded = Histogram::new(bounds, 3);
        for (i, v) in values.into_iter().enumerate() {
            reference.observe(v);
            crate::server::become_serving_thread(i);
            sharded.observe(v);
        }
        crate::server::become_serving_thread(0);
        assert_eq!(text(sharded), text(reference));
    }

    #[test]
    fn infinity_and_nan_are_counted_in_the_last_bucket() {
        let h = Histogram::new([1.0], 1);
        for v in [0.5, f64::INFINITY, f64::NAN] {
            h.observe(v);
        }
        let (sum, count, buckets) = h.totals();
        assert!(sum.is_nan());
        assert_eq!(count, 3);
        assert_eq!(buckets, vec![(1.0, 1), (f64::MAX, 2)]);
    }

    #[test]
    fn threads_observing_at_once_lose_nothing_shared_shard_or_not() {
        // Four threads on two shards: two share each, and all start together.
        let h = Histogram::new([10.0], 2);
        let start = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for t in 0..4 {
                let (h, start) = (h.clone(), &start);
                s.spawn(move || {
                    crate::server::become_serving_thread(t);
                    start.wait();
                    for _ in 0..100_000 {
                        h.observe(1.0);
                    }
                });
            }
        });
        let (sum, count, buckets) = h.totals();
        assert_eq!((sum, count), (400_000.0, 400_000));
        assert_eq!(buckets, vec![(10.0, 400_000), (f64::MAX, 0)]);
    }
}
