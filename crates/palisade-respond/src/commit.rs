//! Group commit for `serve`: requests hand their parsed batch to one committer thread, which
//! records every batch waiting at that moment in one transaction — one write to disk for many
//! requests — and answers each request only after that commit. Under load the groups grow by
//! themselves (batches queue while the previous group is being written); alone, a request is
//! its own group and waits for nothing else.

use crate::engine::{Engine, Outcome};
use crate::ingest::Parsed;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Mutex, Weak};
use tokio::sync::oneshot;

/// Batches recorded in one transaction at most.
const MAX_GROUP: usize = 64;
/// Batches waiting for the committer at most; beyond, senders are told to retry (503).
const QUEUE: usize = 1024;

/// The answer to one batch: its outcome once committed, or why nothing of it was recorded.
pub type Answer = oneshot::Receiver<Result<Outcome, String>>;

struct Pending {
    parsed: Parsed,
    origin: String,
    answer: oneshot::Sender<Result<Outcome, String>>,
}

/// Where requests hand their batches.
pub struct Committer {
    queue: SyncSender<Pending>,
}

impl Committer {
    /// Starts the committer thread for an engine; it stops when this `Committer` or the
    /// engine is gone.
    pub fn start(engine: Weak<Mutex<Engine>>) -> Result<Committer, String> {
        let (queue, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("palisade-commit".into())
            .spawn(move || run(rx, engine))
            .map_err(|e| format!("starting the committer: {e}"))?;
        Ok(Committer { queue })
    }

    /// Queues a batch; the answer comes when its group is committed.
    pub fn submit(&self, parsed: Parsed, origin: String) -> Result<Answer, String> {
        let (answer, rx) = oneshot::channel();
        self.queue
            .try_send(Pending {
                parsed,
                origin,
                answer,
            })
            .map_err(|e| match e {
                TrySendError::Full(_) => "too many batches are waiting to be written; retry".into(),
                TrySendError::Disconnected(_) => "the committer stopped".to_string(),
            })?;
        Ok(rx)
    }
}

fn run(rx: Receiver<Pending>, engine: Weak<Mutex<Engine>>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let (batches, answers): (Vec<_>, Vec<_>) = group
            .into_iter()
            .map(|p| ((p.parsed, p.origin), p.answer))
            .unzip();
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let result = match engine.lock() {
            Ok(mut e) => e.ingest_many(batches),
            Err(_) => Err("the engine failed earlier".to_string()),
        };
        drop(engine);
        match result {
            Ok(outs) => {
                for (out, answer) in outs.into_iter().zip(answers) {
                    let _ = answer.send(Ok(out));
                }
            }
            Err(e) => {
                for answer in answers {
                    let _ = answer.send(Err(e.clone()));
                }
            }
        }
    }
}
