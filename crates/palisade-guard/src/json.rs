//! A JSON reader with the request limits built in.
//!
//! Model-server request bodies are read once, here, before anything else looks at them: the
//! nesting depth and the number of values are counted while parsing (a 1 MB body of `[[[[…` or
//! of a million zeros is refused at the limit, not after building it), numbers become `f64`
//! directly, and TF Serving's `NaN` / `Infinity` / `-Infinity` tokens are accepted only when
//! the configuration says so. The guard forwards the original bytes, never a re-serialisation,
//! so what the model server sees is exactly what was checked.
//!
//! An array whose items are all numbers — the feature rows and tensors that make up most of a
//! request — is read packed, as `f64`s side by side ([`Array::Numbers`]): no [`Value`] per
//! item to build, walk and free.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(Box<str>),
    Array(Array),
    Object(Vec<(Box<str>, Value)>),
}

/// A JSON array. The parser packs every non-empty array of numbers (including `NaN` and the
/// infinities where they are allowed) and nothing else, so a document has one form;
/// [`Array::from`] does the same for arrays built by hand.
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    Values(Vec<Value>),
    Numbers(Vec<f64>),
}

impl Array {
    pub fn len(&self) -> usize {
        match self {
            Array::Values(v) => v.len(),
            Array::Numbers(n) => n.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `i`; a packed number comes as an owned [`Value::Number`].
    pub fn get(&self, i: usize) -> Option<Cow<'_, Value>> {
        match self {
            Array::Values(v) => v.get(i).map(Cow::Borrowed),
            Array::Numbers(n) => n.get(i).map(|n| Cow::Owned(Value::Number(*n))),
        }
    }

    pub fn first(&self) -> Option<Cow<'_, Value>> {
        self.get(0)
    }

    pub fn iter(&self) -> Items<'_> {
        match self {
            Array::Values(v) => Items::Values(v.iter()),
            Array::Numbers(n) => Items::Numbers(n.iter()),
        }
    }

    /// The items as numbers, when every item is one (an empty array has none to refuse).
    pub fn numbers(&self) -> Option<&[f64]> {
        match self {
            Array::Numbers(n) => Some(n),
            Array::Values(v) if v.is_empty() => Some(&[]),
            Array::Values(_) => None,
        }
    }
}

impl From<Vec<Value>> for Array {
    /// Packs the items when they are all numbers, as the parser does.
    fn from(items: Vec<Value>) -> Array {
        if !items.is_empty() && items.iter().all(|v| matches!(v, Value::Number(_))) {
            Array::Numbers(items.iter().filter_map(Value::as_f64).collect())
        } else {
            Array::Values(items)
        }
    }
}

/// The items of an [`Array`], packed numbers as owned [`Value::Number`]s.
pub enum Items<'a> {
    Values(std::slice::Iter<'a, Value>),
    Numbers(std::slice::Iter<'a, f64>),
}

impl<'a> Iterator for Items<'a> {
    type Item = Cow<'a, Value>;

    fn next(&mut self) -> Option<Cow<'a, Value>> {
        match self {
            Items::Values(i) => i.next().map(Cow::Borrowed),
            Items::Numbers(i) => i.next().map(|n| Cow::Owned(Value::Number(*n))),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Items::Values(i) => i.size_hint(),
            Items::Numbers(i) => i.size_hint(),
        }
    }
}

