//! Recognising credentials by variable name and by the shape of the value, shared by every
//! analyser that reads configuration (Kubernetes env, Dockerfile `ENV`/`ARG`, command lines).
//! A finding names the shape, never the value.

/// Variable names that hold credentials by convention.
const EXACT_NAMES: &[&str] = &[
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HUGGINGFACE_TOKEN",
    "HUGGINGFACEHUB_API_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "WANDB_API_KEY",
    "COMET_API_KEY",
    "NEPTUNE_API_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_STORAGE_KEY",
    "GOOGLE_API_KEY",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "KAGGLE_KEY",
    "DATABASE_URL",
    "PASSWORD",
    "TOKEN",
    "SECRET",
    "API_KEY",
    "APIKEY",
    "SECRET_KEY",
    "PRIVATE_KEY",
];

const SUFFIXES: &[&str] = &[
    "_TOKEN",
    "_SECRET",
    "_PASSWORD",
    "_PASSWD",
    "_PWD",
    "_API_KEY",
    "_APIKEY",
    "_SECRET_KEY",
    "_ACCESS_KEY",
    "_PRIVATE_KEY",
    "_CREDENTIALS",
    "_AUTH_KEY",
];

/// Whether `name` conventionally holds a credential.
pub fn is_credential_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    EXACT_NAMES.contains(&n.as_str()) || SUFFIXES.iter().any(|s| n.ends_with(s))
}

/// Values that are clearly not credentials (references, placeholders, paths, flags).
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    v.len() < 4
        || v.starts_with('$') // $(VAR), ${VAR}, $VAR: a reference, not a value
        || v.starts_with("{{")
        || v.starts_with('<')
        || v.starts_with('/')
        || v.starts_with("file:")
        || matches!(
            v.to_ascii_lowercase().as_str(),
            "true"
                | "false"
                | "none"
                | "null"
                | "changeme"
                | "change-me"
                | "xxx"
                | "xxxx"
                | "your-token-here"
                | "redacted"
        )
        || v.chars().all(|c| c == 'x' || c == 'X' || c == '*')
}

/// A recognised credential shape in `value`, by name.
pub fn known_shape(value: &str) -> Option<&'static str> {
    let v = value.trim();
    let tail_ok = |s: &str, min: usize| {
        s.len() >= min
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if v.contains("-----BEGIN") && v.contains("PRIVATE KEY") {
        return Some("private key");
    }
    for word in
        v.split(|c: char| c.is_whitespace() || c == '=' || c == '"' || c == '\'' || c == ',')
    {
        if let Some(t) = word.strip_prefix("hf_")
            && tail_ok(t, 30)
        {
            return Some("Hugging Face token");
        }
        if (word.starts_with("AKIA") || word.starts_with("ASIA"))
            && word.len() == 20
            && word
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Some("AWS access key ID");
        }
        if let Some(t) = word.strip_prefix("sk-")
            && tail_ok(t, 20)
        {
            return Some(if t.starts_with("ant-") {
                "Anthropic API key"
            } else {
                "OpenAI API key"
            });
        }
        for (p, what) in [
            ("ghp_", "GitHub token"),
            ("github_pat_", "GitHub token"),
            ("glpat-", "GitLab token"),
            ("xoxb-", "Slack token"),
            ("xoxp-", "Slack token"),
        ] {
            if let Some(t) = word.strip_prefix(p)
                && tail_ok(t, 20)
            {
                return Some(what);
            }
        }
    }
    None
}

/// What a `name = value` setting gives away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leak {
    /// The value has a known credential shape (critical whatever the name).
    Shape(&'static str),
    /// The name says credential and the value is a literal, not a placeholder or reference.
    Literal { high_entropy: bool },
}

/// Classify a setting (an env entry, `ENV`, `ARG`): the one decision every analyser makes.
pub fn classify(name: &str, value: &str) -> Option<Leak> {
    if let Some(shape) = known_shape(value) {
        return Some(Leak::Shape(shape));
    }
    (is_credential_name(name) && !value.is_empty() && !is_placeholder(value)).then(|| {
        Leak::Literal {
            high_entropy: is_high_entropy(value),
        }
    })
}

impl Leak {
    /// " (high-entropy value)" for a literal that looks random, else "".
    pub fn entropy_note(self) -> &'static str {
        match self {
            Leak::Literal { high_entropy: true } => " (high-entropy value)",
            _ => "",
        }
    }
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// A long, random-looking token (≥ 32 chars of base64/hex alphabet, high entropy).
pub fn is_high_entropy(value: &str) -> bool {
    let v = value.trim();
    v.len() >= 32
        && !v.contains(' ')
        && !v.contains('/') // paths and URLs
        && v.chars().all(|c| c.is_ascii_alphanumeric() || "+=_-".contains(c))
        && v.chars().any(|c| c.is_ascii_digit())
        && v.chars().any(|c| c.is_ascii_alphabetic())
        && entropy(v) >= 4.2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_credential_name("HF_TOKEN"));
        assert!(is_credential_name("db_password"));
        assert!(!is_credential_name("TOKENIZERS_PARALLELISM"));
        assert!(!is_credential_name("AWS_REGION"));
    }

    #[test]
    fn shapes() {
        assert_eq!(
            known_shape("hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
            Some("Hugging Face token")
        );
        assert_eq!(
            known_shape("AKIAIOSFODNN7EXAMPLE"),
            Some("AWS access key ID")
        );
        assert_eq!(
            known_shape("--api-key=sk-proj-abcdefghijklmnopqrstuvwx"),
            Some("OpenAI API key")
        );
        assert_eq!(
            known_shape("-----BEGIN RSA PRIVATE KEY-----\nMII"),
            Some("private key")
        );
        assert_eq!(known_shape("bert-base-uncased"), None);
        assert!(is_high_entropy("9f8a7Bc2dE4f6A1b3C5d7E9f0a2B4c6D8e0F"));
        assert!(!is_high_entropy("meta-llama/Llama-3.1-8B-Instruct"));
        assert!(!is_high_entropy("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"));
        assert_eq!(
            classify("X", "AKIAIOSFODNN7EXAMPLE"),
            Some(Leak::Shape("AWS access key ID"))
        );
        assert_eq!(
            classify("DB_PASSWORD", "hunter22"),
            Some(Leak::Literal {
                high_entropy: false
            })
        );
        assert_eq!(classify("DB_PASSWORD", "${DB_PASSWORD}"), None);
        assert_eq!(classify("MODEL", "bert"), None);
    }
}
