//! The symbolic pickle machine: every opcode of protocols 0–5, decoded as CPython's C
//! unpickler decodes it (stack fences at marks, memo rules, line formats), with symbolic values
//! instead of objects. What the real unpickler would import and call becomes an [`Event`];
//! nothing is imported or called.
//!
//! Names computed on the stack (`STACK_GLOBAL`), memoised names, `getattr` /
//! `operator.attrgetter` / `methodcaller` chains, import resolvers (`__import__`,
//! `importlib.import_module`, `pydoc.locate`, `pkgutil.resolve_name`, numpy's
//! `_ufunc_reconstruct`) and callables that call their arguments (`copyreg._reconstructor`,
//! `functools.partial`, torch's `_rebuild_from_type_v2`, …) are followed, so the event names
//! what finally runs. A stream that breaks keeps every event before the break.

use super::names::Name;
use super::value::{Obj, ObjKind, Val};
use crate::input::{Cursor, Line};
use crate::limits::{Deadline, LimitHit, Limits};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// What the loader would do, at which opcode.
#[derive(Debug, Clone)]
pub struct Event {
    pub offset: u64,
    pub op: &'static str,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    /// `find_class` or a resolver brings this object in (the module is imported).
    Import(Rc<Name>),
    /// This is called, with these arguments.
    Call { callee: Callee, args: String },
    /// BUILD sets attributes on a global object itself (a class, function or module).
    GlobalMutated(Rc<Name>),
    /// A global that cannot be named without loading the file (a name computed at load time,
    /// an extension-registry code): treated as dangerous whether or not it is called.
    Unresolved(String),
}

#[derive(Debug, Clone)]
pub enum Callee {
    /// A known object; `how` says how it was reached ("" when named directly).
    Named(Rc<Name>, &'static str),
    /// Something that cannot be known statically (the result of another call, an extension
    /// code, a computed name).
    Dynamic(String),
}

/// How the stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// STOP reached with one value on the stack.
    Complete,
    /// The real unpickler raises here; everything before it has already run.
    Broken { offset: u64, reason: String },
    /// One of the scanner's limits stopped the analysis.
    Limit(LimitHit),
}

/// One analysed pickle stream.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub start: u64,
    /// Offset just after STOP (or where the analysis stopped).
    pub end: u64,
    pub proto: u8,
    pub ops: u64,
    pub events: Vec<Event>,
    pub outcome: Outcome,
    /// Pickles inside this one: `pickle.loads(b"…")` arguments, joblib object arrays.
    pub nested: Vec<Analysis>,
    /// joblib arrays whose raw data was stepped over.
    pub arrays: u64,
}

impl Analysis {
    /// Every event of this stream and the streams nested in it.
    pub fn all_events(&self) -> Vec<&Event> {
        let mut v: Vec<&Event> = self.events.iter().collect();
        for n in &self.nested {
            v.extend(n.all_events());
        }
        v
    }
}

/// How to run the machine.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    pub limits: &'a Limits,
    pub deadline: Deadline,
    /// Follow joblib's unpickler: raw array bytes after a `NumpyArrayWrapper`'s BUILD.
    pub joblib: bool,
    /// Nesting depth (pickles inside pickles).
    pub depth: usize,
}

/// Analyse one pickle stream from the cursor's position; stops after STOP.
pub fn analyze(cur: &mut Cursor, opts: Options) -> Analysis {
    let start = cur.pos();
    let mut m = Machine {
        opts,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        a: Analysis {
            start,
            end: start,
            proto: 0,
            ops: 0,
            events: Vec::new(),
            outcome: Outcome::Complete,
            nested: Vec::new(),
            arrays: 0,
        },
    };
    let outcome = match m.run(cur) {
        Ok(()) => Outcome::Complete,
        Err(Stop::Broken(offset, reason)) => Outcome::Broken { offset, reason },
        Err(Stop::Limit(l)) => Outcome::Limit(l),
    };
    m.a.outcome = outcome;
    m.a.end = cur.pos();
    m.a
}

enum Stop {
    Broken(u64, String),
    Limit(LimitHit),
}

type R<T> = Result<T, Stop>;

/// A read error: a decompression limit is a limit, anything else breaks the stream.
fn io_stop(at: u64, e: std::io::Error) -> Stop {
    if let Some(l) = crate::formats::compress::limit_of(&e) {
        return Stop::Limit(l.clone());
    }
    Stop::Broken(at, format!("read error: {e}"))
}

struct Machine<'a> {
    opts: Options<'a>,
    stack: Vec<Val>,
    /// Stack lengths at each MARK (the C unpickler's fence).
    marks: Vec<usize>,
    memo: HashMap<u64, Val>,
    a: Analysis,
}

/// Frames up to this size are checked to be complete, as the C unpickler does before it
/// runs anything inside them.
const FRAME_CHECK: u64 = 64 << 20;

