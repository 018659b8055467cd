//! The model scanner: inputs → recognised artifacts → findings.
//!
//! Each file is recognised by content ([`formats::sniff`]) and opened recursively: archives
//! (zip, tar) by member, compressed streams by decoder, until pickles, NumPy arrays and
//! safetensors headers are reached. Pickles are analysed symbolically ([`pickle`]) and their
//! events judged by the [`Policy`]. Findings carry `outer!member` paths and byte offsets.
//! Nothing is ever loaded or executed, and every step is bounded by [`Limits`].

use crate::formats::compress::{self, Codec};
use crate::formats::{
    self, Kind, gguf, keras, npy, onnx, safetensors, savedmodel, sevenz, tar, torchscript, zip,
};
use crate::input::{Blob, Cursor, Stream};
use crate::limits::{Deadline, Limits};
use crate::pickle::{self, Analysis, Callee, EventKind, Outcome, Streams};
use crate::policy::{Policy, Verdict};
use crate::rules::*;
use palisade_core::walk::{Input, STDIN_PATH};
use palisade_core::{Finding, InputError, Location, Report, RuleMeta, Severity};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// How to scan.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub limits: Limits,
    pub policy: Policy,
}

/// One model file (or standard input) and what the scanner made of it.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    pub path: String,
    /// The formats from the outside in: `zip → pickle`, `gzip → pickle`, `safetensors`.
    pub format: String,
    /// What was analysed, in words.
    pub summary: String,
    pub findings: usize,
    /// The most severe finding, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<Severity>,
}

/// A model scan's result: the common report plus one entry per artifact.
#[derive(Debug, Default)]
pub struct ModelScan {
    pub report: Report,
    pub artifacts: Vec<Artifact>,
}

/// Is this file a model artifact (by content)? Used to route files in `palisade scan`.
pub fn is_model_file(path: &std::path::Path) -> bool {
    let Ok(blob) = Blob::open(path) else {
        return false;
    };
    let head = blob.head(formats::HEAD).unwrap_or_default();
    match formats::sniff(&head, blob.len()) {
        // proto-0 candidates and bare compressed streams are too common among other files to
        // route by head alone; they are checked by analysis when named explicitly
        Some(Kind::MaybePickle) => has_model_extension(path),
        Some(Kind::Compressed(_)) => has_model_extension(path),
        Some(Kind::Tar | Kind::Zip) => has_model_extension(path) || zip_holds_model(&blob),
        Some(_) => true,
        // protobuf formats have no magic: recognised by name, confirmed by parsing
        None => {
            let name = path.to_string_lossy().to_ascii_lowercase();
            savedmodel::named(&name) || (name.ends_with(".onnx") && onnx::sniff(&head))
        }
    }
}

const MODEL_EXTENSIONS: &[&str] = &[
    "pkl",
    "pickle",
    "pt",
    "pth",
    "bin",
    "ckpt",
    "joblib",
    "jl",
    "npy",
    "npz",
    "safetensors",
    "h5",
    "hdf5",
    "keras",
    "onnx",
    "gguf",
    "pb",
    "tar",
    "gz",
    "tgz",
    "bz2",
    "xz",
    "lzma",
    "lz4",
    "z",
    "zip",
    "7z",
    "dat",
    "model",
    "mar",
    "nemo",
    "sav",
    "p",
    "dill",
];

fn has_model_extension(path: &std::path::Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    MODEL_EXTENSIONS
        .iter()
        .any(|e| name.ends_with(&format!(".{e}")))
}

/// A zip found while walking is a model when it holds a pickle, NumPy or safetensors member.
fn zip_holds_model(blob: &Blob) -> bool {
    zip::read(blob, 10_000).is_ok_and(|a| {
        a.members.iter().any(|m| {
            let n = m.name.to_ascii_lowercase();
            n.ends_with(".pkl") || n.ends_with(".npy") || n.ends_with(".safetensors")
        })
    })
}

/// Scan inputs. With `explicit_only_models`, explicit inputs that are not model files are
/// reported as skipped (that is what `palisade model scan` wants); inputs found by walking a
/// directory are silently left out when they are not models.
pub fn scan(inputs: &[Input], opts: &Options) -> ModelScan {
    // files are independent: scan them on every core, then merge in input order
    let order: Vec<usize> = (0..inputs.len()).collect();
    let parts = palisade_core::parallel::map(
        &order,
        palisade_core::parallel::default_threads(),
        |i| scan_input(&inputs[i], opts),
        |_| false,
    );
    let mut out = ModelScan::default();
    for p in parts.into_iter().flatten() {
        out.artifacts.extend(p.artifacts);
        out.report.merge(p.report);
    }
    out.report.rules = crate::rules::all();
    out.report.sort();
    out
}

