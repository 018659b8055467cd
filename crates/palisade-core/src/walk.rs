//! Finding the files to analyse: explicit files, directories walked (skipping `.git`, honouring
//! `.gitignore` and `.palisadeignore` even outside a git checkout), and `-` for standard input.
//! Whatever cannot be walked (missing path, permission denied, symlink loop) becomes an
//! [`InputError`] and the walk goes on.

use crate::InputError;
use std::path::{Path, PathBuf};

/// Display path used for standard input.
pub const STDIN_PATH: &str = "<stdin>";

/// One input to analyse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file; `display` is its path as the user gave it (joined below a given directory);
    /// `explicit` is true when the user named the file itself.
    File {
        path: PathBuf,
        display: String,
        explicit: bool,
    },
    Stdin,
}

#[derive(Debug, Default)]
pub struct Walk {
    pub inputs: Vec<Input>,
    pub errors: Vec<InputError>,
}

fn display(p: &Path) -> String {
    let s = p.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    s.to_string()
}

/// Walk `roots` in order; `excluded(display_path)` drops paths the configuration excludes.
pub fn discover(roots: &[String], excluded: &dyn Fn(&str) -> bool) -> Walk {
    let mut walk = Walk::default();
    for root in roots {
        if root == "-" {
            walk.inputs.push(Input::Stdin);
            continue;
        }
        let path = Path::new(root);
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                walk.errors
                    .push(InputError::new(root.clone(), format!("cannot open: {e}")));
                continue;
            }
        };
        if meta.is_file() {
            walk.inputs.push(Input::File {
                path: path.to_path_buf(),
                display: display(path),
                explicit: true,
            });
            continue;
        }
        let mut files = Vec::new();
        let walker = ignore::WalkBuilder::new(path)
            .hidden(false)
            .git_ignore(true)
            .git_global(false)
            .git_exclude(true)
            .require_git(false)
            .ignore(false)
            .parents(true)
            .follow_links(true)
            .add_custom_ignore_filename(".palisadeignore")
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walker {
            match entry {
                Ok(e) => {
                    if e.file_type().is_some_and(|t| t.is_file()) {
                        let d = display(e.path());
                        if !excluded(&d) {
                            files.push(Input::File {
                                path: e.path().to_path_buf(),
                                display: d,
                                explicit: false,
                            });
                        }
                    }
                }
                Err(err) => walk.errors.push(walk_error(root, &err)),
            }
        }
        files.sort_by(|a, b| match (a, b) {
            (Input::File { display: x, .. }, Input::File { display: y, .. }) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        });
        walk.inputs.extend(files);
    }
    walk
}

fn walk_error(root: &str, err: &ignore::Error) -> InputError {
    fn path_of(err: &ignore::Error) -> Option<String> {
        match err {
            ignore::Error::WithPath { path, .. } => Some(display(path)),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                path_of(err)
            }
            ignore::Error::Loop { child, .. } => Some(display(child)),
            _ => None,
        }
    }
    let msg = if matches!(unwrap_depth(err), ignore::Error::Loop { .. }) {
        "symbolic link loop; not followed".to_string()
    } else {
        format!("cannot read: {err}")
    };
    InputError::new(path_of(err).unwrap_or_else(|| root.to_string()), msg)
}

fn unwrap_depth(e: &ignore::Error) -> &ignore::Error {
    match e {
        ignore::Error::WithDepth { err, .. } => unwrap_depth(err),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_path_is_an_error_not_a_panic() {
        let w = discover(&["/definitely/not/here".to_string()], &|_| false);
        assert!(w.inputs.is_empty());
        assert_eq!(w.errors.len(), 1);
        assert!(w.errors[0].message.contains("cannot open"));
    }
}
