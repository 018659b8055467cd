//! Global names as the unpickler resolves them.
//!
//! `find_class(module, name)` imports `module` and walks `name` attribute by attribute (dots
//! allowed from protocol 4; we accept them at any protocol, which can only find more). With
//! `fix_imports` (the default) Python 2 names are first mapped to Python 3 ones through
//! `_compat_pickle`'s tables, reproduced here for the modules and names a payload can use.
//! Platform modules are then named as the module they are the implementation of (`posix` → `os`),
//! so one policy entry covers both.

/// A global as written in the stream and as the loader would resolve it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    /// `module.name` exactly as written.
    pub written: String,
    /// After the Python 2 mapping and platform aliases, as a dotted path.
    pub resolved: String,
}

impl Name {
    pub fn new(module: &str, name: &str) -> Name {
        let written = if name.is_empty() {
            module.to_string()
        } else {
            format!("{module}.{name}")
        };
        let (m, n) = compat(module, name);
        let m = platform_alias(&m);
        let resolved = if n.is_empty() { m } else { format!("{m}.{n}") };
        Name { written, resolved }
    }

    /// A dotted path built at load time (an attribute fetched from a resolved object).
    pub fn path(path: &str) -> Name {
        match path.split_once('.') {
            Some((m, n)) => Name::new(m, n),
            None => Name::new(path, ""),
        }
    }

    /// For messages: how it was written, when that differs from the resolved path.
    pub fn written_note(&self) -> String {
        if self.written == self.resolved {
            String::new()
        } else {
            format!(" (written as {})", self.written)
        }
    }

    pub fn child(&self, attr: &str) -> Name {
        Name {
            written: format!("{}.{attr}", self.written),
            resolved: format!("{}.{attr}", self.resolved),
        }
    }
}

/// `_compat_pickle.NAME_MAPPING` and `IMPORT_MAPPING` (Python 2 → 3), the entries that matter.
fn compat(module: &str, name: &str) -> (String, String) {
    const NAMES: &[(&str, &str, &str, &str)] = &[
        ("__builtin__", "xrange", "builtins", "range"),
        ("__builtin__", "reduce", "functools", "reduce"),
        ("__builtin__", "intern", "sys", "intern"),
        ("__builtin__", "unichr", "builtins", "chr"),
        ("__builtin__", "unicode", "builtins", "str"),
        ("__builtin__", "long", "builtins", "int"),
        ("__builtin__", "raw_input", "builtins", "input"),
        ("itertools", "izip", "builtins", "zip"),
        ("itertools", "imap", "builtins", "map"),
        ("itertools", "ifilter", "builtins", "filter"),
        ("itertools", "ifilterfalse", "itertools", "filterfalse"),
        ("itertools", "izip_longest", "itertools", "zip_longest"),
        ("UserDict", "IterableUserDict", "collections", "UserDict"),
        ("UserList", "UserList", "collections", "UserList"),
        ("UserString", "UserString", "collections", "UserString"),
        ("whichdb", "whichdb", "dbm", "whichdb"),
        ("_socket", "fromfd", "socket", "fromfd"),
        (
            "_multiprocessing",
            "Connection",
            "multiprocessing.connection",
            "Connection",
        ),
        (
            "multiprocessing.process",
            "Process",
            "multiprocessing.context",
            "Process",
        ),
        (
            "multiprocessing.forking",
            "Popen",
            "multiprocessing.popen_fork",
            "Popen",
        ),
        ("urllib", "urlopen", "urllib.request", "urlopen"),
        ("urllib", "urlretrieve", "urllib.request", "urlretrieve"),
        ("urllib", "urlcleanup", "urllib.request", "urlcleanup"),
        ("urllib", "getproxies", "urllib.request", "getproxies"),
        ("urllib", "pathname2url", "urllib.request", "pathname2url"),
        ("urllib", "url2pathname", "urllib.request", "url2pathname"),
        ("urllib", "quote", "urllib.parse", "quote"),
        ("urllib", "quote_plus", "urllib.parse", "quote_plus"),
        ("urllib", "unquote", "urllib.parse", "unquote"),
        ("urllib", "unquote_plus", "urllib.parse", "unquote_plus"),
        ("urllib", "urlencode", "urllib.parse", "urlencode"),
        ("urllib2", "HTTPError", "urllib.error", "HTTPError"),
        ("urllib2", "URLError", "urllib.error", "URLError"),
        ("exceptions", "StandardError", "builtins", "Exception"),
    ];
    const MODULES: &[(&str, &str)] = &[
        ("__builtin__", "builtins"),
        ("exceptions", "builtins"),
        ("copy_reg", "copyreg"),
        ("cPickle", "pickle"),
        ("commands", "subprocess"),
        ("Queue", "queue"),
        ("SocketServer", "socketserver"),
        ("ConfigParser", "configparser"),
        ("repr", "reprlib"),
        ("thread", "_thread"),
        ("dummy_thread", "_dummy_thread"),
        ("httplib", "http.client"),
        ("cookielib", "http.cookiejar"),
        ("Cookie", "http.cookies"),
        ("BaseHTTPServer", "http.server"),
        ("SimpleHTTPServer", "http.server"),
        ("CGIHTTPServer", "http.server"),
        ("xmlrpclib", "xmlrpc.client"),
        ("SimpleXMLRPCServer", "xmlrpc.server"),
        ("DocXMLRPCServer", "xmlrpc.server"),
        ("urlparse", "urllib.parse"),
        ("robotparser", "urllib.robotparser"),
        ("urllib2", "urllib.request"),
        ("anydbm", "dbm"),
        ("dbhash", "dbm.bsd"),
        ("dumbdbm", "dbm.dumb"),
        ("gdbm", "dbm.gnu"),
        ("whichdb", "dbm"),
        ("cStringIO", "io"),
        ("StringIO", "io"),
        ("UserDict", "collections"),
        ("UserList", "collections"),
        ("UserString", "collections"),
        ("HTMLParser", "html.parser"),
        ("htmlentitydefs", "html.entities"),
        ("_winreg", "winreg"),
        ("Tkinter", "tkinter"),
    ];
    if let Some(&(_, _, m, n)) = NAMES.iter().find(|(m, n, _, _)| *m == module && *n == name) {
        return (m.to_string(), n.to_string());
    }
    if let Some(&(_, m)) = MODULES.iter().find(|(m, _)| *m == module) {
        return (m.to_string(), name.to_string());
    }
    (module.to_string(), name.to_string())
}

