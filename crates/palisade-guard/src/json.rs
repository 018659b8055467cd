//! A JSON reader with the request limits built in.
//!
//! Model-server request bodies are read once, here, before anything else looks at them: the
//! nesting depth and the number of values are counted while parsing (a 1 MB body of `[[[[…` or
//! of a million zeros is refused at the limit, not after building it), numbers become `f64`
//! directly, and TF Serving's `NaN` / `Infinity` / `-Infinity` tokens are accepted only when
//! the configuration says so. The guard forwards the original bytes, never a re-serialisation,
//! so what the model server sees is exactly what was checked.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(Box<str>),
    Array(Vec<Value>),
    Object(Vec<(Box<str>, Value)>),
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
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
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let mut here = self;
        for raw in pointer.strip_prefix('/')?.split('/') {
            let token = raw.replace("~1", "/").replace("~0", "~");
            here = match here {
                Value::Object(_) => here.get(&token)?,
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
                "NaN or Infinity at byte {offset}, which this guard's configuration refuses \
                 (limits.allow_non_finite)"
            ),
        }
    }
}

/// Parses one JSON document (surrounding whitespace allowed) under `limits`.
pub fn parse(bytes: &[u8], limits: Limits) -> Result<Value, Error> {
    let mut p = Parser {
        bytes,
        pos: 0,
        depth: 0,
        elements: 0,
        limits,
    };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.pos != bytes.len() {
        return Err(p.syntax("trailing characters after the document"));
    }
    Ok(v)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    elements: usize,
    limits: Limits,
}

impl Parser<'_> {
    fn syntax(&self, message: &'static str) -> Error {
        Error::Syntax {
            offset: self.pos,
            message,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
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

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, Error> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.syntax("unknown literal"))
        }
    }

    fn non_finite(&mut self, word: &[u8], n: f64) -> Result<Value, Error> {
        let at = self.pos;
        let v = self.literal(word, Value::Number(n))?;
        if !self.limits.allow_non_finite {
            return Err(Error::NonFinite { offset: at });
        }
        Ok(v)
    }

    fn value(&mut self) -> Result<Value, Error> {
        self.count()?;
        match self.bytes.get(self.pos) {
            None => Err(self.syntax("unexpected end of input")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string()?.into())),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'N') => self.non_finite(b"NaN", f64::NAN),
            Some(b'I') => self.non_finite(b"Infinity", f64::INFINITY),
            Some(b'-') if self.bytes.get(self.pos + 1) == Some(&b'I') => {
                self.non_finite(b"-Infinity", f64::NEG_INFINITY)
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.syntax("expected a value")),
        }
    }

    fn array(&mut self) -> Result<Value, Error> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.syntax("expected ',' or ']' in an array")),
            }
        }
    }

    fn object(&mut self) -> Result<Value, Error> {
        self.enter()?;
        self.pos += 1;
        let mut members = Vec::new();
        self.ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.syntax("expected a string key in an object"));
            }
            let key = self.string()?;
            self.ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.syntax("expected ':' after an object key"));
            }
            self.pos += 1;
            self.ws();
            let v = self.value()?;
            members.push((key.into(), v));
            self.ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.syntax("expected ',' or '}' in an object")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.pos;
            while let Some(b'0'..=b'9') = p.bytes.get(p.pos) {
                p.pos += 1;
            }
            p.pos - s
        };
        let int = digits(self);
        if int == 0 {
            return Err(self.syntax("a number needs digits"));
        }
        if int > 1 && self.bytes[self.pos - int] == b'0' {
            return Err(self.syntax("a number may not start with 0"));
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.syntax("a fraction needs digits"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.syntax("an exponent needs digits"));
            }
        }
        // The bytes are ASCII digits and signs, checked above.
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("0");
        text.parse::<f64>()
            .map(Value::Number)
            .map_err(|_| self.syntax("number out of range"))
    }

    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            let run =
                std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|e| Error::Syntax {
                    offset: start + e.valid_up_to(),
                    message: "invalid UTF-8 in a string",
                })?;
            out.push_str(run);
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
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
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.syntax("short \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.syntax("invalid \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.syntax("invalid \\u escape"))?;
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
        assert_eq!(ours.pointer("/c"), Some(&Value::Object(vec![])));
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
    }

    #[test]
    fn non_finite_tokens_only_when_allowed() {
        let body = b"[NaN, Infinity, -Infinity]";
        assert_eq!(parse(body, LOOSE), Err(Error::NonFinite { offset: 1 }));
        let v = parse(
            body,
            Limits {
                allow_non_finite: true,
                ..LOOSE
            },
        )
        .unwrap();
        let a = v.as_array().unwrap();
        assert!(a[0].as_f64().unwrap().is_nan());
        assert_eq!(a[2].as_f64(), Some(f64::NEG_INFINITY));
    }

    #[test]
    fn json_pointer_escapes() {
        let v = parse(br#"{"a/b": {"~x": [5]}}"#, LOOSE).unwrap();
        assert_eq!(v.pointer("/a~1b/~0x/0").unwrap().as_f64(), Some(5.0));
        assert_eq!(v.pointer("/missing"), None);
    }
}
