//! The symbolic values on the pickle machine's stack and memo.
//!
//! Containers are shared (`Rc<RefCell<…>>`) as the real unpickler shares them, so a list that is
//! memoised and later appended to is the same list wherever it was fetched from. Nothing here is
//! ever executed: a call's result is an [`Obj`] that remembers what was called with what.

use super::names::Name;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone, Debug)]
pub enum Val {
    None,
    Bool(bool),
    Int(Option<i64>),
    Float,
    Str(Rc<str>),
    /// Bytes; the content is kept when short (nested pickles are analysed).
    Bytes(Option<Rc<[u8]>>, u64),
    Tuple(Rc<[Val]>),
    List(Rc<RefCell<Vec<Val>>>),
    Dict(Rc<RefCell<Vec<(Val, Val)>>>),
    Set(Rc<RefCell<Vec<Val>>>),
    /// An object found by `find_class` (GLOBAL, STACK_GLOBAL, INST, EXT*).
    Global(Rc<Name>),
    /// A module object (from `__import__` and friends).
    Module(Rc<Name>),
    /// An attribute fetched at load time (`getattr`, `attrgetter`, resolvers).
    Attr(Rc<Name>, &'static str),
    /// The result of a call.
    Obj(Rc<Obj>),
    /// What `persistent_load` returns (PyTorch storages).
    Persistent,
    /// Out-of-band buffer (protocol 5).
    Buffer,
    /// A global that cannot be resolved statically (extension codes, computed names).
    Unknown(Rc<str>),
}

#[derive(Debug)]
pub struct Obj {
    /// What was called, when it has a name.
    pub callee: Option<Rc<Name>>,
    pub kind: ObjKind,
    pub args: Val,
    /// BUILD's state, once applied.
    pub state: RefCell<Option<Val>>,
}

#[derive(Debug)]
pub enum ObjKind {
    Plain,
    /// `operator.attrgetter('a.b', …)`: calling it fetches these attributes.
    AttrGetter(Vec<Rc<str>>),
    /// `operator.methodcaller('name', …)`: calling it on `x` calls `x.name(…)`.
    MethodCaller(Rc<str>),
}

impl Val {
    pub fn str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The dotted path of an object known statically (a global, a module, a fetched attribute).
    pub fn path(&self) -> Option<&Name> {
        match self {
            Val::Global(n) | Val::Module(n) | Val::Attr(n, _) => Some(n),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn items(&self) -> Vec<Val> {
        match self {
            Val::Tuple(t) => t.to_vec(),
            Val::List(l) => l.borrow().clone(),
            _ => Vec::new(),
        }
    }

    /// A dictionary's value under a string key.
    pub fn get(&self, key: &str) -> Option<Val> {
        match self {
            Val::Dict(d) => d
                .borrow()
                .iter()
                .find(|(k, _)| k.str() == Some(key))
                .map(|(_, v)| v.clone()),
            _ => None,
        }
    }

    /// A short rendering for messages (`'echo hi'`, `os.system`, `(…)`), at most `max` chars.
    pub fn preview(&self, max: usize) -> String {
        let mut s = String::new();
        self.render(&mut s, 3);
        if s.chars().count() > max {
            let cut: String = s.chars().take(max.saturating_sub(1)).collect();
            return format!("{cut}…");
        }
        s
    }

    fn render(&self, out: &mut String, depth: usize) {
        use std::fmt::Write;
        if depth == 0 {
            out.push('…');
            return;
        }
        match self {
            Val::None => out.push_str("None"),
            Val::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Val::Int(Some(i)) => {
                let _ = write!(out, "{i}");
            }
            Val::Int(None) => out.push_str("<int>"),
            Val::Float => out.push_str("<float>"),
            Val::Str(s) => {
                let _ = write!(out, "{:?}", s.chars().take(200).collect::<String>());
            }
            Val::Bytes(_, n) => {
                let _ = write!(out, "<{n} bytes>");
            }
            Val::Tuple(items) => {
                out.push('(');
                render_seq(out, items.iter(), depth);
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Val::List(l) => {
                out.push('[');
                render_seq(out, l.borrow().iter(), depth);
                out.push(']');
            }
            Val::Set(l) => {
                out.push('{');
                render_seq(out, l.borrow().iter(), depth);
                out.push('}');
            }
            Val::Dict(d) => {
                let _ = write!(out, "{{<{} items>}}", d.borrow().len());
            }
            Val::Global(n) | Val::Module(n) | Val::Attr(n, _) => out.push_str(&n.resolved),
            Val::Obj(o) => {
                match &o.callee {
                    Some(c) => out.push_str(&c.resolved),
                    None => out.push_str("<object>"),
                }
                out.push_str("(…)");
            }
            Val::Persistent => out.push_str("<persistent>"),
            Val::Buffer => out.push_str("<buffer>"),
            Val::Unknown(w) => out.push_str(w),
        }
    }
}

fn render_seq<'a>(out: &mut String, items: impl Iterator<Item = &'a Val>, depth: usize) {
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if i >= 8 {
            out.push('…');
            break;
        }
        v.render(out, depth - 1);
    }
}