/// One input (a file or standard input) scanned on its own.
fn scan_input(input: &Input, opts: &Options) -> ModelScan {
    let mut out = ModelScan::default();
    let (display, blob, explicit) = match input {
        Input::Stdin => {
            let mut v = Vec::new();
            let r = std::io::stdin()
                .lock()
                .take(opts.limits.max_decompressed)
                .read_to_end(&mut v);
            match r {
                Ok(_) => (STDIN_PATH.to_string(), Blob::from_vec(v), true),
                Err(e) => {
                    out.report
                        .errors
                        .push(InputError::new(STDIN_PATH, format!("cannot read: {e}")));
                    return out;
                }
            }
        }
        Input::File {
            path,
            display,
            explicit,
        } => match Blob::open(path) {
            Ok(b) => (display.clone(), b, *explicit),
            Err(e) => {
                out.report.errors.push(InputError::new(
                    display.clone(),
                    format!("cannot open: {e}"),
                ));
                return out;
            }
        },
    };
    scan_one(&display, &blob, explicit, opts, &mut out);
    out
}

/// Scan bytes already in memory as one input called `display` (fuzzing, embedding).
pub fn scan_bytes(display: &str, data: Vec<u8>, opts: &Options) -> ModelScan {
    let mut out = ModelScan::default();
    scan_one(display, &Blob::from_vec(data), true, opts, &mut out);
    out.report.rules = crate::rules::all();
    out.report.sort();
    out
}

fn scan_one(display: &str, blob: &Blob, explicit: bool, opts: &Options, out: &mut ModelScan) {
    let mut s = Scanner {
        opts,
        deadline: Deadline::after(opts.limits.time_per_file),
        findings: Vec::new(),
        layers: Vec::new(),
    };
    match s.blob(display, blob, 0, Hint::file(display)) {
        Some(summary) => {
            let worst = s.findings.iter().map(|f| f.severity).max();
            out.artifacts.push(Artifact {
                path: display.to_string(),
                format: s.layers.join(" → "),
                summary,
                findings: s.findings.len(),
                worst,
            });
            out.report.files += 1;
            out.report.findings.extend(s.findings);
        }
        None if explicit => out.report.skipped.push(InputError::new(
            display,
            "not a recognised model format (pickle, PyTorch, TorchScript, joblib, NumPy, safetensors, Keras, ONNX, GGUF, SavedModel, or zip, tar, 7z and compressed files holding them); not analysed",
        )),
        None => {}
    }
}

/// What the name of a blob says (for disguise checks and pickle expectations).
#[derive(Clone, Copy)]
struct Hint<'a> {
    name: &'a str,
    /// The container says this member is a pickle (`*.pkl` in an archive).
    must_be_pickle: bool,
}

impl<'a> Hint<'a> {
    fn file(name: &'a str) -> Self {
        Hint {
            name,
            must_be_pickle: false,
        }
    }
}

struct Scanner<'a> {
    opts: &'a Options,
    deadline: Deadline,
    findings: Vec<Finding>,
    /// The formats of the outermost path (for the artifact line).
    layers: Vec<&'static str>,
}

/// Stored zip members up to this size have their CRC checked (a second read of their bytes).
const CRC_STORED_MAX: u64 = 64 << 20;

/// One finding's key while pickle events are folded (one finding per name and rule).
struct Folded {
    rule: &'static RuleMeta,
    offset: u64,
    count: usize,
    message: String,
}

