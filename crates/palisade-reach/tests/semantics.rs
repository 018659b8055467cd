//! NetworkPolicy semantics, case by case, on small manifests: what a user would see from
//! `palisade reach`.

use palisade_k8s::load::{Manifests, load_text};
use palisade_reach::analysis::{Focus, Network, Want};
use palisade_reach::assertions;
use palisade_reach::generate::{self, Intent};
use palisade_reach::output;

fn manifests(yaml: &str) -> Manifests {
    let mut m = Manifests::default();
    load_text(&mut m, "t.yaml".into(), yaml.into());
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    m
}

fn pod(ns: &str, name: &str, labels: &str, ports: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {labels}}}\nspec:\n  containers:\n  - name: c\n    image: x\n    ports: {ports}\n"
    )
}

fn ns(name: &str, labels: &str) -> String {
    format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {labels}}}\n")
}

/// The connlist lines between workloads (the outside left out).
fn pairs(yaml: &str) -> Vec<String> {
    let m = manifests(yaml);
    let net = Network::build(&m);
    assert!(net.errors.is_empty(), "{:?}", net.errors);
    let edges = net.connectivity(None, None, Want::default());
    output::connlist(&net, &edges)
        .lines()
        .filter(|l| !l.contains("[External]"))
        .map(str::to_string)
        .collect()
}

fn cluster() -> String {
    [
        ns("ml", "{team: ml}"),
        ns("web", "{team: web}"),
        pod(
            "ml",
            "model",
            "{app: model}",
            "[{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]",
        ),
        pod("web", "frontend", "{app: frontend}", "[]"),
        pod("web", "other", "{app: other}", "[]"),
    ]
    .concat()
}

fn policy(spec: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: ml}}\nspec:\n{spec}"
    )
}

fn into_model(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter(|l| l.contains("=> ml/model[Pod]"))
        .map(String::as_str)
        .collect()
}

#[test]
fn namespace_and_pod_selector_in_one_peer_is_and_in_two_peers_is_or() {
    let and = cluster()
        + &policy(
            "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: web}}\n      podSelector: {matchLabels: {app: frontend}}\n",
        );
    assert_eq!(
        into_model(&pairs(&and)),
        ["web/frontend[Pod] => ml/model[Pod] : All Connections"]
    );
    let or = cluster()
        + &policy(
            "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: web}}\n    - podSelector: {matchLabels: {app: frontend}}\n",
        );
    assert_eq!(
        into_model(&pairs(&or)),
        [
            "web/frontend[Pod] => ml/model[Pod] : All Connections",
            "web/other[Pod] => ml/model[Pod] : All Connections"
        ]
    );
}

#[test]
fn match_expressions_select_peers() {
    let y = cluster()
        + &policy(
            "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [web]}]}\n      podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [other]}]}\n",
        );
    assert_eq!(
        into_model(&pairs(&y)),
        ["web/frontend[Pod] => ml/model[Pod] : All Connections"]
    );
}

#[test]
fn egress_is_isolated_only_when_declared_or_when_rules_exist() {
    // `egress: []` without policyTypes: the policy is Ingress-only, egress stays open.
    let y = cluster() + &policy("  podSelector: {}\n  ingress: []\n  egress: []\n");
    let lines = pairs(&y);
    assert!(into_model(&lines).is_empty());
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ml/model[Pod] => web/frontend"))
    );
    // Declared Egress with no rules: nothing leaves.
    let y = cluster() + &policy("  podSelector: {}\n  policyTypes: [Egress]\n");
    let lines = pairs(&y);
    assert!(!lines.iter().any(|l| l.starts_with("ml/model[Pod] =>")));
    assert_eq!(into_model(&lines).len(), 2, "ingress stays open: {lines:?}");
}

#[test]
fn named_ports_resolve_against_the_destination_with_their_protocol() {
    let y = cluster()
        + &policy(
            "  podSelector: {}\n  ingress:\n  - ports: [{port: http}, {port: dns, protocol: UDP}, {port: dns}]\n",
        );
    assert_eq!(
        into_model(&pairs(&y)),
        [
            "web/frontend[Pod] => ml/model[Pod] : TCP 8080,UDP 53",
            "web/other[Pod] => ml/model[Pod] : TCP 8080,UDP 53"
        ]
    );
}

#[test]
fn end_port_and_protocols() {
    let y = cluster()
        + &policy(
            "  podSelector: {}\n  ingress:\n  - ports: [{port: 8000, endPort: 8100}, {protocol: SCTP}]\n",
        );
    assert_eq!(
        into_model(&pairs(&y))[0],
        "web/frontend[Pod] => ml/model[Pod] : SCTP 1-65535,TCP 8000-8100"
    );
}

