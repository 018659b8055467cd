//! The dashboard's pages, rendered on the server: plain HTML forms, no script.

use crate::crosswalk;
use crate::incident::Incident;
use crate::report::duration;
use crate::store::Entry;
use std::fmt::Write as _;

/// HTML-escapes text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn frame(title: &str, operator: Option<(&str, &str)>, body: &str) -> String {
    let who = match operator {
        Some((op, csrf)) => format!(
            "<span>{} · <form method=\"post\" action=\"/ui/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button id=\"logout\">Log out</button></form></span>",
            esc(op),
            esc(csrf)
        ),
        None => String::new(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · Palisade respond</title><link rel=\"stylesheet\" href=\"/ui/app.css\"></head><body><header><a href=\"/ui\">Palisade respond</a>{who}</header><main>{body}</main></body></html>",
        esc(title)
    )
}

fn sev(s: &str) -> String {
    format!("<span class=\"sev sev-{0}\">{0}</span>", esc(s))
}

pub fn login(error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" id=\"login-error\">{}</p>", esc(e)))
        .unwrap_or_default();
    frame(
        "Log in",
        None,
        &format!(
            "<section><h1>Log in</h1>{err}<form method=\"post\" action=\"/ui/login\"><p><label>Operator token <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\" required></label></p><p><button id=\"login\">Log in</button></p></form></section>"
        ),
    )
}

