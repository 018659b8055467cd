//! The training profile an input is scored against: per-feature statistics and a Mahalanobis
//! distance under a shrunk covariance.
//!
//! `palisade guard profile --data train.csv` builds it offline. Four in five rows fit the mean
//! and covariance; the fifth row of every five is held out, and the distribution of *its*
//! distances is what thresholds such as `p99.9` refer to — so the false-positive rate a
//! threshold implies is measured on data the fit did not see.
//!
//! The covariance is shrunk towards a scaled identity, `(1-α)·S + α·(tr S / d)·I`. That keeps
//! it invertible when features are constant (the blank border pixels of an image) or
//! collinear, and makes a change to a feature that never varied in training expensive —
//! which is what most adversarial perturbations do. The command line's default α is 0.001:
//! Ledoit and Wolf's α (available as `--shrinkage ledoit-wolf`) is the best for *estimating*
//! the covariance, but it lifts the low-variance directions in which adversarial noise shows;
//! on the digits benchmark it halves the detection rate (bench/README.md).
//!
//! The profile file stores the Cholesky factor `L` of that covariance. When it is loaded, `L⁻¹`
//! is worked out once ([`Whitening`]), so that scoring a row is `‖L⁻¹(x − μ)‖`: `d²/2`
//! multiply-adds in rows that do not wait for one another (a triangular solve would make each
//! row wait for the last division).

use crate::config::Threshold;
use crate::data::Matrix;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const FORMAT: &str = "palisade-guard-profile/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub format: String,
    pub features: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// Rows the mean and covariance were fitted on, and rows held out for calibration.
    pub fitted_rows: usize,
    pub calibration_rows: usize,
    pub shrinkage: f64,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
    /// Lower-triangular Cholesky factor of the shrunk covariance, rows packed.
    pub cholesky: Vec<f64>,
    /// Held-out distances at quantiles 0, 0.001, …, 1 (1001 values).
    pub distance_quantiles: Vec<f64>,
    /// The model's predictions on reference data (`--predictions`): what drift compares with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_predictions: Option<Vec<f64>>,
    /// `L⁻¹`, derived from `cholesky` when the profile is built or read.
    #[serde(skip)]
    whitening: Whitening,
    /// Each feature's column by its name, derived from `names` likewise.
    #[serde(skip)]
    columns: HashMap<String, usize>,
}

/// The rows of `L⁻¹` (lower triangular), row `a` holding its `a + 1` values padded with zeros
/// to a multiple of 4, so that each row's product with `x − μ` runs in whole blocks of four.
#[derive(Debug, Clone, Default)]
struct Whitening {
    rows: Vec<f64>,
}

/// `n` rounded up to a whole number of blocks of four.
fn padded(n: usize) -> usize {
    n.div_ceil(4) * 4
}

impl Whitening {
    /// Inverts the packed lower-triangular `l` (`d` rows) by forward substitution, one column
    /// of the identity at a time.
    fn new(l: &[f64], d: usize) -> Whitening {
        let at = |i: usize, j: usize| i * (i + 1) / 2 + j;
        let mut inv = vec![0.0; d * d];
        for c in 0..d {
            for i in c..d {
                let mut s = if i == c { 1.0 } else { 0.0 };
                for k in c..i {
                    s -= l[at(i, k)] * inv[k * d + c];
                }
                inv[i * d + c] = s / l[at(i, i)];
            }
        }
        let mut rows = Vec::with_capacity((0..d).map(|a| padded(a + 1)).sum());
        for a in 0..d {
            rows.extend_from_slice(&inv[a * d..a * d + a + 1]);
            rows.resize(rows.len() + padded(a + 1) - (a + 1), 0.0);
        }
        Whitening { rows }
    }
}

/// How a row compares with the profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Mahalanobis distance.
    pub distance: f64,
    /// Features outside `[min - margin·range, max + margin·range]` (non-finite values count).
    pub out_of_range: usize,
    /// The first such feature.
    pub first_out_of_range: Option<usize>,
}

