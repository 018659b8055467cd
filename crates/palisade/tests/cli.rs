//! End-to-end tests of the `palisade` binary: what a user runs and sees.

mod common;
use common::*;
use std::process::Command;

#[test]
fn vulnerable_example_fails_with_findings_at_their_lines() {
    let out = run(&[
        "scan",
        "examples/sklearn-api/vulnerable",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["tool"]["name"], "palisade");
    let findings = v["findings"].as_array().unwrap();
    let priv_ = findings
        .iter()
        .find(|f| f["rule"] == "K8S001")
        .expect("privileged found");
    assert_eq!(
        priv_["path"],
        "examples/sklearn-api/vulnerable/deployment.yaml"
    );
    assert_eq!(
        (priv_["line"].as_u64(), priv_["column"].as_u64()),
        (Some(32), Some(11))
    );
    assert_eq!(priv_["resource"], "Deployment/default/iris-api");
    assert_eq!(priv_["container"], "server");
    assert_eq!(priv_["controls"][0], "pss-baseline:privileged");
    assert_eq!(priv_["techniques"][0], "AML.T0105");
    let token = findings
        .iter()
        .find(|f| f["rule"] == "K8S040")
        .expect("token found");
    assert_eq!(token["severity"], "critical");
    assert!(
        !out.stdout.windows(6).any(|w| w == b"hf_QmV"),
        "secret value leaked into the report"
    );
    assert_eq!(v["summary"]["by_severity"]["critical"], 3);
}

#[test]
fn hardened_example_scans_clean() {
    let out = run(&["scan", "examples/sklearn-api/hardened"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("No findings in 7 files, 13 resources."),
        "{stdout}"
    );
}

#[test]
fn fail_on_threshold_sets_exit_code() {
    let out = run(&[
        "scan",
        "examples/sklearn-api/vulnerable",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let dir = tempdir("failon");
    std::fs::write(
        dir.join("svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ml}\nspec: {type: NodePort}\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    assert_eq!(
        run(&["scan", d, "--fail-on", "high"]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["scan", d, "--fail-on", "medium"]).status.code(),
        Some(1)
    );
    assert_eq!(
        run(&["scan", d, "--fail-on", "nonsense"]).status.code(),
        Some(2)
    );
}

#[test]
fn stdin_is_scanned_like_helm_template_output() {
    let manifest = "---\n# Source: chart/templates/pod.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ml\nspec:\n  hostPID: true\n  containers:\n  - name: c\n    image: x:1\n";
    let out = run_stdin(&["scan", "-", "--format", "json"], manifest);
    let v = json(&out);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "K8S002")
        .unwrap();
    assert_eq!(f["path"], "<stdin>");
    assert_eq!(f["line"], 9);
}

#[test]
fn broken_inputs_are_errors_and_the_scan_goes_on() {
    let dir = tempdir("broken");
    std::fs::write(
        dir.join("bad.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n",
    )
    .unwrap();
    std::fs::write(dir.join("bin.yaml"), b"\x00\x01\x02binary").unwrap();
    std::fs::write(dir.join("latin1.yaml"), b"kind: Pod\nname: caf\xe9\n").unwrap();
    std::fs::write(
        dir.join("good.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: ml}\nspec:\n  containers:\n  - {name: c, image: x:1, securityContext: {privileged: true}}\n",
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&dir, dir.join("loop")).unwrap();
    let out = run(&["scan", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "input errors exit 2");
    let v = json(&out);
    let errors = v["errors"].as_array().unwrap();
    let msg_for = |name: &str| {
        errors
            .iter()
            .find(|e| e["path"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("no error for {name}: {errors:?}"))
    };
    assert!(
        msg_for("bad.yaml")["line"].as_u64().unwrap() >= 4,
        "{errors:?}"
    );
    assert!(
        msg_for("bin.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("binary")
    );
    assert!(
        msg_for("latin1.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8")
    );
    #[cfg(unix)]
    assert!(
        msg_for("loop")["message"]
            .as_str()
            .unwrap()
            .contains("loop")
    );
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "K8S001"),
        "good file still scanned"
    );
    let out = run(&["scan", dir.to_str().unwrap(), "--ignore-errors"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "--ignore-errors leaves the findings' exit code"
    );
}

#[test]
fn helm_chart_sources_are_skipped_once_with_a_hint() {
    let dir = tempdir("helm");
    let chart = dir.join("mychart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: mychart\nversion: 0.1.0\n",
    )
    .unwrap();
    for n in ["a", "b", "c"] {
        std::fs::write(
            chart.join("templates").join(format!("{n}.yaml")),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n{{- if .Values.x }}\n",
        )
        .unwrap();
    }
    let out = run(&["scan", dir.to_str().unwrap(), "--format", "json"]);
    let v = json(&out);
    assert_eq!(v["errors"].as_array().unwrap().len(), 0, "{v}");
    let skipped = v["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]["message"]
            .as_str()
            .unwrap()
            .contains("helm template")
    );
    assert!(
        skipped[0]["message"]
            .as_str()
            .unwrap()
            .contains("3 template files")
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn gitignored_files_are_not_scanned() {
    let dir = tempdir("gitignore");
    std::fs::write(dir.join(".gitignore"), "generated/\n").unwrap();
    std::fs::create_dir_all(dir.join("generated")).unwrap();
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ml}\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: x:1}]\n";
    std::fs::write(dir.join("generated/pod.yaml"), pod).unwrap();
    std::fs::write(dir.join(".git/pod.yaml"), pod).unwrap();
    std::fs::write(dir.join("pod.yaml"), pod).unwrap();
    let v = json(&run(&["scan", dir.to_str().unwrap(), "--format", "json"]));
    assert_eq!(v["summary"]["files"], 1);
}

#[test]
fn suppression_inline_annotation_config_and_baseline() {
    let dir = tempdir("suppress");
    let pod = |name: &str, extra_meta: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: ml\n{extra_meta}spec:\n  hostNetwork: true # palisade:ignore K8S002 -- needs NCCL\n  containers:\n  - name: c\n    image: x:1\n    securityContext:\n      privileged: true\n"
        )
    };
    std::fs::write(dir.join("a.yaml"), pod("a", "")).unwrap();
    std::fs::write(
        dir.join("b.yaml"),
        pod(
            "b",
            "  annotations:\n    palisade.dev/ignore: \"K8S001 -- GPU driver installer\"\n",
        ),
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let v = json(&run(&["scan", d, "--format", "json"]));
    let rules_in = |v: &serde_json::Value, file: &str| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["path"].as_str().unwrap().ends_with(file))
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        !rules_in(&v, "a.yaml").contains(&"K8S002".to_string()),
        "inline comment"
    );
    assert!(rules_in(&v, "a.yaml").contains(&"K8S001".to_string()));
    assert!(
        !rules_in(&v, "b.yaml").contains(&"K8S001".to_string()),
        "annotation"
    );
    let suppressed = v["summary"]["suppressed"].as_u64().unwrap();
    assert_eq!(suppressed, 3, "two inline + one annotation");

    let cfg = dir.join("palisade.toml");
    std::fs::write(
        &cfg,
        "[[ignore]]\nrules = [\"K8S020\"]\npaths = [\"a.yaml\"]\nreason = \"legacy\"\nexpires = 2999-01-01\n",
    )
    .unwrap();
    let v2 = json(&run(&[
        "scan",
        d,
        "--format",
        "json",
        "--config",
        cfg.to_str().unwrap(),
    ]));
    assert!(
        !rules_in(&v2, "a.yaml").contains(&"K8S020".to_string()),
        "config ignore"
    );
    assert!(
        rules_in(&v2, "b.yaml").contains(&"K8S020".to_string()),
        "only the globbed path"
    );

    let base = dir.join("baseline.json");
    std::fs::write(&base, serde_json::to_string(&v).unwrap()).unwrap();
    std::fs::write(dir.join("c.yaml"), pod("c", "")).unwrap();
    let v3 = json(&run(&[
        "scan",
        d,
        "--format",
        "json",
        "--baseline",
        base.to_str().unwrap(),
    ]));
    let files: std::collections::BTreeSet<&str> = v3["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        files.into_iter().collect::<Vec<_>>(),
        vec!["c.yaml"],
        "only new findings"
    );

    std::fs::write(&cfg, "[[ignore]]\nrules = [\"K8S020\"]\nreason = \"\"\n").unwrap();
    let out = run(&["scan", d, "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reason"));
}

#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    let out = run(&[
        "scan",
        "examples/sklearn-api/vulnerable",
        "--format",
        "sarif",
    ]);
    let sarif = json(&out);
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let priv_ = results.iter().find(|r| r["ruleId"] == "K8S001").unwrap();
    assert_eq!(priv_["level"], "error");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let idx = priv_["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[idx]["id"], "K8S001");
    assert_eq!(rules[idx]["properties"]["security-severity"], "9.5");

    let dir = tempdir("sarif");
    let file = dir.join("out.sarif");
    std::fs::write(&file, &out.stdout).unwrap();
    let schema = shared().join("peer/sarif/sarif-schema-2.1.0.json");
    let check = Command::new("python3")
        .args([
            "-c",
            "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))); print('valid')",
            file.to_str().unwrap(),
            schema.to_str().unwrap(),
        ])
        .output()
        .expect("python3 (installed by scripts/test)");
    assert!(
        check.status.success(),
        "SARIF does not validate (scripts/test installs python jsonschema): {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn realworld_corpus_scans_without_a_crash() {
    let root = shared().join("peer/realworld");
    let out = run(&["scan", root.to_str().unwrap(), "--format", "json"]);
    assert!(matches!(out.status.code(), Some(1 | 2)), "{:?}", out.status);
    let v = json(&out);
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let files_of = |kind: &str| -> std::collections::BTreeSet<String> {
        manifest
            .lines()
            .filter(|l| l.split('\t').nth(3) == Some(kind))
            .map(|l| l.split('\t').nth(5).unwrap().to_string())
            .collect()
    };
    let k8s_files = files_of("k8s");
    let dockerfiles = files_of("dockerfile");
    // Every Kubernetes file and every Dockerfile (whatever its name: Dockerfile.gpu,
    // xgb.Dockerfile, hidden folders) is read and parsed; the one empty Dockerfile is reported
    // as skipped, not silently dropped.
    let skipped = v["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]["message"]
            .as_str()
            .unwrap()
            .contains("empty Dockerfile")
    );
    assert_eq!(
        v["summary"]["files"].as_u64().unwrap() as usize,
        k8s_files.len() + dockerfiles.len() - 1
    );
    let found_in = |prefix: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"].as_str().unwrap().starts_with(prefix))
            .count()
    };
    assert!(
        found_in("DF") > 100,
        "Dockerfile rules found {}",
        found_in("DF")
    );
    assert!(found_in("K8S1") > 50, "ML rules found {}", found_in("K8S1"));
    // Each input error names one of those files and the line where parsing stopped.
    let errors = v["errors"].as_array().unwrap();
    for e in errors {
        let path = e["path"].as_str().unwrap();
        let rel = path.split("realworld/").nth(1).unwrap_or(path);
        assert!(k8s_files.contains(rel), "error for an unexpected file: {e}");
        assert!(
            e["line"].as_u64().is_some_and(|l| l >= 1),
            "error without a line: {e}"
        );
    }
    assert!(
        errors.len() < 30,
        "{} input errors: the loader regressed",
        errors.len()
    );
    assert!(v["summary"]["resources"].as_u64().unwrap() > 1000);
    // ML custom resources are looked into.
    let rules_on = |kind: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["resource"].as_str().unwrap_or("").starts_with(kind))
    };
    for kind in [
        "InferenceService/",
        "ClusterServingRuntime/",
        "RayCluster/",
        "RayService/",
        "RayJob/",
        "SeldonDeployment/",
        "LeaderWorkerSet/",
        "JobSet/",
        "ClusterTrainingRuntime/",
    ] {
        assert!(rules_on(kind), "no finding on any {kind}");
    }
}