/// Callables that call (or instantiate) some of their positional arguments.
const CALLS_ARGS: &[(&str, &[usize])] = &[
    ("copyreg._reconstructor", &[0, 1]),
    ("copyreg.__newobj__", &[0]),
    ("copyreg.__newobj_ex__", &[0]),
    ("torch._tensor._rebuild_from_type_v2", &[0]),
    ("torch._tensor._rebuild_from_type", &[0]),
    ("torch._utils._rebuild_wrapper_subclass", &[0]),
    ("collections.defaultdict", &[0]),
    ("functools.partial", &[0]),
    ("functools.reduce", &[0]),
    ("builtins.map", &[0]),
    ("builtins.filter", &[0]),
    ("itertools.starmap", &[0]),
    ("builtins.apply", &[0]),
];

/// Loaders that run a nested pickle given as bytes.
const NESTED_LOADERS: &[&str] = &[
    "pickle.loads",
    "pickle._loads",
    "dill.loads",
    "cloudpickle.loads",
    "torch.load",
    "joblib.load",
    "numpy.loads",
];

fn line_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Machine<'_> {
    fn broken<T>(&self, offset: u64, reason: impl Into<String>) -> R<T> {
        Err(Stop::Broken(offset, reason.into()))
    }

    fn push(&mut self, v: Val) -> R<()> {
        if self.stack.len() >= self.opts.limits.max_stack {
            return Err(Stop::Limit(LimitHit {
                limit: "max_stack",
                detail: format!("more than {} items on the pickle stack", self.stack.len()),
            }));
        }
        self.stack.push(v);
        Ok(())
    }

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self, at: u64) -> R<Val> {
        if self.stack.len() <= self.fence() {
            return self.broken(at, "unpickling stack underflow");
        }
        Ok(self.stack.pop().expect("checked"))
    }

    fn top(&self, at: u64) -> R<Val> {
        if self.stack.len() <= self.fence() {
            return self.broken(at, "unpickling stack underflow");
        }
        Ok(self.stack.last().expect("checked").clone())
    }

    fn pop_mark(&mut self, at: u64) -> R<Vec<Val>> {
        match self.marks.pop() {
            Some(k) => Ok(self.stack.split_off(k.min(self.stack.len()))),
            None => self.broken(at, "could not find MARK"),
        }
    }

    fn event(&mut self, offset: u64, op: &'static str, kind: EventKind) {
        self.a.events.push(Event { offset, op, kind });
    }

    fn memo_put(&mut self, at: u64, idx: u64) -> R<()> {
        let v = self.top(at)?;
        if self.memo.len() >= self.opts.limits.max_memo && !self.memo.contains_key(&idx) {
            return Err(Stop::Limit(LimitHit {
                limit: "max_memo",
                detail: format!("more than {} memo entries", self.memo.len()),
            }));
        }
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memo_get(&mut self, at: u64, idx: u64) -> R<()> {
        match self.memo.get(&idx).cloned() {
            Some(v) => self.push(v),
            None => self.broken(at, format!("memo value not found at index {idx}")),
        }
    }

    fn take<'c>(&self, cur: &'c mut Cursor, at: u64, n: usize) -> R<&'c [u8]> {
        match cur.take(n) {
            Ok(Some(b)) => Ok(b),
            Ok(None) => Err(Stop::Broken(at, "pickle data was truncated".into())),
            Err(e) => Err(io_stop(at, e)),
        }
    }

    fn uint(&self, cur: &mut Cursor, at: u64, n: usize) -> R<u64> {
        let b = self.take(cur, at, n)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(b);
        Ok(u64::from_le_bytes(v))
    }

    fn line(&self, cur: &mut Cursor, at: u64) -> R<Vec<u8>> {
        match cur.line(self.opts.limits.max_string) {
            Ok(Line::Ok(b)) => Ok(b.to_vec()),
            Ok(Line::Eof) => self.broken(at, "pickle data was truncated (no end of line)"),
            Ok(Line::TooLong) => Err(Stop::Limit(LimitHit {
                limit: "max_string",
                detail: format!(
                    "a text argument longer than {} bytes",
                    self.opts.limits.max_string
                ),
            })),
            Err(e) => Err(io_stop(at, e)),
        }
    }

    /// A counted string/bytes argument: kept when short, skipped (length only) when long.
    fn counted(&self, cur: &mut Cursor, at: u64, len: u64) -> R<(Option<Vec<u8>>, u64)> {
        if len <= self.opts.limits.max_string as u64 {
            let b = self.take(cur, at, len as usize)?.to_vec();
            Ok((Some(b), len))
        } else {
            match cur.skip(len) {
                Ok(true) => Ok((None, len)),
                Ok(false) => self.broken(at, "pickle data was truncated"),
                Err(e) => Err(io_stop(at, e)),
            }
        }
    }

    fn text(&self, b: Option<Vec<u8>>, n: u64) -> Val {
        match b {
            Some(b) => Val::Str(String::from_utf8_lossy(&b).into()),
            None => Val::Unknown(format!("<{n}-byte string>").into()),
        }
    }

    fn bytes(&self, b: Option<Vec<u8>>, n: u64) -> Val {
        Val::Bytes(b.map(Into::into), n)
    }

    fn global(&mut self, at: u64, op: &'static str, module: &str, name: &str) -> Val {
        let n = Rc::new(Name::new(module, name));
        self.event(at, op, EventKind::Import(n.clone()));
        Val::Global(n)
    }

    fn run(&mut self, cur: &mut Cursor) -> R<()> {
        loop {
            let at = cur.pos();
            self.a.ops += 1;
            if self.a.ops > self.opts.limits.max_ops {
                return Err(Stop::Limit(LimitHit {
                    limit: "max_ops",
                    detail: format!("more than {} opcodes", self.opts.limits.max_ops),
                }));
            }
            if self.a.ops.is_multiple_of(4096) && self.opts.deadline.passed() {
                return Err(Stop::Limit(LimitHit {
                    limit: "time_per_file",
                    detail: format!(
                        "analysis took longer than {:?}",
                        self.opts.limits.time_per_file
                    ),
                }));
            }
            let op = match cur.take(1) {
                Ok(Some(b)) => b[0],
                Ok(None) => return self.broken(at, "pickle data was truncated (no STOP opcode)"),
                Err(e) => return Err(io_stop(at, e)),
            };
            if self.step(cur, at, op)? {
                return Ok(());
            }
        }
    }

    /// One opcode; `true` after STOP.
    fn step(&mut self, cur: &mut Cursor, at: u64, op: u8) -> R<bool> {
        match op {
            b'.' => {
                // STOP
                self.pop(at)?;
                return Ok(true);
            }
            0x80 => {
                // PROTO
                let p = self.take(cur, at, 1)?[0];
                if p > 5 {
                    return self.broken(at, format!("unsupported pickle protocol: {p}"));
                }
                self.a.proto = p;
            }
            0x95 => {
                // FRAME: the C unpickler checks that the frame's bytes are there.
                // (frames larger than FRAME_CHECK are not verified: treated as present)
                let n = self.uint(cur, at, 8)?;
                if n <= FRAME_CHECK {
                    match cur.peek(n as usize) {
                        Ok(b) if b.len() as u64 == n => {}
                        _ => {
                            return self
                                .broken(at, format!("FRAME of {n} bytes runs past the end"));
                        }
                    }
                }
            }
            b'(' => self.marks.push(self.stack.len()),
            b'0' => {
                // POP: a mark at the top is popped instead of an item.
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop(at)?;
                }
            }
            b'1' => {
                self.pop_mark(at)?;
            }
            b'2' => {
                let v = self.top(at)?;
                self.push(v)?;
            }
            // Numbers and constants.
            b'N' => self.push(Val::None)?,
            0x88 => self.push(Val::Bool(true))?,
            0x89 => self.push(Val::Bool(false))?,
            b'I' => {
                let l = self.line(cur, at)?;
                let v = match &l[..] {
                    b"00" => Val::Bool(false),
                    b"01" => Val::Bool(true),
                    t => Val::Int(Some(self.parse_int(at, t)?)),
                };
                self.push(v)?;
            }
            b'L' => {
                let l = self.line(cur, at)?;
                let t = l.strip_suffix(b"L").unwrap_or(&l);
                let v = self.parse_int(at, t).ok();
                if v.is_none() && !t.iter().all(|c| c.is_ascii_digit() || *c == b'-') {
                    return self.broken(at, "invalid literal for LONG");
                }
                self.push(Val::Int(v))?;
            }
            b'J' => {
                let v = self.uint(cur, at, 4)? as u32 as i32;
                self.push(Val::Int(Some(v as i64)))?;
            }
            b'K' => {
                let v = self.uint(cur, at, 1)?;
                self.push(Val::Int(Some(v as i64)))?;
            }
            b'M' => {
                let v = self.uint(cur, at, 2)?;
                self.push(Val::Int(Some(v as i64)))?;
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    self.uint(cur, at, 1)?
                } else {
                    let n = self.uint(cur, at, 4)? as u32 as i32;
                    if n < 0 {
                        return self.broken(at, "LONG pickle has negative byte count");
                    }
                    n as u64
                };
                let (b, _) = self.counted(cur, at, n)?;
                let v = b.filter(|b| b.len() <= 8).map(|b| {
                    let neg = b.last().is_some_and(|x| x & 0x80 != 0);
                    let mut v = [if neg { 0xff } else { 0 }; 8];
                    v[..b.len()].copy_from_slice(&b);
                    i64::from_le_bytes(v)
                });
                self.push(Val::Int(v))?;
            }
            b'F' => {
                let l = self.line(cur, at)?;
                if std::str::from_utf8(&l)
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .is_none()
                {
                    return self.broken(at, "could not convert string to float");
                }
                self.push(Val::Float)?;
            }
            b'G' => {
                self.take(cur, at, 8)?;
                self.push(Val::Float)?;
            }
            // Strings and bytes.
            b'S' => {
                let l = self.line(cur, at)?;
                let q = l.first().copied();
                if l.len() < 2 || !matches!(q, Some(b'\'') | Some(b'"')) || l.last() != q.as_ref() {
                    return self.broken(at, "the STRING opcode argument must be quoted");
                }
                let body = unescape(&l[1..l.len() - 1]);
                self.push(Val::Str(body.into()))?;
            }
            b'V' => {
                let l = self.line(cur, at)?;
                self.push(Val::Str(raw_unicode_unescape(&l).into()))?;
            }
            b'T' | b'X' | b'B' => {
                let n = self.uint(cur, at, 4)? as u32 as i32;
                if n < 0 {
                    return self.broken(at, "negative byte count");
                }
                let (b, n) = self.counted(cur, at, n as u64)?;
                let v = match op {
                    b'X' => self.text(b, n),
                    // BINSTRING decodes to str with the default ASCII encoding
                    b'T' => self.text(b, n),
                    _ => self.bytes(b, n),
                };
                self.push(v)?;
            }
            b'U' | 0x8c | b'C' => {
                let n = self.uint(cur, at, 1)?;
                let (b, n) = self.counted(cur, at, n)?;
                let v = if op == b'C' {
                    self.bytes(b, n)
                } else {
                    self.text(b, n)
                };
                self.push(v)?;
            }
            0x8d | 0x8e | 0x96 => {
                let n = self.uint(cur, at, 8)?;
                let (b, n) = self.counted(cur, at, n)?;
                let v = if op == 0x8d {
                    self.text(b, n)
                } else {
                    self.bytes(b, n)
                };
                self.push(v)?;
            }
            0x97 => self.push(Val::Buffer)?,
            0x98 => {
                self.top(at)?;
            }
            // Containers.
            b')' => self.push(Val::tuple(Vec::new()))?,
            b']' => self.push(Val::list(Vec::new()))?,
            b'}' => self.push(Val::dict(Vec::new()))?,
            0x8f => self.push(Val::set(Vec::new()))?,
            b't' => {
                let items = self.pop_mark(at)?;
                self.push(Val::tuple(items))?;
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop(at)?);
                }
                items.reverse();
                self.push(Val::tuple(items))?;
            }
            b'l' => {
                let items = self.pop_mark(at)?;
                self.push(Val::list(items))?;
            }
            b'd' => {
                let items = self.pop_mark(at)?;
                let d = pairs(items);
                self.push(Val::dict(d))?;
            }
            0x91 => {
                let items = self.pop_mark(at)?;
                self.push(Val::set(items))?;
            }
            b'a' => {
                let v = self.pop(at)?;
                let l = self.top(at)?;
                self.extend(&l, vec![v]);
            }
            b'e' => {
                let items = self.pop_mark(at)?;
                let l = self.top(at)?;
                self.extend(&l, items);
            }
            0x90 => {
                let items = self.pop_mark(at)?;
                let s = self.top(at)?;
                self.extend(&s, items);
            }
            b's' => {
                let v = self.pop(at)?;
                let k = self.pop(at)?;
                let d = self.top(at)?;
                self.set_items(&d, vec![(k, v)]);
            }
            b'u' => {
                let items = self.pop_mark(at)?;
                if items.len() % 2 == 1 {
                    // the C unpickler raises before touching the dict
                    return self.broken(at, "odd number of items for SETITEMS");
                }
                let d = self.top(at)?;
                self.set_items(&d, pairs(items));
            }
            // Memo.
            b'p' => {
                let l = self.line(cur, at)?;
                let i = self.parse_int(at, &l)?;
                if i < 0 {
                    return self.broken(at, "negative PUT argument");
                }
                self.memo_put(at, i as u64)?;
            }
            b'q' => {
                let i = self.uint(cur, at, 1)?;
                self.memo_put(at, i)?;
            }
            b'r' => {
                let i = self.uint(cur, at, 4)?;
                self.memo_put(at, i)?;
            }
            0x94 => {
                let i = self.memo.len() as u64;
                self.memo_put(at, i)?;
            }
            b'g' => {
                let l = self.line(cur, at)?;
                let i = self.parse_int(at, &l)?;
                self.memo_get(at, i as u64)?;
            }
            b'h' => {
                let i = self.uint(cur, at, 1)?;
                self.memo_get(at, i)?;
            }
            b'j' => {
                let i = self.uint(cur, at, 4)?;
                self.memo_get(at, i)?;
            }
            // Globals.
            b'c' => {
                let m = line_str(&self.line(cur, at)?);
                let n = line_str(&self.line(cur, at)?);
                let g = self.global(at, "GLOBAL", &m, &n);
                self.push(g)?;
            }
            0x93 => {
                let name = self.pop(at)?;
                let module = self.pop(at)?;
                let g = match (module.str(), name.str()) {
                    (Some(m), Some(n)) => {
                        let (m, n) = (m.to_string(), n.to_string());
                        self.global(at, "STACK_GLOBAL", &m, &n)
                    }
                    _ => {
                        let what = format!(
                            "a global whose name is computed at load time ({} . {})",
                            module.preview(60),
                            name.preview(60)
                        );
                        // The C unpickler refuses non-str names, but an Obj can be a str
                        // subclass built by a call: treat it as the worst case.
                        self.dynamic_ref(at, "STACK_GLOBAL", &what);
                        Val::Unknown(what.into())
                    }
                };
                self.push(g)?;
            }
            0x82..=0x84 => {
                let n = [1usize, 2, 4][(op - 0x82) as usize];
                let code = self.uint(cur, at, n)?;
                let what = format!(
                    "extension code {code} (resolved by the loading process's copyreg registry)"
                );
                self.dynamic_ref(at, "EXT", &what);
                self.push(Val::Unknown(what.into()))?;
            }
            // Calls.
            b'R' => {
                let args = self.pop(at)?;
                let callee = self.pop(at)?;
                let r = self.call(at, "REDUCE", &callee, args, "");
                self.push(r)?;
            }
            0x81 => {
                let args = self.pop(at)?;
                let cls = self.pop(at)?;
                let r = self.call(at, "NEWOBJ", &cls, args, "");
                self.push(r)?;
            }
            0x92 => {
                let _kwargs = self.pop(at)?;
                let args = self.pop(at)?;
                let cls = self.pop(at)?;
                let r = self.call(at, "NEWOBJ_EX", &cls, args, "");
                self.push(r)?;
            }
            b'i' => {
                let m = line_str(&self.line(cur, at)?);
                let n = line_str(&self.line(cur, at)?);
                let items = self.pop_mark(at)?;
                let g = self.global(at, "INST", &m, &n);
                let r = self.call(at, "INST", &g, Val::tuple(items), "");
                self.push(r)?;
            }
            b'o' => {
                let mut items = self.pop_mark(at)?;
                if items.is_empty() {
                    return self.broken(at, "OBJ with no class");
                }
                let cls = items.remove(0);
                let r = self.call(at, "OBJ", &cls, Val::tuple(items), "");
                self.push(r)?;
            }
            b'b' => {
                let state = self.pop(at)?;
                let inst = self.top(at)?;
                self.build(cur, at, &inst, state)?;
            }
            // Persistent ids.
            b'P' => {
                self.line(cur, at)?;
                self.push(Val::Persistent)?;
            }
            b'Q' => {
                self.pop(at)?;
                self.push(Val::Persistent)?;
            }
            _ => return self.broken(at, format!("invalid load key, 0x{op:02x}")),
        }
        Ok(false)
    }

    fn parse_int(&self, at: u64, t: &[u8]) -> R<i64> {
        match std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
        {
            Some(i) => Ok(i),
            None => self.broken(at, format!("invalid integer literal {:?}", line_str(t))),
        }
    }

    fn dynamic_ref(&mut self, at: u64, op: &'static str, what: &str) {
        self.event(at, op, EventKind::Unresolved(what.to_string()));
    }

    /// APPEND(S)/ADDITEMS onto a real list or set. On any other object they call its own
    /// `append`/`extend`/`add`: that object's class was already judged when it was created.
    fn extend(&mut self, target: &Val, items: Vec<Val>) {
        if let Val::List(l) | Val::Set(l) = target {
            l.borrow_mut().extend(items);
        }
    }

    /// SETITEM(S) onto a real dict (other objects: as for [`Self::extend`]).
    fn set_items(&mut self, target: &Val, items: Vec<(Val, Val)>) {
        if let Val::Dict(d) = target {
            d.borrow_mut().extend(items);
        }
    }

    /// A call: record it and compute what it returns, following resolvers and wrappers.
    fn call(
        &mut self,
        at: u64,
        op: &'static str,
        callee: &Val,
        args: Val,
        how: &'static str,
    ) -> Val {
        let items = args.items();
        let preview = args.preview(160);
        let plain = |callee: Option<Rc<Name>>, args: Val| {
            Val::obj(Obj {
                callee,
                kind: ObjKind::Plain,
                args,
                state: RefCell::new(None),
            })
        };
        match callee {
            Val::Global(n) | Val::Attr(n, _) => {
                let how = match (callee, how) {
                    (Val::Attr(_, h), "") => *h,
                    _ => how,
                };
                self.event(
                    at,
                    op,
                    EventKind::Call {
                        callee: Callee::Named(n.clone(), how),
                        args: preview,
                    },
                );
                self.returns(at, op, n, items, args)
            }
            Val::Module(n) => {
                self.event(
                    at,
                    op,
                    EventKind::Call {
                        callee: Callee::Dynamic(format!(
                            "module {} (called as a function)",
                            n.resolved
                        )),
                        args: preview,
                    },
                );
                plain(None, args)
            }
            Val::Obj(o) => match &o.kind {
                ObjKind::AttrGetter(attrs) => {
                    // attrgetter('a.b')(x) fetches x.a.b
                    match (items.first().and_then(Val::path), attrs.first()) {
                        (Some(base), Some(a)) => {
                            let n = Rc::new(Name::path(&format!("{}.{a}", base.resolved)));
                            self.event(at, op, EventKind::Import(n.clone()));
                            Val::Attr(n, "through operator.attrgetter")
                        }
                        _ => plain(None, args),
                    }
                }
                ObjKind::MethodCaller(m) => {
                    let target = match items.first() {
                        Some(v) => match v.path() {
                            Some(p) => {
                                Callee::Named(Rc::new(p.child(m)), "through operator.methodcaller")
                            }
                            None => match v {
                                Val::Obj(o) => match &o.callee {
                                    Some(c) => Callee::Named(
                                        Rc::new(c.child(m)),
                                        "through operator.methodcaller",
                                    ),
                                    None => Callee::Dynamic(format!(
                                        "method '{m}' of an object built at load time"
                                    )),
                                },
                                _ => Callee::Dynamic(format!("method '{m}' of {}", v.preview(60))),
                            },
                        },
                        None => Callee::Dynamic(format!("method '{m}'")),
                    };
                    self.event(
                        at,
                        op,
                        EventKind::Call {
                            callee: target,
                            args: preview,
                        },
                    );
                    plain(None, args)
                }
                ObjKind::Plain => {
                    let what = match &o.callee {
                        Some(c) => format!("the object returned by {}(…)", c.resolved),
                        None => "an object built at load time".to_string(),
                    };
                    self.event(
                        at,
                        op,
                        EventKind::Call {
                            callee: Callee::Dynamic(what),
                            args: preview,
                        },
                    );
                    plain(None, args)
                }
            },
            Val::Unknown(w) => {
                self.event(
                    at,
                    op,
                    EventKind::Call {
                        callee: Callee::Dynamic(w.to_string()),
                        args: preview,
                    },
                );
                plain(None, args)
            }
            // Calling a str, int, None…: the real loader raises TypeError after the
            // earlier opcodes ran; there is nothing here that runs code.
            _ => plain(None, args),
        }
    }

    /// What a named call returns, for the callables whose result matters.
    fn returns(
        &mut self,
        at: u64,
        op: &'static str,
        n: &Rc<Name>,
        items: Vec<Val>,
        args: Val,
    ) -> Val {
        let s = |i: usize| items.get(i).and_then(Val::str).map(str::to_string);
        let name = n.resolved.as_str();
        let attr = |this: &mut Self, path: String, how: &'static str| {
            let n = Rc::new(Name::path(&path));
            this.event(at, op, EventKind::Import(n.clone()));
            Val::Attr(n, how)
        };
        match name {
            "builtins.getattr" | "operator.getitem" if items.len() >= 2 => {
                if let (Some(base), Some(a)) = (items[0].path(), s(1)) {
                    let p = format!("{}.{a}", base.resolved);
                    return attr(self, p, "through getattr");
                }
                if let (Val::Obj(o), Some(a)) = (&items[0], s(1))
                    && let Some(c) = &o.callee
                {
                    return Val::Unknown(
                        format!(
                            "attribute '{a}' of the object returned by {}(…)",
                            c.resolved
                        )
                        .into(),
                    );
                }
                Val::Unknown(format!("an attribute fetched by {name} at load time").into())
            }
            "builtins.__import__" | "importlib.import_module" | "importlib.__import__" => {
                match s(0) {
                    // the import call itself is the finding; the module is what it returns
                    Some(m) => Val::Module(Rc::new(Name::path(&m))),
                    None => Val::Unknown("a module imported by a computed name".into()),
                }
            }
            "pydoc.locate" | "pkgutil.resolve_name" | "torch._utils._import_dotted_name" => {
                match s(0) {
                    Some(p) => attr(self, p.replace(':', "."), "through a name resolver"),
                    None => Val::Unknown("an object located by a computed name".into()),
                }
            }
            "numpy.core._ufunc_reconstruct" | "numpy._core._ufunc_reconstruct" => {
                match (s(0), s(1)) {
                    (Some(m), Some(a)) => attr(
                        self,
                        format!("{m}.{a}"),
                        "through numpy's _ufunc_reconstruct",
                    ),
                    _ => Val::Unknown("an object located by a computed name".into()),
                }
            }
            "operator.attrgetter" => {
                let attrs: Vec<Rc<str>> =
                    items.iter().filter_map(|v| v.str().map(Rc::from)).collect();
                Val::obj(Obj {
                    callee: Some(n.clone()),
                    kind: ObjKind::AttrGetter(attrs),
                    args,
                    state: RefCell::new(None),
                })
            }
            "operator.methodcaller" => match s(0) {
                Some(m) => Val::obj(Obj {
                    callee: Some(n.clone()),
                    kind: ObjKind::MethodCaller(m.into()),
                    args,
                    state: RefCell::new(None),
                }),
                None => Val::Unknown("a method called by a computed name".into()),
            },
            _ => {
                if let Some((_, which)) = CALLS_ARGS.iter().find(|(c, _)| *c == name) {
                    for &i in *which {
                        if let Some(v) = items.get(i)
                            && (v.path().is_some() || matches!(v, Val::Obj(_) | Val::Unknown(_)))
                        {
                            let rest = Val::tuple(items.get(i + 1..).unwrap_or(&[]).to_vec());
                            let how: &'static str = match name {
                                "copyreg._reconstructor"
                                | "copyreg.__newobj__"
                                | "copyreg.__newobj_ex__" => "instantiated by copyreg",
                                "functools.partial" => "through functools.partial",
                                "collections.defaultdict" => "as a defaultdict factory",
                                _ => "by an argument-calling function",
                            };
                            self.call(at, op, v, rest, how);
                        }
                    }
                }
                if NESTED_LOADERS.contains(&name)
                    && let Some(Val::Bytes(Some(b), _)) = items.first()
                {
                    self.nested(b.clone(), at);
                }
                let callee = match name {
                    "copyreg._reconstructor" | "copyreg.__newobj__" | "copyreg.__newobj_ex__" => {
                        items
                            .first()
                            .and_then(Val::path)
                            .map(|p| Rc::new(p.clone()))
                    }
                    _ => Some(n.clone()),
                };
                Val::obj(Obj {
                    callee,
                    kind: ObjKind::Plain,
                    args,
                    state: RefCell::new(None),
                })
            }
        }
    }

    /// A pickle given as bytes to a nested loader: analysed as its own stream.
    fn nested(&mut self, bytes: Rc<[u8]>, at: u64) {
        if self.opts.depth + 1 >= self.opts.limits.max_depth {
            return;
        }
        let mut src = crate::input::Plain(std::io::Cursor::new(bytes));
        let mut cur = Cursor::new(&mut src, 0);
        let mut opts = self.opts;
        opts.depth += 1;
        opts.joblib = false;
        let mut a = analyze(&mut cur, opts);
        // offsets inside the bytes are reported at the loader call
        for e in &mut a.events {
            e.offset = at;
        }
        a.start = at;
        self.a.nested.push(a);
    }

    /// BUILD: `__setstate__` or attribute updates on `inst`; joblib reads array bytes after.
    fn build(&mut self, cur: &mut Cursor, at: u64, inst: &Val, state: Val) -> R<()> {
        match inst {
            Val::Global(n) | Val::Attr(n, _) | Val::Module(n) => {
                self.event(at, "BUILD", EventKind::GlobalMutated(n.clone()));
            }
            Val::Obj(o) => {
                *o.state.borrow_mut() = Some(state);
                let is_wrapper = o
                    .callee
                    .as_ref()
                    .is_some_and(|c| c.resolved == "joblib.numpy_pickle.NumpyArrayWrapper");
                if self.opts.joblib && is_wrapper {
                    self.joblib_array(cur, at, o)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// joblib's `NumpyArrayWrapper.read_array`: an object array is a nested pickle read from
    /// the same file; any other array is raw bytes (after an alignment pad) to step over.
    fn joblib_array(&mut self, cur: &mut Cursor, at: u64, o: &Obj) -> R<()> {
        let state = o.state.borrow().clone().unwrap_or(Val::None);
        let dtype = state.get("dtype");
        let shape = state.get("shape");
        let Some(layout) = dtype.as_ref().and_then(dtype_layout) else {
            return Err(Stop::Limit(LimitHit {
                limit: "joblib-array",
                detail: format!(
                    "a joblib array at offset {at} has a dtype the scanner cannot size ({}); the rest of the stream was not analysed",
                    dtype
                        .map(|d| d.preview(80))
                        .unwrap_or_else(|| "none".into())
                ),
            }));
        };
        self.a.arrays += 1;
        if layout == Layout::Object {
            let mut opts = self.opts;
            opts.depth += 1;
            opts.joblib = false;
            if opts.depth >= self.opts.limits.max_depth {
                return Err(Stop::Limit(LimitHit {
                    limit: "max_depth",
                    detail: "pickles nested too deeply".into(),
                }));
            }
            let a = analyze(cur, opts);
            let bad = a.outcome != Outcome::Complete;
            self.a.nested.push(a);
            if bad {
                return self.broken(
                    at,
                    "the object array pickle inside this joblib file is broken",
                );
            }
            return Ok(());
        }
        let Layout::Fixed(itemsize) = layout else {
            unreachable!()
        };
        let mut count: u64 = 1;
        for d in shape.map(|s| s.items()).unwrap_or_default() {
            match d {
                Val::Int(Some(x)) if x >= 0 => count = count.saturating_mul(x as u64),
                _ => return self.broken(at, "joblib array with an invalid shape"),
            }
        }
        if state
            .get("numpy_array_alignment_bytes")
            .is_some_and(|v| !matches!(v, Val::None))
        {
            let pad = self.uint(cur, at, 1)?;
            if !cur.skip(pad).unwrap_or(false) {
                return self.broken(at, "joblib array padding was truncated");
            }
        }
        let bytes = count.saturating_mul(itemsize);
        match cur.skip(bytes) {
            Ok(true) => Ok(()),
            _ => self.broken(
                at,
                format!("joblib array data ({bytes} bytes) was truncated"),
            ),
        }
    }
}

#[derive(PartialEq, Eq)]
enum Layout {
    Object,
    Fixed(u64),
}

/// The item size of a pickled `numpy.dtype('f8', …)` (BUILD state gives flexible sizes and the
/// fields of structured dtypes, which hold objects when any field does).
fn dtype_layout(d: &Val) -> Option<Layout> {
    dtype_layout_depth(d, 8)
}

fn dtype_layout_depth(d: &Val, depth: usize) -> Option<Layout> {
    let Val::Obj(o) = d else { return None };
    if depth == 0 || o.callee.as_ref()?.resolved != "numpy.dtype" {
        return None;
    }
    let code = o.args.items().first()?.str()?.to_string();
    let kind = code.trim_start_matches(['<', '>', '=', '|']);
    let letter = kind.chars().next()?;
    let digits: String = kind[letter.len_utf8()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n: Option<u64> = digits.parse().ok();
    let state = o
        .state
        .borrow()
        .clone()
        .map(|s| s.items())
        .unwrap_or_default();
    let state_size = match state.get(5) {
        Some(Val::Int(Some(x))) if *x > 0 => Some(*x as u64),
        _ => None,
    };
    // structured: state[4] maps field names to (dtype, offset[, title])
    if let Some(Val::Dict(fields)) = state.get(4) {
        for (_, v) in fields.borrow().iter() {
            match v.items().first().map(|f| dtype_layout_depth(f, depth - 1)) {
                Some(Some(Layout::Object)) => return Some(Layout::Object),
                Some(Some(Layout::Fixed(_))) => {}
                _ => return None,
            }
        }
    }
    Some(match letter {
        'O' => Layout::Object,
        '?' | 'b' | 'B' => Layout::Fixed(n.unwrap_or(1)),
        'i' | 'u' | 'f' | 'c' | 'M' | 'm' => Layout::Fixed(n?),
        'e' => Layout::Fixed(2),
        'd' | 'g' => Layout::Fixed(8),
        'U' => Layout::Fixed(n.filter(|&n| n > 0).map(|n| n * 4).or(state_size)?),
        'S' | 'a' | 'V' => Layout::Fixed(n.filter(|&n| n > 0).or(state_size)?),
        _ => return None,
    })
}

fn pairs(items: Vec<Val>) -> Vec<(Val, Val)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

/// Python's `escape_decode` for protocol-0 STRING arguments (enough for names and previews).
fn unescape(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let c = b[i + 1];
            i += 2;
            match c {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'\\' => out.push(b'\\'),
                b'\'' => out.push(b'\''),
                b'"' => out.push(b'"'),
                b'x' if i + 2 <= b.len() => {
                    if let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(&b[i..i + 2]), 16) {
                        out.push(v);
                    }
                    i += 2;
                }
                _ => {
                    out.push(b'\\');
                    out.push(c);
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `raw-unicode-escape`: `\uXXXX` and `\UXXXXXXXX`, other bytes as Latin-1.
fn raw_unicode_unescape(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == b'u' || b[i + 1] == b'U') {
            let n = if b[i + 1] == b'u' { 4 } else { 8 };
            if i + 2 + n <= b.len()
                && let Some(c) = std::str::from_utf8(&b[i + 2..i + 2 + n])
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
            {
                out.push(c);
                i += 2 + n;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}
