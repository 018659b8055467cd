//! The scanner's own safety limits: every parser checks these, and exceeding one is reported
//! with the limit's name (a finding, never an out-of-memory or a hang).

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes a decompressed stream or archive member may expand to.
    pub max_decompressed: u64,
    /// Largest ratio of decompressed to compressed size once past `ratio_floor` bytes.
    pub max_ratio: u64,
    pub ratio_floor: u64,
    /// Containers inside containers (zip in gzip in tar …).
    pub max_depth: usize,
    /// Members read from one archive.
    pub max_members: usize,
    /// Pickle opcodes in one stream.
    pub max_ops: u64,
    /// Pickle stack items and memo entries.
    pub max_stack: usize,
    pub max_memo: usize,
    /// Pickle streams read back to back from one input (legacy PyTorch has five).
    pub max_streams: usize,
    /// Longest text argument kept (longer ones are skipped, their length noted).
    pub max_string: usize,
    /// Wall time for one file, everything inside it included.
    pub time_per_file: Duration,
    /// Largest safetensors / GGUF-style JSON header.
    pub max_header: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed: 4 << 30,
            max_ratio: 200,
            ratio_floor: 64 << 20,
            max_depth: 8,
            max_members: 100_000,
            max_ops: 200_000_000,
            max_stack: 10_000_000,
            max_memo: 10_000_000,
            max_streams: 64,
            max_string: 1 << 20,
            time_per_file: Duration::from_secs(60),
            max_header: 100 << 20,
        }
    }
}

/// The limit that stopped a parser, named as the docs name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitHit {
    pub limit: &'static str,
    pub detail: String,
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "limit '{}' reached: {}", self.limit, self.detail)
    }
}

/// A per-file deadline shared by everything that scans one file.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

impl Deadline {
    pub fn after(d: Duration) -> Self {
        Deadline(Instant::now() + d)
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.0
    }
}