impl Profile {
    /// Fits a profile; `shrinkage` fixes α, otherwise Ledoit–Wolf chooses it.
    pub fn build(m: &Matrix, shrinkage: Option<f64>) -> Result<Profile, String> {
        let d = m.cols;
        let n = m.rows();
        if n < 2 {
            return Err(format!("{n} row(s): a profile needs at least 2"));
        }
        if let Some(i) = m.data.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "row {}, feature {}: {} is not a finite number",
                i / d + 1,
                i % d + 1,
                m.data[i]
            ));
        }
        // Hold out every fifth row when there are enough to spare.
        let held_out = |i: usize| n >= 50 && i % 5 == 4;
        let fit: Vec<usize> = (0..n).filter(|&i| !held_out(i)).collect();
        let cal: Vec<usize> = if n >= 50 {
            (0..n).filter(|&i| held_out(i)).collect()
        } else {
            (0..n).collect()
        };
        let nf = fit.len() as f64;
        let mut mean = vec![0.0; d];
        for &i in &fit {
            for (s, x) in mean.iter_mut().zip(m.row(i)) {
                *s += x;
            }
        }
        mean.iter_mut().for_each(|s| *s /= nf);
        // Sample covariance (upper triangle, mirrored).
        let mut cov = vec![0.0; d * d];
        let mut c = vec![0.0; d];
        for &i in &fit {
            for (k, x) in m.row(i).iter().enumerate() {
                c[k] = x - mean[k];
            }
            for a in 0..d {
                let ca = c[a];
                if ca == 0.0 {
                    continue;
                }
                let row = &mut cov[a * d..a * d + d];
                for b in a..d {
                    row[b] += ca * c[b];
                }
            }
        }
        for a in 0..d {
            for b in a..d {
                cov[a * d + b] /= nf;
                cov[b * d + a] = cov[a * d + b];
            }
        }
        let trace_mean = (0..d).map(|a| cov[a * d + a]).sum::<f64>() / d as f64;
        let alpha = match shrinkage {
            Some(a) if (0.0..=1.0).contains(&a) => a,
            Some(a) => return Err(format!("shrinkage {a} must be between 0 and 1")),
            None => ledoit_wolf(m, &fit, &mean, &cov, trace_mean),
        };
        let scale = if trace_mean > 0.0 { trace_mean } else { 1.0 };
        let mut reg = cov.clone();
        for a in 0..d {
            for b in 0..d {
                reg[a * d + b] *= 1.0 - alpha;
            }
            // A floor keeps the factorisation defined even with α = 0 and a constant feature.
            reg[a * d + a] += alpha * scale + 1e-9 * scale;
        }
        let cholesky = cholesky(&reg, d).ok_or(
            "the covariance is not positive definite even after shrinkage; try --shrinkage 0.1",
        )?;
        let mut std = vec![0.0; d];
        let mut min = vec![f64::INFINITY; d];
        let mut max = vec![f64::NEG_INFINITY; d];
        for i in 0..n {
            for (k, &x) in m.row(i).iter().enumerate() {
                min[k] = min[k].min(x);
                max[k] = max[k].max(x);
            }
        }
        for (k, s) in std.iter_mut().enumerate() {
            *s = cov[k * d + k].sqrt();
        }
        let mut profile = Profile {
            format: FORMAT.into(),
            features: d,
            names: m.names.clone(),
            fitted_rows: fit.len(),
            calibration_rows: cal.len(),
            shrinkage: alpha,
            mean,
            std,
            min,
            max,
            cholesky,
            distance_quantiles: Vec::new(),
            reference_predictions: None,
            whitening: Whitening::default(),
            columns: HashMap::new(),
        }
        .derived()?;
        let mut scratch = vec![0.0; d];
        let mut dist: Vec<f64> = cal
            .iter()
            .map(|&i| profile.distance(m.row(i), &mut scratch))
            .collect();
        dist.sort_by(f64::total_cmp);
        profile.distance_quantiles = (0..=1000)
            .map(|q| quantile_sorted(&dist, q as f64 / 1000.0))
            .collect();
        Ok(profile)
    }

    /// Parses a profile file's JSON and checks that its parts agree.
    pub fn from_json(text: &str) -> Result<Profile, String> {
        let p: Profile =
            serde_json::from_str(text).map_err(|e| format!("not a guard profile: {e}"))?;
        if p.format != FORMAT {
            return Err(format!(
                "profile format '{}', expected '{FORMAT}'",
                p.format
            ));
        }
        let d = p.features;
        let lens = [
            ("mean", p.mean.len(), d),
            ("std", p.std.len(), d),
            ("min", p.min.len(), d),
            ("max", p.max.len(), d),
            ("cholesky", p.cholesky.len(), d * (d + 1) / 2),
            ("distance_quantiles", p.distance_quantiles.len(), 1001),
        ];
        for (name, have, want) in lens {
            if have != want {
                return Err(format!(
                    "profile field '{name}' has {have} values, expected {want}"
                ));
            }
        }
        if (0..d).any(|a| p.cholesky[a * (a + 1) / 2 + a] <= 0.0) {
            return Err("profile field 'cholesky' has a non-positive diagonal".into());
        }
        p.derived()
    }

    /// With what is worked out from the stored fields: `L⁻¹`, and the columns by name (the
    /// names checked to be one per feature, none twice, as a request naming its features is
    /// read by them).
    fn derived(mut self) -> Result<Profile, String> {
        if let Some(names) = &self.names {
            if names.len() != self.features {
                return Err(format!(
                    "{} feature names for {} features",
                    names.len(),
                    self.features
                ));
            }
            for (i, n) in names.iter().enumerate() {
                if self.columns.insert(n.clone(), i).is_some() {
                    return Err(format!("the feature name '{n}' is given twice"));
                }
            }
        }
        self.whitening = Whitening::new(&self.cholesky, self.features);
        Ok(self)
    }

    /// The column of the feature named `name`, when the profile has names.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.get(name).copied()
    }

    pub fn load(path: &std::path::Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Profile::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Room for [`Profile::distance`]'s working row, of the size it needs (so that it is
    /// allocated once, not grown).
    pub fn scratch(&self) -> Vec<f64> {
        Vec::with_capacity(padded(self.features))
    }

    /// The Mahalanobis distance of `x` (length `features`); `scratch` is reused between calls.
    pub fn distance(&self, x: &[f64], scratch: &mut Vec<f64>) -> f64 {
        let d = self.features;
        // x − μ, then zeros up to the padded length of the longest row.
        scratch.clear();
        scratch.extend(x[..d].iter().zip(&self.mean).map(|(v, m)| v - m));
        scratch.resize(padded(d), 0.0);
        squared_norm(&self.whitening.rows, scratch, d).sqrt()
    }

    /// Distance and range check of one row.
    pub fn score(&self, x: &[f64], margin: f64, scratch: &mut Vec<f64>) -> Score {
        // Counted without a branch per feature (the compiler compares several at once);
        // which one was first, and whether all are finite, is looked for only when one is
        // outside. Branching per feature cost about 1,400 instructions a 64-feature request
        // (callgrind).
        let outside = |(&v, (&lo, &hi)): (&f64, (&f64, &f64))| {
            let span = (hi - lo) * margin;
            // Not finite is outside too: NaN compares false, and the bounds are finite.
            !(v.is_finite() & (v >= lo - span) & (v <= hi + span))
        };
        let features = || x.iter().zip(self.min.iter().zip(&self.max));
        let out_of_range = features().map(|f| usize::from(outside(f))).sum();
        // A value that is not finite is outside, so a row with none outside needs no more
        // passes.
        let (first, finite) = if out_of_range > 0 {
            let first = features().position(outside);
            (first, features().all(|(v, _)| v.is_finite()))
        } else {
            (None, true)
        };
        let distance = if finite {
            self.distance(x, scratch)
        } else {
            f64::INFINITY
        };
        Score {
            distance,
            out_of_range,
            first_out_of_range: first,
        }
    }

    /// The distance a threshold stands for under this profile.
    pub fn threshold(&self, t: Threshold) -> f64 {
        match t {
            Threshold::Absolute(v) => v,
            Threshold::Quantile { quantile, factor } => {
                factor * quantile_sorted(&self.distance_quantiles, quantile)
            }
        }
    }

    pub fn feature_name(&self, k: usize) -> String {
        match &self.names {
            Some(n) => n.get(k).cloned().unwrap_or_else(|| format!("#{k}")),
            None => format!("#{k}"),
        }
    }
}

