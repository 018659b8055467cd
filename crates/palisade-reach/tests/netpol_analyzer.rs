//! Conformance with np-guard/netpol-analyzer's test suite (Apache-2.0, read from
//! `../shared/peer/netpol-analyzer`): for every case made of core Kubernetes kinds, the
//! connectivity must equal the expected `connlist` output semantically — the same workload
//! pairs with the same protocol/port sets, and for addresses outside the cluster the same
//! connections at every address (however the ranges are cut).
//!
//! Cases that need kinds Palisade does not model are listed in `GAPS` with the reason; a case
//! that gains support fails the test until it is moved out of the list.

use palisade_k8s::load::{LoadOptions, load};
use palisade_reach::analysis::{Network, Want};
use palisade_reach::ipblock::IpRange;
use palisade_reach::output;
use palisade_reach::ports::Conns;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Kinds whose semantics Palisade does not model yet, and why a case using them is a gap.
const GAP_KINDS: &[(&str, &str)] = &[
    (
        "AdminNetworkPolicy",
        "AdminNetworkPolicy (policy.networking.k8s.io v1alpha1) is not modelled",
    ),
    (
        "BaselineAdminNetworkPolicy",
        "BaselineAdminNetworkPolicy (v1alpha1) is not modelled",
    ),
    (
        "UserDefinedNetwork",
        "OVN-Kubernetes user-defined networks isolate pods; not modelled",
    ),
    (
        "ClusterUserDefinedNetwork",
        "OVN-Kubernetes cluster user-defined networks; not modelled",
    ),
    (
        "NetworkAttachmentDefinition",
        "Multus secondary networks; not modelled",
    ),
    (
        "MultiNetworkPolicy",
        "Multus MultiNetworkPolicy; not modelled",
    ),
    (
        "VirtualMachine",
        "KubeVirt virtual machines are not workloads Palisade knows",
    ),
];

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer/netpol-analyzer")
}

type Key = (String, String);

/// Expected or computed connectivity: workload pairs, and per (workload, direction) the
/// connections by outside range.
#[derive(Default, Debug)]
struct Conn {
    pairs: BTreeMap<Key, Conns>,
    outside: BTreeMap<Key, Vec<(IpRange, Conns)>>,
}

fn parse_range(s: &str) -> Option<IpRange> {
    let body = s.strip_suffix("[External]")?;
    let (a, b) = body.split_once('-')?;
    let lo = IpRange::parse_cidr(a).ok()?;
    let hi = IpRange::parse_cidr(b).ok()?;
    Some(IpRange {
        v6: lo.v6,
        lo: lo.lo,
        hi: hi.hi,
    })
}

fn add(c: &mut Conn, src: &str, dst: &str, conns: Conns) {
    if let Some(r) = parse_range(src) {
        c.outside
            .entry((dst.to_string(), "from-outside".into()))
            .or_default()
            .push((r, conns));
    } else if let Some(r) = parse_range(dst) {
        c.outside
            .entry((src.to_string(), "to-outside".into()))
            .or_default()
            .push((r, conns));
    } else {
        let e = c
            .pairs
            .entry((src.to_string(), dst.to_string()))
            .or_default();
        *e = e.union(&conns);
    }
}

