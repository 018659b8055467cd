//! Who is calling: a tenant identified by an API key (only its SHA-256 is configured; the
//! presented key is hashed and compared in constant time with every tenant's hash) or by the
//! common name of a verified client certificate (mTLS).

use crate::config::Tenant;
use crate::message::FieldLookup;
use sha2::Digest as _;
use subtle::ConstantTimeEq;

/// The SHA-256 of a key, as hex (what `api_key_sha256` holds).
pub fn hash_key(key: &str) -> String {
    sha2::Sha256::digest(key.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A tenant's name as the value of the header that tells the model server who is calling
/// ([`crate::gateway::TENANT_HEADER`]); `at` is the tenant's entry (`tenants[1]`).
pub fn header_value(name: &str, at: &str) -> Result<hyper::header::HeaderValue, String> {
    hyper::header::HeaderValue::from_str(name).map_err(|_| {
        format!(
            "{at}.name: '{}' has a control character, which the {} header that names the \
             tenant to the model server cannot carry",
            name.escape_debug(),
            crate::gateway::TENANT_HEADER
        )
    })
}

/// Checks a configured key hash: 64 hex digits. `at` is its key in the configuration.
pub fn check_key_hash(hash: &str, at: &str) -> Result<(), String> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{at}: must be 64 hex digits (the SHA-256 of the key; `palisade guard hash-key` \
             prints it), not the key itself"
        ));
    }
    Ok(())
}

/// Checks one configured caller (a guard tenant, a respond sender): a key hash, a client
/// certificate common name, or both; the name only when client certificates are asked for
/// (`client_ca` is set, at `ca_key`). `at` is the entry (`tenants[1]`), `who` names it
/// (`tenant 'a'`), `hash_field` is the hash's field name.
pub fn check_caller(
    at: &str,
    who: &str,
    hash_field: &str,
    hash: Option<&str>,
    common_name: Option<&str>,
    mtls: bool,
    ca_key: &str,
) -> Result<(), String> {
    match (hash, common_name) {
        (None, None) => Err(format!(
            "{at}: {who} needs {hash_field} or mtls_common_name"
        )),
        (_, Some(_)) if !mtls => Err(format!(
            "{at}.mtls_common_name: needs {ca_key} (client certificates are only asked for then)"
        )),
        (Some(h), _) => check_key_hash(h, &format!("{at}.{hash_field}")),
        (None, Some(_)) => Ok(()),
    }
}

/// The tenants' credentials, decoded once per configuration.
pub struct Directory {
    keys: Vec<(usize, [u64; 4])>,
    names: Vec<(usize, String)>,
}

impl Directory {
    pub fn new(tenants: &[Tenant]) -> Directory {
        Directory::from_credentials(
            tenants
                .iter()
                .map(|t| (t.api_key_sha256.as_deref(), t.mtls_common_name.as_deref())),
        )
    }

    /// From each caller's key hash (hex SHA-256) and certificate common name, either optional;
    /// a caller's index is its position. Also what `palisade respond` authenticates senders with.
    pub fn from_credentials<'a>(
        callers: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
    ) -> Directory {
        let mut keys = Vec::new();
        let mut names = Vec::new();
        for (i, (hash, cn)) in callers.enumerate() {
            if let Some(h) = hash.and_then(decode_sha256) {
                keys.push((i, words(&h)));
            }
            if let Some(cn) = cn {
                names.push((i, cn.to_string()));
            }
        }
        Directory { keys, names }
    }

    /// The index of the tenant this key belongs to. Every configured hash is compared, in
    /// constant time, whether or not an earlier one matched.
    pub fn by_key(&self, key: &[u8]) -> Option<usize> {
        let presented = words(&sha2::Sha256::digest(key).into());
        let mut found = None;
        for (i, h) in &self.keys {
            if bool::from(same_hash(&presented, h)) {
                found = Some(*i);
            }
        }
        found
    }

    pub fn by_common_name(&self, cn: &str) -> Option<usize> {
        self.names.iter().find(|(_, n)| n == cn).map(|(i, _)| *i)
    }
}