impl Scanner<'_> {
    fn add(&mut self, rule: &'static RuleMeta, path: &str, offset: Option<u64>, msg: String) {
        let mut loc = Location::new(path, 1, 1);
        loc.offset = offset;
        self.findings.push(Finding::new(rule, loc, msg));
    }

    fn layer(&mut self, depth: usize, k: &'static str) {
        if depth == self.layers.len() {
            self.layers.push(k);
        }
    }

    /// Recognise and analyse a blob; `None` when it is not a model format.
    fn blob(&mut self, path: &str, blob: &Blob, depth: usize, hint: Hint) -> Option<String> {
        if depth > self.opts.limits.max_depth {
            self.add(
                &scan_incomplete::RULE,
                path,
                None,
                format!(
                    "limit 'max_depth' reached: containers nested more than {} deep; not opened",
                    self.opts.limits.max_depth
                ),
            );
            return Some("not opened (nesting limit)".into());
        }
        if self.deadline.passed() {
            self.add(
                &scan_incomplete::RULE,
                path,
                None,
                format!(
                    "limit 'time_per_file' reached: analysis took longer than {:?}; the rest was not analysed",
                    self.opts.limits.time_per_file
                ),
            );
            return Some("not analysed (time limit)".into());
        }
        let head = match blob.head(formats::HEAD) {
            Ok(h) => h,
            Err(e) => {
                self.add(
                    &scan_incomplete::RULE,
                    path,
                    None,
                    format!("cannot read: {e}"),
                );
                return Some("unreadable".into());
            }
        };
        let kind = match formats::sniff(&head, blob.len()) {
            Some(k) => k,
            None if hint.must_be_pickle => Kind::MaybePickle,
            None if hint.name.to_ascii_lowercase().ends_with(".onnx") && onnx::sniff(&head) => {
                self.layer(depth, "onnx");
                return Some(self.onnx(path, blob));
            }
            None if savedmodel::named(hint.name) => {
                self.layer(depth, "savedmodel");
                return Some(self.savedmodel(path, blob));
            }
            None => return self.polyglot_zip(path, blob, depth, "a file of no known format"),
        };
        let summary = match kind {
            Kind::Zip => {
                self.layer(depth, "zip");
                Some(self.zip(path, blob, depth))
            }
            Kind::Tar => {
                self.layer(depth, "tar");
                Some(self.tar(path, blob, depth))
            }
            Kind::Compressed(c) => self.compressed(path, blob, c, depth, hint),
            Kind::Npy => {
                self.layer(depth, "numpy");
                Some(self.npy(path, blob, depth))
            }
            Kind::Safetensors => {
                self.layer(depth, "safetensors");
                Some(self.safetensors(path, blob))
            }
            Kind::Pickle | Kind::MaybePickle => {
                let mut stream = blob.reader(0, blob.len());
                let r = self.pickle(path, &mut stream, &head, kind, depth, hint);
                if r.is_some() {
                    if let Some(z) = self.polyglot_zip(path, blob, depth, "a pickle") {
                        return Some(format!("{}; {z}", r.unwrap_or_default()));
                    }
                } else if hint.must_be_pickle {
                    self.add(
                        &pickle_malformed::RULE,
                        path,
                        Some(0),
                        "named as a pickle but is not a readable pickle stream".into(),
                    );
                    return Some("not a pickle".into());
                }
                r
            }
            Kind::SevenZip => {
                self.layer(depth, "7z");
                Some(self.sevenz(path, blob, depth))
            }
            Kind::Hdf5 => {
                self.layer(depth, "hdf5");
                Some(self.hdf5(path, blob))
            }
            Kind::Gguf => {
                self.layer(depth, "gguf");
                Some(self.gguf(path, blob))
            }
        };
        if let Some(claimed) = formats::claimed_format(hint.name) {
            let actual = kind.name();
            let disguised = match kind {
                Kind::Pickle | Kind::MaybePickle | Kind::Compressed(_) => claimed != "pickle",
                Kind::Zip => claimed != "zip",
                _ => false,
            };
            if disguised && summary.is_some() {
                self.add(
                    &format_disguised::RULE,
                    path,
                    Some(0),
                    format!("named as {claimed} but the content is {actual}"),
                );
            }
        }
        summary
    }

    /// A ZIP archive found at the end of a file that is not a ZIP at its start.
    fn polyglot_zip(
        &mut self,
        path: &str,
        blob: &Blob,
        depth: usize,
        what: &str,
    ) -> Option<String> {
        let ar = zip::read(blob, self.opts.limits.max_members).ok()?;
        if ar.members.is_empty() {
            return None;
        }
        self.add(
            &hidden_data::RULE,
            path,
            Some(ar.prefix),
            format!(
                "{what} that is also a ZIP archive ({} members; Python's zipfile opens it, torch.load reads the start): both are analysed",
                ar.members.len()
            ),
        );
        self.layer(depth, "zip");
        Some(self.archive(path, blob, ar, depth))
    }

    fn zip(&mut self, path: &str, blob: &Blob, depth: usize) -> String {
        match zip::read(blob, self.opts.limits.max_members) {
            Ok(ar) => self.archive(path, blob, ar, depth),
            Err(e) => {
                self.add(
                    &scan_incomplete::RULE,
                    path,
                    None,
                    format!("corrupt ZIP archive: {e}; its members were not analysed"),
                );
                format!("corrupt zip ({e})")
            }
        }
    }

    /// The members of a zip archive already read: anomalies, then each member analysed.
    fn archive(&mut self, path: &str, blob: &Blob, ar: zip::Archive, depth: usize) -> String {
        for a in &ar.anomalies {
            let p = match &a.member {
                Some(m) => format!("{path}!{m}"),
                None => path.to_string(),
            };
            self.add(
                &archive_header_mismatch::RULE,
                &p,
                Some(a.offset),
                a.what.clone(),
            );
        }
        let torch = ar
            .members
            .iter()
            .any(|m| m.name == "data.pkl" || m.name.ends_with("/data.pkl"));
        let keras = ar.members.iter().any(|m| m.name == "config.json")
            && ar
                .members
                .iter()
                .any(|m| m.name == "model.weights.h5" || m.name == "metadata.json");
        if keras && let Some(m) = ar.members.iter().find(|m| m.name == "config.json") {
            let mpath = format!("{path}!config.json");
            if let Some(cfg) = self.member_bytes(&mpath, blob, m) {
                match serde_json::from_slice::<serde_json::Value>(&cfg) {
                    Ok(v) => self.keras_concerns(&mpath, &v),
                    Err(e) => self.add(
                        &scan_incomplete::RULE,
                        &mpath,
                        Some(0),
                        format!("Keras config.json is not valid JSON: {e}"),
                    ),
                }
            }
        }
        let torchscript = ar.members.iter().any(|m| m.name.ends_with("constants.pkl"));
        let mut code_files = 0;
        if torchscript {
            for m in ar.members.iter().filter(|m| torchscript::is_code(&m.name)) {
                code_files += 1;
                let mpath = format!("{path}!{}", m.name);
                if let Some(src) = self.member_bytes(&mpath, blob, m) {
                    self.torchscript_code(&mpath, &String::from_utf8_lossy(&src));
                }
            }
        }
        let mut storages = 0;
        let mut analysed = Vec::new();
        for m in &ar.members {
            if m.is_dir() {
                continue;
            }
            if torch && is_torch_storage(&m.name) {
                storages += 1;
                continue;
            }
            let mpath = format!("{path}!{}", m.name);
            let Some(data) = m.data else { continue };
            let must = m.name.ends_with(".pkl");
            let hint = Hint {
                name: &m.name,
                must_be_pickle: must,
            };
            let member = match m.method {
                0 => Some(blob.slice(data, m.csize)),
                8 | 12 => {
                    let codec = if m.method == 8 {
                        Codec::Deflate
                    } else {
                        Codec::Bzip2
                    };
                    self.inflate(&mpath, blob, data, m.csize, codec)
                }
                other => {
                    self.add(
                        &scan_incomplete::RULE,
                        &mpath,
                        Some(m.local),
                        format!("compression method {other} is not one Palisade reads; member not analysed"),
                    );
                    None
                }
            };
            let Some(member) = member else { continue };
            // decompressed members are in memory already; stored ones are read a second time
            // only when small (pickles, configs), so large weight files cost no extra pass
            if !m.hidden && (m.method != 0 || member.len() <= CRC_STORED_MAX) {
                self.check_crc(&mpath, &member, m);
            }
            if let Some(s) = self.blob(&mpath, &member, depth + 1, hint) {
                analysed.push(format!("{} ({s})", m.name));
            }
        }
        let kind = if torchscript && code_files > 0 {
            "TorchScript archive"
        } else if torch {
            "PyTorch checkpoint"
        } else if keras {
            "Keras model"
        } else {
            "zip"
        };
        let mut s = format!("{kind}, {} members", ar.members.len());
        if code_files > 0 {
            s += &format!(", {code_files} TorchScript code files");
        }
        if storages > 0 {
            s += &format!(", {storages} tensor storages (not read)");
        }
        if !analysed.is_empty() {
            s += &format!(": {}", analysed.join("; "));
        }
        s
    }

    /// TorchScript source: calls of the builtins that read or write files.
    fn torchscript_code(&mut self, path: &str, src: &str) {
        for op in torchscript::file_ops(src) {
            let target = match &op.target {
                Some(t) => format!(" on \"{t}\""),
                None => String::new(),
            };
            let mut loc = Location::new(path, op.line, 1);
            loc.offset = None;
            self.findings.push(Finding::new(
                &torchscript_file_access::RULE,
                loc,
                format!(
                    "TorchScript code calls {}{target}: torch.jit.load compiles and runs it (file access from the model)",
                    op.callee
                ),
            ));
        }
    }

    /// A small member's bytes (stored or deflated), for configuration files.
    fn member_bytes(&mut self, path: &str, blob: &Blob, m: &zip::Member) -> Option<Vec<u8>> {
        let data = m.data?;
        if m.usize > 64 << 20 {
            self.add(
                &scan_incomplete::RULE,
                path,
                Some(m.local),
                format!(
                    "{} bytes is too large for a configuration; not analysed",
                    m.usize
                ),
            );
            return None;
        }
        let b = match m.method {
            0 => blob.slice(data, m.csize),
            8 => self.inflate(path, blob, data, m.csize, Codec::Deflate)?,
            _ => return None,
        };
        b.bytes(0, b.len() as usize).ok().flatten()
    }

    fn keras_concerns(&mut self, path: &str, config: &serde_json::Value) {
        for c in keras::concerns(config) {
            match c {
                keras::Concern::Lambda { layer, bytecode } => self.add(
                    &keras_lambda_layer::RULE,
                    path,
                    None,
                    if bytecode {
                        format!("Lambda layer '{layer}' holds marshalled Python bytecode that loading runs (with safe_mode=False, or any tf.keras 2 loader)")
                    } else {
                        format!("Lambda layer '{layer}' calls a Python function when the model is built")
                    },
                ),
                keras::Concern::Module { module, name } => self.add(
                    &keras_foreign_module::RULE,
                    path,
                    None,
                    format!("builds '{name}' from module '{module}': Keras imports it and calls what it names"),
                ),
            }
        }
    }

    fn hdf5(&mut self, path: &str, blob: &Blob) -> String {
        // model_config lives in the root group's attributes, near the start in practice;
        // the whole file is searched in windows (it is never loaded at once)
        const WINDOW: u64 = 32 << 20;
        let mut off = 0;
        while off < blob.len() {
            let n = WINDOW.min(blob.len() - off);
            let Some(bytes) = blob.bytes(off, n as usize).ok().flatten() else {
                break;
            };
            if let Some(cfg) = keras::find_h5_config(&bytes) {
                self.keras_concerns(path, &cfg);
                let class = cfg
                    .get("class_name")
                    .and_then(|c| c.as_str())
                    .unwrap_or("?");
                return format!("legacy Keras HDF5 model ({class})");
            }
            if off + n >= blob.len() {
                break;
            }
            off += n - 4096;
        }
        "HDF5 file without a Keras model_config (weights only)".into()
    }

    fn gguf(&mut self, path: &str, blob: &Blob) -> String {
        match gguf::read(blob) {
            Ok(g) => {
                for (key, t) in &g.templates {
                    let hits = gguf::template_escapes(t);
                    if !hits.is_empty() {
                        self.add(
                            &gguf_template_injection::RULE,
                            path,
                            None,
                            format!("{key} reaches Python internals through {}", hits.join(", ")),
                        );
                    }
                }
                format!(
                    "GGUF v{} ({}), {} tensors (not read), {} metadata entries, {} chat template(s)",
                    g.version,
                    g.architecture.as_deref().unwrap_or("unknown architecture"),
                    g.tensors,
                    g.kv,
                    g.templates.len()
                )
            }
            Err(e) => {
                self.add(
                    &scan_incomplete::RULE,
                    path,
                    Some(0),
                    format!("malformed GGUF: {e}"),
                );
                "malformed GGUF".into()
            }
        }
    }

    fn savedmodel(&mut self, path: &str, blob: &Blob) -> String {
        match savedmodel::ops(blob) {
            Ok(ops) => {
                for (op, n) in &ops {
                    if let Some(why) = savedmodel::concern(op) {
                        self.add(
                            &tf_dangerous_op::RULE,
                            path,
                            None,
                            format!(
                                "the graph uses {op} ({n} node{}): it {why} when the model runs",
                                if *n == 1 { "" } else { "s" }
                            ),
                        );
                    }
                }
                format!(
                    "TensorFlow SavedModel, {} nodes, {} distinct ops",
                    ops.values().sum::<usize>(),
                    ops.len()
                )
            }
            Err(e) => {
                self.add(
                    &scan_incomplete::RULE,
                    path,
                    Some(0),
                    format!("malformed saved_model.pb: {e}"),
                );
                "malformed SavedModel".into()
            }
        }
    }

    fn onnx(&mut self, path: &str, blob: &Blob) -> String {
        match onnx::read(blob) {
            Ok(o) => {
                for (tensor, loc) in &o.external {
                    if onnx::escapes(loc) {
                        self.add(
                            &onnx_external_data_escape::RULE,
                            path,
                            None,
                            format!("tensor '{tensor}' reads its data from '{loc}', outside the model's directory"),
                        );
                    }
                }
                if !o.domains.is_empty() {
                    self.add(
                        &onnx_custom_operator::RULE,
                        path,
                        None,
                        format!("uses custom operator domain(s) {}", o.domains.join(", ")),
                    );
                }
                format!(
                    "ONNX IR v{}, {} nodes, {} initializers, {} external tensors",
                    o.ir_version,
                    o.nodes,
                    o.initializers,
                    o.external.len()
                )
            }
            Err(e) => {
                self.add(
                    &scan_incomplete::RULE,
                    path,
                    Some(0),
                    format!("malformed ONNX: {e}"),
                );
                "malformed ONNX".into()
            }
        }
    }

    /// A deflate/bzip2 member, decompressed into memory within the limits.
    fn inflate(&mut self, path: &str, blob: &Blob, off: u64, n: u64, codec: Codec) -> Option<Blob> {
        let dec = compress::decoder(codec, blob, off, n, &self.opts.limits);
        match compress::read_all(dec) {
            Ok(v) => Some(Blob::from_vec(v)),
            Err(e) => {
                self.add(
                    &scan_incomplete::RULE,
                    path,
                    Some(off),
                    format!("member could not be decompressed: {e}"),
                );
                None
            }
        }
    }

    fn check_crc(&mut self, path: &str, member: &Blob, m: &zip::Member) {
        let mut h = crc32fast::Hasher::new();
        let mut r = member.reader(0, member.len());
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => h.update(&buf[..k]),
                Err(_) => return,
            }
        }
        let crc = h.finalize();
        if crc != m.crc {
            self.add(
                &archive_header_mismatch::RULE,
                path,
                Some(m.local),
                format!(
                    "CRC of the data is 0x{crc:08x}, the header says 0x{:08x} (zipfile refuses the member; torch.load does not check)",
                    m.crc
                ),
            );
        }
    }

    fn tar(&mut self, path: &str, blob: &Blob, depth: usize) -> String {
        let (entries, err) = tar::read(blob, self.opts.limits.max_members);
        if let Some(e) = &err {
            self.add(
                &scan_incomplete::RULE,
                path,
                None,
                format!("{e}; later members were not analysed"),
            );
        }
        let mut analysed = Vec::new();
        for e in &entries {
            let mpath = format!("{path}!{}", e.name);
            let member = blob.slice(e.data, e.size);
            if let Some(s) = self.blob(&mpath, &member, depth + 1, Hint::file(&e.name)) {
                analysed.push(format!("{} ({s})", e.name));
            }
        }
        let mut s = format!("tar, {} files", entries.len());
        if !analysed.is_empty() {
            s += &format!(": {}", analysed.join("; "));
        }
        s
    }

    /// A 7z archive: each folder decoded once, front to back, and cut into its files.
    fn sevenz(&mut self, path: &str, blob: &Blob, depth: usize) -> String {
        let ar = match sevenz::read(blob, &self.opts.limits) {
            Ok(a) => a,
            Err(e) => {
                self.add(
                    &scan_incomplete::RULE,
                    path,
                    None,
                    format!("7z header cannot be read: {e}; no member was analysed"),
                );
                return "7z archive (header unreadable)".into();
            }
        };
        let mut analysed = Vec::new();
        for (fi, f) in ar.folders.iter().enumerate() {
            let mut files: Vec<&sevenz::Entry> =
                ar.entries.iter().filter(|e| e.folder == Some(fi)).collect();
            if files.is_empty() {
                continue;
            }
            files.sort_by_key(|e| e.offset);
            let names = || {
                files
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut dec = match sevenz::decode(blob, f, &self.opts.limits) {
                Ok(d) => d,
                Err(e) => {
                    let msg = format!("{e}; not analysed: {}", names());
                    self.add(&scan_incomplete::RULE, path, Some(f.pack_offset), msg);
                    continue;
                }
            };
            let mut pos = 0u64;
            for e in &files {
                let mpath = format!("{path}!{}", e.name);
                let skip = e.offset.saturating_sub(pos);
                let read = std::io::copy(&mut (&mut dec).take(skip), &mut std::io::sink())
                    .and_then(|_| {
                        let mut v = Vec::new();
                        (&mut dec).take(e.size).read_to_end(&mut v).map(|_| v)
                    });
                let data = match read {
                    Ok(v) if v.len() as u64 == e.size => v,
                    Ok(v) => {
                        self.add(
                            &scan_incomplete::RULE,
                            &mpath,
                            Some(f.pack_offset),
                            format!(
                                "7z folder ({}) ends after {} of the member's {} bytes; the part read is analysed",
                                f.methods(),
                                v.len(),
                                e.size
                            ),
                        );
                        v
                    }
                    Err(err) => {
                        self.add(
                            &scan_incomplete::RULE,
                            &mpath,
                            Some(f.pack_offset),
                            format!(
                                "member could not be decompressed ({}): {err}; it and the rest of its folder were not analysed",
                                f.methods()
                            ),
                        );
                        break;
                    }
                };
                pos = e.offset + e.size;
                let member = Blob::from_vec(data);
                if let Some(s) = self.blob(&mpath, &member, depth + 1, Hint::file(&e.name)) {
                    analysed.push(format!("{} ({s})", e.name));
                }
            }
        }
        let files = ar.entries.iter().filter(|e| !e.is_dir).count();
        let mut s = format!("7z, {files} file{}", if files == 1 { "" } else { "s" });
        if !analysed.is_empty() {
            s += &format!(": {}", analysed.join("; "));
        }
        s
    }

    fn compressed(
        &mut self,
        path: &str,
        blob: &Blob,
        c: Codec,
        depth: usize,
        hint: Hint,
    ) -> Option<String> {
        let mut dec = compress::decoder(c, blob, 0, blob.len(), &self.opts.limits);
        let mut head = vec![0u8; formats::HEAD];
        let mut got = 0;
        while got < head.len() {
            match dec.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if got == 0 && compress::limit_of(&e).is_some() => {
                    self.layer(depth, c.name());
                    self.add(
                        &scan_incomplete::RULE,
                        path,
                        None,
                        format!("{} stream not analysed: {e}", c.name()),
                    );
                    return Some(format!("{} stream (not analysed)", c.name()));
                }
                Err(_) if got == 0 => {
                    // not really this codec: a header that only looks like one
                    let head = blob.head(formats::HEAD).unwrap_or_default();
                    let mut stream = blob.reader(0, blob.len());
                    return self
                        .pickle(path, &mut stream, &head, Kind::MaybePickle, depth, hint)
                        .or_else(|| {
                            self.polyglot_zip(path, blob, depth, "a file of no known format")
                        });
                }
                Err(_) => break,
            }
        }
        head.truncate(got);
        self.layer(depth, c.name());
        match formats::sniff(&head, u64::MAX) {
            Some(k @ (Kind::Pickle | Kind::MaybePickle)) => {
                let mut stream = Chained {
                    head: std::io::Cursor::new(head.clone()),
                    rest: dec,
                };
                let r = self.pickle(path, &mut stream, &head, k, depth + 1, hint)?;
                Some(format!("{} stream: {r}", c.name()))
            }
            Some(_) => {
                let stream = Chained {
                    head: std::io::Cursor::new(head),
                    rest: dec,
                };
                match compress::read_all(stream) {
                    Ok(v) => {
                        let inner = Blob::from_vec(v);
                        let r = self.blob(path, &inner, depth + 1, Hint::file(""))?;
                        Some(format!("{} stream: {r}", c.name()))
                    }
                    Err(e) => {
                        self.add(
                            &scan_incomplete::RULE,
                            path,
                            None,
                            format!("{} stream not analysed: {e}", c.name()),
                        );
                        Some(format!("{} stream (not analysed)", c.name()))
                    }
                }
            }
            None => None,
        }
    }

    fn npy(&mut self, path: &str, blob: &Blob, depth: usize) -> String {
        match npy::read(blob) {
            Ok(n) if n.objects => {
                self.add(
                    &numpy_object_array::RULE,
                    path,
                    Some(n.data),
                    format!(
                        "array of dtype {} holds Python objects: its data is a pickle (analysed)",
                        n.descr
                    ),
                );
                let mut stream = blob.reader(n.data, blob.len() - n.data.min(blob.len()));
                let head = blob.bytes(n.data, 16).ok().flatten().unwrap_or_default();
                let r = self
                    .pickle(
                        path,
                        &mut stream,
                        &head,
                        Kind::Pickle,
                        depth + 1,
                        Hint {
                            name: "",
                            must_be_pickle: true,
                        },
                    )
                    .unwrap_or_else(|| "unreadable pickle".into());
                format!("object array {}: {r}", n.descr)
            }
            Ok(n) => format!("array {} (data only)", n.descr),
            Err(e) => {
                self.add(
                    &scan_incomplete::RULE,
                    path,
                    Some(0),
                    format!("invalid .npy header: {e}"),
                );
                "invalid .npy header".into()
            }
        }
    }

    fn safetensors(&mut self, path: &str, blob: &Blob) -> String {
        match safetensors::validate(blob, self.opts.limits.max_header) {
            Ok(h) => format!(
                "clean: {} tensors, {} bytes of data, {} metadata entries (safetensors stores data only)",
                h.tensors, h.data_bytes, h.metadata
            ),
            Err(errs) => {
                let shown: Vec<&str> = errs.iter().take(3).map(String::as_str).collect();
                let more = if errs.len() > 3 {
                    format!(" (and {} more)", errs.len() - 3)
                } else {
                    String::new()
                };
                self.add(
                    &safetensors_invalid::RULE,
                    path,
                    Some(0),
                    format!("{}{more}", shown.join("; ")),
                );
                format!("invalid header ({} problems)", errs.len())
            }
        }
    }

    /// Analyse the pickle stream(s) of an input; `None` when a headerless candidate turns out
    /// not to be a pickle.
    fn pickle(
        &mut self,
        path: &str,
        stream: &mut dyn Stream,
        head: &[u8],
        kind: Kind,
        depth: usize,
        hint: Hint,
    ) -> Option<String> {
        let mut cur = Cursor::new(stream, 0);
        let opts = pickle::Options {
            limits: &self.opts.limits,
            deadline: self.deadline,
            joblib: true,
            depth,
        };
        let streams = pickle::analyze_all(&mut cur, opts, head);
        if kind == Kind::MaybePickle && !hint.must_be_pickle && !looks_like_pickle(&streams) {
            return None;
        }
        self.layer(depth, "pickle");
        Some(self.report_streams(path, &streams))
    }

    fn report_streams(&mut self, path: &str, s: &Streams) -> String {
        let mut allowed: BTreeSet<String> = BTreeSet::new();
        let mut ops = 0;
        for (i, a) in s.streams.iter().enumerate() {
            if i > 0 && !s.legacy_torch {
                self.add(
                    &hidden_data::RULE,
                    path,
                    Some(a.start),
                    format!(
                        "a second pickle stream (#{}) follows the first: pickle.load never reads it, a loader that reads on does (analysed)",
                        i + 1
                    ),
                );
            }
            ops += a.ops;
            self.report_analysis(path, a, &mut allowed, false);
        }
        if let Some(off) = s.trailing {
            self.add(
                &hidden_data::RULE,
                path,
                Some(off),
                "data after the pickle's STOP opcode: the unpickler never reads it".into(),
            );
        }
        let what = if s.legacy_torch {
            "legacy PyTorch checkpoint".to_string()
        } else {
            let proto = s.streams.first().map(|a| a.proto).unwrap_or(0);
            format!("pickle protocol {proto}")
        };
        let arrays: u64 = s.streams.iter().map(|a| a.arrays).sum();
        let mut out = format!("{what}, {ops} opcodes, {} allowed globals", allowed.len());
        if arrays > 0 {
            out += &format!(", {arrays} joblib arrays");
        }
        out
    }

    fn report_analysis(
        &mut self,
        path: &str,
        a: &Analysis,
        allowed: &mut BTreeSet<String>,
        nested: bool,
    ) {
        let policy = &self.opts.policy;
        // a model names the same few globals thousands of times: judge each name once
        let mut verdicts: std::collections::HashMap<String, Verdict> =
            std::collections::HashMap::new();
        let mut judge = |name: &str| -> Verdict {
            if let Some(v) = verdicts.get(name) {
                return v.clone();
            }
            let v = policy.judge(name);
            verdicts.insert(name.to_string(), v.clone());
            v
        };
        let mut folded: BTreeMap<(&'static str, String), Folded> = BTreeMap::new();
        let mut called: BTreeSet<String> = BTreeSet::new();
        let inside = if nested {
            " (in a pickle nested inside this one)"
        } else {
            ""
        };
        let mut fold = |rule: &'static RuleMeta, key: String, offset: u64, message: String| {
            let e = folded.entry((rule.code, key)).or_insert(Folded {
                rule,
                offset,
                count: 0,
                message,
            });
            e.count += 1;
        };
        for e in &a.events {
            match &e.kind {
                EventKind::Call { callee, args } => match callee {
                    Callee::Named(n, how) => {
                        called.insert(n.resolved.clone());
                        let verdict = judge(&n.resolved);
                        if let Verdict::Allowed(_) = verdict {
                            allowed.insert(n.resolved.clone());
                            continue;
                        }
                        let how = if how.is_empty() {
                            String::new()
                        } else {
                            format!(" {how}")
                        };
                        let call =
                            format!("{}({}){}", n.resolved, strip_parens(args), n.written_note());
                        match verdict {
                            Verdict::Allowed(_) => {
                                allowed.insert(n.resolved.clone());
                            }
                            Verdict::Dangerous(why) => fold(
                                &pickle_dangerous_call::RULE,
                                n.resolved.clone(),
                                e.offset,
                                format!("calls {call}{how}{inside}: {why}"),
                            ),
                            Verdict::Unlisted => fold(
                                &pickle_unlisted_call::RULE,
                                n.resolved.clone(),
                                e.offset,
                                format!(
                                    "calls {call}{how}{inside}, which is not on the model allowlist"
                                ),
                            ),
                        }
                    }
                    Callee::Dynamic(what) => fold(
                        &pickle_dangerous_call::RULE,
                        what.clone(),
                        e.offset,
                        format!(
                            "calls {what}{inside}: what runs cannot be known without loading the file (arguments {})",
                            if args.is_empty() { "()" } else { args }
                        ),
                    ),
                },
                EventKind::Unresolved(what) => fold(
                    &pickle_dangerous_call::RULE,
                    format!("unresolved {what}"),
                    e.offset,
                    format!(
                        "brings in {what}{inside}: it cannot be named without loading the file, so it is treated as dangerous"
                    ),
                ),
                EventKind::Import(_) | EventKind::GlobalMutated(_) => {}
            }
        }
        for e in &a.events {
            match &e.kind {
                EventKind::Import(n) if !called.contains(&n.resolved) => match judge(&n.resolved) {
                    Verdict::Allowed(_) => {
                        allowed.insert(n.resolved.clone());
                    }
                    Verdict::Dangerous(why) => fold(
                        &pickle_dangerous_import::RULE,
                        n.resolved.clone(),
                        e.offset,
                        format!(
                            "references {}{}{inside} without calling it here: {why}",
                            n.resolved,
                            n.written_note()
                        ),
                    ),
                    Verdict::Unlisted => fold(
                        &pickle_unlisted_import::RULE,
                        n.resolved.clone(),
                        e.offset,
                        format!(
                            "references {}{}{inside}, which is not on the model allowlist",
                            n.resolved,
                            n.written_note()
                        ),
                    ),
                },
                EventKind::GlobalMutated(n) => fold(
                    &global_mutated::RULE,
                    n.resolved.clone(),
                    e.offset,
                    format!(
                        "BUILD sets attributes on {} itself (a global object, not an instance){inside}",
                        n.resolved
                    ),
                ),
                _ => {}
            }
        }
        let mut list: Vec<Folded> = folded.into_values().collect();
        list.sort_by_key(|f| f.offset);
        for f in list {
            let msg = if f.count > 1 {
                format!("{} [{} times]", f.message, f.count)
            } else {
                f.message
            };
            self.add(f.rule, path, Some(f.offset), msg);
        }
        match &a.outcome {
            Outcome::Complete => {}
            Outcome::Broken { offset, reason } => {
                let before = a
                    .events
                    .iter()
                    .filter(|e| matches!(e.kind, EventKind::Call { .. }))
                    .count();
                self.add(
                    &pickle_malformed::RULE,
                    path,
                    Some(*offset),
                    format!(
                        "loading fails here ({reason}){inside}; {} before it, which the loader runs first",
                        match before {
                            0 => "no call comes".to_string(),
                            1 => "1 call comes".to_string(),
                            n => format!("{n} calls come"),
                        }
                    ),
                );
            }
            Outcome::Limit(l) => {
                self.add(
                    &scan_incomplete::RULE,
                    path,
                    Some(a.end),
                    format!("{l}{inside}; the rest of the stream was not analysed"),
                );
            }
        }
        for n in &a.nested {
            self.report_analysis(path, n, allowed, true);
        }
    }
}

