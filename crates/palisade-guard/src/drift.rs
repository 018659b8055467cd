//! Prediction drift: each model's predictions are collected in windows of `drift.window`, and
//! each full window is compared with the reference — the predictions recorded in the profile
//! (`palisade guard profile --predictions`), or else the model's first window — by the
//! population stability index and a two-sample Kolmogorov–Smirnov test.
//!
//! Predictions are classes (an argmax) or values. When the reference holds at most 64
//! distinct values, all integers, the PSI bins are those classes; otherwise ten bins at the
//! reference's deciles.

use std::sync::Mutex;

/// The comparison of one window with the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub psi: f64,
    pub ks: f64,
    pub ks_p: f64,
    pub window: usize,
}

pub struct Tracker {
    window: usize,
    state: Mutex<State>,
}

struct State {
    reference: Option<Reference>,
    current: Vec<f64>,
}

struct Reference {
    sorted: Vec<f64>,
    bins: Bins,
    /// Share of the reference in each bin.
    shares: Vec<f64>,
}

enum Bins {
    Classes(Vec<f64>),
    /// Upper edges; the last bin is open.
    Edges(Vec<f64>),
}

impl Bins {
    fn of(&self, v: f64) -> usize {
        match self {
            Bins::Classes(c) => c.iter().position(|x| *x == v).unwrap_or(c.len()),
            Bins::Edges(e) => e.iter().position(|edge| v <= *edge).unwrap_or(e.len()),
        }
    }

    fn count(&self) -> usize {
        match self {
            Bins::Classes(c) => c.len() + 1,
            Bins::Edges(e) => e.len() + 1,
        }
    }
}

impl Reference {
    fn new(mut values: Vec<f64>) -> Reference {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        let mut distinct = values.clone();
        distinct.dedup();
        let bins = if distinct.len() <= 64 && distinct.iter().all(|v| v.fract() == 0.0) {
            Bins::Classes(distinct)
        } else {
            let mut edges: Vec<f64> = (1..10)
                .map(|q| values[(q * (values.len() - 1)) / 10])
                .collect();
            edges.dedup();
            Bins::Edges(edges)
        };
        let shares = shares(&bins, &values);
        Reference {
            sorted: values,
            bins,
            shares,
        }
    }
}

fn shares(bins: &Bins, values: &[f64]) -> Vec<f64> {
    let mut counts = vec![0usize; bins.count()];
    for v in values {
        counts[bins.of(*v)] += 1;
    }
    let n = values.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / n).collect()
}

impl Tracker {
    pub fn new(window: usize, reference: Option<Vec<f64>>) -> Tracker {
        let reference = reference
            .filter(|r| r.iter().filter(|v| v.is_finite()).count() >= 2)
            .map(Reference::new);
        Tracker {
            window,
            state: Mutex::new(State {
                reference,
                current: Vec::with_capacity(window),
            }),
        }
    }

    /// Adds predictions; returns the comparison for each window they complete.
    pub fn observe(&self, predictions: &[f64]) -> Vec<Comparison> {
        let mut out = Vec::new();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for p in predictions.iter().filter(|p| p.is_finite()) {
            s.current.push(*p);
            if s.current.len() < self.window {
                continue;
            }
            let window = std::mem::replace(&mut s.current, Vec::with_capacity(self.window));
            match &s.reference {
                None => s.reference = Some(Reference::new(window)),
                Some(r) => out.push(compare(r, window)),
            }
        }
        out
    }
}

fn compare(r: &Reference, mut window: Vec<f64>) -> Comparison {
    let actual = shares(&r.bins, &window);
    let eps = 1e-4;
    let psi = r
        .shares
        .iter()
        .zip(&actual)
        .map(|(e, a)| {
            let (e, a) = (e.max(eps), a.max(eps));
            (a - e) * (a / e).ln()
        })
        .sum();
    window.sort_by(f64::total_cmp);
    let ks = ks_statistic(&r.sorted, &window);
    let (n, m) = (r.sorted.len() as f64, window.len() as f64);
    Comparison {
        psi,
        ks,
        ks_p: ks_p_value(ks, n * m / (n + m)),
        window: window.len(),
    }
}

/// The largest gap between two empirical CDFs (both sorted).
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    let (n, m) = (a.len() as f64, b.len() as f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// Asymptotic p-value of the two-sample KS statistic `d` with effective size `ne`
/// (Kolmogorov's distribution with Stephens' small-sample correction).
pub fn ks_p_value(d: f64, ne: f64) -> f64 {
    let sq = ne.sqrt();
    let lambda = (sq + 0.12 + 0.11 / sq) * d;
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let j = j as f64;
        let term = 2.0 * (-1f64).powf(j - 1.0) * (-2.0 * j * j * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-12 {
            break;
        }
    }
    sum.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(pattern: &[f64], n: usize) -> Vec<f64> {
        pattern.iter().copied().cycle().take(n).collect()
    }

    #[test]
    fn same_distribution_is_quiet_and_a_shift_is_loud() {
        let t = Tracker::new(500, Some(classes(&[0.0, 1.0, 2.0, 3.0, 4.0], 5000)));
        let quiet = t.observe(&classes(&[4.0, 3.0, 2.0, 1.0, 0.0], 500));
        assert_eq!(quiet.len(), 1);
        assert!(quiet[0].psi < 0.01 && quiet[0].ks_p > 0.5, "{quiet:?}");
        // A poisoned model answers class 1 most of the time.
        let loud = t.observe(&classes(&[1.0, 1.0, 1.0, 0.0, 2.0], 500));
        assert!(loud[0].psi > 0.5 && loud[0].ks_p < 0.001, "{loud:?}");
    }

    #[test]
    fn without_a_reference_the_first_window_is_one() {
        let t = Tracker::new(100, None);
        assert!(t.observe(&classes(&[0.0, 1.0], 100)).is_empty());
        let c = t.observe(&classes(&[0.0, 1.0], 100));
        assert!(c[0].psi < 1e-9);
    }

    #[test]
    fn ks_against_known_values() {
        // Two disjoint samples: D = 1.
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        assert_eq!(ks_statistic(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
        // scipy.stats.kstwobign.sf(1.36) ≈ 0.0494 (the 5% critical value).
        let p = ks_p_value(1.36 / 1e4f64.sqrt(), 1e4);
        assert!((p - 0.049).abs() < 0.003, "{p}");
    }

    #[test]
    fn continuous_values_use_decile_bins() {
        let reference: Vec<f64> = (0..1000).map(|i| i as f64 / 7.3).collect();
        let t = Tracker::new(200, Some(reference));
        let shifted: Vec<f64> = (0..200).map(|i| 200.0 + i as f64).collect();
        let c = t.observe(&shifted);
        assert!(c[0].psi > 1.0 && c[0].ks > 0.9, "{c:?}");
    }
}