impl ExactSizeIterator for Items<'_> {}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// RFC 6901 JSON pointer (`/instances`, `/data/0/features`); `""` is the whole document.
    /// A packed number comes as an owned [`Value::Number`].
    pub fn pointer(&self, pointer: &str) -> Option<Cow<'_, Value>> {
        if pointer.is_empty() {
            return Some(Cow::Borrowed(self));
        }
        let mut here = Cow::Borrowed(self);
        for raw in pointer.strip_prefix('/')?.split('/') {
            let token = if raw.contains('~') {
                Cow::Owned(raw.replace("~1", "/").replace("~0", "~"))
            } else {
                Cow::Borrowed(raw)
            };
            // Only numbers are ever owned, and a number has nothing inside it.
            let Cow::Borrowed(v) = here else {
                return None;
            };
            here = match v {
                Value::Object(_) => Cow::Borrowed(v.get(&token)?),
                Value::Array(a) => a.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(here)
    }

    /// What a value is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Powers of ten that an f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `mantissa · 10^scale` by one multiplication or division, when that is the correctly
/// rounded value (Clinger's fast path): the mantissa is exact in an f64 (at most 2^53) and so
/// is the power of ten (at most 10^22), so IEEE 754 rounds the one operation correctly.
/// `None` for anything else, which the full parser handles.
#[inline(always)]
fn exact(mantissa: u64, scale: i64) -> Option<f64> {
    if mantissa == 0 {
        return Some(0.0);
    }
    if mantissa > 1 << 53 || !(-22..=22).contains(&scale) {
        return None;
    }
    // At most 2^53: a signed conversion, one instruction.
    let m = mantissa as i64 as f64;
    Some(if scale < 0 {
        m / POW10[scale.unsigned_abs() as usize]
    } else {
        m * POW10[scale as usize]
    })
}

/// 10ⁿ for the digits [`leading_digits`] reads at once.
const SCALE: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The eight bytes of `bytes` from `at` as one word (the first in its lowest byte), if there
/// are eight.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The eight bytes of `word` as digit values (ASCII digits become 0..=9, any other byte
/// something above 9), and a flag (the top bit) in each byte that is not a digit.
#[inline(always)]
fn digit_flags(word: u64) -> (u64, u64) {
    let v = word ^ (0x30 * ONES);
    // A byte above 9 gets its top bit from the addition (or had it already). A carry out of
    // a byte only comes from a byte that is not a digit, so the lowest flag is exact.
    (v, (v.wrapping_add(0x76 * ONES) | v) & (0x80 * ONES))
}

/// The byte index of the lowest flag in `flags` (8 when there is none).
#[inline(always)]
fn first_flag(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// The decimal number whose digits are the lowest `n` bytes (1 to 8) of `v`, each 0..=9 and
/// the first in the lowest byte; the bytes above them are ignored.
#[inline(always)]
fn decimal_of(v: u64, n: usize) -> u64 {
    // The digits moved to the top bytes, under zeros that read as leading zeros; then pairs,
    // fours and eights of digits combined by multiplication (three steps for eight digits).
    let v = v << (8 * (8 - n));
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_ffff_0000_ffff;
    (v.wrapping_mul(10_000) + (v >> 32)) & 0xffff_ffff
}

/// How many of the eight bytes of `word` (the first in its lowest byte) are ASCII digits before
/// the first that is not, and their value as a decimal number.
#[inline(always)]
fn leading_digits(word: u64) -> (usize, u64) {
    let (v, flags) = digit_flags(word);
    let n = first_flag(flags);
    if n == 0 {
        return (0, 0);
    }
    (n, decimal_of(v, n))
}

/// The usual item of an array of numbers, read in one go: `-?d+` or `-?d+.d+` with fewer
/// than eight digits on each side of the point, right before the `,` or `]` after it, at
/// `pos` of `b`. The number, the position after the separator and whether that ended the
/// array; `None` for anything else (another form, whitespace, a syntax error, fewer than
/// eight bytes left), which the general path reads. A number that fits in one eight-byte
/// word with its point (`-0.9417`, most of a request's) is read from that word alone, its
/// digits either side of the point as one run. Such a number is below 10¹⁵ over a power of
/// ten up to 10⁷, both exact in an f64, so the one division is the correctly rounded value.
/// It reads its separator itself rather than leave it to `array_item_end`: that costs about
/// 1,700 instructions more per 64-number request (callgrind).
#[inline(always)]
fn short_item(b: &[u8], pos: usize) -> Option<(f64, usize, bool)> {
    let negative = *b.get(pos)? == b'-';
    let i = pos + usize::from(negative);
    let word = word_at(b, i)?;
    // Byte `k` (below 8) of the word: read from the register, with no bounds to check.
    let byte = |word: u64, k: usize| (word >> (8 * k)) as u8;
    let (v, flags) = digit_flags(word);
    let n = first_flag(flags);
    if n == 0 || n == 8 || (n > 1 && byte(word, 0) == b'0') {
        return None;
    }
    let (mantissa, scale, end, separator) = if byte(word, n) != b'.' {
        (decimal_of(v, n), 0, i + n, byte(word, n))
    } else {
        // The fraction's end: the next flag after the point's own.
        let m = first_flag(flags & !(0x80 << (8 * n)));
        if m < 8 {
            // The whole number is in this word (most are): its digits without the point,
            // read in one go.
            let f = m - n - 1;
            if f == 0 {
                return None;
            }
            let whole = v & ((1 << (8 * n)) - 1);
            let fraction = (v >> (8 * (n + 1))) << (8 * n);
            (decimal_of(whole | fraction, n + f), f, i + m, byte(word, m))
        } else {
            // The fraction goes on past this word: read from the next.
            let next = word_at(b, i + n + 1)?;
            let (f, fraction) = leading_digits(next);
            if f == 0 || f == 8 {
                return None;
            }
            let mantissa = decimal_of(v, n) * SCALE[f] + fraction;
            (mantissa, f, i + n + 1 + f, byte(next, f))
        }
    };
    let last = match separator {
        b',' => false,
        b']' => true,
        _ => return None,
    };
    // Below 10¹⁵, so a signed conversion (one instruction; an unsigned one is several).
    let v = mantissa as i64 as f64 / POW10[scale];
    Some((if negative { -v } else { v }, end + 1, last))
}

/// The position of the first byte at or after `pos` of `bytes` that is not JSON whitespace.
#[inline(always)]
fn after_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// The text of a number the parser has read: ASCII, so never the empty string that a slice
/// which was not UTF-8 would give.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// The limits a body is parsed under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_elements: usize,
    /// Accept `NaN`, `Infinity` and `-Infinity` (TF Serving's extension) as numbers.
    pub allow_non_finite: bool,
}

/// Limits for what the model server answers (predictions, metadata): it is behind the guard,
/// so these only bound memory; TF Serving may answer NaN.
pub const RESPONSE_LIMITS: Limits = Limits {
    max_depth: 64,
    max_elements: 10_000_000,
    allow_non_finite: true,
};

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Not JSON: what was wrong, at which byte.
    Syntax {
        offset: usize,
        message: &'static str,
    },
    TooDeep {
        limit: usize,
    },
    TooManyElements {
        limit: usize,
    },
    NonFinite {
        offset: usize,
    },
    /// An object names the same key twice (at `offset`, the second time). Readers disagree on
    /// which one counts — Python's `json` and serde_json keep the last, RapidJSON finds the
    /// first — so a guard that screened one and forwarded both could be walked around.
    DuplicateKey {
        offset: usize,
        key: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Syntax { offset, message } => {
                write!(f, "invalid JSON at byte {offset}: {message}")
            }
            Error::TooDeep { limit } => write!(f, "JSON nested deeper than {limit} levels"),
            Error::TooManyElements { limit } => write!(f, "JSON holds more than {limit} values"),
            Error::NonFinite { offset } => write!(
                f,
                "NaN or Infinity (or a number too large for an f64) at byte {offset}, which \
                 this guard's configuration refuses (limits.allow_non_finite)"
            ),
            Error::DuplicateKey { offset, key } => write!(
                f,
                "the key {key:?} is repeated in one object (at byte {offset}); model servers \
                 differ on which one they read, so the guard refuses it"
            ),
        }
    }
}