/// Linear interpolation between order statistics.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Ledoit & Wolf (2004): the shrinkage intensity towards `trace_mean · I` that minimises the
/// expected squared Frobenius error.
fn ledoit_wolf(m: &Matrix, fit: &[usize], mean: &[f64], cov: &[f64], trace_mean: f64) -> f64 {
    let d = m.cols;
    let n = fit.len() as f64;
    // d² = ‖S − μI‖²_F
    let mut d2 = 0.0;
    let mut s_norm2 = 0.0;
    for a in 0..d {
        for b in 0..d {
            let s = cov[a * d + b];
            s_norm2 += s * s;
            let t = if a == b { s - trace_mean } else { s };
            d2 += t * t;
        }
    }
    if d2 <= 0.0 {
        return 1.0;
    }
    // b̄² = (1/n²) Σ_k ‖x_k x_kᵀ − S‖²_F, with ‖x xᵀ − S‖² = ‖x‖⁴ − 2 xᵀSx + ‖S‖².
    let mut b2 = 0.0;
    let mut c = vec![0.0; d];
    for &i in fit {
        for (k, x) in m.row(i).iter().enumerate() {
            c[k] = x - mean[k];
        }
        let norm2: f64 = c.iter().map(|v| v * v).sum();
        let mut xsx = 0.0;
        for a in 0..d {
            if c[a] == 0.0 {
                continue;
            }
            let row = &cov[a * d..a * d + d];
            xsx += c[a] * row.iter().zip(&c).map(|(s, v)| s * v).sum::<f64>();
        }
        b2 += norm2 * norm2 - 2.0 * xsx + s_norm2;
    }
    b2 /= n * n;
    (b2.min(d2) / d2).clamp(0.0, 1.0)
}