/// MTTR of each recovered incident, in order, as bars.
fn mttr_chart(all: &[Incident]) -> String {
    let mut points: Vec<(&Incident, f64)> = all
        .iter()
        .filter_map(|i| i.times().recover.map(|r| (i, r)))
        .collect();
    points.sort_by_key(|(i, _)| i.first_seen);
    if points.is_empty() {
        return "<p class=\"muted\" id=\"mttr-empty\">No incident has recovered yet.</p>".into();
    }
    let max = points
        .iter()
        .map(|(_, r)| *r)
        .fold(0.0_f64, f64::max)
        .max(1e-3);
    let (w, h, bar) = (640.0, 160.0, (600.0 / points.len() as f64).min(60.0));
    let mut svg = format!(
        "<svg id=\"mttr-chart\" role=\"img\" aria-label=\"MTTR per incident\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\">",
        h + 30.0,
        h + 30.0
    );
    for (n, (inc, r)) in points.iter().enumerate() {
        let bh = (r / max * (h - 20.0)).max(1.0);
        let x = 30.0 + n as f64 * bar;
        let _ = write!(
            svg,
            "<g class=\"bar\"><title>{} MTTR {}</title><rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#14213d\"></rect><text x=\"{x:.1}\" y=\"{:.1}\">{}</text></g>",
            esc(&inc.id),
            duration(Some(*r)),
            h - bh,
            bar * 0.8,
            h + 14.0,
            esc(&inc.id)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"12\">max {}</text></svg>",
        duration(Some(max))
    );
    svg
}

pub fn incidents(all: &[Incident], op: &str, csrf: &str) -> String {
    let mut rows = String::new();
    let mut sorted: Vec<&Incident> = all.iter().collect();
    sorted.sort_by_key(|i| std::cmp::Reverse(i.first_seen));
    for i in sorted {
        let t = i.times();
        let waiting = if i.response.pending.is_some() {
            " <strong>approval needed</strong>"
        } else {
            ""
        };
        let _ = write!(
            rows,
            "<tr id=\"row-{id}\"><td><a href=\"/ui/incidents/{id}\">{id}</a></td><td>{}</td><td class=\"phase\">{}{waiting}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            sev(i.severity.as_str()),
            i.phase().as_str(),
            esc(&i.title),
            esc(&i.techniques.iter().cloned().collect::<Vec<_>>().join(" ")),
            i.first_seen,
            duration(t.recover),
            id = esc(&i.id),
        );
    }
    let body = format!(
        "<h1>Incidents</h1><table id=\"incidents\"><tr><th>Id</th><th>Severity</th><th>Phase</th><th>Title</th><th>Techniques</th><th>First seen</th><th>MTTR</th></tr>{rows}</table><section><h2>MTTR over time</h2>{}</section>",
        mttr_chart(all)
    );
    frame("Incidents", Some((op, csrf)), &body)
}

pub fn incident(i: &Incident, entries: &[Entry], op: &str, csrf: &str, can_act: bool) -> String {
    let mut b = format!(
        "<h1 id=\"title\">{} {} <span class=\"phase\" id=\"phase\">{}</span></h1><p>{}</p>",
        esc(&i.id),
        sev(i.severity.as_str()),
        i.phase().as_str(),
        esc(&i.title)
    );
    let id = esc(&i.id);
    if let Some(p) = &i.response.pending {
        let _ = write!(
            b,
            "<section class=\"pending\" id=\"pending\"><h2>Waiting for approval</h2><p>Step {} of playbook {}: <strong>{}</strong>, waiting since {}.</p><form method=\"post\" action=\"/ui/incidents/{id}/approve\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button id=\"approve\">Approve</button></form></section>",
            p.step + 1,
            esc(i.response.playbook.as_deref().unwrap_or("")),
            esc(&p.what),
            esc(&p.since),
            esc(csrf)
        );
    }
    if can_act
        && i.blast
            .workloads
            .iter()
            .any(|w| w.ends_with("[Deployment]"))
    {
        let _ = write!(
            b,
            "<p><a href=\"/ui/incidents/{id}/rollback\" id=\"rollback-link\">Roll back the workload…</a></p>"
        );
    }
    b.push_str("<section id=\"timeline\"><h2>Timeline (NIST phases)</h2><table>");
    for h in &i.history {
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"phase\">{}</td><td>{}</td><td>{}</td></tr>",
            h.at,
            h.phase.as_str(),
            esc(&h.by),
            esc(&h.reason)
        );
    }
    let t = i.times();
    let _ = write!(
        b,
        "</table><p id=\"times\">MTTD {} · MTTA {} · MTTC {} · MTTR {}</p></section>",
        duration(t.detect),
        duration(t.acknowledge),
        duration(t.contain),
        duration(t.recover)
    );
    b.push_str("<section id=\"techniques\"><h2>Techniques</h2><ul>");
    for tq in &i.techniques {
        let name = crosswalk::atlas(tq).map(|x| x.name).unwrap_or("ATT&CK");
        let _ = write!(b, "<li><code>{}</code> {}</li>", esc(tq), esc(name));
    }
    b.push_str("</ul></section><section id=\"blast\"><h2>Blast radius</h2><table>");
    let bl = &i.blast;
    for (name, set) in [
        ("workloads", &bl.workloads),
        ("pods", &bl.pods),
        ("nodes", &bl.nodes),
        ("hosts", &bl.hosts),
        ("services", &bl.services),
        ("namespaces", &bl.namespaces),
        ("tenants", &bl.tenants),
        ("models", &bl.models),
        ("users", &bl.users),
        ("images", &bl.images),
    ] {
        if !set.is_empty() {
            let _ = write!(
                b,
                "<tr><th>{name}</th><td>{}</td></tr>",
                esc(&set.iter().cloned().collect::<Vec<_>>().join(", "))
            );
        }
    }
    b.push_str("</table></section><section id=\"findings\"><h2>Findings</h2><table>");
    for f in &i.findings {
        let _ = write!(
            b,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>×{}</td><td>{}</td></tr>",
            esc(&f.code),
            esc(&f.rule),
            sev(f.severity.as_str()),
            f.count,
            esc(&f.message)
        );
    }
    b.push_str("</table></section><section id=\"actions\"><h2>Actions taken</h2>");
    if i.response.actions.is_empty() {
        b.push_str("<p class=\"muted\">None yet.</p>");
    }
    for a in &i.response.actions {
        let _ = write!(
            b,
            "<div class=\"action\"><p><strong>{}</strong> step {} · {} · by {} at {}<br>{}</p><ul class=\"evidence\">",
            esc(&a.action),
            a.step_label(),
            esc(&a.status),
            esc(&a.by),
            esc(&a.at),
            esc(&a.summary)
        );
        for (name, hash) in &a.evidence {
            let _ = write!(
                b,
                "<li><a class=\"hash\" href=\"/ui/evidence/{h}\">sha256:{h}</a> {}</li>",
                esc(name),
                h = esc(hash)
            );
        }
        b.push_str("</ul></div>");
    }
    let _ = write!(
        b,
        "</section><section><h2>Record</h2><p>{} chain entries for this incident",
        entries.len()
    );
    if let Some(last) = entries.last() {
        let _ = write!(
            b,
            "; last hash <span class=\"hash\">{}</span>",
            esc(&last.hash)
        );
    }
    b.push_str(". <code>palisade respond verify</code> proves the chain.</p></section>");
    frame(&i.id, Some((op, csrf)), &b)
}

pub fn rollback_confirm(i: &Incident, csrf: &str) -> String {
    let workloads = i
        .blast
        .workloads
        .iter()
        .filter(|w| w.ends_with("[Deployment]"))
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    frame(
        "Roll back",
        None,
        &format!(
            "<section><h1>Roll back {}?</h1><p>Each deployment in the incident ({}) goes back to the last revision that ran something else (<code>kubectl rollout undo</code>). The before and after states are recorded as evidence.</p><form method=\"post\" action=\"/ui/incidents/{}/rollback\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button class=\"danger\" id=\"confirm-rollback\">Roll back</button> <a href=\"/ui/incidents/{}\">Cancel</a></form></section>",
            esc(&i.id),
            esc(&workloads),
            esc(&i.id),
            esc(csrf),
            esc(&i.id)
        ),
    )
}