/// A SHA-256 hash as four words, for [`same_hash`].
fn words(hash: &[u8; 32]) -> [u64; 4] {
    let (chunks, _) = hash.as_chunks::<8>();
    std::array::from_fn(|k| u64::from_le_bytes(chunks[k]))
}

/// Whether two hashes are equal, in a time that does not depend on where they differ: the
/// words' differences are OR-ed together, with no branch, and `subtle` compares that with
/// zero. Comparing byte by byte through `subtle`, which keeps the compiler from combining
/// the bytes, cost about 360 instructions for each configured key (callgrind: 721 a request
/// with two tenants).
fn same_hash(a: &[u64; 4], b: &[u64; 4]) -> subtle::Choice {
    a.iter()
        .zip(b)
        .fold(0, |diff, (x, y)| diff | (x ^ y))
        .ct_eq(&0)
}

fn decode_sha256(hex: &str) -> Option<[u8; 32]> {
    let mut h = [0u8; 32];
    for (k, b) in h.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * k..2 * k + 2)?, 16).ok()?;
    }
    (hex.len() == 64).then_some(h)
}

/// The API key of a request: `Authorization: Bearer KEY` or `X-API-Key: KEY`, when the
/// field's value is visible ASCII, spaces and tabs (what a header map's `to_str` allows).
pub fn presented_key(fields: &impl FieldLookup) -> Option<&[u8]> {
    if let Some(v) = fields.field("authorization").filter(|v| visible(v)) {
        let (scheme, key) = v.split_at(v.iter().position(|&b| b == b' ')?);
        return scheme
            .eq_ignore_ascii_case(b"bearer")
            .then(|| key.trim_ascii());
    }
    fields
        .field("x-api-key")
        .filter(|v| visible(v))
        .map(<[u8]>::trim_ascii)
}

/// Whether a field value is visible ASCII, spaces and tabs.
fn visible(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Fields;

    fn tenant(name: &str, key: &str) -> Tenant {
        Tenant {
            name: name.into(),
            api_key_sha256: Some(hash_key(key)),
            mtls_common_name: None,
            models: None,
            requests_per_second: None,
            burst: None,
            max_concurrent: None,
        }
    }

    #[test]
    fn keys_find_their_tenant_and_nothing_else() {
        let d = Directory::new(&[tenant("a", "key-a"), tenant("b", "key-b")]);
        assert_eq!(d.by_key(b"key-b"), Some(1));
        assert_eq!(d.by_key(b"key-a"), Some(0));
        assert_eq!(d.by_key(b"key-c"), None);
        assert_eq!(d.by_key(b""), None);
        // The hash itself is not a key.
        assert_eq!(d.by_key(hash_key("key-a").as_bytes()), None);
    }

    #[test]
    fn a_hash_one_byte_off_anywhere_matches_nothing() {
        let right = hash_key("key-a");
        for k in 0..32 {
            let mut bytes = decode_sha256(&right).unwrap();
            bytes[k] ^= 0x80;
            let off: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let d = Directory::from_credentials([(Some(off.as_str()), None)].into_iter());
            assert_eq!(d.by_key(b"key-a"), None, "byte {k} differs");
        }
        let d = Directory::from_credentials([(Some(right.as_str()), None)].into_iter());
        assert_eq!(d.by_key(b"key-a"), Some(0));
    }

    #[test]
    fn keys_are_read_from_either_header() {
        let fields = |pairs: &[(&str, &str)]| {
            Fields::from_pairs(pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
        };
        let key = fields(&[("X-API-Key", " k1 ")]);
        assert_eq!(presented_key(&key), Some(&b"k1"[..]));
        let both = fields(&[("x-api-key", "k1"), ("Authorization", "bearer k2")]);
        assert_eq!(presented_key(&both), Some(&b"k2"[..]));
        let basic = fields(&[("x-api-key", "k1"), ("authorization", "Basic abc")]);
        assert_eq!(presented_key(&basic), None);
        assert_eq!(presented_key(&fields(&[("x-api-key", "k\u{e9}")])), None);
    }
}
