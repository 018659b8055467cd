//! The pickle machine on hand-written streams: opcodes and tricks that the corpus cannot load
//! with a real consumer (extension codes, BUILD on globals, computed names) and the resolution
//! details a bypass would probe.

use palisade_core::walk::Input;
use palisade_model::policy::Policy;
use palisade_model::scan::{ModelScan, Options, scan};

fn scan_bytes(tag: &str, data: &[u8], opts: &Options) -> ModelScan {
    let dir = std::env::temp_dir().join(format!("palisade-pickle-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("x.pkl");
    std::fs::write(&p, data).unwrap();
    let input = Input::File {
        path: p.clone(),
        display: "x.pkl".into(),
        explicit: true,
    };
    let r = scan(&[input], opts);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn rules(r: &ModelScan) -> Vec<String> {
    r.report
        .findings
        .iter()
        .map(|f| format!("{} {}", f.rule, f.message))
        .collect()
}

fn has(r: &ModelScan, rule: &str, text: &str) -> bool {
    rules(r)
        .iter()
        .any(|m| m.starts_with(rule) && m.contains(text))
}

#[test]
fn extension_codes_are_unknowable_and_critical() {
    let r = scan_bytes("ext", b"\x80\x02\x82\x05)R.", &Options::default());
    assert!(
        has(&r, "MDL001", "calls extension code 5"),
        "{:?}",
        rules(&r)
    );
    // only brought in, never called: still critical, and not described as a call
    let r = scan_bytes("ext-ref", b"\x80\x02\x82\x05.", &Options::default());
    assert!(
        has(&r, "MDL001", "brings in extension code 5"),
        "{:?}",
        rules(&r)
    );
    assert!(
        !rules(&r).iter().any(|m| m.contains("calls")),
        "{:?}",
        rules(&r)
    );
}

#[test]
fn build_on_a_global_is_reported() {
    // GLOBAL torch.nn.Linear, {'forward': None}, BUILD
    let r = scan_bytes(
        "build",
        b"\x80\x02ctorch.nn.modules.linear\nLinear\n}X\x07\x00\x00\x00forwardNsb.",
        &Options::default(),
    );
    assert!(
        has(&r, "MDL011", "torch.nn.modules.linear.Linear"),
        "{:?}",
        rules(&r)
    );
}

#[test]
fn names_computed_by_calls_are_treated_as_dangerous() {
    // STACK_GLOBAL whose module name is the result of str.join
    let r = scan_bytes(
        "computed",
        b"\x80\x04cbuiltins\nstr\n)\x81\x8c\x06system\x93)R.",
        &Options::default(),
    );
    assert!(
        has(&r, "MDL001", "computed at load time"),
        "{:?}",
        rules(&r)
    );
}

#[test]
fn referenced_is_told_apart_from_called() {
    // a list holding os.system, never called
    let r = scan_bytes("ref", b"\x80\x02]cos\nsystem\na.", &Options::default());
    assert!(has(&r, "MDL003", "references os.system"), "{:?}", rules(&r));
    assert!(!rules(&r).iter().any(|m| m.starts_with("MDL001")));
    // an unknown class referenced (low) vs instantiated (high)
    let r = scan_bytes("ref2", b"\x80\x02]cmylib\nThing\na.", &Options::default());
    assert!(has(&r, "MDL004", "mylib.Thing"), "{:?}", rules(&r));
    let r = scan_bytes(
        "call2",
        b"\x80\x02cmylib\nThing\n)\x81.",
        &Options::default(),
    );
    assert!(has(&r, "MDL002", "mylib.Thing"), "{:?}", rules(&r));
}

#[test]
fn the_allowlist_is_extendable() {
    let data = b"\x80\x02c__main__\nNet\n)\x81.";
    let r = scan_bytes("allow1", data, &Options::default());
    assert!(has(&r, "MDL002", "__main__.Net"), "{:?}", rules(&r));
    let opts = Options {
        policy: Policy::with_allowed(&["__main__.Net".into()]),
        ..Options::default()
    };
    let r = scan_bytes("allow2", data, &opts);
    assert!(r.report.findings.is_empty(), "{:?}", rules(&r));
}

#[test]
fn memo_and_marks_follow_the_c_unpickler() {
    // POP at a mark pops the mark (no underflow), then the payload runs
    let r = scan_bytes(
        "popmark",
        b"\x80\x02(0cos\nsystem\nX\x02\x00\x00\x00id\x85R.",
        &Options::default(),
    );
    assert!(has(&r, "MDL001", "os.system(\"id\")"), "{:?}", rules(&r));
    assert!(!rules(&r).iter().any(|m| m.starts_with("MDL005")));
    // GET of an unset memo index breaks the stream after the payload
    let r = scan_bytes(
        "memo",
        b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85Rh\x09.",
        &Options::default(),
    );
    assert!(has(&r, "MDL001", "os.system"), "{:?}", rules(&r));
    assert!(
        has(&r, "MDL005", "memo value not found at index 9"),
        "{:?}",
        rules(&r)
    );
}

#[test]
fn unsupported_protocol_is_a_break_not_silence() {
    let r = scan_bytes(
        "proto",
        b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R\x80\x09.",
        &Options::default(),
    );
    assert!(has(&r, "MDL001", "os.system"), "{:?}", rules(&r));
    assert!(
        has(&r, "MDL005", "unsupported pickle protocol: 9"),
        "{:?}",
        rules(&r)
    );
}
