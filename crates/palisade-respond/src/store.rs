//! The record: SQLite, with every entry in one hash chain.
//!
//! `chain` holds every signal, detection, incident change, action and piece of evidence, in
//! order; each row's `hash` is SHA-256 over the previous row's hash and this row's fields, so
//! changing, removing or reordering any row breaks every hash after it ([`Store::verify`]).
//! Evidence bytes live in `blobs`, keyed by their own SHA-256; the chain entry that records them
//! names the hash. `incidents` is the current state of each incident, rewritten with each change
//! (the chain is the history).
//!
//! The database runs in WAL mode with `synchronous=FULL`: a committed transaction survives a
//! crash or `kill -9`, which is what lets the server acknowledge only what is committed.

use palisade_core::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a chain entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Signal,
    IngestError,
    Detection,
    Opened,
    Phase,
    Severity,
    Action,
    Evidence,
    Note,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Signal => "signal",
            Kind::IngestError => "ingest-error",
            Kind::Detection => "detection",
            Kind::Opened => "incident-opened",
            Kind::Phase => "phase",
            Kind::Severity => "severity",
            Kind::Action => "action",
            Kind::Evidence => "evidence",
            Kind::Note => "note",
        }
    }
}

/// One chain row.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub time: String,
    pub kind: String,
    pub incident: Option<String>,
    pub body: String,
    pub prev: String,
    pub hash: String,
}

const SELECT_ENTRY: &str = "SELECT seq, time, kind, incident, body, prev, hash FROM chain";

impl Entry {
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Entry> {
        Ok(Entry {
            seq: r.get(0)?,
            time: r.get(1)?,
            kind: r.get(2)?,
            incident: r.get(3)?,
            body: r.get(4)?,
            prev: r.get(5)?,
            hash: r.get(6)?,
        })
    }
}

pub struct Store {
    conn: Connection,
    head: (i64, String),
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of an entry: over the previous hash and every field, each on its own line.
pub fn entry_hash(
    prev: &str,
    seq: i64,
    time: &str,
    kind: &str,
    incident: Option<&str>,
    body: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [prev, &seq.to_string(), time, kind, incident.unwrap_or("")] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    h.update(body.as_bytes());
    hex(h.finalize())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(Sha256::digest(data))
}

fn db_err(path: &str) -> impl Fn(rusqlite::Error) -> String + '_ {
    move |e| format!("{path}: {e}")
}

