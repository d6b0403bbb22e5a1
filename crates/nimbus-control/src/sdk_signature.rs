//! Server-side verification of `SDK-HMAC-SHA256` request signatures, the AK/SK
//! scheme used by the official Huawei Cloud SDKs.
//!
//! The rules below mirror `huaweicloudsdkcore.signer.signer.Signer` (the Python
//! SDK, v3.1.x) byte for byte. The test vectors at the bottom of this file came
//! from running that SDK against a local HTTP server and recording what was sent.
//!
//! # The scheme
//!
//! ```text
//! CanonicalRequest = METHOD            "\n"   upper-cased
//!                    CanonicalURI      "\n"
//!                    CanonicalQuery    "\n"
//!                    CanonicalHeaders  "\n"   each "name:value\n", so there is an empty line
//!                    SignedHeaders     "\n"   names joined with ';'
//!                    PayloadHash              hex SHA-256
//! StringToSign     = "SDK-HMAC-SHA256" "\n" X-Sdk-Date "\n" hex(SHA-256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(key = SK as-is, StringToSign))
//! Authorization    = "SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>"
//! ```
//!
//! Unlike AWS SigV4, there is no key derivation (no date/region/service scope). The
//! raw secret key is the HMAC key.
//!
//! * **Canonical URI**: the path is fully percent-decoded (with `unquote`,
//!   invalid UTF-8 becomes U+FFFD), split on `/`, and each segment is re-encoded so
//!   that only `A-Z a-z 0-9 - . _ ~` stay literal (with upper-case hex). A `/` is
//!   then added **if the path does not already end in one**. So `/v3/p/traces` and
//!   `/v3/p/traces/` sign the same way. An encoded slash also counts as a
//!   separator: `a%2Fb` is canonicalised as `a/b`, because decoding happens
//!   before the split.
//! * **Canonical query**: `(key, value)` pairs sorted by key, then by value, and
//!   each part encoded with the same character set as the URI (so space is `%20`
//!   and `+` is `%2B`). Repeated keys give one `k=v` entry each, and a
//!   parameter with an empty value is written as `k=`. The SDK sends its canonical
//!   query on the wire, but it sorts *typed* values, so an integer list
//!   `ids=[3,10,2]` is sent and signed as `ids=2&ids=3&ids=10` (numeric order)
//!   and not in string order. Because of this, [`verify`] first tries the sorted
//!   form ([`canonical_request`]), and then the query pairs in the order they
//!   arrived, after decoding and re-encoding them. Both forms cover exactly the
//!   pairs that were received.
//! * **Canonical headers**: exactly the headers named in `SignedHeaders`, in that
//!   order, written as `name:value` with surrounding whitespace trimmed. The SDK
//!   signs *every* header it sets whose name has no `_`. That includes
//!   `content-type`, `host`, `user-agent`, `x-project-id`/`x-domain-id`,
//!   `x-security-token` and `x-sdk-date`. A proxy that rewrites any of these
//!   headers therefore breaks the signature.
//! * **Payload hash**: an empty body always hashes as SHA-256(""). Otherwise, if
//!   the request has an `X-Sdk-Content-Sha256` header, its value is used
//!   unchanged. The SDK sets it to `UNSIGNED-PAYLOAD` for any non-JSON/BSON
//!   `Content-Type` (octet-stream, multipart, form-urlencoded, XML), so for those
//!   requests the body is **not authenticated**. Otherwise the hash is the hex
//!   SHA-256 of the body bytes. This module uses that header only when it is
//!   one of the signed headers. If its value is not `UNSIGNED-PAYLOAD`, the
//!   module also checks that the value really is the hash of the body.
//! * **Date**: `X-Sdk-Date` in the format `%Y%m%dT%H%M%SZ` (UTC, for example
//!   `20240131T235959Z`). [`verify`] rejects dates that are more than 15 minutes
//!   away from the server clock.
//!
//! Other algorithms that the SDK can be configured to use (`SDK-HMAC-SM3`,
//! `SDK-ECDSA-P256-SHA256`, `SDK-SM2-SM3` and the derived `V11-HMAC-SHA256`) are
//! not supported. For those, [`is_sdk_hmac`] returns `false`.

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// Algorithm token at the start of the `Authorization` header.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Header carrying the signing time.
pub const DATE_HEADER: &str = "x-sdk-date";
/// Optional header that replaces the body hash (for example `UNSIGNED-PAYLOAD`).
pub const CONTENT_SHA256_HEADER: &str = "x-sdk-content-sha256";
/// `strftime` format of `X-Sdk-Date`.
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// Value of `X-Sdk-Content-Sha256` that means the body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Largest allowed distance between `X-Sdk-Date` and the server clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Characters that Python's `quote(s, safe='~')` escapes: everything except
/// `A-Z a-z 0-9 - . _ ~`.
const SDK_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The parts of an incoming HTTP request that the signature covers.
pub struct SignedRequest<'a> {
    /// HTTP method, for example `"GET"` (case-insensitive).
    pub method: &'a str,
    /// Raw request path as received, percent-encoded as on the wire, e.g. `"/v3/abc/traces"`.
    pub path: &'a str,
    /// Raw query string without `?`, may be `""`.
    pub query: &'a str,
    /// Request headers, names lower-cased, values as received.
    pub headers: &'a [(String, String)],
    /// Request body as received.
    pub body: &'a [u8],
}

