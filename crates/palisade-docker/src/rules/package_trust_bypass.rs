use super::{Rule, Sink};
use crate::parse::key_values;
use crate::stage::Build;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags package and download commands told to skip the checks that make installs trustworthy:
- pip / uv: `--trusted-host`, an `--index-url` over plain `http://`, and `--extra-index-url`
  (dependency confusion: pip takes the highest version from *any* index, so a public package
  with your private package's name wins);
- apt: `--allow-unauthenticated`, `--allow-insecure-repositories`, `--force-yes`,
  `-o Acquire::AllowInsecureRepositories=true`; yum/dnf/zypper `--nogpgcheck`; apk
  `--allow-untrusted`; rpm `--nosignature`;
- `wget --no-check-certificate`, `curl -k`/`--insecure`, `git -c http.sslVerify=false`,
  `npm config set strict-ssl false`, `conda config --set ssl_verify false`;
- the same through the environment (`ENV`, `ARG` or a `RUN` prefix): `PIP_TRUSTED_HOST`,
  `PIP_EXTRA_INDEX_URL`, `UV_INSECURE_HOST`, `GIT_SSL_NO_VERIFY`, `NODE_TLS_REJECT_UNAUTHORIZED=0`,
  `PYTHONHTTPSVERIFY=0`, an empty `CURL_CA_BUNDLE`/`REQUESTS_CA_BUNDLE`.

## Why is this bad?
Each turns off the verification that keeps a machine-in-the-middle, a rogue mirror or a
typosquatted public package out of your image. ML images install hundreds of packages
(`torch`, `transformers`, private feature libraries): one swapped wheel runs code in every
training and serving pod.

## Example
```dockerfile
RUN pip install --extra-index-url https://pypi.internal.example/simple \
      --trusted-host pypi.internal.example ml-features
```

## Use instead
```dockerfile
RUN pip install --index-url https://pypi.internal.example/simple \
      --require-hashes -r requirements.txt
```
with one index that proxies PyPI, a proper CA for it, and hash-pinned requirements.

## References
- pip docs, "Secure installs" and `--require-hashes`; Alex Birsan, "Dependency Confusion" (2021)
- CWE-295 Improper Certificate Validation; CWE-494
- MITRE ATLAS AML.T0010 AI Supply Chain Compromise; ATT&CK T1195.001
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF009",
        name: "package-trust-bypass",
        severity: Severity::High,
        family: "dockerfile",
        summary: "Package manager or download told to skip verification",
        controls: &["cwe:CWE-295"],
        techniques: &["AML.T0010", "T1195.001"],
        fix: "remove the bypass; use one trusted index with TLS and hash-pinned requirements",
        doc: DOC,
    },
    check,
};

/// What a word of a `prog` command line bypasses (with the severity), if anything.
fn bypass(prog: &str, words: &[&str], k: usize) -> Option<(&'static str, Severity)> {
    let w = words[k];
    let next = words.get(k + 1).copied().unwrap_or("");
    let flag = |name: &str| w == name || w.starts_with(&format!("{name}="));
    let pip = prog.starts_with("pip") || prog == "uv" || words.contains(&"pip");
    if pip {
        if flag("--trusted-host") {
            return Some((
                "pip --trusted-host disables TLS verification for that host",
                Severity::High,
            ));
        }
        if flag("--extra-index-url") && (w.contains("http://") || next.starts_with("http://")) {
            return Some((
                "pip --extra-index-url adds an index over plain HTTP, mixed with PyPI (dependency confusion)",
                Severity::High,
            ));
        }
        if flag("--extra-index-url") {
            return Some((
                "pip --extra-index-url mixes a second index with PyPI (dependency confusion)",
                Severity::Medium,
            ));
        }
        if (flag("--index-url") || flag("-i") || flag("--default-index") || flag("--index"))
            && (w.contains("http://") || next.starts_with("http://"))
        {
            return Some((
                "installs packages from an index over plain HTTP",
                Severity::High,
            ));
        }
        if prog == "uv" && (flag("--allow-insecure-host") || flag("--insecure-host")) {
            return Some((
                "uv --allow-insecure-host disables TLS verification",
                Severity::High,
            ));
        }
    }
    let short_k = w.starts_with('-')
        && !w.starts_with("--")
        && w.len() > 1
        && w[1..].chars().all(|c| c.is_ascii_alphabetic())
        && w.contains('k');
    let lw = w.to_ascii_lowercase();
    let what = match prog {
        "apt-get" | "apt" | "aptitude"
            if matches!(
                w,
                "--allow-unauthenticated" | "--allow-insecure-repositories" | "--force-yes"
            ) || w.contains("AllowInsecureRepositories=true")
                || w.contains("AllowUnauthenticated=true")
                || w.contains("Verify-Peer=false") =>
        {
            "apt installs packages without signature verification"
        }
        "yum" | "dnf" | "microdnf" | "zypper" | "tdnf"
            if matches!(w, "--nogpgcheck" | "--no-gpg-checks") =>
        {
            "the package manager skips GPG signature checks"
        }
        "rpm" if matches!(w, "--nosignature" | "--nodigest") => "rpm skips signature checks",
        "apk" if w == "--allow-untrusted" => "apk installs unsigned packages",
        "wget" if w == "--no-check-certificate" => {
            "wget --no-check-certificate disables TLS verification"
        }
        "curl" if w == "--insecure" || short_k => "curl -k disables TLS verification",
        "git" if lw == "http.sslverify=false" || lw == "http.sslverify" && next == "false" => {
            "git disables TLS verification (http.sslVerify false)"
        }
        "npm" | "yarn" | "pnpm"
            if w == "strict-ssl" && next == "false" || w == "--strict-ssl=false" =>
        {
            "npm disables TLS verification (strict-ssl false)"
        }
        "conda" | "mamba" | "micromamba"
            if w == "ssl_verify" && matches!(next, "false" | "False" | "no") =>
        {
            "conda disables TLS verification (ssl_verify false)"
        }
        _ => return None,
    };
    Some((what, Severity::High))
}