#[test]
fn rules_and_explain() {
    let out = run(&["rules", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    let rules = v["rules"].as_array().unwrap();
    assert!(rules.len() >= 30);
    let mut codes: Vec<&str> = rules.iter().map(|r| r["code"].as_str().unwrap()).collect();
    let n = codes.len();
    codes.dedup();
    assert_eq!(codes.len(), n, "rule codes are unique");
    for r in rules {
        for section in [
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Use instead",
            "## References",
        ] {
            assert!(
                r["doc"].as_str().unwrap().contains(section),
                "{} lacks {section}",
                r["code"]
            );
        }
    }
    let out = run(&["explain", "privileged-container"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.starts_with("K8S001 privileged-container (critical)"),
        "{s}"
    );
    assert_eq!(run(&["explain", "K8S999"]).status.code(), Some(2));
}

#[test]
fn output_file() {
    let dir = tempdir("output");
    let file = dir.join("r.json");
    let out = run(&[
        "scan",
        "examples/sklearn-api/hardened",
        "-f",
        "json",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(v["summary"]["files"], 7);
}

/// A JSON report's findings as snapshot lines: `path:line:column rule severity [resource]
/// message`, with `strip` removed from the front of paths.
fn snapshot_lines(v: &serde_json::Value, strip: &str) -> String {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{} {} {} [{}] {}\n",
                f["path"].as_str().unwrap().trim_start_matches(strip),
                f["line"],
                f["column"],
                f["rule"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
                f["resource"].as_str().unwrap_or("-"),
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

/// Every example's `vulnerable/` findings, pinned: `tests/snapshots/<example>.snap` holds one
/// `path:line:column rule severity [resource] message` per finding. After a deliberate change,
/// `PALISADE_BLESS=1 cargo test -p palisade --test cli examples_are_pinned` rewrites them; review
/// the diff. Every `hardened/` scans clean.
#[test]
fn examples_are_pinned() {
    let root = repo().join("examples");
    let snapshots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut examples: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // Scenario examples hold vulnerable/ and hardened/; examples/guard is a runnable demo.
        .filter(|n| root.join(n).join("vulnerable").is_dir())
        .collect();
    examples.sort();
    assert!(examples.len() >= 3, "{examples:?}");
    let mut failures = Vec::new();
    for ex in &examples {
        let vulnerable = format!("examples/{ex}/vulnerable");
        let out = run(&["scan", &vulnerable, "--format", "json"]);
        assert_eq!(out.status.code(), Some(1), "{vulnerable}");
        let v = json(&out);
        let got = snapshot_lines(&v, "");
        let snap = snapshots.join(format!("{ex}.snap"));
        if std::env::var_os("PALISADE_BLESS").is_some() {
            std::fs::create_dir_all(&snapshots).unwrap();
            std::fs::write(&snap, &got).unwrap();
        } else {
            let want = std::fs::read_to_string(&snap).unwrap_or_default();
            if want != got {
                failures.push(format!("{ex}:\n--- want\n{want}--- got\n{got}"));
            }
        }
        let hardened = format!("examples/{ex}/hardened");
        let out = run(&["scan", &hardened]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{hardened} is not clean:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A licence-noted sample of the real-world corpus (tests/realworld_sample.tsv), scanned in
/// place; its findings are pinned in tests/snapshots/realworld-sample.snap (bless with
/// `PALISADE_BLESS=1`). Paths are shown relative to the corpus.
#[test]
fn realworld_sample_is_pinned() {
    let root = shared().join("peer/realworld");
    let list = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realworld_sample.tsv"),
    )
    .unwrap();
    let paths: Vec<String> = list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            root.join(l.split('\t').next().unwrap())
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut args = vec!["scan", "--format", "json"];
    args.extend(paths.iter().map(String::as_str));
    let out = run(&args);
    let v = json(&out);
    assert!(
        v["errors"].as_array().unwrap().is_empty(),
        "{}",
        v["errors"]
    );
    let prefix = format!("{}/", root.to_string_lossy());
    let got = snapshot_lines(&v, &prefix);
    let snap = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/realworld-sample.snap");
    if std::env::var_os("PALISADE_BLESS").is_some() {
        std::fs::write(&snap, &got).unwrap();
    } else {
        assert_eq!(std::fs::read_to_string(&snap).unwrap_or_default(), got);
    }
}

#[test]
fn dockerfiles_by_name_content_and_stdin() {
    let dir = tempdir("dockerfiles");
    let df = "# palisade:ignore DF013 -- runs on Kubernetes, which uses probes\nFROM python:3.11\nCMD [\"python\", \"app.py\"]\n";
    std::fs::create_dir_all(dir.join(".docker")).unwrap();
    std::fs::write(dir.join(".docker/Dockerfile_rocm"), df).unwrap();
    std::fs::write(dir.join("build.sh"), "echo not scanned\n").unwrap();
    // Found by name in a hidden folder; the comment above FROM silences DF013 for the stage.
    let v = json(&run(&["scan", dir.to_str().unwrap(), "--format", "json"]));
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["DF001", "DF002", "DF004"]);
    assert_eq!(v["findings"][0]["resource"], "Stage/0");
    assert_eq!(v["findings"][0]["line"], 2);
    assert_eq!(v["summary"]["suppressed"], 1);
    assert_eq!(v["summary"]["files"], 1);
    // An explicitly named file with another name is a Dockerfile by content; stdin too.
    std::fs::write(dir.join("image.build"), df).unwrap();
    let v = json(&run(&[
        "scan",
        dir.join("image.build").to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(v["findings"].as_array().unwrap().len(), 3);
    let out = run_stdin(&["scan", "-", "--format", "json"], df);
    assert_eq!(json(&out)["findings"][0]["path"], "<stdin>");
    // A named file that is neither is reported as skipped, not silently ignored.
    let v = json(&run(&[
        "scan",
        dir.join("build.sh").to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(
        v["skipped"][0]["message"],
        "not a Kubernetes manifest or a Dockerfile; not analysed"
    );
    // A broken Dockerfile is an input error with its line; what parsed is still checked.
    std::fs::write(
        dir.join("Containerfile"),
        "FROM python:3.11\nFORM x\nUSER 0\n",
    )
    .unwrap();
    let out = run(&[
        "scan",
        dir.join("Containerfile").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["errors"][0]["line"], 2);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown instruction 'FORM'")
    );
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "DF001" && f["line"] == 3)
    );
}