/// Packed lower-triangular Cholesky factor of a symmetric `d×d` matrix, or `None` when it is
/// not positive definite.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * (d + 1) / 2];
    let at = |i: usize, j: usize| i * (i + 1) / 2 + j;
    for i in 0..d {
        for j in 0..=i {
            let s = a[i * d + j] - dot(&l[at(i, 0)..at(i, j)], &l[at(j, 0)..at(j, j)]);
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[at(i, i)] = s.sqrt();
            } else {
                l[at(i, j)] = s / l[at(j, j)];
            }
        }
    }
    Some(l)
}

/// ‖L⁻¹z‖²: the rows of L⁻¹ (`rows`, each padded to a multiple of four) times `z`, squared
/// and summed. On x86-64 processors with AVX2 and FMA, four products are added in one fused
/// instruction, and four rows are read against each load of `z`: for 64 features, 2.0k
/// instructions (under callgrind) against 4.6k one row at a time and the portable path's
/// 7.8k. The check of the processor is a cached flag after the first call.
fn squared_norm(rows: &[f64], z: &[f64], d: usize) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the processor has just been checked for the two features that
        // `squared_norm_avx2` is compiled with.
        return unsafe { squared_norm_avx2(rows, z, d) };
    }
    squared_norm_with(rows, z, d, 0, dot)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn squared_norm_avx2(rows: &[f64], z: &[f64], d: usize) -> f64 {
    use std::arch::x86_64::{
        __m256d, _mm_add_pd, _mm_cvtsd_f64, _mm_unpackhi_pd, _mm256_add_pd, _mm256_castpd256_pd128,
        _mm256_extractf128_pd, _mm256_fmadd_pd, _mm256_hadd_pd, _mm256_permute2f128_pd,
        _mm256_set_pd, _mm256_setzero_pd,
    };
    let four = |v: &[f64]| _mm256_set_pd(v[3], v[2], v[1], v[0]);
    let total = |v: __m256d| {
        let pair = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
        _mm_cvtsd_f64(_mm_add_pd(pair, _mm_unpackhi_pd(pair, pair)))
    };
    // Rows 4g to 4g+3 all have the padded length 4g+4, so they are read four at a time
    // against one load of z, into four independent sums (no chain of additions to wait on),
    // and their four dot products are squared together.
    let mut squares = _mm256_setzero_pd();
    let mut rest = rows;
    for g in 0..d / 4 {
        let n = 4 * g + 4;
        let (block, tail) = rest.split_at(4 * n);
        rest = tail;
        let (r0, block) = block.split_at(n);
        let (r1, block) = block.split_at(n);
        let (r2, r3) = block.split_at(n);
        let mut sums = [_mm256_setzero_pd(); 4];
        for ((((a, b), c), e), x) in r0
            .chunks_exact(4)
            .zip(r1.chunks_exact(4))
            .zip(r2.chunks_exact(4))
            .zip(r3.chunks_exact(4))
            .zip(z.chunks_exact(4))
        {
            let x = four(x);
            sums[0] = _mm256_fmadd_pd(four(a), x, sums[0]);
            sums[1] = _mm256_fmadd_pd(four(b), x, sums[1]);
            sums[2] = _mm256_fmadd_pd(four(c), x, sums[2]);
            sums[3] = _mm256_fmadd_pd(four(e), x, sums[3]);
        }
        // [y0, y1, y2, y3]: pairs added within each sum, then the two halves.
        let h01 = _mm256_hadd_pd(sums[0], sums[1]);
        let h23 = _mm256_hadd_pd(sums[2], sums[3]);
        let y = _mm256_add_pd(
            _mm256_permute2f128_pd::<0x20>(h01, h23),
            _mm256_permute2f128_pd::<0x31>(h01, h23),
        );
        squares = _mm256_fmadd_pd(y, y, squares);
    }
    // The rows of a last, partial group (d not a multiple of four), one at a time.
    let done = d / 4 * 4;
    let last = squared_norm_with(rest, z, d - done, done, |a, b| {
        let mut sums = _mm256_setzero_pd();
        for (x, y) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
            sums = _mm256_fmadd_pd(four(x), four(y), sums);
        }
        total(sums)
    });
    total(squares) + last
}