fn expected(case: &str) -> Conn {
    let path = suite()
        .join("test_outputs/connlist")
        .join(format!("{case}_connlist_output.txt"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut c = Conn::default();
    for line in text.lines() {
        let Some((src, rest)) = line.split_once(" => ") else {
            continue;
        };
        let (dst, conns) = rest.split_once(" : ").unwrap();
        let conns = Conns::parse(conns).unwrap_or_else(|| panic!("{case}: cannot read {line}"));
        add(&mut c, src.trim(), dst.trim(), conns);
    }
    c
}

/// The connections at each address, compared over the union of both cuts.
fn outside_differs(a: &[(IpRange, Conns)], b: &[(IpRange, Conns)]) -> Option<String> {
    let mut cuts: BTreeSet<(bool, u128)> = BTreeSet::new();
    for (r, _) in a.iter().chain(b) {
        cuts.insert((r.v6, r.lo));
        if let Some(n) = r.hi.checked_add(1) {
            cuts.insert((r.v6, n));
        }
    }
    let at = |list: &[(IpRange, Conns)], v6: bool, ip: u128| {
        list.iter()
            .filter(|(r, _)| r.v6 == v6 && r.lo <= ip && ip <= r.hi)
            .fold(Conns::none(), |acc, (_, c)| acc.union(c))
    };
    for (v6, ip) in cuts {
        let (x, y) = (at(a, v6, ip), at(b, v6, ip));
        if x != y {
            let r = IpRange { v6, lo: ip, hi: ip };
            return Some(format!("at {r}: expected {x}, got {y}"));
        }
    }
    None
}

fn compare(case: &str, want: &Conn, got: &Conn) -> Vec<String> {
    let mut problems = Vec::new();
    let keys: BTreeSet<&Key> = want.pairs.keys().chain(got.pairs.keys()).collect();
    for k in keys {
        let (w, g) = (want.pairs.get(k), got.pairs.get(k));
        if w != g {
            problems.push(format!(
                "{case}: {} => {}: expected {}, got {}",
                k.0,
                k.1,
                w.map_or("nothing".into(), ToString::to_string),
                g.map_or("nothing".into(), ToString::to_string)
            ));
        }
    }
    let keys: BTreeSet<&Key> = want.outside.keys().chain(got.outside.keys()).collect();
    for k in keys {
        let w = want.outside.get(k).map(Vec::as_slice).unwrap_or(&[]);
        let g = got.outside.get(k).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(d) = outside_differs(w, g) {
            problems.push(format!("{case}: {} {}: {d}", k.0, k.1));
        }
    }
    problems
}

#[test]
fn netpol_analyzer_cases() {
    let root = suite().join("tests");
    let mut cases: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    let (mut passed, mut gaps, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let mut identical = 0;
    for case in &cases {
        if !suite()
            .join(format!("test_outputs/connlist/{case}_connlist_output.txt"))
            .exists()
        {
            continue;
        }
        let walk = palisade_core::walk::discover(
            &[root.join(case).to_string_lossy().into_owned()],
            &|_| false,
        );
        let m = load(&walk.inputs, &LoadOptions::default());
        if let Some((kind, why)) = GAP_KINDS
            .iter()
            .find(|(k, _)| m.resources.iter().any(|r| r.kind == *k))
        {
            gaps.push(format!("{case}: {kind}: {why}"));
            continue;
        }
        let net = Network::build(&m);
        let edges = net.connectivity(None, None, Want::default());
        let mut got = Conn::default();
        for e in &edges {
            add(
                &mut got,
                &net.node_name(e.src),
                &net.node_name(e.dst),
                e.conns.clone(),
            );
        }
        let problems = compare(case, &expected(case), &got);
        let mut want_lines: Vec<String> = std::fs::read_to_string(
            suite().join(format!("test_outputs/connlist/{case}_connlist_output.txt")),
        )
        .unwrap()
        .lines()
        .filter(|l| l.contains(" => "))
        .map(str::to_string)
        .collect();
        want_lines.sort();
        let ours: Vec<String> = output::connlist(&net, &edges)
            .lines()
            .map(str::to_string)
            .collect();
        if ours == want_lines {
            identical += 1;
        } else {
            eprintln!("not line-identical: {case}");
        }
        if problems.is_empty() {
            passed.push(case.clone());
        } else {
            failures.extend(problems.into_iter().take(8));
        }
    }
    eprintln!(
        "netpol-analyzer cases: {} passed ({identical} line-identical connlist output), {} known gaps",
        passed.len(),
        gaps.len()
    );
    for g in &gaps {
        eprintln!("  gap: {g}");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed.len() >= 36, "only {} cases ran", passed.len());
    assert_eq!(
        identical,
        passed.len(),
        "`--format connlist` must print exactly netpol-analyzer's lines"
    );
}
