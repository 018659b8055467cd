//! GRD013: an HTTP/1.1 request the guard cannot read in exactly one way.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Refuses, and closes the connection after, an HTTP/1.1 request whose framing is ambiguous or unsupported: both `Content-Length` and `Transfer-Encoding`, several different lengths, a malformed length, a transfer coding other than `chunked` alone (501), `Transfer-Encoding` in HTTP/1.0, folded header lines or a space before a colon (400); a head over 64 KiB or 100 fields (431); an HTTP version other than 1.0 or 1.1 (505); an `Expect` other than `100-continue` (417). The answer and the event carry a `reason`: `bad_request`, `transfer_coding`, `head_too_large`, `http_version` or `expectation`.

## Why is this bad?
A proxy and the server behind it that read one request's length differently can be made to see different requests: the second one, hidden in the first one's body, reaches the model server without the guard's checks (request smuggling). Oversized heads exhaust memory before any check runs. A stream of these from one address is someone probing the gateway.

## Example
`POST /predict HTTP/1.1` with `Content-Length: 4` and `Transfer-Encoding: chunked`, whose body starts a second request.

## Use instead
Send one `Content-Length`, or `Transfer-Encoding: chunked` alone; any HTTP client library does.

## References
- CWE-444 (Inconsistent Interpretation of HTTP Requests); RFC 9112 §6.3; CWE-400
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD013",
    name: "malformed-http",
    severity: Severity::Medium,
    family: "guard",
    summary: "HTTP/1.1 request with ambiguous or unsupported framing, or a head over the limits",
    controls: &[],
    techniques: &[],
    fix: "send one Content-Length or chunked alone, within the head limits",
    doc: DOC,
};
