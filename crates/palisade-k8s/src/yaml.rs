//! A YAML document tree that remembers where every node came from.
//!
//! `saphyr-parser` (a YAML 1.2 event parser) supplies events with source spans; this module
//! builds a small tree of [`Node`]s from them, keeping each node's file, line and column so
//! findings can point at the exact field. Scalars are kept as text and interpreted on demand the
//! way Kubernetes' YAML decoder does (`true`, `yes`, `on` … are booleans when unquoted).
//!
//! Limits keep hostile input bounded: nesting depth ([`MAX_DEPTH`]) and the number of nodes alias
//! expansion may create ([`MAX_ALIAS_NODES`], against "billion laughs"). Merge keys (`<<`) are
//! honoured as Kubernetes' decoder does.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 256;
/// Most nodes that alias expansion may add to one file.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// Where a node starts: a file (index into the scan's file table), 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct Pos {
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    /// Any scalar, with whether it was plain (unquoted, not a block scalar).
    Scalar {
        text: Box<str>,
        plain: bool,
    },
    Seq(Box<[Node]>),
    /// Entries in source order: (key, value).
    Map(Box<[(Node, Node)]>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

impl Node {
    /// The value under `key` in a mapping (the last one when a key repeats, as Kubernetes' JSON
    /// decoder does).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value under `key`.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Follow a path of keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    /// Position of the key `key` if present, else of this node: where a finding about that
    /// field should point.
    pub fn key_pos(&self, key: &str) -> Pos {
        self.entry(key).map(|(k, _)| k.pos).unwrap_or(self.pos)
    }

    /// Where a finding about `keys` (a path below this node) points: the deepest key that is
    /// present, or this node when none is.
    pub fn deepest_key_pos(&self, keys: &[&str]) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        for k in keys {
            match node.entry(k) {
                Some((key, value)) => {
                    pos = key.pos;
                    node = value;
                }
                None => break,
            }
        }
        pos
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A non-empty string value (not null).
    pub fn as_nonempty_str(&self) -> Option<&str> {
        if self.is_null() {
            return None;
        }
        self.as_str().filter(|s| !s.is_empty())
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true } if matches!(&**text, "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A boolean as Kubernetes' YAML decoder reads it (YAML 1.1 spellings included); quoted
    /// strings are not booleans.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            NodeKind::Scalar { text, plain: true } => match &**text {
                "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y"
                | "Y" => Some(true),
                "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n"
                | "N" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn is_true(&self) -> bool {
        self.as_bool() == Some(true)
    }

    pub fn as_i64(&self) -> Option<i64> {
        match &self.kind {
            NodeKind::Scalar { text, plain: true } => {
                let t = text.replace('_', "");
                let (neg, digits) = match t.strip_prefix('-') {
                    Some(d) => (true, d),
                    None => (false, t.strip_prefix('+').unwrap_or(&t)),
                };
                let v = if let Some(h) = digits.strip_prefix("0x") {
                    i64::from_str_radix(h, 16).ok()?
                } else if let Some(o) = digits.strip_prefix("0o") {
                    i64::from_str_radix(o, 8).ok()?
                } else {
                    digits.parse::<i64>().ok()?
                };
                Some(if neg { -v } else { v })
            }
            _ => None,
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, NodeKind::Map(_))
    }

    /// Items of a sequence (empty for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            NodeKind::Seq(items) => items,
            _ => &[],
        }
    }

    /// Entries of a mapping (empty for anything else).
    pub fn entries(&self) -> impl Iterator<Item = (&Node, &Node)> {
        let slice: &[(Node, Node)] = match &self.kind {
            NodeKind::Map(e) => e,
            _ => &[],
        };
        slice.iter().map(|(k, v)| (k, v))
    }

    /// A mapping's string entries as owned pairs (labels, annotations, selectors); entries
    /// whose key or value is not a scalar are left out.
    pub fn string_pairs(&self) -> Vec<(String, String)> {
        self.entries()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
            .collect()
    }

    /// Number of nodes in this subtree.
    fn size(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar { .. } => 1,
            NodeKind::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            NodeKind::Map(e) => 1 + e.iter().map(|(k, v)| k.size() + v.size()).sum::<usize>(),
        }
    }
}

/// One document of a stream.
#[derive(Debug)]
pub struct Document {
    pub root: Node,
}

