//! Sets of connections: for each protocol NetworkPolicy knows (SCTP, TCP, UDP), a set of port
//! ranges within 1–65535. Printed the way netpol-analyzer prints them (`TCP 80,8000-8090`,
//! `All Connections`).

use std::fmt;

pub const MAX_PORT: u16 = 65535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Sctp,
    Tcp,
    Udp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Sctp, Protocol::Tcp, Protocol::Udp];

    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Sctp => "SCTP",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Sorted, disjoint, non-adjacent inclusive port ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PortSet(Vec<(u16, u16)>);

impl PortSet {
    pub fn all() -> PortSet {
        PortSet(vec![(1, MAX_PORT)])
    }

    pub fn range(lo: u16, hi: u16) -> PortSet {
        let lo = lo.max(1);
        if lo > hi {
            PortSet::default()
        } else {
            PortSet(vec![(lo, hi)])
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_all(&self) -> bool {
        self.0 == [(1, MAX_PORT)]
    }

    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }

    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| lo <= port && port <= hi)
    }

    pub fn union(&self, other: &PortSet) -> PortSet {
        if other.0.is_empty() || self.is_all() {
            return self.clone();
        }
        let mut all: Vec<(u16, u16)> = self.0.iter().chain(&other.0).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(u16, u16)> = Vec::with_capacity(all.len());
        for (lo, hi) in all {
            match out.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        PortSet(out)
    }

    pub fn intersect(&self, other: &PortSet) -> PortSet {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.0.len() && j < other.0.len() {
            let (a, b) = (self.0[i], other.0[j]);
            let lo = a.0.max(b.0);
            let hi = a.1.min(b.1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a.1 < b.1 { i += 1 } else { j += 1 }
        }
        PortSet(out)
    }

    /// `lo-hi` ranges joined by commas.
    pub fn render(&self) -> String {
        self.0
            .iter()
            .map(|&(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Allowed connections: a port set per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Conns([PortSet; 3]);

impl Conns {
    pub fn none() -> Conns {
        Conns::default()
    }

    pub fn all() -> Conns {
        Conns([PortSet::all(), PortSet::all(), PortSet::all()])
    }

    pub fn of(protocol: Protocol, ports: PortSet) -> Conns {
        let mut c = Conns::none();
        c.0[protocol.index()] = ports;
        c
    }

    pub fn ports(&self, protocol: Protocol) -> &PortSet {
        &self.0[protocol.index()]
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(PortSet::is_empty)
    }

    pub fn is_all(&self) -> bool {
        self.0.iter().all(PortSet::is_all)
    }

    pub fn union(&self, other: &Conns) -> Conns {
        Conns(std::array::from_fn(|i| self.0[i].union(&other.0[i])))
    }

    pub fn add(&mut self, other: &Conns) {
        for i in 0..3 {
            if !other.0[i].is_empty() {
                self.0[i] = self.0[i].union(&other.0[i]);
            }
        }
    }

    pub fn intersect(&self, other: &Conns) -> Conns {
        if other.is_all() {
            return self.clone();
        }
        if self.is_all() {
            return other.clone();
        }
        Conns(std::array::from_fn(|i| self.0[i].intersect(&other.0[i])))
    }

    /// Whether every connection in `other` is allowed here.
    pub fn covers(&self, other: &Conns) -> bool {
        &self.intersect(other) == other
    }

    /// Parse netpol-analyzer's rendering (`All Connections`, `TCP 80,443,UDP 53`, `No Connections`).
    pub fn parse(s: &str) -> Option<Conns> {
        let s = s.trim();
        if s == "All Connections" {
            return Some(Conns::all());
        }
        if s == "No Connections" || s.is_empty() {
            return Some(Conns::none());
        }
        let mut c = Conns::none();
        let mut proto = None;
        for part in s.split(',') {
            let part = part.trim();
            let ports = match part.split_once(' ') {
                Some((p, rest)) => {
                    proto = Some(Protocol::parse(p)?);
                    rest
                }
                None => part,
            };
            let (lo, hi) = match ports.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let p = ports.parse().ok()?;
                    (p, p)
                }
            };
            let p = proto?;
            c.0[p.index()] = c.0[p.index()].union(&PortSet::range(lo, hi));
        }
        Some(c)
    }
}

impl fmt::Display for Conns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        let parts: Vec<String> = Protocol::ALL
            .iter()
            .filter(|p| !self.ports(**p).is_empty())
            .map(|p| format!("{} {}", p.as_str(), self.ports(*p).render()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_merges_adjacent_and_overlapping_ranges() {
        let a = PortSet::range(80, 80).union(&PortSet::range(81, 90));
        assert_eq!(a.ranges(), &[(80, 90)]);
        let b = a
            .union(&PortSet::range(100, 200))
            .union(&PortSet::range(85, 120));
        assert_eq!(b.ranges(), &[(80, 200)]);
        assert!(PortSet::range(1, 65535).is_all());
    }

    #[test]
    fn intersection_and_rendering() {
        let a = PortSet::range(1, 100).union(&PortSet::range(200, 300));
        let b = PortSet::range(50, 250);
        assert_eq!(a.intersect(&b).render(), "50-100,200-250");
        let c = Conns::of(Protocol::Tcp, PortSet::range(8080, 8080))
            .union(&Conns::of(Protocol::Udp, PortSet::range(53, 53)));
        assert_eq!(c.to_string(), "TCP 8080,UDP 53");
        assert_eq!(Conns::all().to_string(), "All Connections");
    }

    #[test]
    fn parses_what_it_prints() {
        for s in [
            "All Connections",
            "TCP 8080",
            "SCTP 1-65535,TCP 1-65535,UDP 1-5352,5354-65535",
            "TCP 10053,UDP 10053",
        ] {
            assert_eq!(Conns::parse(s).unwrap().to_string(), s);
        }
        assert!(Conns::parse("ICMP 1").is_none());
    }
}