#[test]
fn connection_needs_egress_at_source_and_ingress_at_destination() {
    let y = cluster()
        + &policy("  podSelector: {}\n  ingress:\n  - ports: [{port: 8080}]\n")
        + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: e, namespace: web}\nspec:\n  podSelector: {matchLabels: {app: frontend}}\n  egress:\n  - ports: [{port: 8000, endPort: 9000}]\n";
    assert_eq!(
        into_model(&pairs(&y)),
        [
            "web/frontend[Pod] => ml/model[Pod] : TCP 8080",
            "web/other[Pod] => ml/model[Pod] : TCP 8080"
        ]
    );
}

#[test]
fn malformed_peers_are_errors_with_lines_and_admit_nothing() {
    let y = cluster()
        + &policy(
            "  podSelector: {}\n  ingress:\n  - from:\n    - {}\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8}\n      podSelector: {}\n  - ports: [{port: http, endPort: 9000}]\n",
        );
    let m = manifests(&y);
    let net = Network::build(&m);
    let msgs: Vec<String> = net
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.pos.line, e.message))
        .collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(
        msgs[0].contains("NetworkPolicy ml/p") && msgs[0].contains("empty peer"),
        "{msgs:?}"
    );
    assert!(msgs[1].contains("mixes ipBlock"), "{msgs:?}");
    assert!(
        msgs[2].contains("endPort with the named port 'http'"),
        "{msgs:?}"
    );
    // Not a silent allow: the model is selected and no rule admits anyone.
    let edges = net.connectivity(
        None,
        Some(&Focus::parse("app=model").unwrap()),
        Want::default(),
    );
    assert!(edges.is_empty(), "{}", output::connlist(&net, &edges));
}

#[test]
fn ip_blocks_match_only_the_outside() {
    let y = cluster()
        + &policy(
            "  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}\n    ports: [{port: 8080}]\n",
        );
    let m = manifests(&y);
    let net = Network::build(&m);
    let lines: Vec<String> = output::connlist(&net, &net.connectivity(None, None, Want::default()))
        .lines()
        .filter(|l| l.contains("=> ml/model"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "0.0.0.0-9.255.255.255[External] => ml/model[Pod] : TCP 8080",
            "11.0.0.0-255.255.255.255[External] => ml/model[Pod] : TCP 8080"
        ]
    );
}

/// The focused path (`--to`/`--from`, peers matched directly) and the full matrix (peers
/// indexed as bitsets) are two ways to the same answer.
#[test]
fn focused_queries_agree_with_the_full_matrix() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/peer/netpol-analyzer/tests");
    for case in [
        "acs-security-demos",
        "onlineboutique",
        "test_with_named_ports",
        "ipblockstest",
    ] {
        let walk = palisade_core::walk::discover(
            &[root.join(case).to_string_lossy().into_owned()],
            &|_| false,
        );
        let m = palisade_k8s::load::load(&walk.inputs, &Default::default());
        // The full matrix indexes every rule's peers; the focused queries run on a network that
        // has not, so they match peers directly: both ways of matching are compared.
        let indexed = Network::build(&m);
        let full = output::connlist(&indexed, &indexed.connectivity(None, None, Want::default()));
        let net = Network::build(&m);
        for w in &net.topo.workloads {
            let f = Focus::parse(&format!("{}/{}[{}]", w.namespace, w.name, w.kind)).unwrap();
            let id = w.id();
            let want: Vec<&str> = full
                .lines()
                .filter(|l| {
                    l.split(" => ")
                        .nth(1)
                        .is_some_and(|d| d.starts_with(&format!("{id} :")))
                })
                .collect();
            let focused =
                output::connlist(&net, &net.connectivity(None, Some(&f), Want::default()));
            let got: Vec<&str> = focused.lines().collect();
            assert_eq!(got, want, "{case}: --to {id}");
            let want: Vec<&str> = full
                .lines()
                .filter(|l| l.starts_with(&format!("{id} =>")))
                .collect();
            let focused =
                output::connlist(&net, &net.connectivity(Some(&f), None, Want::default()));
            let got: Vec<&str> = focused.lines().collect();
            assert_eq!(got, want, "{case}: --from {id}");
        }
    }
}

fn assertion(toml_text: &str) -> Vec<assertions::Assertion> {
    let cfg =
        palisade_core::config::Config::parse(toml_text, "palisade.toml", "2026-01-01").unwrap();
    assertions::compile(&cfg.reach_assertions).unwrap()
}

