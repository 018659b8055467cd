//! Instants as microseconds since the Unix epoch, read from and written as RFC 3339.
//!
//! Runtime events come with their own timestamps in several precisions (Kubernetes audit:
//! microseconds, Falco: nanoseconds, the guard: seconds) and offsets; incidents compare and
//! subtract them. [`Timestamp`] is the one representation, without a calendar dependency: the
//! civil-date conversions are Howard Hinnant's public-domain algorithms.

use std::fmt;

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;

impl Timestamp {
    /// The current time (0 if the clock is before 1970).
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_micros() as i64)
    }

    pub fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(MICROS_PER_SEC))
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / MICROS_PER_SEC as f64
    }

    pub fn plus_secs(self, secs: f64) -> Timestamp {
        Timestamp(self.0.saturating_add((secs * MICROS_PER_SEC as f64) as i64))
    }

    /// Parses RFC 3339 (`2026-11-22T10:00:00Z`, `…T10:00:00.123456789+01:00`, a space for the
    /// `T`); digits beyond microseconds are dropped. The error says what is wrong.
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        let b = s.trim().as_bytes();
        let bad = |what: &str| format!("'{s}' is not an RFC 3339 timestamp ({what})");
        let num = |from: usize, len: usize| -> Option<i64> {
            let part = b.get(from..from + len)?;
            if part.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(part).ok()?.parse().ok()
            } else {
                None
            }
        };
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return Err(bad("expected YYYY-MM-DDTHH:MM:SS"));
        }
        if !matches!(b[10], b'T' | b't' | b' ') {
            return Err(bad("expected 'T' between date and time"));
        }
        let (y, mo, d) = (num(0, 4), num(5, 2), num(8, 2));
        let (h, mi, se) = (num(11, 2), num(14, 2), num(17, 2));
        let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (y, mo, d, h, mi, se)
        else {
            return Err(bad("a date or time field is not a number"));
        };
        if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
            return Err(bad("no such date"));
        }
        if h > 23 || mi > 59 || se > 60 {
            return Err(bad("no such time"));
        }
        let mut i = 19;
        let mut micros = 0i64;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 6 {
                    micros = micros * 10 + (b[i] - b'0') as i64;
                }
                i += 1;
            }
            if i == start {
                return Err(bad("no digits after the decimal point"));
            }
            for _ in (i - start)..6 {
                micros *= 10;
            }
        }
        let offset_secs = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let (Some(oh), Some(om)) = (num(i + 1, 2), num(i + 4, 2)) else {
                    return Err(bad("the offset is not a number"));
                };
                let off = oh * 3600 + om * 60;
                if *sign == b'+' { off } else { -off }
            }
            _ => return Err(bad("expected 'Z' or an offset like +01:00 at the end")),
        };
        let secs = days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + se.min(59)
            - offset_secs;
        Ok(Timestamp(secs * MICROS_PER_SEC + micros))
    }

    /// `YYYY-MM-DD` of this instant in UTC.
    pub fn date(self) -> String {
        let (y, m, d) = civil_from_days(self.0.div_euclid(MICROS_PER_SEC * SECS_PER_DAY));
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// RFC 3339 in UTC: whole seconds as `…:SSZ`, otherwise microseconds (`…:SS.123456Z`).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(MICROS_PER_SEC);
        let micros = self.0.rem_euclid(MICROS_PER_SEC);
        let day = secs.rem_euclid(SECS_PER_DAY);
        write!(
            f,
            "{}T{:02}:{:02}:{:02}",
            self.date(),
            day / 3600,
            day % 3600 / 60,
            day % 60
        )?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        f.write_str("Z")
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_precisions_and_offsets_runtime_sources_use() {
        let t = Timestamp::parse("2018-10-26T13:38:34.867116Z").unwrap();
        assert_eq!(t.to_string(), "2018-10-26T13:38:34.867116Z");
        let falco = Timestamp::parse("2024-03-01T00:00:01.123456789Z").unwrap();
        assert_eq!(falco.to_string(), "2024-03-01T00:00:01.123456Z");
        let off = Timestamp::parse("2026-11-22T11:00:00+01:00").unwrap();
        assert_eq!(off, Timestamp::parse("2026-11-22T10:00:00Z").unwrap());
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::parse("2024-02-29T00:00:00.5Z")
                .unwrap()
                .to_string(),
            "2024-02-29T00:00:00.500000Z"
        );
    }

    #[test]
    fn refuses_what_is_not_a_timestamp_and_says_why() {
        for (s, why) in [
            ("2026-02-30T00:00:00Z", "no such date"),
            ("2026-11-22 10:00", "expected YYYY-MM-DDTHH:MM:SS"),
            ("2026-11-22T25:00:00Z", "no such time"),
            ("2026-11-22T10:00:00", "expected 'Z'"),
            ("2026-11-22T10:00:00.Z", "no digits"),
            ("yesterday at noon!!", "expected YYYY"),
        ] {
            let e = Timestamp::parse(s).unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn round_trips_days_across_eras() {
        for days in [-800_000i64, -1, 0, 59, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
