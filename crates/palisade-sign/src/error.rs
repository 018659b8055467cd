//! What can go wrong when signing or verifying, each naming the file or field at fault.

use std::fmt;
use std::path::PathBuf;

/// How the model on disk differs from the signed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A file that is not in the signature.
    Added(String),
    /// A signed file that is gone.
    Removed(String),
    /// A signed file whose bytes changed.
    Modified {
        name: String,
        expected: String,
        actual: String,
    },
    /// A signed file now under another name (same digest).
    Renamed { from: String, to: String },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Added(n) => write!(f, "{n}: added (not in the signature)"),
            Difference::Removed(n) => write!(f, "{n}: removed (signed, now missing)"),
            Difference::Modified {
                name,
                expected,
                actual,
            } => write!(
                f,
                "{name}: modified (signed digest {expected}, now {actual})"
            ),
            Difference::Renamed { from, to } => write!(f, "{from}: renamed to {to}"),
        }
    }
}

#[derive(Debug)]
pub enum Error {
    /// Reading a file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A symlink in the model where the serialization does not allow them.
    Symlink(PathBuf),
    /// Something in the model that is neither a file nor a directory.
    NotAFile(PathBuf),
    /// A key or certificate that cannot be used.
    Key(String),
    /// A signature file that is not a bundle this format defines.
    Bundle(String),
    /// The signature does not verify (wrong key, altered payload, untrusted certificate).
    Signature(String),
    /// The signature verifies but the model differs from what was signed.
    Mismatch(Vec<Difference>),
    /// A valid request palisade cannot serve (keyless signing offline, P-521 keys).
    Unsupported(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Symlink(p) => write!(
                f,
                "{}: is a symbolic link, and the serialization does not allow symlinks (sign with --allow-symlinks to follow them)",
                p.display()
            ),
            Error::NotAFile(p) => write!(
                f,
                "{}: is neither a file nor a directory (device, socket or pipe)",
                p.display()
            ),
            Error::Key(m) => write!(f, "key: {m}"),
            Error::Bundle(m) => write!(f, "signature file: {m}"),
            Error::Signature(m) => write!(f, "signature does not verify: {m}"),
            Error::Mismatch(d) => {
                write!(
                    f,
                    "the model differs from its signature ({} difference",
                    d.len()
                )?;
                write!(f, "{}):", if d.len() == 1 { "" } else { "s" })?;
                for x in d {
                    write!(f, "\n  {x}")?;
                }
                Ok(())
            }
            Error::Unsupported(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