/// Parses one JSON document (surrounding whitespace allowed) under `limits`.
pub fn parse(bytes: &[u8], limits: Limits) -> Result<Value, Error> {
    // JSON is UTF-8 (RFC 8259 §8.1). Outside strings only ASCII is valid anyway, and any
    // other byte there is refused as a syntax error where it is, so only the strings' runs of
    // text are checked for UTF-8 ([`Parser::string`]): a body of numbers is not read twice.
    let mut p = Parser {
        bytes,
        pos: 0,
        depth: 0,
        elements: 0,
        limits,
        scratch: SCRATCH.take(),
    };
    let parsed = p.document();
    p.scratch.keep();
    parsed
}

/// Room for the items of the arrays and objects being read: each one then gets a vector of
/// its exact size (no growing and copying per item). Kept for the thread's next parse, so
/// that a request's parse does not start by allocating it.
#[derive(Default)]
struct Scratch {
    /// The values of the arrays being read, innermost last.
    values: Vec<Value>,
    /// The numbers of the packed arrays being read (only the innermost array can be one).
    numbers: Vec<f64>,
    /// The members of the objects being read, innermost last.
    members: Vec<(Box<str>, Value)>,
}

/// The most items of each kind a thread keeps room for between parses (a larger scratch,
/// grown by a large document, is let go).
const SCRATCH_KEPT: usize = 4096;

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

impl Scratch {
    /// Empties this scratch and leaves it for the thread's next parse, if it is not large.
    fn keep(mut self) {
        if self.values.capacity() > SCRATCH_KEPT
            || self.numbers.capacity() > SCRATCH_KEPT
            || self.members.capacity() > SCRATCH_KEPT
        {
            return;
        }
        self.values.clear();
        self.numbers.clear();
        self.members.clear();
        SCRATCH.set(self);
    }
}

/// How many keys of an object are compared one by one before they are hashed instead: an
/// object of 100,000 keys (within the element limit) is not 5·10⁹ comparisons.
const COMPARED_KEYS: usize = 16;

/// The keys of the object being read, for finding a repeated one.
#[derive(Default)]
struct Keys {
    /// Built once the object has more than [`COMPARED_KEYS`] keys.
    hashed: Option<std::collections::HashSet<Box<str>>>,
}

impl Keys {
    /// Whether `key` is already among `members`, the object's members so far.
    fn repeats(&mut self, members: &[(Box<str>, Value)], key: &str) -> bool {
        if let Some(set) = &mut self.hashed {
            return !set.insert(key.into());
        }
        if members.len() < COMPARED_KEYS {
            return members.iter().any(|(k, _)| &**k == key);
        }
        let mut set: std::collections::HashSet<Box<str>> =
            members.iter().map(|(k, _)| k.clone()).collect();
        let repeated = !set.insert(key.into());
        self.hashed = Some(set);
        repeated
    }
}

/// A key as an error message shows it: at most 64 bytes of it.
fn shown_key(key: &str) -> String {
    if key.len() <= 64 {
        return key.to_string();
    }
    let mut end = 64;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &key[..end])
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    elements: usize,
    limits: Limits,
    scratch: Scratch,
}

