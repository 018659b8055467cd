//! The symbolic values on the pickle machine's stack and memo.
//!
//! Containers are shared (`Rc<RefCell<…>>`) as the real unpickler shares them, so a list that is
//! memoised and later appended to is the same list wherever it was fetched from. Nothing here is
//! ever executed: a call's result is an [`Obj`] that remembers what was called with what.

use super::names::Name;
use std::cell::RefCell;
use std::ops::Deref;
use std::rc::Rc;

/// A shared container. Dropping the last reference to a deeply nested value (200 000 tuples
/// inside each other cost a pickle 400 KB) must not recurse: the children go to a per-thread
/// list that the outermost drop empties in a loop.
pub struct Node<T: Dismantle>(Option<Rc<T>>);

/// Moves a container's values out, so that they are dropped one at a time.
pub trait Dismantle {
    fn dismantle(self, out: &mut Vec<Val>);
}

impl<T: Dismantle> Node<T> {
    pub fn new(t: T) -> Self {
        Node(Some(Rc::new(t)))
    }
}

impl<T: Dismantle> Clone for Node<T> {
    fn clone(&self) -> Self {
        Node(self.0.clone())
    }
}

impl<T: Dismantle> Deref for Node<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("a node is live until dropped")
    }
}

impl<T: Dismantle + std::fmt::Debug> std::fmt::Debug for Node<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Default)]
struct Grave {
    items: Vec<Val>,
    draining: bool,
}

thread_local! {
    static GRAVE: RefCell<Grave> = RefCell::new(Grave::default());
}

impl<T: Dismantle> Drop for Node<T> {
    fn drop(&mut self) {
        let Some(rc) = self.0.take() else { return };
        let Ok(inner) = Rc::try_unwrap(rc) else {
            return; // other references keep it alive
        };
        let outermost = GRAVE.with(|g| {
            let mut g = g.borrow_mut();
            inner.dismantle(&mut g.items);
            !std::mem::replace(&mut g.draining, true)
        });
        if !outermost {
            return;
        }
        while let Some(v) = GRAVE.with(|g| g.borrow_mut().items.pop()) {
            drop(v);
        }
        GRAVE.with(|g| g.borrow_mut().draining = false);
    }
}

impl Dismantle for Vec<Val> {
    fn dismantle(self, out: &mut Vec<Val>) {
        out.extend(self);
    }
}

impl Dismantle for RefCell<Vec<Val>> {
    fn dismantle(self, out: &mut Vec<Val>) {
        out.extend(self.into_inner());
    }
}

impl Dismantle for RefCell<Vec<(Val, Val)>> {
    fn dismantle(self, out: &mut Vec<Val>) {
        for (k, v) in self.into_inner() {
            out.push(k);
            out.push(v);
        }
    }
}

impl Dismantle for Obj {
    fn dismantle(self, out: &mut Vec<Val>) {
        out.push(self.args);
        if let Some(s) = self.state.into_inner() {
            out.push(s);
        }
    }
}

#[derive(Clone, Debug)]
pub enum Val {
    None,
    Bool(bool),
    Int(Option<i64>),
    Float,
    Str(Rc<str>),
    /// Bytes; the content is kept when short (nested pickles are analysed).
    Bytes(Option<Rc<[u8]>>, u64),
    Tuple(Node<Vec<Val>>),
    List(Node<RefCell<Vec<Val>>>),
    Dict(Node<RefCell<Vec<(Val, Val)>>>),
    Set(Node<RefCell<Vec<Val>>>),
    /// An object found by `find_class` (GLOBAL, STACK_GLOBAL, INST, EXT*).
    Global(Rc<Name>),
    /// A module object (from `__import__` and friends).
    Module(Rc<Name>),
    /// An attribute fetched at load time (`getattr`, `attrgetter`, resolvers).
    Attr(Rc<Name>, &'static str),
    /// The result of a call.
    Obj(Node<Obj>),
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
    pub fn tuple(items: Vec<Val>) -> Val {
        Val::Tuple(Node::new(items))
    }

    pub fn list(items: Vec<Val>) -> Val {
        Val::List(Node::new(RefCell::new(items)))
    }

    pub fn set(items: Vec<Val>) -> Val {
        Val::Set(Node::new(RefCell::new(items)))
    }

    pub fn dict(items: Vec<(Val, Val)>) -> Val {
        Val::Dict(Node::new(RefCell::new(items)))
    }

    pub fn obj(o: Obj) -> Val {
        Val::Obj(Node::new(o))
    }

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