/// A headerless candidate is a pickle when it reads to STOP, or calls something before it
/// breaks (a text file starting with `c` reads as a GLOBAL, but does not go on to call it).
fn looks_like_pickle(s: &Streams) -> bool {
    let Some(a) = s.streams.first() else {
        return false;
    };
    a.outcome == Outcome::Complete && a.ops >= 2
        || a.all_events()
            .iter()
            .any(|e| matches!(e.kind, EventKind::Call { .. }))
}

/// `(a, b)` → `a, b` for call rendering.
fn strip_parens(args: &str) -> &str {
    let a = args.strip_prefix('(').unwrap_or(args);
    let a = a.strip_suffix(')').unwrap_or(a);
    a.strip_suffix(',').unwrap_or(a)
}

/// PyTorch's tensor storages: `archive/data/0`, `archive/.data/…` (bytes, never unpickled).
fn is_torch_storage(name: &str) -> bool {
    let mut parts = name.rsplit('/');
    let last = parts.next().unwrap_or("");
    let dir = parts.next().unwrap_or("");
    (dir == "data" && !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
        || name.contains("/.data/")
        || name.starts_with(".data/")
        || last == "byteorder"
        || last == "version"
        || last == ".format_version"
        || last == ".storage_alignment"
}

/// The bytes already read for sniffing, then the rest of the decoder.
struct Chained<R> {
    head: std::io::Cursor<Vec<u8>>,
    rest: R,
}

impl<R: Read> Read for Chained<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.head.read(buf)?;
        if k > 0 {
            return Ok(k);
        }
        self.rest.read(buf)
    }
}

impl<R: Read> Stream for Chained<R> {}
