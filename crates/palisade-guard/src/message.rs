//! What the gateway reads of a request and what it answers, the same for both HTTP versions:
//! [`RequestHead`] and [`Answer`], with their header [`Fields`] kept as they arrived.
//!
//! The HTTP/1.1 sides (`http1`) read a head into these directly: every field a place in the
//! one buffer the head arrived in, with no map to build, no name to look up and no value to
//! check twice (httparse checked names and values already). HTTP/2, served by hyper, is
//! converted at its edge ([`RequestHead::from_parts`], [`Answer::into_response`]).
//!
//! Field names are compared without regard to case (RFC 9110 §5.1) everywhere here, and
//! written on as they arrived.

use bytes::{Bytes, BytesMut};
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode, Uri};
use std::ops::Range;

/// A message's header fields in the order they arrived: each name and value a place in one
/// shared buffer.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    buf: Bytes,
    places: Vec<(Range<usize>, Range<usize>)>,
}

impl Fields {
    /// Fields found in `head` (by [`crate::http1::place`]); the caller has checked the names
    /// and values.
    pub(crate) fn in_head(head: Bytes, places: Vec<(Range<usize>, Range<usize>)>) -> Fields {
        Fields { buf: head, places }
    }

    /// Fields from name and value pairs, copied into one buffer: HTTP/2 requests, the
    /// guard's own requests (probes), tests.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Fields {
        let mut buf = BytesMut::new();
        let mut places = Vec::new();
        for (name, value) in pairs {
            let at = buf.len();
            buf.extend_from_slice(name);
            buf.extend_from_slice(value);
            places.push((at..at + name.len(), at + name.len()..buf.len()));
        }
        Fields {
            buf: buf.freeze(),
            places,
        }
    }

    /// A header map's fields (hyper's requests).
    pub fn from_map(map: &HeaderMap) -> Fields {
        Fields::from_pairs(
            map.iter()
                .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())),
        )
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Every field as (name, value), in the order they arrived.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
        self.places
            .iter()
            .map(|(n, v)| (&self.buf[n.clone()], &self.buf[v.clone()]))
    }

    /// The values of every field named `name` (lower case), in order.
    pub fn get_all<'f>(&'f self, name: &str) -> impl Iterator<Item = &'f [u8]> {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The value of the first field named `name` (lower case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_all(name).next()
    }
}

/// Whether the field name `name` is one of `names`, in any case: fixed lists (the
/// connection's own fields, the credentials the gateway strips) and the options a message's
/// `Connection` fields keep to their hop ([`crate::http1::hop_options`]).
pub(crate) fn one_of(name: &[u8], names: &[impl AsRef<[u8]>]) -> bool {
    names.iter().any(|n| n.as_ref().eq_ignore_ascii_case(name))
}

/// A field's value by its name (lower case), from [`Fields`] or a header map: for code that
/// reads requests of both kinds (the API key of a guard's request, or of `respond serve`'s).
pub trait FieldLookup {
    fn field(&self, name: &str) -> Option<&[u8]>;
}

impl FieldLookup for Fields {
    fn field(&self, name: &str) -> Option<&[u8]> {
        self.get(name)
    }
}

impl FieldLookup for HeaderMap {
    fn field(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(HeaderValue::as_bytes)
    }
}

/// What the gateway reads of a request besides its body.
#[derive(Debug)]
pub struct RequestHead {
    pub method: Method,
    pub uri: Uri,
    pub fields: Fields,
}

impl RequestHead {
    /// The head of a request hyper has read (HTTP/2).
    pub fn from_parts(parts: hyper::http::request::Parts) -> RequestHead {
        RequestHead {
            fields: Fields::from_map(&parts.headers),
            method: parts.method,
            uri: parts.uri,
        }
    }
}

/// An answer, always whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The model server's end-to-end fields, when this is its answer passed on.
    pub relayed: Fields,
    /// The guard's own fields.
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn new(status: StatusCode, body: impl Into<Bytes>) -> Answer {
        Answer {
            status,
            relayed: Fields::default(),
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    /// A JSON document (the guard's own answers: refusals, health).
    pub fn json(status: StatusCode, body: &serde_json::Value) -> Answer {
        let mut a = Answer::new(status, body.to_string());
        a.headers.insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        a
    }

    /// Every field to write, as (name, value): the relayed ones, less those the guard sets
    /// itself (its own `X-Palisade-Flag` is the one that counts), then the guard's own.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let overridden = |name: &[u8]| {
            !self.headers.is_empty()
                && std::str::from_utf8(name).is_ok_and(|n| self.headers.contains_key(n))
        };
        let own = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()));
        self.relayed
            .iter()
            .filter(move |(n, _)| !overridden(n))
            .chain(own)
    }

    /// The answer as hyper writes it (HTTP/2), with the fields of [`Answer::fields`].
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut headers = HeaderMap::with_capacity(self.relayed.len() + self.headers.len());
        for (name, value) in self.fields() {
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            {
                headers.append(name, value);
            }
        }
        let mut resp = Response::new(Full::new(self.body));
        *resp.status_mut() = self.status;
        *resp.headers_mut() = headers;
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_whatever_their_case_and_values_in_order() {
        let f = Fields::from_pairs([
            (&b"Host"[..], &b"a"[..]),
            (b"X-Api-Key", b"k"),
            (b"x-api-key", b"second"),
        ]);
        assert_eq!(f.len(), 3);
        assert_eq!(f.get("host"), Some(&b"a"[..]));
        assert_eq!(f.get("x-api-key"), Some(&b"k"[..]));
        assert_eq!(
            f.get_all("x-api-key").collect::<Vec<_>>(),
            [&b"k"[..], &b"second"[..]]
        );
        assert_eq!(f.get("authorization"), None);
        let names: Vec<&[u8]> = f.iter().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"Host"[..], b"X-Api-Key", b"x-api-key"]);
    }

    #[test]
    fn an_answer_for_hyper_keeps_every_field_and_repeats() {
        let mut a = Answer::new(StatusCode::ACCEPTED, "{}");
        a.relayed = Fields::from_pairs([
            (&b"Content-Type"[..], &b"application/json"[..]),
            (b"set-cookie", b"a=1"),
            (b"Set-Cookie", b"b=2"),
        ]);
        a.headers
            .insert("x-palisade-flag", HeaderValue::from_static("ood"));
        let r = a.into_response();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(r.headers()["x-palisade-flag"], "ood");
    }

    #[test]
    fn the_guards_own_fields_take_the_place_of_the_model_servers() {
        let mut a = Answer::new(StatusCode::OK, "{}");
        a.relayed =
            Fields::from_pairs([(&b"X-Palisade-Flag"[..], &b"none"[..]), (b"x-model", b"m")]);
        let names = |a: &Answer| {
            a.fields()
                .map(|(n, v)| {
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(n),
                        String::from_utf8_lossy(v)
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), ["X-Palisade-Flag=none", "x-model=m"]);
        a.headers.insert(
            "x-palisade-flag",
            HeaderValue::from_static("out_of_distribution"),
        );
        assert_eq!(
            names(&a),
            ["x-model=m", "x-palisade-flag=out_of_distribution"]
        );
        let r = a.into_response();
        let flags: Vec<_> = r.headers().get_all("x-palisade-flag").iter().collect();
        assert_eq!(flags, ["out_of_distribution"]);
    }
}