/// Parsed `Authorization: SDK-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkAuthorization {
    /// Access key ID (`Access=`).
    pub access: String,
    /// Lower-case header names (`SignedHeaders=`), in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// Hex HMAC-SHA256 signature (`Signature=`).
    pub signature: String,
}

/// Reasons for rejecting a request.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The authorization header or a signed header is unusable.
    Malformed(&'static str),
    /// The request has no `X-Sdk-Date` header.
    MissingDate,
    /// `X-Sdk-Date` is more than [`MAX_CLOCK_SKEW_SECS`] away from the server clock.
    Expired,
    /// The signature does not match the request.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::Malformed(what) => write!(f, "malformed SDK signature: {what}"),
            SignatureError::MissingDate => f.write_str("missing X-Sdk-Date header"),
            SignatureError::Expired => f.write_str("X-Sdk-Date is outside the allowed clock skew"),
            SignatureError::Mismatch => f.write_str("request signature does not match"),
        }
    }
}

impl std::error::Error for SignatureError {}

/// Returns `true` when the `Authorization` header uses the `SDK-HMAC-SHA256` scheme.
pub fn is_sdk_hmac(authorization_header: &str) -> bool {
    strip_algorithm(authorization_header).is_some()
}

fn strip_algorithm(header: &str) -> Option<&str> {
    let rest = header.trim_start().strip_prefix(ALGORITHM)?;
    if rest.starts_with([' ', '\t']) {
        Some(rest)
    } else {
        None
    }
}

/// Parses `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b;c, Signature=hex`.
pub fn parse_authorization(header: &str) -> Result<SdkAuthorization, SignatureError> {
    let rest = strip_algorithm(header).ok_or(SignatureError::Malformed("not an SDK-HMAC-SHA256 authorization"))?;

    let mut access = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, value) =
            part.split_once('=').ok_or(SignatureError::Malformed("authorization parameter without '='"))?;
        let slot = match name.trim() {
            "Access" => &mut access,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(SignatureError::Malformed("unknown authorization parameter")),
        };
        if slot.replace(value.trim()).is_some() {
            return Err(SignatureError::Malformed("repeated authorization parameter"));
        }
    }

    let access = access.filter(|a| !a.is_empty()).ok_or(SignatureError::Malformed("missing Access"))?;
    let signed_headers =
        signed_headers.filter(|s| !s.is_empty()).ok_or(SignatureError::Malformed("missing SignedHeaders"))?;
    let signature = signature.ok_or(SignatureError::Malformed("missing Signature"))?;

    let signed_headers: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if signed_headers.iter().any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase())) {
        return Err(SignatureError::Malformed("SignedHeaders must be non-empty lower-case names"));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::Malformed("Signature must be 64 hex characters"));
    }

    Ok(SdkAuthorization { access: access.to_owned(), signed_headers, signature: signature.to_ascii_lowercase() })
}

/// Builds the canonical request for `signed_headers`, with the query sorted as the SDK
/// sorts string-valued parameters.
///
/// A signed header that is missing from the request is written with an empty value.
/// [`verify`] rejects such requests before it gets this far.
pub fn canonical_request(req: &SignedRequest, signed_headers: &[String]) -> String {
    let mut pairs = query_pairs(req.query);
    pairs.sort();
    build_canonical(req, signed_headers, &encode_pairs(&pairs))
}

