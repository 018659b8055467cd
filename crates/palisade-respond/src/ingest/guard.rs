//! Events from `palisade guard` ([`palisade_core::Event`]): the tenant and model they are about,
//! the guard's rule code as the signal's rule, its severity and ATLAS techniques.

use crate::signal::{Signal, Source, Subject};
use palisade_core::Event;
use palisade_core::time::Timestamp;
use serde_json::Value;

pub fn read(v: Value) -> Result<Signal, String> {
    let e = Event::from_json(&v).map_err(|e| format!("guard {e}"))?;
    let time =
        Timestamp::parse(&e.time).map_err(|err| format!("guard event field 'time': {err}"))?;
    let suppressed = e
        .details
        .get("suppressed")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(Signal {
        source: Source::Guard,
        id: None,
        time,
        rule: e.rule,
        severity: e.severity,
        message: e.message,
        techniques: e.techniques,
        subject: Subject {
            tenant: e.tenant,
            model: e.model,
            ..Subject::default()
        },
        count: 1 + suppressed,
        raw: v,
    })
}
