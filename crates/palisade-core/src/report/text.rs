//! The report for people: findings grouped by file, the offending source line with a caret under
//! the column, the fix, and a summary line. Colour only when asked for (the CLI asks on a
//! terminal unless `NO_COLOR` is set).

use super::Report;
use crate::Severity;
use std::io::{self, Write};

pub struct TextOptions {
    pub color: bool,
}

/// ANSI colour when `on` (the text report's, shared with other text outputs).
pub struct Paint {
    pub on: bool,
}

impl Paint {
    pub fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn severity(&self, s: Severity) -> String {
        let code = match s {
            Severity::Critical => "1;35",
            Severity::High => "1;31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        };
        self.wrap(code, &format!("{:<8}", s.as_str()))
    }
}

/// The report as a string (tests, small reports).
pub fn render(report: &Report, opts: &TextOptions) -> String {
    let mut buf = Vec::new();
    write(report, opts, &mut buf).expect("writing to memory");
    String::from_utf8(buf).expect("text is UTF-8")
}

/// Write the report for people, finding by finding.
pub fn write(report: &Report, opts: &TextOptions, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint { on: opts.color };
    let mut wrote = false;
    let mut current: Option<&str> = None;
    // The current file's lines, split once per file (findings come grouped by file).
    let mut lines: Vec<&str> = Vec::new();
    for f in &report.findings {
        if current != Some(f.path.as_str()) {
            if current.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "{}", p.wrap("1;4", &f.path))?;
            current = Some(&f.path);
            lines = report
                .sources
                .get(&f.path)
                .map(|src| src.lines().collect())
                .unwrap_or_default();
        }
        // binary inputs (model files) are located by byte offset
        let at = match f.offset {
            Some(o) => format!("@{o}"),
            None => format!("{}:{}", f.line, f.column),
        };
        write!(
            out,
            "  {}  {} {} {}  {}",
            at,
            p.severity(f.severity),
            p.wrap("1", &f.rule),
            p.wrap("2", &f.name),
            f.message
        )?;
        if let Some(r) = &f.resource {
            write!(out, "  {}", p.wrap("2", &format!("[{r}]")))?;
        }
        writeln!(out)?;
        wrote = true;
        if let Some(line) = f.line.checked_sub(1).and_then(|i| lines.get(i)) {
            let gutter = format!("{:>6} | ", f.line);
            let shown: String = line.trim_end_matches('\r').chars().take(160).collect();
            writeln!(out, "{}{}", p.wrap("2", &gutter), shown)?;
            let pad: String = shown
                .chars()
                .take(f.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(
                out,
                "{}{}{}",
                p.wrap("2", "       | "),
                pad,
                p.wrap("1;31", "^")
            )?;
        }
        if !f.fix.is_empty() {
            writeln!(out, "         {} {}", p.wrap("32", "fix:"), f.fix)?;
        }
    }
    if !report.errors.is_empty() {
        if wrote {
            writeln!(out)?;
        }
        wrote = true;
        writeln!(out, "{}", p.wrap("1", "Could not analyse:"))?;
        for e in &report.errors {
            let at = match e.line {
                Some(l) => format!("{}:{}", e.path, l),
                None => e.path.clone(),
            };
            writeln!(out, "  {}  {}", p.wrap("1;31", &at), e.message)?;
        }
    }
    if !report.skipped.is_empty() {
        if wrote {
            writeln!(out)?;
        }
        wrote = true;
        writeln!(out, "{}", p.wrap("1", "Skipped:"))?;
        for e in &report.skipped {
            writeln!(out, "  {}  {}", e.path, e.message)?;
        }
    }
    if wrote {
        writeln!(out)?;
    }
    writeln!(out, "{}", summary_line(report, &p))
}

fn summary_line(report: &Report, p: &Paint) -> String {
    use std::fmt::Write;
    let s = report.summary();
    let total = report.findings.len();
    let mut parts = Vec::new();
    for sev in Severity::ALL {
        let n = s.by_severity.get(sev);
        if n > 0 {
            parts.push(format!("{n} {sev}"));
        }
    }
    let head = if total == 0 {
        p.wrap("1;32", "No findings")
    } else {
        p.wrap(
            "1",
            &format!(
                "{total} finding{} ({})",
                if total == 1 { "" } else { "s" },
                parts.join(", ")
            ),
        )
    };
    let mut line = format!(
        "{head} in {} file{}, {} resource{}",
        s.files,
        if s.files == 1 { "" } else { "s" },
        s.resources,
        if s.resources == 1 { "" } else { "s" }
    );
    if s.suppressed > 0 {
        let _ = write!(line, "; {} suppressed", s.suppressed);
    }
    if !report.errors.is_empty() {
        let n = report.errors.len();
        let _ = write!(line, "; {n} input error{}", if n == 1 { "" } else { "s" });
    }
    if s.skipped > 0 {
        let _ = write!(line, "; {} skipped", s.skipped);
    }
    line.push('.');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Finding, Location, RuleMeta};
    use std::sync::Arc;

    static R: RuleMeta = RuleMeta {
        code: "T001",
        name: "test-rule",
        severity: Severity::High,
        family: "test",
        summary: "",
        controls: &[],
        techniques: &[],
        fix: "fix it",
        doc: "",
    };

    #[test]
    fn shows_source_line_and_caret() {
        let mut r = Report {
            files: 1,
            ..Report::default()
        };
        r.sources.insert(
            "a.yaml".into(),
            Arc::from("kind: Pod\n  privileged: true\n"),
        );
        r.findings
            .push(Finding::new(&R, Location::new("a.yaml", 2, 3), "bad"));
        let s = render(&r, &TextOptions { color: false });
        assert!(
            s.contains("a.yaml\n  2:3  high     T001 test-rule  bad"),
            "{s}"
        );
        assert!(
            s.contains("     2 |   privileged: true\n       |   ^\n"),
            "{s}"
        );
        assert!(
            s.contains("1 finding (1 high) in 1 file, 0 resources."),
            "{s}"
        );
    }
}