#[test]
fn assertions_fail_and_pass_as_they_should() {
    let only = assertion(
        "[[reach.assert]]\nname = \"only frontend\"\nto = \"app=model\"\nonly_from = [\"app=frontend\"]\nports = \"TCP 8080\"\n",
    );
    // Open cluster: `other` and the outside reach the model, and the frontend on every port.
    let m = manifests(&cluster());
    let net = Network::build(&m);
    let v = assertions::check(&net, &only);
    let said: Vec<String> = v
        .iter()
        .map(|v| assertions::describe(&net, &only, v))
        .collect();
    assert_eq!(v.len(), 3, "{said:#?}");
    assert!(
        said.iter()
            .any(|s| s.contains("web/other[Pod] reaches ml/model[Pod]")
                && s.contains("not among `only_from`"))
    );
    assert!(
        said.iter().any(
            |s| s.contains("web/frontend[Pod]") && s.contains("more than the allowed TCP 8080")
        )
    );
    // The right policy: the assertion holds.
    let y = cluster()
        + &policy(
            "  podSelector: {matchLabels: {app: model}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: web}}\n      podSelector: {matchLabels: {app: frontend}}\n    ports: [{port: 8080}]\n",
        );
    let m = manifests(&y);
    let net = Network::build(&m);
    assert!(assertions::check(&net, &only).is_empty());
    // "Nothing outside reaches namespace ml" holds too; "ml has no egress" does not.
    let more = assertion(
        "[[reach.assert]]\nfrom = \"outside\"\nto = \"ml/*\"\n[[reach.assert]]\nfrom = \"ml/*\"\nports = \"UDP 53,TCP 53\"\n",
    );
    let v = assertions::check(&net, &more);
    assert!(v.iter().all(|v| v.assertion == 1), "{v:?}");
    assert!(!v.is_empty());
}

#[test]
fn assertion_config_errors_name_the_entry() {
    let cfg = palisade_core::config::Config::parse(
        "[[reach.assert]]\nto = \"app=model\"\n[[reach.assert]]\nonly_from = [\"a=b\"]\nfrom = \"x=y\"\n",
        "palisade.toml",
        "2026-01-01",
    )
    .unwrap();
    let e = assertions::compile(&cfg.reach_assertions).unwrap_err();
    assert!(
        e.contains("[[reach.assert]] #2") && e.contains("only_from"),
        "{e}"
    );
}

#[test]
fn generated_policies_are_proven_and_over_permissive_ones_are_caught() {
    let base = cluster();
    let m = manifests(&base);
    let net = Network::build(&m);
    let intent = Intent::parse(&["app=frontend -> app=model : TCP 8080".to_string()]).unwrap();
    let g = generate::generate(&net, &intent).unwrap();
    let proof = generate::prove(&net, &g.yaml, &intent).unwrap();
    assert!(proof.holds, "{}", proof.summary);
    // The generated YAML is a real policy set: read back, only the frontend gets in.
    let with = manifests(&(base.clone() + &g.yaml));
    let net2 = Network::build(&with);
    assert!(net2.errors.is_empty());
    let into: Vec<String> = output::connlist(
        &net2,
        &net2.connectivity(
            None,
            Some(&Focus::parse("app=model").unwrap()),
            Want::default(),
        ),
    )
    .lines()
    .map(str::to_string)
    .collect();
    assert_eq!(into, ["web/frontend[Pod] => ml/model[Pod] : TCP 8080"]);
    // An existing policy that admits everyone breaks the intent, and the proof says so.
    let open = base + &policy("  podSelector: {}\n  ingress:\n  - {}\n");
    let m = manifests(&open);
    let net = Network::build(&m);
    let g = generate::generate(&net, &intent).unwrap();
    let proof = generate::prove(&net, &g.yaml, &intent).unwrap();
    assert!(!proof.holds);
    // (`web/other` is cut off by the default deny generated for its namespace; the outside is not.)
    assert!(
        proof.summary.contains("[External] => ml/model[Pod]")
            && proof.summary.contains("NetworkPolicy ml/p spec.ingress[0]"),
        "{}",
        proof.summary
    );
}

#[test]
fn focus_tells_workloads_from_prefixed_label_keys() {
    assert!(matches!(
        Focus::parse("ml/model-server[Deployment]").unwrap(),
        Focus::Workload { ref namespace, ref name, ref kind }
            if namespace == "ml" && name.as_deref() == Some("model-server") && kind.as_deref() == Some("Deployment")
    ));
    assert!(matches!(
        Focus::parse("ml/*").unwrap(),
        Focus::Workload { name: None, .. }
    ));
    for label in [
        "app.kubernetes.io/name=model",
        "app.kubernetes.io/part-of",
        "!app.kubernetes.io/part-of",
    ] {
        assert!(
            matches!(Focus::parse(label).unwrap(), Focus::Labels(_)),
            "{label}"
        );
    }
    assert!(matches!(Focus::parse("outside").unwrap(), Focus::Outside));
}