/// The squares of `count` rows' dot products with `z`, the first of them row `first` of L⁻¹
/// (so `padded(first + 1)` long) and the rest following it in `rows`.
#[inline(always)]
fn squared_norm_with(
    rows: &[f64],
    z: &[f64],
    count: usize,
    first: usize,
    dot: impl Fn(&[f64], &[f64]) -> f64,
) -> f64 {
    let mut sum = 0.0;
    let mut rows = rows;
    for a in first..first + count {
        // A whole number of blocks of four: the four-wide `dot` has no remainder to read.
        let (row, rest) = rows.split_at(padded(a + 1));
        let y = dot(row, &z[..row.len()]);
        sum += y * y;
        rows = rest;
    }
    sum
}

/// Σ aᵢ·bᵢ in four running sums, so that the multiplications overlap instead of each
/// waiting for the last addition.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sums = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        for k in 0..4 {
            sums[k] += x[k] * y[k];
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random stream (xorshift) for test data.
    fn noise(seed: &mut u64) -> f64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    fn correlated(n: usize) -> Matrix {
        let mut s = 0x9e3779b97f4a7c15;
        let mut data = Vec::new();
        for _ in 0..n {
            let a = noise(&mut s);
            // b follows a closely; c never varies.
            data.extend([a, a + 0.05 * noise(&mut s), 3.0]);
        }
        Matrix {
            cols: 3,
            data,
            names: None,
        }
    }

    #[test]
    fn distance_sees_a_broken_correlation_that_ranges_miss() {
        let m = correlated(2000);
        let p = Profile::build(&m, None).unwrap();
        assert_eq!(p.fitted_rows, 1600);
        assert_eq!(p.calibration_rows, 400);
        let mut s = Vec::new();
        let typical = p.score(&[0.2, 0.2, 3.0], 0.05, &mut s);
        let broken = p.score(&[0.4, -0.4, 3.0], 0.05, &mut s);
        assert_eq!(typical.out_of_range + broken.out_of_range, 0);
        let p999 = p.threshold(Threshold::parse("p99.9").unwrap());
        assert!(typical.distance < p999, "{typical:?} vs {p999}");
        assert!(broken.distance > 3.0 * p999, "{broken:?} vs {p999}");
        // A change to the constant feature is far, and out of range.
        let moved = p.score(&[0.0, 0.0, 3.5], 0.05, &mut s);
        assert_eq!(moved.first_out_of_range, Some(2));
        assert!(moved.distance > 10.0 * p999);
    }

    #[test]
    fn distance_matches_a_triangular_solve_with_the_stored_factor() {
        // Widths around the blocks of four, where padding could go wrong.
        for d in [1, 3, 4, 5, 8, 9] {
            let mut seed = 0x2545f4914f6cdd1d + d as u64;
            let mut m = Matrix {
                cols: d,
                data: Vec::new(),
                names: None,
            };
            for _ in 0..300 {
                let base = noise(&mut seed);
                m.data
                    .extend((0..d).map(|k| base * k as f64 + noise(&mut seed)));
            }
            let p = Profile::build(&m, Some(0.01)).unwrap();
            let at = |i: usize, j: usize| i * (i + 1) / 2 + j;
            let mut s = Vec::new();
            for r in 0..20 {
                let x = m.row(r);
                // L·y = x − μ, solved row by row; the distance is ‖y‖.
                let mut y = vec![0.0; d];
                for a in 0..d {
                    let known: f64 = (0..a).map(|k| p.cholesky[at(a, k)] * y[k]).sum();
                    y[a] = (x[a] - p.mean[a] - known) / p.cholesky[at(a, a)];
                }
                let want = y.iter().map(|v| v * v).sum::<f64>().sqrt();
                let got = p.distance(x, &mut s);
                assert!(
                    (got - want).abs() <= 1e-9 * want.max(1.0),
                    "d={d}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn both_paths_of_the_squared_norm_match_a_plain_sum() {
        // `squared_norm` takes the fused four-wide path on a processor with AVX2 and FMA and
        // the portable one elsewhere; both are checked against the sum written out.
        for d in [1, 2, 3, 4, 5, 7, 8, 9, 16, 33, 64] {
            let mut seed = 0x9e37_79b9_7f4a_7c15 + d as u64;
            let rows: Vec<f64> = (0..(0..d).map(|a| padded(a + 1)).sum::<usize>())
                .map(|_| noise(&mut seed))
                .collect();
            let z: Vec<f64> = (0..padded(d)).map(|_| 3.0 * noise(&mut seed)).collect();
            let mut plain = 0.0;
            let mut at = 0;
            for a in 0..d {
                let n = padded(a + 1);
                let y: f64 = (0..n).map(|k| rows[at + k] * z[k]).sum();
                plain += y * y;
                at += n;
            }
            for (path, got) in [
                ("portable", squared_norm_with(&rows, &z, d, 0, dot)),
                ("chosen", squared_norm(&rows, &z, d)),
            ] {
                assert!(
                    (got - plain).abs() <= 1e-12 * plain.max(1.0),
                    "d={d}, {path}: {got} vs {plain}"
                );
            }
        }
    }

    #[test]
    fn values_that_are_not_finite_are_out_of_range_and_infinitely_far() {
        let p = Profile::build(&correlated(500), None).unwrap();
        let mut s = Vec::new();
        let inside = p.score(&[0.1, 0.1, 3.0], 0.05, &mut s);
        assert_eq!((inside.out_of_range, inside.first_out_of_range), (0, None));
        assert!(inside.distance.is_finite());
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let sc = p.score(&[0.1, bad, 3.0], 0.05, &mut s);
            assert_eq!(
                (sc.out_of_range, sc.first_out_of_range),
                (1, Some(1)),
                "{bad}"
            );
            assert_eq!(sc.distance, f64::INFINITY, "{bad}");
        }
        // Two out: the count is both, the first is the first.
        let two = p.score(&[0.1, 50.0, -50.0], 0.05, &mut s);
        assert_eq!((two.out_of_range, two.first_out_of_range), (2, Some(1)));
        assert!(two.distance.is_finite());
    }

    #[test]
    fn dot_products_of_every_length_match_the_plain_sum() {
        for n in 0..11 {
            let a: Vec<f64> = (0..n).map(|i| i as f64 * 0.5 - 1.0).collect();
            let b: Vec<f64> = (0..n).map(|i| 3.0 - i as f64).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-12, "length {n}");
        }
    }

    #[test]
    fn held_out_quantiles_match_their_rate() {
        let m = correlated(5000);
        let p = Profile::build(&m, None).unwrap();
        let t = p.threshold(Threshold::parse("p99").unwrap());
        let mut s = Vec::new();
        // Fresh rows from the same distribution: about 1% above p99.
        let fresh = correlated(20_000);
        let above = (0..fresh.rows())
            .filter(|&i| p.distance(fresh.row(i), &mut s) > t)
            .count();
        assert!((100..400).contains(&above), "{above} of 20000 above p99");
    }

    #[test]
    fn round_trips_and_rejects_inconsistent_files() {
        let p = Profile::build(&correlated(100), Some(0.1)).unwrap();
        let text = serde_json::to_string(&p).unwrap();
        let back = Profile::from_json(&text).unwrap();
        let mut s = Vec::new();
        assert_eq!(
            back.distance(&[0.1, 0.1, 3.0], &mut s),
            p.distance(&[0.1, 0.1, 3.0], &mut s)
        );
        let broken = text.replace("\"features\":3", "\"features\":4");
        assert!(
            Profile::from_json(&broken)
                .unwrap_err()
                .contains("'mean' has 3 values")
        );
        // Names, by which a request naming its features is read: one per feature, each once.
        let mut named = correlated(100);
        named.names = Some(vec!["a".into(), "b".into(), "c".into()]);
        let text = serde_json::to_string(&Profile::build(&named, Some(0.1)).unwrap()).unwrap();
        let back = Profile::from_json(&text).unwrap();
        assert_eq!(
            ["c", "a", "d"].map(|n| back.column(n)),
            [Some(2), Some(0), None]
        );
        let err = |text: String| Profile::from_json(&text).unwrap_err();
        assert_eq!(
            err(text.replace("\"c\"]", "\"a\"]")),
            "the feature name 'a' is given twice"
        );
        assert_eq!(
            err(text.replace(",\"c\"]", "]")),
            "2 feature names for 3 features"
        );
        named.names = Some(vec!["a".into(), "b".into(), "b".into()]);
        assert_eq!(
            Profile::build(&named, Some(0.1)).unwrap_err(),
            "the feature name 'b' is given twice"
        );
    }

    #[test]
    fn non_finite_training_data_is_refused_with_its_place() {
        let m = Matrix {
            cols: 2,
            data: vec![1.0, 2.0, f64::NAN, 4.0],
            names: None,
        };
        assert_eq!(
            Profile::build(&m, None).unwrap_err(),
            "row 2, feature 1: NaN is not a finite number"
        );
    }
}