/// Implementation modules named as the public module they back.
fn platform_alias(module: &str) -> String {
    const ALIASES: &[(&str, &str)] = &[
        ("posix", "os"),
        ("nt", "os"),
        ("posixpath", "os.path"),
        ("ntpath", "os.path"),
        ("macpath", "os.path"),
        ("genericpath", "os.path"),
        ("_io", "io"),
        ("_pyio", "io"),
        ("_pickle", "pickle"),
        ("_operator", "operator"),
        ("_functools", "functools"),
        ("_codecs", "codecs"),
        ("_collections", "collections"),
        ("_posixsubprocess", "subprocess"),
        ("_winapi", "subprocess"),
        ("_socket", "socket"),
        ("_ctypes", "ctypes"),
        ("_imp", "importlib"),
        ("_frozen_importlib", "importlib"),
        ("_frozen_importlib_external", "importlib"),
        ("__builtins__", "builtins"),
        ("_thread", "threading"),
        ("_signal", "signal"),
        ("_sqlite3", "sqlite3"),
        ("_ssl", "ssl"),
        ("_shutil", "shutil"),
    ];
    let (head, rest) = match module.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (module, None),
    };
    match ALIASES.iter().find(|(a, _)| *a == head) {
        Some((_, to)) => match rest {
            Some(r) => format!("{to}.{r}"),
            None => to.to_string(),
        },
        None => module.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python2_and_platform_names_resolve_like_the_loader() {
        assert_eq!(Name::new("__builtin__", "eval").resolved, "builtins.eval");
        assert_eq!(
            Name::new("commands", "getoutput").resolved,
            "subprocess.getoutput"
        );
        assert_eq!(Name::new("posix", "system").resolved, "os.system");
        assert_eq!(Name::new("nt", "system").resolved, "os.system");
        assert_eq!(
            Name::new("copy_reg", "_reconstructor").resolved,
            "copyreg._reconstructor"
        );
        assert_eq!(
            Name::new("__builtin__", "reduce").resolved,
            "functools.reduce"
        );
        assert_eq!(Name::new("_io", "FileIO").resolved, "io.FileIO");
        let n = Name::new("torch.serialization", "os.system");
        assert_eq!(n.resolved, "torch.serialization.os.system");
        assert_eq!(
            Name::new("posixpath", "join").written_note(),
            " (written as posixpath.join)"
        );
    }
}