/// What an environment variable setting bypasses, if anything.
fn env_bypass(name: &str, value: &str) -> Option<(&'static str, Severity)> {
    let v = value.trim_matches(['"', '\'']);
    match name {
        "PIP_TRUSTED_HOST" | "UV_INSECURE_HOST" if !v.is_empty() => Some((
            "disables pip's TLS verification for the listed hosts",
            Severity::High,
        )),
        "PIP_EXTRA_INDEX_URL" | "UV_EXTRA_INDEX_URL" if !v.is_empty() => Some((
            "mixes a second package index with PyPI (dependency confusion)",
            Severity::Medium,
        )),
        "PIP_INDEX_URL" | "UV_INDEX_URL" | "UV_DEFAULT_INDEX" if v.starts_with("http://") => {
            Some((
                "installs packages from an index over plain HTTP",
                Severity::High,
            ))
        }
        "GIT_SSL_NO_VERIFY" if matches!(v, "1" | "true" | "True" | "yes") => {
            Some(("disables git's TLS verification", Severity::High))
        }
        "NODE_TLS_REJECT_UNAUTHORIZED" if v == "0" => {
            Some(("disables Node.js TLS verification", Severity::High))
        }
        "PYTHONHTTPSVERIFY" if v == "0" => Some((
            "disables Python's HTTPS certificate verification",
            Severity::High,
        )),
        "CURL_CA_BUNDLE" | "REQUESTS_CA_BUNDLE" if v.is_empty() => Some((
            "empties the CA bundle, which disables TLS verification in requests",
            Severity::High,
        )),
        _ => None,
    }
}

fn check(b: &Build, sink: &mut Sink) {
    for (stage, inst) in b
        .instructions()
        .filter(|(_, i)| matches!(i.keyword.as_str(), "ENV" | "ARG"))
    {
        for (name, value, off) in key_values(inst.args(), inst.keyword == "ENV") {
            if let Some((what, sev)) = env_bypass(&name, value.as_deref().unwrap_or("x"))
                && let Some(f) = sink.inst(
                    stage,
                    inst,
                    inst.args_offset + off,
                    format!("{} {name} {what}", inst.keyword),
                )
            {
                f.severity = sev;
            }
        }
    }
    for (_, _, rc) in b.run_commands() {
        let words: Vec<&str> = rc.command.texts().collect();
        for (k, w) in words.iter().enumerate() {
            if let Some((name, value)) = w.split_once('=')
                && palisade_core::shell::is_assignment(w)
                && let Some((what, sev)) = env_bypass(name, value)
                && let Some(f) = sink.run(rc, k, format!("{name} {what}"))
            {
                f.severity = sev;
            }
        }
        let Some((p, prog)) = rc.command.program() else {
            continue;
        };
        let prog = if prog.starts_with("python") && words.get(p + 1) == Some(&"-m") {
            words.get(p + 2).copied().unwrap_or(prog)
        } else {
            prog
        };
        for k in p + 1..words.len() {
            if let Some((what, sev)) = bypass(prog, &words, k)
                && let Some(f) = sink.run(rc, k, what)
            {
                f.severity = sev;
            }
        }
    }
}