impl Store {
    /// Opens (creating when absent) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, String> {
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(db_err(&name))?;
        Store::init(conn, &name)
    }

    /// Opens a database that must already exist (commands that only read or amend a record).
    pub fn open_existing(path: &Path) -> Result<Store, String> {
        if !path.is_file() {
            return Err(format!(
                "no response database at {} (palisade respond replay or serve creates one; --db names it)",
                path.display()
            ));
        }
        Store::open(path)
    }

    /// A database in memory (tests, dry runs).
    pub fn memory() -> Result<Store, String> {
        Store::init(
            Connection::open_in_memory().map_err(db_err("memory"))?,
            "memory",
        )
    }

    fn init(conn: Connection, name: &str) -> Result<Store, String> {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA foreign_keys=ON;
             PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS chain (
                 seq INTEGER PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL,
                 incident TEXT, body TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS chain_incident ON chain(incident);
             CREATE TABLE IF NOT EXISTS blobs (
                 hash TEXT PRIMARY KEY, media TEXT NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS incidents (
                 id TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, open INTEGER NOT NULL,
                 body TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )
        .map_err(|e| format!("{name}: not a Palisade response database, or unusable: {e}"))?;
        let head = conn
            .query_row(
                "SELECT seq, hash FROM chain ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db_err(name))?
            .unwrap_or((0, GENESIS.to_string()));
        Ok(Store { conn, head })
    }

    /// Runs `f` in one transaction: all of it is committed (and durable) or none of it.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, String>,
    ) -> Result<T, String> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| e.to_string())?;
        let saved = self.head.clone();
        match f(self) {
            Ok(v) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    self.head = saved;
                    Err(format!("commit failed: {e}"))
                }
            },
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.head = saved;
                Err(e)
            }
        }
    }

    /// Appends an entry; returns its sequence number.
    pub fn append(
        &mut self,
        kind: Kind,
        incident: Option<&str>,
        body: &Value,
    ) -> Result<i64, String> {
        let seq = self.head.0 + 1;
        let time = Timestamp::now().to_string();
        let body = body.to_string();
        let hash = entry_hash(&self.head.1, seq, &time, kind.as_str(), incident, &body);
        self.conn
            .prepare_cached(
                "INSERT INTO chain (seq, time, kind, incident, body, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut st| st.execute(params![seq, time, kind.as_str(), incident, body, self.head.1, hash]))
            .map_err(|e| format!("appending to the chain: {e}"))?;
        self.head = (seq, hash);
        Ok(seq)
    }

    /// Stores evidence bytes by content; returns their SHA-256.
    pub fn put_blob(&mut self, media: &str, data: &[u8]) -> Result<String, String> {
        let hash = sha256_hex(data);
        self.conn
            .execute(
                "INSERT OR IGNORE INTO blobs (hash, media, size, data) VALUES (?1, ?2, ?3, ?4)",
                params![hash, media, data.len() as i64, data],
            )
            .map_err(|e| format!("storing evidence: {e}"))?;
        Ok(hash)
    }

    pub fn blob(&self, hash: &str) -> Result<Option<(String, Vec<u8>)>, String> {
        self.conn
            .query_row(
                "SELECT media, data FROM blobs WHERE hash = ?1",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| e.to_string())
    }

    /// Saves an incident's current state (its history is in the chain).
    pub fn save_incident(&mut self, inc: &crate::incident::Incident) -> Result<(), String> {
        let id = &inc.id;
        self.conn
            .prepare_cached(
                "INSERT INTO incidents (id, first_seen, open, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET first_seen = excluded.first_seen,
                     open = excluded.open, body = excluded.body",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    inc.first_seen.micros(),
                    inc.is_open() as i64,
                    inc.to_json().to_string()
                ])
            })
            .map_err(|e| format!("saving {id}: {e}"))?;
        Ok(())
    }

    /// Incidents as stored, oldest first; `open_only` leaves out closed ones.
    pub fn incidents(&self, open_only: bool) -> Result<Vec<Value>, String> {
        let sql = if open_only {
            "SELECT body FROM incidents WHERE open = 1 ORDER BY first_seen, id"
        } else {
            "SELECT body FROM incidents ORDER BY first_seen, id"
        };
        let mut st = self.conn.prepare(sql).map_err(|e| e.to_string())?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        rows.iter()
            .map(|b| {
                serde_json::from_str(b).map_err(|e| format!("a stored incident is not JSON: {e}"))
            })
            .collect()
    }

    pub fn incident(&self, id: &str) -> Result<Option<Value>, String> {
        let body: Option<String> = self
            .conn
            .query_row("SELECT body FROM incidents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| e.to_string())?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| e.to_string()))
            .transpose()
    }

    /// Adds `by` to a named counter and returns the new value.
    pub fn bump(&mut self, name: &str, by: i64) -> Result<i64, String> {
        self.conn
            .prepare_cached(
                "INSERT INTO counters (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = value + excluded.value RETURNING value",
            )
            .and_then(|mut st| st.query_row(params![name, by], |r| r.get(0)))
            .map_err(|e| e.to_string())
    }

    pub fn counter(&self, name: &str) -> Result<i64, String> {
        self.conn
            .query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map(|v| v.unwrap_or(0))
            .map_err(|e| e.to_string())
    }

    /// The chain entries about one incident, in order.
    pub fn entries_for(&self, incident: &str) -> Result<Vec<Entry>, String> {
        let mut st = self
            .conn
            .prepare(&format!("{SELECT_ENTRY} WHERE incident = ?1 ORDER BY seq"))
            .map_err(|e| e.to_string())?;
        let rows = st
            .query_map([incident], Entry::from_row)
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
    }

    /// The last entry's sequence number and hash.
    pub fn head(&self) -> (i64, &str) {
        (self.head.0, &self.head.1)
    }

    /// Proves the chain: every entry's hash, its link to the one before, no gaps; every blob's
    /// hash; every piece of evidence's blob present. `expect_head` also catches a chain cut
    /// short after that head was written down.
    pub fn verify(&self, expect_head: Option<&str>) -> Result<Verified, String> {
        let mut st = self
            .conn
            .prepare(&format!("{SELECT_ENTRY} ORDER BY seq"))
            .map_err(|e| e.to_string())?;
        let mut rows = st.query([]).map_err(|e| e.to_string())?;
        let mut prev = GENESIS.to_string();
        let mut expected_seq = 1i64;
        let mut entries = 0u64;
        let mut evidence = Vec::new();
        let mut seen_head = expect_head.is_none();
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            let e = Entry::from_row(r).map_err(|e| e.to_string())?;
            let at = format!(
                "entry {} ({}{})",
                e.seq,
                e.kind,
                e.incident
                    .as_deref()
                    .map(|i| format!(", {i}"))
                    .unwrap_or_default()
            );
            if e.seq != expected_seq {
                return Err(format!(
                    "{at}: expected entry {expected_seq} next; entries {expected_seq}…{} are missing",
                    e.seq - 1
                ));
            }
            if e.prev != prev {
                return Err(format!(
                    "{at}: it does not link to the entry before it (prev hash differs)"
                ));
            }
            let want = entry_hash(
                &e.prev,
                e.seq,
                &e.time,
                &e.kind,
                e.incident.as_deref(),
                &e.body,
            );
            if want != e.hash {
                return Err(format!(
                    "{at}: its contents do not match its hash: the entry was altered"
                ));
            }
            if e.kind == Kind::Evidence.as_str()
                && let Some(h) = serde_json::from_str::<Value>(&e.body)
                    .ok()
                    .and_then(|b| b.get("sha256").and_then(Value::as_str).map(str::to_string))
            {
                evidence.push((at.clone(), h));
            }
            if Some(e.hash.as_str()) == expect_head {
                seen_head = true;
            }
            prev = e.hash;
            expected_seq += 1;
            entries += 1;
        }
        if !seen_head {
            return Err(format!(
                "the expected head {} is not in the chain: entries after it were removed or it was rewritten",
                expect_head.unwrap_or("")
            ));
        }
        let mut st = self
            .conn
            .prepare("SELECT hash, data FROM blobs")
            .map_err(|e| e.to_string())?;
        let mut rows = st.query([]).map_err(|e| e.to_string())?;
        let mut blobs = 0u64;
        let mut have = std::collections::HashSet::new();
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            let hash: String = r.get(0).map_err(|e| e.to_string())?;
            let data: Vec<u8> = r.get(1).map_err(|e| e.to_string())?;
            if sha256_hex(&data) != hash {
                return Err(format!(
                    "evidence blob {hash}: its bytes do not match their hash: it was altered"
                ));
            }
            have.insert(hash);
            blobs += 1;
        }
        if let Some((at, h)) = evidence.iter().find(|(_, h)| !have.contains(h)) {
            return Err(format!("{at}: its evidence blob {h} is missing"));
        }
        Ok(Verified {
            entries,
            blobs,
            head: prev,
        })
    }

    /// Direct access for tests that tamper with the record.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub entries: u64,
    pub blobs: u64,
    pub head: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Store {
        let mut s = Store::memory().unwrap();
        s.transaction(|s| {
            s.append(Kind::Signal, None, &json!({"a": 1}))?;
            s.append(Kind::Opened, Some("INC-1"), &json!({"b": 2}))?;
            let h = s.put_blob("text/plain", b"pod logs")?;
            s.append(Kind::Evidence, Some("INC-1"), &json!({"sha256": h}))?;
            s.append(Kind::Phase, Some("INC-1"), &json!({"phase": "contained"}))
        })
        .unwrap();
        s
    }

    #[test]
    fn an_intact_chain_verifies_and_reports_its_head() {
        let s = sample();
        let v = s.verify(None).unwrap();
        assert_eq!((v.entries, v.blobs), (4, 1));
        assert_eq!(v.head, s.head().1);
        assert!(s.verify(Some(&v.head)).is_ok());
    }

    #[test]
    fn every_kind_of_tampering_is_caught_and_located() {
        let cases: [(&str, &str); 5] = [
            (
                "UPDATE chain SET body = '{\"phase\":\"recovered\"}' WHERE seq = 4",
                "entry 4 (phase, INC-1): its contents do not match",
            ),
            (
                "DELETE FROM chain WHERE seq = 2",
                "entry 3 (evidence, INC-1): expected entry 2 next",
            ),
            (
                "UPDATE blobs SET data = X'00'",
                "its bytes do not match their hash",
            ),
            (
                "DELETE FROM blobs",
                "entry 3 (evidence, INC-1): its evidence blob",
            ),
            (
                "UPDATE chain SET prev = hash WHERE seq = 2",
                "entry 2 (incident-opened, INC-1): it does not link",
            ),
        ];
        for (sql, want) in cases {
            let s = sample();
            s.connection().execute_batch(sql).unwrap();
            let e = s.verify(None).unwrap_err();
            assert!(e.contains(want), "{sql}: {e}");
        }
        let s = sample();
        let head = s.head().1.to_string();
        s.connection()
            .execute_batch("DELETE FROM chain WHERE seq = 4")
            .unwrap();
        assert!(s.verify(None).is_ok(), "a cut tail alone is undetectable…");
        assert!(
            s.verify(Some(&head))
                .unwrap_err()
                .contains("not in the chain"),
            "…but not against a noted head"
        );
    }

    #[test]
    fn a_failed_transaction_leaves_nothing_behind() {
        let mut s = sample();
        let before = s.head().1.to_string();
        let r: Result<(), String> = s.transaction(|s| {
            s.append(Kind::Note, None, &json!({}))?;
            Err("boom".into())
        });
        assert!(r.is_err());
        assert_eq!(s.head().1, before);
        assert_eq!(s.verify(None).unwrap().entries, 4);
    }
}