/// Verifies the signature with the secret key.
///
/// `now` is used to reject requests whose `X-Sdk-Date` is more than 15 minutes away from it.
/// Looking up the secret for `auth.access` is the caller's job.
pub fn verify(
    req: &SignedRequest,
    auth: &SdkAuthorization,
    secret_key: &str,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let raw_date = single_header(req.headers, DATE_HEADER)?.ok_or(SignatureError::MissingDate)?.trim();
    let signed_at = NaiveDateTime::parse_from_str(raw_date, DATE_FORMAT)
        .map_err(|_| SignatureError::Malformed("X-Sdk-Date is not in %Y%m%dT%H%M%SZ format"))?
        .and_utc();
    if now.signed_duration_since(signed_at).num_seconds().abs() > MAX_CLOCK_SKEW_SECS {
        return Err(SignatureError::Expired);
    }

    if auth.signed_headers.is_empty() {
        return Err(SignatureError::Malformed("no signed headers"));
    }
    for name in &auth.signed_headers {
        if single_header(req.headers, name)?.is_none() {
            return Err(SignatureError::Malformed("signed header missing from request"));
        }
    }

    let provided = auth.signature.to_ascii_lowercase();
    let date = signed_at.format(DATE_FORMAT).to_string();
    let mut pairs = query_pairs(req.query);
    let wire_order = encode_pairs(&pairs);
    pairs.sort();
    let sorted = encode_pairs(&pairs);

    let mut matched = signature_matches(req, auth, &sorted, &date, secret_key, &provided);
    if !matched && wire_order != sorted {
        matched = signature_matches(req, auth, &wire_order, &date, secret_key, &provided);
    }
    if !matched {
        return Err(SignatureError::Mismatch);
    }

    // The signature covers a client-declared body hash; make sure the body matches it.
    if !req.body.is_empty() {
        if let Some(declared) = declared_content_hash(req, &auth.signed_headers) {
            if declared != UNSIGNED_PAYLOAD {
                let actual = hex::encode(Sha256::digest(req.body));
                if !constant_time_eq(declared.to_ascii_lowercase().as_bytes(), actual.as_bytes()) {
                    return Err(SignatureError::Mismatch);
                }
            }
        }
    }
    Ok(())
}

fn signature_matches(
    req: &SignedRequest,
    auth: &SdkAuthorization,
    canonical_query: &str,
    date: &str,
    secret_key: &str,
    provided: &str,
) -> bool {
    let canonical = build_canonical(req, &auth.signed_headers, canonical_query);
    let string_to_sign = format!("{ALGORITHM}\n{date}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret_key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    constant_time_eq(expected.as_bytes(), provided.as_bytes())
}

fn build_canonical(req: &SignedRequest, signed_headers: &[String], canonical_query: &str) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(&req.method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(canonical_query);
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        out.push_str(first_header(req.headers, name).unwrap_or("").trim());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(&payload_hash(req, signed_headers));
    out
}

fn canonical_uri(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut uri = decoded
        .split('/')
        .map(|segment| percent_encode(segment.as_bytes(), SDK_ENCODE_SET).to_string())
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Decoded `(key, value)` pairs in wire order. `+` is kept literal, because the SDK
/// always sends `%20` for a space.
fn query_pairs(query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode_str(key).collect(), percent_decode_str(value).collect())
        })
        .collect()
}