impl Parser<'_> {
    /// The document: one value, with whitespace around it and nothing else.
    fn document(&mut self) -> Result<Value, Error> {
        self.ws();
        let v = self.value()?;
        self.ws();
        if self.pos != self.bytes.len() {
            return Err(self.syntax("trailing characters after the document"));
        }
        Ok(v)
    }

    fn syntax(&self, message: &'static str) -> Error {
        Error::Syntax {
            offset: self.pos,
            message,
        }
    }

    fn ws(&mut self) {
        self.pos = after_ws(self.bytes, self.pos);
    }

    fn count(&mut self) -> Result<(), Error> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(Error::TooManyElements {
                limit: self.limits.max_elements,
            });
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(Error::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    fn literal<T>(&mut self, word: &[u8], v: T) -> Result<T, Error> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.syntax("unknown literal"))
        }
    }

    fn non_finite(&mut self, word: &[u8], n: f64) -> Result<f64, Error> {
        let at = self.pos;
        self.literal(word, ())?;
        if !self.limits.allow_non_finite {
            return Err(Error::NonFinite { offset: at });
        }
        Ok(n)
    }

    /// Whether the next value is a number (or `NaN` / `Infinity` / `-Infinity`).
    fn at_number(&self) -> bool {
        matches!(
            self.bytes.get(self.pos),
            Some(b'-' | b'0'..=b'9' | b'N' | b'I')
        )
    }

    /// A number, or one of TF Serving's `NaN` / `Infinity` / `-Infinity`; the caller has seen
    /// [`Parser::at_number`].
    #[inline(always)]
    fn any_number(&mut self) -> Result<f64, Error> {
        match self.bytes[self.pos] {
            b'N' => self.non_finite(b"NaN", f64::NAN),
            b'I' => self.non_finite(b"Infinity", f64::INFINITY),
            b'-' if self.bytes.get(self.pos + 1) == Some(&b'I') => {
                self.non_finite(b"-Infinity", f64::NEG_INFINITY)
            }
            _ => self.number(),
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        self.count()?;
        if self.at_number() {
            return Ok(Value::Number(self.any_number()?));
        }
        match self.bytes.get(self.pos) {
            None => Err(self.syntax("unexpected end of input")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(_) => Err(self.syntax("expected a value")),
        }
    }

    /// After an item: `true` at the closing `]` (consumed), `false` after a `,`.
    fn array_item_end(&mut self) -> Result<bool, Error> {
        self.ws();
        match self.bytes.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                self.ws();
                Ok(false)
            }
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(true)
            }
            _ => Err(self.syntax("expected ',' or ']' in an array")),
        }
    }

    fn array(&mut self) -> Result<Value, Error> {
        self.enter()?;
        self.pos += 1;
        self.ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(Array::Values(Vec::new())));
        }
        // Packed while the items are numbers.
        let base = self.scratch.numbers.len();
        loop {
            // The short form first: it checks what it reads, so most items need no other look.
            let closed = if self.short_run()? {
                true
            } else if self.at_number() {
                self.count()?;
                let n = self.any_number()?;
                self.scratch.numbers.push(n);
                self.array_item_end()?
            } else {
                break;
            };
            if closed {
                return Ok(Value::Array(Array::Numbers(
                    self.scratch.numbers.split_off(base),
                )));
            }
        }
        // Something else: the numbers so far become values, and so do the items after them.
        let vbase = self.scratch.values.len();
        self.scratch
            .values
            .extend(self.scratch.numbers.drain(base..).map(Value::Number));
        loop {
            let v = self.value()?;
            self.scratch.values.push(v);
            if self.array_item_end()? {
                return Ok(Value::Array(Array::Values(
                    self.scratch.values.split_off(vbase),
                )));
            }
        }
    }

    fn object(&mut self) -> Result<Value, Error> {
        self.enter()?;
        self.pos += 1;
        self.ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(Vec::new()));
        }
        let base = self.scratch.members.len();
        let mut seen = Keys::default();
        loop {
            self.ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.syntax("expected a string key in an object"));
            }
            let at = self.pos;
            let key = self.string()?;
            if seen.repeats(&self.scratch.members[base..], &key) {
                return Err(Error::DuplicateKey {
                    offset: at,
                    key: shown_key(&key),
                });
            }
            self.ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.syntax("expected ':' after an object key"));
            }
            self.pos += 1;
            self.ws();
            let v = self.value()?;
            self.scratch.members.push((key, v));
            self.ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Object(self.scratch.members.drain(base..).collect()));
                }
                _ => return Err(self.syntax("expected ',' or '}' in an object")),
            }
        }
    }

    /// Reads the array's items for as long as they are in the short form [`short_item`] reads,
    /// each onto the scratch numbers; `true` when that reached the array's closing `]`
    /// (consumed), `false` with the position at the first item it does not read (or at
    /// whitespace before it: the general path skips that). The position and the element count
    /// stay in locals for the run and are written back once, not loaded and stored in the
    /// parser for every item (about 7 instructions less an item, callgrind).
    fn short_run(&mut self) -> Result<bool, Error> {
        let bytes = self.bytes;
        let max = self.limits.max_elements;
        let numbers = &mut self.scratch.numbers;
        let mut pos = self.pos;
        let mut elements = self.elements;
        let mut closed = false;
        while let Some((n, next, last)) = short_item(bytes, pos) {
            elements += 1;
            if elements > max {
                return Err(Error::TooManyElements { limit: max });
            }
            numbers.push(n);
            pos = next;
            if last {
                closed = true;
                break;
            }
            pos = after_ws(bytes, pos);
        }
        self.pos = pos;
        self.elements = elements;
        if closed {
            self.depth -= 1;
        }
        Ok(closed)
    }

    #[inline(always)]
    fn number(&mut self) -> Result<f64, Error> {
        let start = self.pos;
        let negative = self.bytes[self.pos] == b'-';
        if negative {
            self.pos += 1;
        }
        // The digits, as an integer (exact up to 19 of them): most numbers in a request are
        // short decimals that need no more than that (see `exact`).
        let mut mantissa = 0u64;
        let int = self.digits(&mut mantissa);
        if int == 0 {
            return Err(self.syntax("a number needs digits"));
        }
        if int > 1 && self.bytes[self.pos - int] == b'0' {
            return Err(Error::Syntax {
                offset: self.pos - int,
                message: "a number may not start with 0",
            });
        }
        let mut scale = 0i64;
        let mut fraction = 0;
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            fraction = self.digits(&mut mantissa);
            if fraction == 0 {
                return Err(self.syntax("a fraction needs digits"));
            }
            scale = -(fraction as i64);
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            let sign = match self.bytes.get(self.pos) {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            if sign != 0 {
                self.pos += 1;
            }
            let from = self.pos;
            if self.digits(&mut 0) == 0 {
                return Err(self.syntax("an exponent needs digits"));
            }
            // Beyond any f64: 1e400 is infinite and 1e-400 zero either way.
            let e = ascii(&self.bytes[from..self.pos])
                .parse::<i64>()
                .unwrap_or(100_000);
            scale += if sign < 0 {
                -e.min(100_000)
            } else {
                e.min(100_000)
            };
        }
        let v = match exact(mantissa, scale).filter(|_| int + fraction <= 19) {
            Some(v) if negative => -v,
            Some(v) => v,
            None => ascii(&self.bytes[start..self.pos])
                .parse::<f64>()
                .map_err(|_| self.syntax("number out of range"))?,
        };
        if v.is_infinite() && !self.limits.allow_non_finite {
            // 1e999 is Infinity by another name.
            return Err(Error::NonFinite { offset: start });
        }
        Ok(v)
    }

    /// Skips ASCII digits, folding them into `mantissa` (which wraps after 19 digits: the
    /// caller counts them).
    #[inline(always)]
    fn digits(&mut self, mantissa: &mut u64) -> usize {
        let s = self.pos;
        // Eight bytes at a time while eight are left (most numbers end within the first).
        while let Some(word) = word_at(self.bytes, self.pos) {
            let (n, value) = leading_digits(word);
            *mantissa = mantissa.wrapping_mul(SCALE[n]).wrapping_add(value);
            self.pos += n;
            if n < 8 {
                return self.pos - s;
            }
        }
        while let Some(&b) = self.bytes.get(self.pos) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            self.pos += 1;
        }
        self.pos - s
    }

    fn string(&mut self) -> Result<Box<str>, Error> {
        self.pos += 1;
        // Built only once an escape is met: a string without one (most, keys above all) is
        // one allocation of its exact size.
        let mut built: Option<String> = None;
        loop {
            let start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The run ends at an ASCII byte (or the end), so on a character boundary: a run
            // is whole characters or not UTF-8.
            let run =
                std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|e| Error::Syntax {
                    offset: start + e.valid_up_to(),
                    message: "invalid UTF-8",
                })?;
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(match built {
                        None => run.into(),
                        Some(mut out) => {
                            out.push_str(run);
                            out.into()
                        }
                    });
                }
                Some(b'\\') => {
                    let out = built.get_or_insert_with(String::new);
                    out.push_str(run);
                    self.pos += 1;
                    let c = match self.bytes.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.bytes[self.pos..].starts_with(b"\\u") {
                                    return Err(self.syntax("lone surrogate in a string"));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.syntax("lone surrogate in a string"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(
                                char::from_u32(code)
                                    .ok_or_else(|| self.syntax("invalid \\u escape"))?,
                            );
                            continue;
                        }
                        _ => return Err(self.syntax("invalid escape in a string")),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.syntax("control character in a string")),
                None => return Err(self.syntax("unterminated string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        if self.bytes.len() < self.pos + 4 {
            return Err(self.syntax("short \\u escape"));
        }
        let mut v = 0;
        for &b in &self.bytes[self.pos..self.pos + 4] {
            let digit = char::from(b)
                .to_digit(16)
                .ok_or_else(|| self.syntax("invalid \\u escape"))?;
            v = v * 16 + digit;
        }
        self.pos += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOSE: Limits = Limits {
        max_depth: 64,
        max_elements: 1_000_000,
        allow_non_finite: false,
    };

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#" {"a": [1, -2.5e3, 0.25, true, false, null], "b": "x\"\u00e9\ud83d\ude00\n", "c": {}} "#;
        let ours = parse(text.as_bytes(), LOOSE).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours.pointer("/a/1").unwrap().as_f64(), Some(-2500.0));
        assert_eq!(ours.pointer("/b").unwrap().as_str(), theirs["b"].as_str());
        assert_eq!(ours.pointer("/c").as_deref(), Some(&Value::Object(vec![])));
    }

    /// serde_json's reading of a document, in our terms.
    fn from_serde(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap()),
            serde_json::Value::String(s) => Value::String(s.as_str().into()),
            serde_json::Value::Array(a) => {
                Value::Array(a.iter().map(from_serde).collect::<Vec<_>>().into())
            }
            serde_json::Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.as_str().into(), from_serde(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn nested_arrays_and_objects_keep_their_shape() {
        let text = r#"{"instances": [[1, [2, 3], []], {"b64": "x", "n": [{}, {"k": [4, {"z": 5}]}]}],
                       "signature_name": "serving_default", "e": [[[]]], "last": 6}"#;
        let ours = parse(text.as_bytes(), LOOSE).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, from_serde(&theirs));
    }

    #[test]
    fn text_that_is_not_utf8_or_a_bad_escape_is_refused_where_it_is() {
        let cases: [(&[u8], usize, &str); 7] = [
            (b"[1, \"a\xffb\"]", 6, "invalid UTF-8"),
            (b"[1, 2]\xc3", 6, "trailing characters after the document"),
            (b"[1, \xc3\xa9]", 4, "expected a value"),
            (b"{\"k\xc3\": 1}", 3, "invalid UTF-8"),
            (b"\"\\u+041\"", 3, "invalid \\u escape"),
            (b"\"\\u00\"", 3, "short \\u escape"),
            (b"\"\\u00\xc3\xa9\"", 3, "invalid \\u escape"),
        ];
        for (bad, offset, message) in cases {
            assert_eq!(
                parse(bad, LOOSE),
                Err(Error::Syntax { offset, message }),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn rejects_malformed_documents_with_an_offset() {
        for bad in [
            "",
            "[1,]",
            "{\"a\" 1}",
            "01",
            "[1 2]",
            "\"abc",
            "[1] x",
            "-",
            "1.",
            "tru",
        ] {
            match parse(bad.as_bytes(), LOOSE) {
                Err(Error::Syntax { .. }) => {}
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    /// A key given twice in one object is refused where it is repeated, however it is
    /// spelled (escapes are read first) and however large the object; the same key in
    /// different objects, or at different depths, is not a repeat.
    #[test]
    fn a_key_repeated_in_one_object_is_refused() {
        let refused = |text: &str| match parse(text.as_bytes(), LOOSE) {
            Err(Error::DuplicateKey { offset, key }) => (offset, key),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            refused(r#"{"features": [[0.1]], "features": [[16]]}"#),
            (22, "features".to_string())
        );
        assert_eq!(refused(r#"{"a": 1, "\u0061": 2}"#), (9, "a".to_string()));
        assert_eq!(
            refused(r#"[{"x": {"a": 1, "b": {}, "a": 2}}]"#),
            (25, "a".to_string())
        );
        // Past the keys compared one by one: 40 distinct keys, then the 7th again.
        let mut big: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        big.push("\"k6\": 0".into());
        let text = format!("{{{}}}", big.join(", "));
        let at = text.rfind("\"k6\"").unwrap();
        assert_eq!(refused(&text), (at, "k6".to_string()));
        let long = format!("{{\"{0}\": 1, \"{0}\": 2}}", "é".repeat(40));
        let (_, shown) = refused(&long);
        assert_eq!(shown, format!("{}…", "é".repeat(32)));
        for fine in [
            r#"[{"a": 1}, {"a": 2}]"#,
            r#"{"a": {"a": 1}, "b": {"a": 2}}"#,
            r#"{"a": 1, "A": 2, "a ": 3}"#,
        ] {
            assert!(parse(fine.as_bytes(), LOOSE).is_ok(), "{fine}");
        }
        let distinct: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        let text = format!("{{{}}}", distinct.join(", "));
        assert!(parse(text.as_bytes(), LOOSE).is_ok());
    }

    #[test]
    fn depth_and_element_limits_stop_the_parse() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(
            parse(deep.as_bytes(), LOOSE),
            Err(Error::TooDeep { limit: 64 })
        );
        let many = format!("[{}0]", "0,".repeat(20));
        let tight = Limits {
            max_elements: 10,
            ..LOOSE
        };
        assert_eq!(
            parse(many.as_bytes(), tight),
            Err(Error::TooManyElements { limit: 10 })
        );
        // Exactly at the limit and one past it, all in the short form the fast path reads
        // (the array itself is one element, then nine or ten numbers; the spaces after it
        // leave the last one eight bytes to be read from).
        let short = |n: usize| format!("[{}-0.5]        ", "-0.9417,".repeat(n - 1));
        assert!(parse(short(9).as_bytes(), tight).is_ok());
        assert_eq!(
            parse(short(10).as_bytes(), tight),
            Err(Error::TooManyElements { limit: 10 })
        );
    }

    /// A reproducible stream of pseudo-random numbers (xorshift64).
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    #[test]
    fn numbers_are_the_nearest_f64_as_the_standard_parser_gives() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d_u64);
        let mut texts = vec![
            "0".to_string(),
            "-0".into(),
            "9007199254740992".into(),
            "9007199254740993".into(),
            "18446744073709551616".into(),
            "0.1".into(),
            "-1.3966".into(),
            "1e22".into(),
            "1e23".into(),
            "1.7976931348623157e308".into(),
            "4.9e-324".into(),
            "1e-400".into(),
            "0.000000000000000000000000000001".into(),
            "123456789012345678901234567890e-20".into(),
        ];
        for _ in 0..100_000 {
            let r = next();
            let int = (r % 1_000_000_000_000) >> ((r >> 40) % 40);
            let frac = format!(
                "{:0width$}",
                next() % 10_000_000,
                width = (r >> 50) as usize % 9
            );
            let exp = (next() % 61) as i64 - 30;
            let sign = if r & 1 == 0 { "-" } else { "" };
            texts.push(match r >> 60 {
                0..=5 => format!("{sign}{int}.{frac}"),
                6..=9 => format!("{sign}{int}.{frac}e{exp}"),
                10..=12 => format!("{sign}{int}E+{}", exp.abs()),
                _ => format!("{sign}{int}"),
            });
        }
        for text in texts {
            let text = text.replace(".e", ".0e").replace(".E", ".0E");
            let text = if text.ends_with('.') {
                text + "0"
            } else {
                text
            };
            let want: f64 = text.parse().unwrap();
            let Ok(Value::Number(got)) = parse(text.as_bytes(), LOOSE) else {
                panic!("{text} did not parse");
            };
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{text}: {got} against {want}"
            );
        }
    }

    #[test]
    fn numbers_in_arrays_read_as_alone_whatever_their_form_and_spacing() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15_u64);
        let mut texts: Vec<String> = ["0", "-0", "-0.0", "0.5", "7", "9999999.9999999"]
            .map(String::from)
            .into();
        for _ in 0..50_000 {
            let r = next();
            // Up to nine digits either side of the point: the short form and both sides of
            // its limits.
            let int = next() % 10u64.pow((r % 10) as u32);
            let width = (r >> 8) as usize % 10;
            let frac = format!("{:0width$}", next() % 10u64.pow(width as u32));
            let sign = if r & (1 << 20) == 0 { "-" } else { "" };
            texts.push(match (r >> 24) % 8 {
                0 => format!("{sign}{int}"),
                1 => format!("{sign}{int}.{frac}e{}", (r >> 32) % 30),
                _ if width == 0 => format!("{sign}{int}"),
                _ => format!("{sign}{int}.{frac}"),
            });
        }
        for chunk in texts.chunks(7) {
            let spaced = next().is_multiple_of(3);
            let text = format!("[{}]", chunk.join(if spaced { " , " } else { "," }));
            let v = parse(text.as_bytes(), LOOSE).unwrap_or_else(|e| panic!("{text}: {e}"));
            let got = v.as_array().and_then(Array::numbers).unwrap();
            for (t, g) in chunk.iter().zip(got) {
                let want: f64 = t.parse().unwrap();
                assert_eq!(g.to_bits(), want.to_bits(), "{t} in {text}: {g}");
            }
            assert_eq!(got.len(), chunk.len(), "{text}");
        }
        // Malformed items are refused where they go wrong, however short.
        for (text, offset) in [
            ("[1,01]", 3),
            ("[1.,2,3,4,5,6]", 3),
            ("[-,1,2,3,4,5,6]", 2),
            ("[1,2,3,4,5,6,7]x", 15),
            ("[12 3,4,5,6,7]", 4),
        ] {
            match parse(text.as_bytes(), LOOSE) {
                Err(Error::Syntax {
                    offset: at,
                    message,
                }) => {
                    assert_eq!(at, offset, "{text}: {message}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        // An array of numbers in an array is closed once (depth counted back).
        let deep = Limits {
            max_depth: 2,
            ..LOOSE
        };
        assert!(parse(b"[[1,2],[3,4],[5.5,6.25]]", deep).is_ok());
        assert_eq!(parse(b"[[[1,2]]]", deep), Err(Error::TooDeep { limit: 2 }));
    }

    #[test]
    fn leading_digits_count_and_read_each_length() {
        for text in [
            "12345678", "1234567x", "0,      ", "x1234567", "9876]   ", "00000001", "99999999",
        ] {
            let mut word = [0; 8];
            word.copy_from_slice(text.as_bytes());
            let n = text.bytes().take_while(u8::is_ascii_digit).count();
            let want = text[..n].parse::<u64>().unwrap_or(0);
            assert_eq!(
                leading_digits(u64::from_le_bytes(word)),
                (n, want),
                "{text}"
            );
        }
        // Every byte that is not a digit stops the run, wherever it is.
        for stop in (0..=255u8).filter(|b| !b.is_ascii_digit()) {
            for at in 0..8 {
                let mut word = *b"55555555";
                word[at] = stop;
                let (n, _) = leading_digits(u64::from_le_bytes(word));
                assert_eq!(n, at, "byte {stop:#x} at {at}");
            }
        }
    }

    #[test]
    fn non_finite_tokens_only_when_allowed() {
        let body = b"[NaN, Infinity, -Infinity]";
        assert_eq!(parse(body, LOOSE), Err(Error::NonFinite { offset: 1 }));
        // A number too large for an f64 is Infinity by another name.
        assert_eq!(
            parse(b"[1, -1e999]", LOOSE),
            Err(Error::NonFinite { offset: 4 })
        );
        let v = parse(
            body,
            Limits {
                allow_non_finite: true,
                ..LOOSE
            },
        )
        .unwrap();
        let a = v.as_array().unwrap().numbers().unwrap();
        assert!(a[0].is_nan());
        assert_eq!(a[1..], [f64::INFINITY, f64::NEG_INFINITY]);
    }

    #[test]
    fn arrays_of_numbers_are_packed_and_nothing_else_is() {
        let v = parse(br#"[[1, 2.5], [3, "x"], [], [true], [[4]]]"#, LOOSE).unwrap();
        let Value::Array(Array::Values(rows)) = &v else {
            panic!("{v:?}");
        };
        assert_eq!(rows[0], Value::Array(Array::Numbers(vec![1.0, 2.5])));
        assert_eq!(
            rows[1],
            Value::Array(Array::Values(vec![
                Value::Number(3.0),
                Value::String("x".into())
            ]))
        );
        assert_eq!(rows[2], Value::Array(Array::Values(vec![])));
        assert_eq!(
            rows[3],
            Value::Array(Array::Values(vec![Value::Bool(true)]))
        );
        assert_eq!(v.pointer("/4/0/0").as_deref(), Some(&Value::Number(4.0)));
        // A packed item reads like any other.
        assert_eq!(v.pointer("/0/1").as_deref(), Some(&Value::Number(2.5)));
        assert_eq!(v.pointer("/0/1/0"), None);
        assert_eq!(v.pointer("/0/2"), None);
        let second = v.pointer("/1").unwrap();
        let items: Vec<_> = second.as_array().unwrap().iter().collect();
        assert_eq!(items[0].as_f64(), Some(3.0));
        assert_eq!(items[1].as_str(), Some("x"));
    }

    #[test]
    fn every_array_holds_only_its_own_items() {
        // Arrays read one after another from the same scratch space, in objects and arrays,
        // first items and later ones: each keeps memory for its items alone (a scratch buffer
        // handed on with its capacity would let a body of many small arrays hold many times
        // its size).
        fn spare(v: &Value) -> usize {
            match v {
                Value::Array(Array::Numbers(n)) => n.capacity() - n.len(),
                Value::Array(Array::Values(items)) => {
                    items.capacity() - items.len() + items.iter().map(spare).sum::<usize>()
                }
                Value::Object(members) => members.iter().map(|(_, v)| spare(v)).sum(),
                _ => 0,
            }
        }
        let long: Vec<String> = (0..500).map(|i| i.to_string()).collect();
        let text = format!(
            r#"{{"big": [{}], "a": [1], "b": [2.5, 3], "c": [["x"], ["y", "z"]], "d": [[1, 2], [3]], "e": [{{"f": [4]}}, [5, "g"]]}}"#,
            long.join(",")
        );
        let v = parse(text.as_bytes(), LOOSE).unwrap();
        assert_eq!(spare(&v), 0, "{v:?}");
    }

    #[test]
    fn a_parse_that_fails_part_way_leaves_nothing_for_the_next() {
        // The scratch space is kept per thread between parses, empty and with its room.
        assert!(parse(br#"[["a", 1, {"k": [1, 2, "#, LOOSE).is_err());
        let kept = SCRATCH.take();
        assert_eq!(
            (kept.values.len(), kept.numbers.len(), kept.members.len()),
            (0, 0, 0)
        );
        assert!(kept.values.capacity() > 0 && kept.numbers.capacity() > 0);
        SCRATCH.set(kept);
        assert!(parse(br#"{"x": [3, 4], "y": ["s", {"#, LOOSE).is_err());
        // A document larger than the room kept leaves none behind.
        let many = format!("[{}]", vec!["[1]"; SCRATCH_KEPT + 1].join(","));
        assert!(parse(many.as_bytes(), LOOSE).is_ok());
        assert_eq!(SCRATCH.take().values.capacity(), 0);
        let v = parse(br#"[["b"], {"z": [5]}]"#, LOOSE).unwrap();
        assert_eq!(
            v,
            Value::Array(Array::Values(vec![
                Value::Array(Array::Values(vec![Value::String("b".into())])),
                Value::Object(vec![("z".into(), Value::Array(Array::Numbers(vec![5.0])))]),
            ]))
        );
        // Strings with and without escapes read the same way.
        let v = parse(br#"["plain", "esc\"aped\u00e9", "\n"]"#, LOOSE).unwrap();
        let items: Vec<_> = v.as_array().unwrap().iter().collect();
        assert_eq!(items[0].as_str(), Some("plain"));
        assert_eq!(items[1].as_str(), Some("esc\"aped\u{e9}"));
        assert_eq!(items[2].as_str(), Some("\n"));
    }

    #[test]
    fn json_pointer_escapes() {
        let v = parse(br#"{"a/b": {"~x": [5]}}"#, LOOSE).unwrap();
        assert_eq!(v.pointer("/a~1b/~0x/0").unwrap().as_f64(), Some(5.0));
        assert_eq!(v.pointer("/missing"), None);
    }
}
