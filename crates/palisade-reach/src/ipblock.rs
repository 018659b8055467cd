//! Addresses outside the cluster: CIDRs, `ipBlock` (cidr minus except), and the partition of
//! the address space into the smallest ranges every ipBlock either covers or misses.
//!
//! Pod IPs are not in manifests, so an ipBlock is taken to match only addresses outside the
//! cluster (netpol-analyzer makes the same assumption); reports say so.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An inclusive address range within one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpRange {
    pub v6: bool,
    pub lo: u128,
    pub hi: u128,
}

impl IpRange {
    pub fn whole_v4() -> IpRange {
        IpRange {
            v6: false,
            lo: 0,
            hi: u128::from(u32::MAX),
        }
    }

    pub fn whole_v6() -> IpRange {
        IpRange {
            v6: true,
            lo: 0,
            hi: u128::MAX,
        }
    }

    /// `10.0.0.0/8`, `2001:db8::/32`; a bare address is a /32 (/128). Host bits set below the
    /// prefix are an error, as the API server rejects them.
    pub fn parse_cidr(s: &str) -> Result<IpRange, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let ip: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a CIDR"))?;
        let (v6, bits, value) = match ip {
            IpAddr::V4(a) => (false, 32u32, u128::from(u32::from(a))),
            IpAddr::V6(a) => (true, 128u32, u128::from(a)),
        };
        let len: u32 = match len {
            Some(l) => l
                .trim()
                .parse()
                .ok()
                .filter(|l| *l <= bits)
                .ok_or_else(|| format!("'{s}' has an invalid prefix length"))?,
            None => bits,
        };
        let host_bits = bits - len;
        let mask: u128 = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let lo = value & !mask;
        Ok(IpRange {
            v6,
            lo,
            hi: lo | mask,
        })
    }

    pub fn contains(&self, other: &IpRange) -> bool {
        self.v6 == other.v6 && self.lo <= other.lo && other.hi <= self.hi
    }

    fn addr(&self, v: u128) -> String {
        if self.v6 {
            Ipv6Addr::from(v).to_string()
        } else {
            Ipv4Addr::from(v as u32).to_string()
        }
    }
}

impl fmt::Display for IpRange {
    /// `first-last`, netpol-analyzer's notation for an external range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.addr(self.lo), self.addr(self.hi))
    }
}

/// A NetworkPolicy `ipBlock`: `cidr` minus each `except`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpBlock {
    pub cidr: IpRange,
    pub except: Vec<IpRange>,
}

impl IpBlock {
    pub fn contains(&self, r: &IpRange) -> bool {
        self.cidr.contains(r) && !self.except.iter().any(|e| e.contains(r))
    }
}

/// The outside of the cluster, cut into ranges that no ipBlock boundary crosses.
#[derive(Debug, Clone)]
pub struct Segments {
    pub ranges: Vec<IpRange>,
}

impl Segments {
    /// Cut the IPv4 space (and the IPv6 space when an IPv6 block appears) at every boundary.
    pub fn new<'a>(blocks: impl IntoIterator<Item = &'a IpBlock>) -> Segments {
        let mut cuts_v4: Vec<u128> = Vec::new();
        let mut cuts_v6: Vec<u128> = Vec::new();
        let mut any_v6 = false;
        for b in blocks {
            for r in std::iter::once(&b.cidr).chain(&b.except) {
                let cuts = if r.v6 {
                    any_v6 = true;
                    &mut cuts_v6
                } else {
                    &mut cuts_v4
                };
                cuts.push(r.lo);
                if let Some(next) = r.hi.checked_add(1) {
                    cuts.push(next);
                }
            }
        }
        let mut ranges = split(IpRange::whole_v4(), cuts_v4);
        if any_v6 {
            ranges.extend(split(IpRange::whole_v6(), cuts_v6));
        }
        Segments { ranges }
    }
}

fn split(whole: IpRange, mut cuts: Vec<u128>) -> Vec<IpRange> {
    cuts.retain(|c| *c > whole.lo && *c <= whole.hi);
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut lo = whole.lo;
    for c in cuts {
        out.push(IpRange {
            v6: whole.v6,
            lo,
            hi: c - 1,
        });
        lo = c;
    }
    out.push(IpRange {
        v6: whole.v6,
        lo,
        hi: whole.hi,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(cidr: &str, except: &[&str]) -> IpBlock {
        IpBlock {
            cidr: IpRange::parse_cidr(cidr).unwrap(),
            except: except
                .iter()
                .map(|e| IpRange::parse_cidr(e).unwrap())
                .collect(),
        }
    }

    #[test]
    fn cidr_parsing() {
        assert_eq!(
            IpRange::parse_cidr("10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0-10.255.255.255"
        );
        assert_eq!(
            IpRange::parse_cidr("0.0.0.0/0").unwrap().to_string(),
            "0.0.0.0-255.255.255.255"
        );
        assert!(IpRange::parse_cidr("10.0.0.0/33").is_err());
        assert!(IpRange::parse_cidr("ten/8").is_err());
        assert!(IpRange::parse_cidr("::/0").unwrap().v6);
    }

    #[test]
    fn segments_follow_every_boundary() {
        let b = block(
            "0.0.0.0/0",
            &["10.0.0.0/8", "172.21.0.0/16", "172.30.0.0/16"],
        );
        let s = Segments::new([&b]);
        let shown: Vec<String> = s.ranges.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "0.0.0.0-9.255.255.255",
                "10.0.0.0-10.255.255.255",
                "11.0.0.0-172.20.255.255",
                "172.21.0.0-172.21.255.255",
                "172.22.0.0-172.29.255.255",
                "172.30.0.0-172.30.255.255",
                "172.31.0.0-255.255.255.255",
            ]
        );
        let inside: Vec<bool> = s.ranges.iter().map(|r| b.contains(r)).collect();
        assert_eq!(inside, [true, false, true, false, true, false, true]);
    }
}