/// A syntax or limit error, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Everything parsed from one file: the documents before any error, and the error.
#[derive(Debug)]
pub struct Parsed {
    pub documents: Vec<Document>,
    pub error: Option<YamlError>,
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parse a multi-document YAML (or JSON) stream from file number `file`.
pub fn parse(text: &str, file: u32) -> Parsed {
    let mut documents = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut alias_budget = MAX_ALIAS_NODES;
    let mut root: Option<Node> = None;
    let fail = |documents, line: usize, column: usize, message: String| Parsed {
        documents,
        error: Some(YamlError {
            line,
            column,
            message,
        }),
    };

    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(x) => x,
            Err(e) => {
                let m = e.marker();
                return fail(
                    documents,
                    m.line().max(1),
                    m.col() + 1,
                    e.info().to_string(),
                );
            }
        };
        let pos = Pos {
            file,
            line: span.start.line() as u32,
            col: span.start.col() as u32 + 1,
        };
        let complete: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                anchors.clear();
                root = None;
                None
            }
            Event::DocumentEnd => {
                if let Some(r) = root.take() {
                    documents.push(Document { root: r });
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => {
                    let size = n.size();
                    if size > alias_budget {
                        return fail(
                            documents,
                            pos.line as usize,
                            pos.col as usize,
                            format!(
                                "alias expansion exceeds the limit of {MAX_ALIAS_NODES} nodes (possible \"billion laughs\" document)"
                            ),
                        );
                    }
                    alias_budget -= size;
                    Some((n.clone(), 0))
                }
                None => {
                    return fail(
                        documents,
                        pos.line as usize,
                        pos.col as usize,
                        "alias refers to an unknown anchor".into(),
                    );
                }
            },
            Event::Scalar(text, style, anchor, _tag) => Some((
                Node {
                    pos,
                    kind: NodeKind::Scalar {
                        // The scanner over-allocates; trees live for the whole scan.
                        text: text.into_owned().into_boxed_str(),
                        plain: style == ScalarStyle::Plain,
                    },
                },
                anchor,
            )),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return fail(
                        documents,
                        pos.line as usize,
                        pos.col as usize,
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                    );
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    pos,
                    anchor,
                    mut items,
                }) => Some((
                    Node {
                        pos,
                        kind: NodeKind::Seq(std::mem::take(&mut items).into_boxed_slice()),
                    },
                    anchor,
                )),
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    ..
                }) => Some((
                    Node {
                        pos,
                        kind: NodeKind::Map(apply_merge_keys(entries).into_boxed_slice()),
                    },
                    anchor,
                )),
                None => None,
            },
        };
        if let Some((node, anchor)) = complete {
            if anchor != 0 {
                anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                Some(Frame::Seq { items, .. }) => items.push(node),
                Some(Frame::Map { entries, key, .. }) => match key.take() {
                    Some(k) => entries.push((k, node)),
                    None => *key = Some(node),
                },
                None => root = Some(node),
            }
        }
    }
    if let Some(r) = root.take() {
        documents.push(Document { root: r });
    }
    Parsed {
        documents,
        error: None,
    }
}

/// YAML 1.1 merge keys: `<<: *base` or `<<: [*a, *b]` add the entries the mapping lacks.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let is_merge =
        |k: &Node| matches!(&k.kind, NodeKind::Scalar { text, plain: true } if &**text == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return entries;
    }
    let mut own = Vec::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (k, v) in entries {
        if is_merge(&k) {
            let sources: Vec<Node> = match v.kind {
                NodeKind::Seq(items) => items.into_vec(),
                _ => vec![v],
            };
            for s in sources {
                if let NodeKind::Map(e) = s.kind {
                    for (mk, mv) in e.into_vec() {
                        if !merged.iter().any(|(x, _)| x.as_str() == mk.as_str()) {
                            merged.push((mk, mv));
                        }
                    }
                }
            }
        } else {
            own.push((k, v));
        }
    }
    for (k, v) in merged {
        if !own.iter().any(|(x, _)| x.as_str() == k.as_str()) {
            own.push((k, v));
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values() {
        let p = parse("a: 1\nb:\n  c: [x, y]\n", 0);
        assert!(p.error.is_none());
        let root = &p.documents[0].root;
        let (k, v) = root.path(&["b"]).unwrap().entry("c").unwrap();
        assert_eq!((k.pos.line, k.pos.col), (3, 3));
        assert_eq!(v.items()[1].pos.col, 10);
        assert_eq!(root.get("a").unwrap().as_i64(), Some(1));
    }

    #[test]
    fn multi_document_crlf_and_comments() {
        let p = parse("# c\r\nkind: A\r\n---\r\nkind: B # trailing\r\n", 0);
        assert!(p.error.is_none(), "{:?}", p.error);
        assert_eq!(p.documents.len(), 2);
        assert_eq!(p.documents[1].root.get("kind").unwrap().as_str(), Some("B"));
        assert_eq!(p.documents[1].root.key_pos("kind").line, 4);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let p = parse(
            "base: &b {privileged: true, x: 1}\nc:\n  <<: *b\n  x: 2\nd: *b\n",
            0,
        );
        let root = &p.documents[0].root;
        assert!(root.path(&["c", "privileged"]).unwrap().is_true());
        assert_eq!(root.path(&["c", "x"]).unwrap().as_i64(), Some(2));
        assert!(root.path(&["d", "privileged"]).unwrap().is_true());
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut s = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            s.push_str(&format!(
                "{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = n;
        }
        let p = parse(&s, 0);
        let e = p.error.expect("refused");
        assert!(e.message.contains("alias expansion"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = "[".repeat(10_000);
        let p = parse(&s, 0);
        // Either our limit or the parser's own recursion limit refuses it: an error, no crash.
        let e = p.error.expect("refused");
        assert_eq!(e.line, 1, "{e:?}");
    }

    #[test]
    fn syntax_error_keeps_earlier_documents() {
        let p = parse("kind: A\n---\nkind: [unclosed\n", 0);
        assert_eq!(p.documents.len(), 1);
        let e = p.error.unwrap();
        assert!(e.line >= 3, "{e:?}");
    }

    #[test]
    fn json_with_tabs() {
        let p = parse(
            "{\n\t\"kind\": \"Pod\",\n\t\"spec\": {\"hostPID\": true}\n}\n",
            0,
        );
        assert!(p.error.is_none(), "{:?}", p.error);
        let root = &p.documents[0].root;
        assert!(root.path(&["spec", "hostPID"]).unwrap().is_true());
        assert_eq!(root.path(&["spec"]).unwrap().key_pos("hostPID").line, 3);
    }

    #[test]
    fn booleans_like_kubernetes() {
        let p = parse("a: yes\nb: 'true'\nc: ~\n", 0);
        let r = &p.documents[0].root;
        assert_eq!(r.get("a").unwrap().as_bool(), Some(true));
        assert_eq!(r.get("b").unwrap().as_bool(), None);
        assert!(r.get("c").unwrap().is_null());
    }
}