fn encode_pairs(pairs: &[(Vec<u8>, Vec<u8>)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| {
            format!("{}={}", percent_encode(key, SDK_ENCODE_SET), percent_encode(value, SDK_ENCODE_SET))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn payload_hash(req: &SignedRequest, signed_headers: &[String]) -> String {
    if req.body.is_empty() {
        return EMPTY_SHA256.to_owned();
    }
    match declared_content_hash(req, signed_headers) {
        Some(declared) => declared.to_owned(),
        None => hex::encode(Sha256::digest(req.body)),
    }
}

/// The trimmed, non-empty `X-Sdk-Content-Sha256` value, if that header is signed.
fn declared_content_hash<'h>(req: &SignedRequest<'h>, signed_headers: &[String]) -> Option<&'h str> {
    if !signed_headers.iter().any(|h| h.eq_ignore_ascii_case(CONTENT_SHA256_HEADER)) {
        return None;
    }
    first_header(req.headers, CONTENT_SHA256_HEADER).map(str::trim).filter(|v| !v.is_empty())
}

fn first_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Looks up a header. If it appears more than once, the request is rejected, so that the
/// value that was verified is the only value the application can read.
fn single_header<'h>(headers: &'h [(String, String)], name: &str) -> Result<Option<&'h str>, SignatureError> {
    let mut found = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(SignatureError::Malformed("signed header repeated"));
    }
    Ok(first)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    //! The vectors below were recorded from `huaweicloudsdkcore` 3.1.219 (Python) with
    //! `huaweicloudsdkcts`: a local HTTP server captured each request exactly as sent, and
    //! `sdk_canonical` is the string that `Signer._process_canonical_request` returned.

    use super::*;

    const ACCESS: &str = "HPUAEXAMPLEAK0000001";
    const SECRET: &str = "sEcReT+Key/Example0123456789abcdefGHIJ";

    struct Vector {
        method: &'static str,
        path: &'static str,
        query: &'static str,
        headers: &'static [(&'static str, &'static str)],
        body: &'static [u8],
        sdk_canonical: &'static str,
    }

    const UA: &str = "huaweicloud-usdk-python/3.0; os/Linux##1_SMP_PREEMPT_DYNAMIC_@0#x86_64 python/3.11.7 impl/CPython; app/e3567507-ae74-4058-b7f9-260f2c272ad9";

    const LIST_TRACES: Vector = Vector {
        method: "GET",
        path: "/v3/0123abcd/traces",
        query: "limit=10&trace_type=system",
        headers: &[
            ("user-agent", UA),
            ("accept-encoding", "gzip, deflate"),
            ("accept", "*/*"),
            ("connection", "keep-alive"),
            ("content-type", "application/json"),
            ("x-project-id", "0123abcd"),
            ("x-sdk-date", "20261121T161052Z"),
            ("host", "127.0.0.1:33969"),
            ("authorization", "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, Signature=15f6133ae87a2c488e497de28e92669f04da4262419a0e2442896cfb4684656a"),
        ],
        body: b"",
        sdk_canonical: concat!(
            "GET\n",
            "/v3/0123abcd/traces/\n",
            "limit=10&trace_type=system\n",
            "content-type:application/json\n",
            "host:127.0.0.1:33969\n",
            "user-agent:huaweicloud-usdk-python/3.0; os/Linux##1_SMP_PREEMPT_DYNAMIC_@0#x86_64 python/3.11.7 impl/CPython; app/e3567507-ae74-4058-b7f9-260f2c272ad9\n",
            "x-project-id:0123abcd\n",
            "x-sdk-date:20261121T161052Z\n",
            "\n",
            "content-type;host;user-agent;x-project-id;x-sdk-date\n",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    };

    const CREATE_TAGS: Vector = Vector {
        method: "POST",
        path: "/v3/0123abcd/cts-tracker/vm%201%2F%C3%A9%2Bx/tags/create",
        query: "",
        headers: &[
            ("user-agent", UA),
            ("accept-encoding", "gzip, deflate"),
            ("accept", "*/*"),
            ("connection", "keep-alive"),
            ("content-type", "application/json;charset=utf-8"),
            ("x-project-id", "0123abcd"),
            ("x-sdk-date", "20261121T161052Z"),
            ("host", "127.0.0.1:33969"),
            ("authorization", "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, Signature=3333e7f799e8d5b81608e892727e3baf422d5b915e1e4b0e710e2cd8b74f1dd6"),
            ("content-length", "83"),
        ],
        body: b"{\"tags\": [{\"key\": \"env\", \"value\": \"prod \\u00fc\"}, {\"key\": \"team\", \"value\": \"a&b\"}]}",
        sdk_canonical: concat!(
            "POST\n",
            "/v3/0123abcd/cts-tracker/vm%201/%C3%A9%2Bx/tags/create/\n",
            "\n",
            "content-type:application/json;charset=utf-8\n",
            "host:127.0.0.1:33969\n",
            "user-agent:huaweicloud-usdk-python/3.0; os/Linux##1_SMP_PREEMPT_DYNAMIC_@0#x86_64 python/3.11.7 impl/CPython; app/e3567507-ae74-4058-b7f9-260f2c272ad9\n",
            "x-project-id:0123abcd\n",
            "x-sdk-date:20261121T161052Z\n",
            "\n",
            "content-type;host;user-agent;x-project-id;x-sdk-date\n",
            "2af9a8b1aa580a61ea38afa669ab5eab7c05c6b48c6789c77fe521862582fbe7",
        ),
    };

    const QUERY_MIX: Vector = Vector {
        method: "GET",
        path: "/v3/0123abcd/weird%20path/",
        query: "a=y&a=z&b=2&empty=&flag=true&ids=2&ids=3&ids=10&sp%20ace=a%2Bb%3Dc%26d%2Fe&tilde=~x%2A%27%28%29%21&uni=%C3%BC%E2%82%AC&zeta=last",
        headers: &[
            ("user-agent", UA),
            ("accept-encoding", "gzip, deflate"),
            ("accept", "*/*"),
            ("connection", "keep-alive"),
            ("x-custom", "padded value"),
            ("x_underscore", "not-signed"),
            ("content-type", "application/json"),
            ("x-project-id", "0123abcd"),
            ("x-sdk-date", "20261121T161052Z"),
            ("host", "127.0.0.1:33969"),
            ("authorization", "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, SignedHeaders=content-type;host;user-agent;x-custom;x-project-id;x-sdk-date, Signature=59419a9d795302fe95b6bb519ed5bb61e6ffd4501b311e43fd1b90cadb5c396a"),
        ],
        body: b"",
        sdk_canonical: concat!(
            "GET\n",
            "/v3/0123abcd/weird%20path/\n",
            "a=y&a=z&b=2&empty=&flag=true&ids=2&ids=3&ids=10&sp%20ace=a%2Bb%3Dc%26d%2Fe&tilde=~x%2A%27%28%29%21&uni=%C3%BC%E2%82%AC&zeta=last\n",
            "content-type:application/json\n",
            "host:127.0.0.1:33969\n",
            "user-agent:huaweicloud-usdk-python/3.0; os/Linux##1_SMP_PREEMPT_DYNAMIC_@0#x86_64 python/3.11.7 impl/CPython; app/e3567507-ae74-4058-b7f9-260f2c272ad9\n",
            "x-custom:padded value\n",
            "x-project-id:0123abcd\n",
            "x-sdk-date:20261121T161052Z\n",
            "\n",
            "content-type;host;user-agent;x-custom;x-project-id;x-sdk-date\n",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    };

    const UNSIGNED_UPLOAD: Vector = Vector {
        method: "PUT",
        path: "/v3/0123abcd/blobs/obj.bin",
        query: "",
        headers: &[
            ("user-agent", UA),
            ("accept-encoding", "gzip, deflate"),
            ("accept", "*/*"),
            ("connection", "keep-alive"),
            ("content-type", "application/octet-stream"),
            ("x-project-id", "0123abcd"),
            ("x-sdk-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-sdk-date", "20261121T161052Z"),
            ("host", "127.0.0.1:33969"),
            ("authorization", "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-content-sha256;x-sdk-date, Signature=668c85fc682e4c0a89e9202dca9d27eea3aee8af97f418589a1f861c3bbb4adf"),
            ("content-length", "17"),
        ],
        body: b"\x00\x01binary-payload\xff",
        sdk_canonical: concat!(
            "PUT\n",
            "/v3/0123abcd/blobs/obj.bin/\n",
            "\n",
            "content-type:application/octet-stream\n",
            "host:127.0.0.1:33969\n",
            "user-agent:huaweicloud-usdk-python/3.0; os/Linux##1_SMP_PREEMPT_DYNAMIC_@0#x86_64 python/3.11.7 impl/CPython; app/e3567507-ae74-4058-b7f9-260f2c272ad9\n",
            "x-project-id:0123abcd\n",
            "x-sdk-content-sha256:UNSIGNED-PAYLOAD\n",
            "x-sdk-date:20261121T161052Z\n",
            "\n",
            "content-type;host;user-agent;x-project-id;x-sdk-content-sha256;x-sdk-date\n",
            "UNSIGNED-PAYLOAD",
        ),
    };

    const ALL: [&Vector; 4] = [&LIST_TRACES, &CREATE_TAGS, &QUERY_MIX, &UNSIGNED_UPLOAD];

    fn headers_of(v: &Vector) -> Vec<(String, String)> {
        v.headers.iter().map(|(k, val)| (k.to_string(), val.to_string())).collect()
    }

    fn set_header(headers: &mut [(String, String)], name: &str, value: &str) {
        let slot = headers.iter_mut().find(|(k, _)| k == name).unwrap();
        slot.1 = value.to_string();
    }

    fn auth_of(headers: &[(String, String)]) -> SdkAuthorization {
        parse_authorization(first_header(headers, "authorization").unwrap()).unwrap()
    }

    fn signed_at(v: &Vector) -> DateTime<Utc> {
        let raw = v.headers.iter().find(|(k, _)| *k == DATE_HEADER).unwrap().1;
        NaiveDateTime::parse_from_str(raw, DATE_FORMAT).unwrap().and_utc()
    }

    fn check_with(
        v: &Vector,
        path: &str,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
        secret: &str,
    ) -> Result<(), SignatureError> {
        let req = SignedRequest { method: v.method, path, query, headers, body };
        verify(&req, &auth_of(headers), secret, signed_at(v))
    }

    fn check(v: &Vector) -> Result<(), SignatureError> {
        check_with(v, v.path, v.query, &headers_of(v), v.body, SECRET)
    }

    /// Signs a request with this module's own canonicalisation, for cases the SDK vectors do not cover.
    fn self_sign(req: &SignedRequest, signed_headers: &[String], date: &str) -> String {
        let string_to_sign = format!(
            "{ALGORITHM}\n{date}\n{}",
            hex::encode(Sha256::digest(canonical_request(req, signed_headers).as_bytes()))
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(string_to_sign.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn parses_authorization_header() {
        let auth = auth_of(&headers_of(&QUERY_MIX));
        assert_eq!(auth.access, ACCESS);
        assert_eq!(
            auth.signed_headers,
            ["content-type", "host", "user-agent", "x-custom", "x-project-id", "x-sdk-date"]
        );
        assert_eq!(auth.signature.len(), 64);

        let bad = [
            "Bearer abc",
            "SDK-HMAC-SHA256",
            "SDK-HMAC-SHA256 SignedHeaders=host, Signature=00",
            "SDK-HMAC-SHA256 Access=ak, Signature=0000000000000000000000000000000000000000000000000000000000000000",
            "SDK-HMAC-SHA256 Access=ak, SignedHeaders=Host, Signature=0000000000000000000000000000000000000000000000000000000000000000",
            "SDK-HMAC-SHA256 Access=ak, SignedHeaders=host, Signature=zz",
            "SDK-HMAC-SHA256 Access=ak, Access=ak2, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000",
            "SDK-HMAC-SHA256 Access=ak, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000, Extra",
        ];
        for header in bad {
            assert!(matches!(parse_authorization(header), Err(SignatureError::Malformed(_))), "{header}");
        }
    }

    #[test]
    fn recognises_only_sdk_hmac_sha256() {
        assert!(is_sdk_hmac(first_header(&headers_of(&LIST_TRACES), "authorization").unwrap()));
        assert!(is_sdk_hmac("SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=b"));
        assert!(!is_sdk_hmac("SDK-HMAC-SM3 Access=a, SignedHeaders=host, Signature=b"));
        assert!(!is_sdk_hmac("V11-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=c"));
        assert!(!is_sdk_hmac("SDK-HMAC-SHA256X Access=a"));
        assert!(!is_sdk_hmac("Bearer token"));
        assert!(!is_sdk_hmac(""));
    }

    #[test]
    fn canonical_request_matches_python_sdk() {
        for v in [&LIST_TRACES, &CREATE_TAGS, &UNSIGNED_UPLOAD] {
            let headers = headers_of(v);
            let req = SignedRequest { method: v.method, path: v.path, query: v.query, headers: &headers, body: v.body };
            assert_eq!(canonical_request(&req, &auth_of(&headers).signed_headers), v.sdk_canonical);
        }

        // The SDK sorted the integer list numerically (2, 3, 10); the sorted form here is
        // byte-wise, which is why `verify` also tries the query in wire order.
        let headers = headers_of(&QUERY_MIX);
        let req = SignedRequest {
            method: QUERY_MIX.method,
            path: QUERY_MIX.path,
            query: QUERY_MIX.query,
            headers: &headers,
            body: QUERY_MIX.body,
        };
        assert_eq!(
            canonical_request(&req, &auth_of(&headers).signed_headers),
            QUERY_MIX.sdk_canonical.replace("ids=2&ids=3&ids=10", "ids=10&ids=2&ids=3")
        );
    }

    #[test]
    fn accepts_requests_signed_by_python_sdk() {
        for v in ALL {
            assert_eq!(check(v), Ok(()), "{} {}", v.method, v.path);
        }
    }

    #[test]
    fn accepts_equivalent_wire_forms() {
        let v = &LIST_TRACES;
        let h = headers_of(v);
        // Trailing slash is always appended, so both spellings verify.
        assert_eq!(check_with(v, "/v3/0123abcd/traces/", v.query, &h, v.body, SECRET), Ok(()));
        // Query order on the wire is irrelevant for distinct keys.
        assert_eq!(check_with(v, v.path, "trace_type=system&limit=10", &h, v.body, SECRET), Ok(()));
        // Needlessly escaped unreserved characters are normalised.
        assert_eq!(check_with(v, "/v3/0123%61bcd/traces", "limit=10&trace%5Ftype=system", &h, v.body, SECRET), Ok(()));
        // Header values are trimmed and the method is upper-cased.
        let mut padded = h.clone();
        set_header(&mut padded, "x-project-id", "  0123abcd\t");
        assert_eq!(check_with(v, v.path, v.query, &padded, v.body, SECRET), Ok(()));
        let req = SignedRequest { method: "get", path: v.path, query: v.query, headers: &h, body: v.body };
        assert_eq!(verify(&req, &auth_of(&h), SECRET, signed_at(v)), Ok(()));

        // An encoded slash is split like a real one (mirrors the SDK's unquote-then-split).
        let v = &CREATE_TAGS;
        assert_eq!(
            check_with(
                v,
                "/v3/0123abcd/cts-tracker/vm%201/%C3%A9%2Bx/tags/create/",
                v.query,
                &headers_of(v),
                v.body,
                SECRET
            ),
            Ok(())
        );
    }

    #[test]
    fn rejects_tampered_body() {
        let v = &CREATE_TAGS;
        let body = br#"{"tags": [{"key": "env", "value": "dev"}, {"key": "team", "value": "a&b"}]}"#;
        assert_eq!(check_with(v, v.path, v.query, &headers_of(v), body, SECRET), Err(SignatureError::Mismatch));
        assert_eq!(check_with(v, v.path, v.query, &headers_of(v), b"", SECRET), Err(SignatureError::Mismatch));
        // An unsigned X-Sdk-Content-Sha256 header cannot be used to replace the body hash.
        let mut h = headers_of(v);
        h.push((CONTENT_SHA256_HEADER.into(), UNSIGNED_PAYLOAD.into()));
        assert_eq!(check_with(v, v.path, v.query, &h, body, SECRET), Err(SignatureError::Mismatch));
    }

    #[test]
    fn unsigned_payload_is_not_bound_to_body() {
        // This is what the SDK does for non-JSON content types: the body is not covered.
        let v = &UNSIGNED_UPLOAD;
        assert_eq!(check_with(v, v.path, v.query, &headers_of(v), b"other bytes", SECRET), Ok(()));
        // ...but the declaration itself is signed.
        let mut h = headers_of(v);
        set_header(&mut h, CONTENT_SHA256_HEADER, &hex::encode(Sha256::digest(v.body)));
        assert_eq!(check_with(v, v.path, v.query, &h, v.body, SECRET), Err(SignatureError::Mismatch));
    }

    #[test]
    fn declared_body_hash_must_match_body() {
        let body = b"{\"a\":1}";
        let mut headers = vec![
            ("host".to_string(), "nimbus.local".to_string()),
            (DATE_HEADER.to_string(), "20240131T235959Z".to_string()),
            (CONTENT_SHA256_HEADER.to_string(), hex::encode(Sha256::digest(body))),
        ];
        let signed: Vec<String> = vec![CONTENT_SHA256_HEADER.into(), "host".into(), DATE_HEADER.into()];
        let now = NaiveDateTime::parse_from_str("20240131T235959Z", DATE_FORMAT).unwrap().and_utc();
        let signature = {
            let req = SignedRequest { method: "PUT", path: "/x", query: "", headers: &headers, body };
            self_sign(&req, &signed, "20240131T235959Z")
        };
        headers.push((
            "authorization".into(),
            format!("{ALGORITHM} Access={ACCESS}, SignedHeaders={}, Signature={signature}", signed.join(";")),
        ));
        let auth = auth_of(&headers);
        let req = |body: &'static [u8]| SignedRequest { method: "PUT", path: "/x", query: "", headers: &headers, body };
        assert_eq!(verify(&req(body), &auth, SECRET, now), Ok(()));
        assert_eq!(verify(&req(b"{\"a\":2}"), &auth, SECRET, now), Err(SignatureError::Mismatch));
    }

    #[test]
    fn rejects_tampered_query() {
        let v = &LIST_TRACES;
        let h = headers_of(v);
        for query in [
            "limit=11&trace_type=system",
            "limit=10&trace_type=system&tracker_name=x",
            "limit=10",
            "limit=10&trace_type=system+",
            "",
        ] {
            assert_eq!(check_with(v, v.path, query, &h, v.body, SECRET), Err(SignatureError::Mismatch), "{query}");
        }
        let v = &QUERY_MIX;
        let tampered = v.query.replace("ids=10", "ids=11");
        assert_eq!(check_with(v, v.path, &tampered, &headers_of(v), v.body, SECRET), Err(SignatureError::Mismatch));
    }

    #[test]
    fn rejects_tampered_path_method_and_headers() {
        let v = &LIST_TRACES;
        let h = headers_of(v);
        assert_eq!(check_with(v, "/v3/0123abce/traces", v.query, &h, v.body, SECRET), Err(SignatureError::Mismatch));
        let req = SignedRequest { method: "DELETE", path: v.path, query: v.query, headers: &h, body: v.body };
        assert_eq!(verify(&req, &auth_of(&h), SECRET, signed_at(v)), Err(SignatureError::Mismatch));
        let mut other_project = h.clone();
        set_header(&mut other_project, "x-project-id", "9999ffff");
        assert_eq!(check_with(v, v.path, v.query, &other_project, v.body, SECRET), Err(SignatureError::Mismatch));
        let mut other_host = h.clone();
        set_header(&mut other_host, "host", "evil.example:33969");
        assert_eq!(check_with(v, v.path, v.query, &other_host, v.body, SECRET), Err(SignatureError::Mismatch));
        // A later date (still within the allowed skew) breaks the signature too.
        let mut other_date = h.clone();
        set_header(&mut other_date, DATE_HEADER, "20261121T161053Z");
        assert_eq!(check_with(v, v.path, v.query, &other_date, v.body, SECRET), Err(SignatureError::Mismatch));
        // Unsigned headers may change freely.
        let mut unsigned = h.clone();
        set_header(&mut unsigned, "accept", "application/xml");
        assert_eq!(check_with(v, v.path, v.query, &unsigned, v.body, SECRET), Ok(()));
    }

    #[test]
    fn rejects_wrong_secret() {
        for v in ALL {
            assert_eq!(
                check_with(v, v.path, v.query, &headers_of(v), v.body, "sEcReT+Key/Example0123456789abcdefGHIj"),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn enforces_fifteen_minute_window() {
        let v = &LIST_TRACES;
        let h = headers_of(v);
        let auth = auth_of(&h);
        let req = SignedRequest { method: v.method, path: v.path, query: v.query, headers: &h, body: v.body };
        let t = signed_at(v);
        let window = chrono::TimeDelta::seconds(MAX_CLOCK_SKEW_SECS);
        let second = chrono::TimeDelta::seconds(1);
        assert_eq!(verify(&req, &auth, SECRET, t + window), Ok(()));
        assert_eq!(verify(&req, &auth, SECRET, t - window), Ok(()));
        assert_eq!(verify(&req, &auth, SECRET, t + window + second), Err(SignatureError::Expired));
        assert_eq!(verify(&req, &auth, SECRET, t - window - second), Err(SignatureError::Expired));
        assert_eq!(verify(&req, &auth, SECRET, t + chrono::TimeDelta::days(1)), Err(SignatureError::Expired));
    }

    #[test]
    fn rejects_missing_malformed_or_ambiguous_headers() {
        let v = &LIST_TRACES;
        let h = headers_of(v);

        let no_date: Vec<_> = h.iter().filter(|(k, _)| k != DATE_HEADER).cloned().collect();
        assert_eq!(check_with(v, v.path, v.query, &no_date, v.body, SECRET), Err(SignatureError::MissingDate));

        let mut bad_date = h.clone();
        set_header(&mut bad_date, DATE_HEADER, "2026-11-21T16:10:52Z");
        assert!(matches!(check_with(v, v.path, v.query, &bad_date, v.body, SECRET), Err(SignatureError::Malformed(_))));

        let no_project: Vec<_> = h.iter().filter(|(k, _)| k != "x-project-id").cloned().collect();
        assert!(matches!(
            check_with(v, v.path, v.query, &no_project, v.body, SECRET),
            Err(SignatureError::Malformed(_))
        ));

        let mut doubled = h.clone();
        doubled.push(("x-project-id".into(), "9999ffff".into()));
        assert!(matches!(check_with(v, v.path, v.query, &doubled, v.body, SECRET), Err(SignatureError::Malformed(_))));
    }
}
