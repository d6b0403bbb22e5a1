//! What OBS clients send that S3 has no operation for, answered before s3s sees it:
//!
//! - the OBS SDK's anonymous signature probe `HEAD /?apiversion`: answered 200 without
//!   `x-obs-api`, so the SDK signs with AWS V2 (which s3s verifies) and uses S3 names;
//! - OBS bucket sub-resources `?quota`, `?storageinfo`, `?storagePolicy` (V2 name) and
//!   `?storageClass` (OBS name). s3s would route them as other operations (`PUT /b?quota`
//!   as CreateBucket) and leaves their keys out of the V2 string to sign, so they are
//!   verified here with the OBS SDK's own V2 rules (`AWS ak:signature`, HMAC-SHA1).
//!
//! Errors are S3 XML with OBS's codes.

use base64::Engine;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Response, StatusCode};
use nimbus_control::{Control, Ctx, RequestMeta};
use nimbus_core::Error;
use std::sync::Arc;

/// Query keys that take part in the V2 canonical resource, as the OBS SDK signs them
/// (compared lower-case; keys starting with `x-amz-` are included too).
const SIGNED_SUBRESOURCES: &[&str] = &[
    "acl",
    "backtosource",
    "policy",
    "torrent",
    "logging",
    "location",
    "storageinfo",
    "quota",
    "storageclass",
    "storagepolicy",
    "requestpayment",
    "versions",
    "versioning",
    "versionid",
    "uploads",
    "uploadid",
    "partnumber",
    "website",
    "notification",
    "dispolicy",
    "lifecycle",
    "deletebucket",
    "delete",
    "cors",
    "restore",
    "tagging",
    "replication",
    "metadata",
    "encryption",
    "publicaccessblock",
    "bucketstatus",
    "policystatus",
    "x-obs-accesslabel",
    "inventory",
    "obscompresspolicy",
    "object-lock",
    "retention",
    "directcoldaccess",
    "append",
    "position",
    "truncate",
    "modify",
    "rename",
    "length",
    "name",
    "fileinterface",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
];

/// The OBS bucket sub-resources handled here.
const OBS_SUBRESOURCES: &[&str] = &["quota", "storageinfo", "storagePolicy", "storageClass"];

/// The largest XML body these sub-resources accept.
const MAX_BODY: usize = 64 * 1024;

/// A request this module answers.
pub enum ObsRequest {
    /// The SDK's signature probe.
    ApiVersion,
    /// An OBS sub-resource of a bucket.
    Subresource { bucket: String, name: &'static str },
}

/// Query pairs, percent-decoded (a key without `=` has value `None`).
fn query_pairs(query: &str) -> Vec<(String, Option<String>)> {
    let dec = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (dec(k), Some(dec(v))),
            None => (dec(p), None),
        })
        .collect()
}

/// Recognises a request for this module: `bucket` is the virtual-host bucket, if any.
pub fn classify(method: &Method, uri: &http::Uri, vhost_bucket: Option<&str>) -> Option<ObsRequest> {
    let query = uri.query()?;
    let pairs = query_pairs(query);
    let has = |k: &str| pairs.iter().any(|(n, _)| n == k);
    if *method == Method::HEAD && has("apiversion") {
        return Some(ObsRequest::ApiVersion);
    }
    let name = OBS_SUBRESOURCES.iter().find(|n| has(n))?;
    let path = uri.path().trim_start_matches('/');
    let bucket = match vhost_bucket {
        Some(b) if path.is_empty() => b.to_string(),
        Some(_) => return None,
        None if !path.is_empty() && !path.contains('/') => {
            percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned()
        }
        None => return None,
    };
    Some(ObsRequest::Subresource { bucket, name })
}

/// An S3 error document.
pub fn error_response(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response<s3s::Body> {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        esc(code),
        esc(message),
        esc(request_id)
    );
    let mut r = Response::new(s3s::Body::from(xml));
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    r
}

fn xml_response(xml: String) -> Response<s3s::Body> {
    let mut r = Response::new(s3s::Body::from(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{xml}")));
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    r
}

/// The V2 string to sign, as the OBS SDK (and AWS V2) computes it.
fn string_to_sign(method: &Method, headers: &HeaderMap, uri: &http::Uri, vhost_bucket: Option<&str>) -> String {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let date = if headers.contains_key("x-amz-date") { String::new() } else { get("date") };
    let mut amz: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-amz-"))
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").trim().to_string()))
        .collect();
    amz.sort();
    let mut s = format!("{method}\n{}\n{}\n{date}\n", get("content-md5"), get("content-type"));
    for (n, v) in amz {
        s.push_str(&format!("{n}:{v}\n"));
    }
    if let Some(b) = vhost_bucket {
        s.push('/');
        s.push_str(b);
    }
    s.push_str(uri.path());
    let mut subs: Vec<(String, Option<String>)> = query_pairs(uri.query().unwrap_or(""))
        .into_iter()
        .filter(|(k, _)| {
            let l = k.to_ascii_lowercase();
            SIGNED_SUBRESOURCES.contains(&l.as_str()) || l.starts_with("x-amz-")
        })
        .collect();
    subs.sort();
    if !subs.is_empty() {
        let parts: Vec<String> = subs
            .into_iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k,
            })
            .collect();
        s.push('?');
        s.push_str(&parts.join("&"));
    }
    s
}

/// Verifies a V2 `Authorization: AWS ak:signature` header; returns the caller (anonymous
/// when unsigned).
async fn authenticate(
    control: &Arc<Control>,
    method: &Method,
    headers: &HeaderMap,
    uri: &http::Uri,
    vhost_bucket: Option<&str>,
    request_id: &str,
) -> Result<Ctx, (StatusCode, &'static str, String)> {
    let meta = RequestMeta::new(request_id.to_string(), None, method.as_str(), uri.path());
    let Some(auth) = headers.get(http::header::AUTHORIZATION) else {
        let principal = nimbus_control::Principal::anonymous();
        return Ok(Ctx { principal, meta });
    };
    let denied = |code: &'static str, m: &str| (StatusCode::FORBIDDEN, code, m.to_string());
    let auth = auth.to_str().map_err(|_| denied("AccessDenied", "The Authorization header is not valid."))?;
    let Some((ak, sig)) = auth.strip_prefix("AWS ").and_then(|r| r.rsplit_once(':')) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "OBS sub-resources take AWS V2 signatures (Authorization: AWS ak:signature).".into(),
        ));
    };
    // OBS refuses requests more than 15 minutes off.
    let date = headers.get("x-amz-date").or_else(|| headers.get(http::header::DATE)).and_then(|v| v.to_str().ok());
    let when = date.and_then(|d| chrono::DateTime::parse_from_rfc2822(&d.replace("GMT", "+0000")).ok());
    match when {
        Some(t) if (chrono::Utc::now().timestamp() - t.timestamp()).abs() <= 900 => {}
        _ => {
            return Err(denied(
                "RequestTimeTooSkewed",
                "The difference between the request time and the server's time is too large.",
            ))
        }
    }
    let secret = match control.s3_secret(ak).await {
        Ok(s) => s,
        Err(Error::Unauthorized(_)) => {
            return Err(denied("InvalidAccessKeyId", "The access key Id you provided does not exist in our records."))
        }
        Err(_) => return Err((StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", "Please retry.".into())),
    };
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(string_to_sign(method, headers, uri, vhost_bucket).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if !constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
        return Err(denied(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    let principal = control
        .principal_for_s3(ak)
        .await
        .map_err(|_| denied("InvalidAccessKeyId", "The access key Id you provided does not exist in our records."))?;
    meta.set_principal(&principal);
    Ok(Ctx { principal, meta })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The text of the first `<name>` element of a document.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim().to_string())
}

/// The text of a document's root element (OBS's `<StorageClass>WARM</StorageClass>`).
fn root_text(xml: &str, name: &str) -> Option<String> {
    element(xml, name)
}

/// Answers a request [`classify`] recognised.
pub async fn handle(
    control: &Arc<Control>,
    req: ObsRequest,
    parts: &http::request::Parts,
    body: bytes::Bytes,
    vhost_bucket: Option<&str>,
) -> Response<s3s::Body> {
    let request_id = format!("req-{}", nimbus_core::id::new_hex_id());
    let (bucket, name) = match req {
        ObsRequest::ApiVersion => return Response::new(s3s::Body::empty()),
        ObsRequest::Subresource { bucket, name } => (bucket, name),
    };
    let ctx = match authenticate(control, &parts.method, &parts.headers, &parts.uri, vhost_bucket, &request_id).await {
        Ok(c) => c,
        Err((status, code, m)) => return error_response(status, code, &m, &request_id),
    };
    // Content-MD5 is signed: checking it binds the body to the signature.
    if let Some(md5) = parts.headers.get("content-md5").and_then(|v| v.to_str().ok()) {
        use md5::Digest;
        let actual = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body));
        if actual != md5 {
            let m = "The Content-MD5 you specified did not match what was received.";
            return error_response(StatusCode::BAD_REQUEST, "BadDigest", m, &request_id);
        }
    }
    let result = dispatch(control, &ctx, &parts.method, &bucket, name, &body).await;
    match result {
        Ok(r) => r,
        Err(e) => {
            let s3 = crate::error::to_s3(e);
            let status = s3.status_code().unwrap_or(StatusCode::BAD_REQUEST);
            error_response(status, s3.code().as_str(), s3.message().unwrap_or(""), &request_id)
        }
    }
}

async fn dispatch(
    control: &Arc<Control>,
    ctx: &Ctx,
    method: &Method,
    bucket: &str,
    name: &str,
    body: &[u8],
) -> Result<Response<s3s::Body>, Error> {
    let text =
        std::str::from_utf8(body).map_err(|_| Error::bad_request("The XML you provided was not well-formed."))?;
    let malformed = || Error::bad_request("The XML you provided was not well-formed or did not validate.");
    match (method.as_str(), name) {
        ("PUT", "quota") => {
            let n = element(text, "StorageQuota").and_then(|v| v.parse::<i64>().ok()).ok_or_else(malformed)?;
            control.set_bucket_quota(ctx, bucket, n).await?;
            Ok(Response::new(s3s::Body::empty()))
        }
        ("GET", "quota") => {
            let b = control.get_bucket(ctx, bucket, "s3:GetBucketQuota").await?;
            Ok(xml_response(format!("<Quota><StorageQuota>{}</StorageQuota></Quota>", b.quota_bytes)))
        }
        ("GET", "storageinfo") => {
            let (size, count) = control.bucket_storage(ctx, bucket).await?;
            Ok(xml_response(format!(
                "<GetBucketStorageInfoResult><Size>{size}</Size><ObjectNumber>{count}</ObjectNumber></GetBucketStorageInfoResult>"
            )))
        }
        ("PUT", "storagePolicy") => {
            let class = element(text, "DefaultStorageClass").ok_or_else(malformed)?;
            control.set_bucket_storage_class(ctx, bucket, &class).await?;
            Ok(Response::new(s3s::Body::empty()))
        }
        ("GET", "storagePolicy") => {
            let b = control.get_bucket(ctx, bucket, "s3:GetBucketStoragePolicy").await?;
            let class = nimbus_control::objects::s3_storage_class(&b.storage_class);
            Ok(xml_response(format!(
                "<StoragePolicy><DefaultStorageClass>{class}</DefaultStorageClass></StoragePolicy>"
            )))
        }
        ("PUT", "storageClass") => {
            let class = root_text(text, "StorageClass").ok_or_else(malformed)?;
            control.set_bucket_storage_class(ctx, bucket, &class).await?;
            Ok(Response::new(s3s::Body::empty()))
        }
        ("GET", "storageClass") => {
            let b = control.get_bucket(ctx, bucket, "s3:GetBucketStoragePolicy").await?;
            Ok(xml_response(format!("<StorageClass>{}</StorageClass>", b.storage_class)))
        }
        _ => Err(Error::MethodNotAllowed),
    }
}

/// Reads a small request body (sub-resource documents).
pub async fn read_body(body: hyper::body::Incoming) -> Result<bytes::Bytes, ()> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    limited.collect().await.map(|c| c.to_bytes()).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_to_sign_keeps_obs_subresources() {
        let mut h = HeaderMap::new();
        h.insert("date", "Sat, 21 Nov 2026 21:55:32 GMT".parse().unwrap());
        h.insert("x-amz-acl", "private".parse().unwrap());
        let uri: http::Uri = "/?quota".parse().unwrap();
        assert_eq!(
            string_to_sign(&Method::PUT, &h, &uri, Some("b")),
            "PUT\n\n\nSat, 21 Nov 2026 21:55:32 GMT\nx-amz-acl:private\n/b/?quota"
        );
        let uri: http::Uri = "/b?storagePolicy&prefix=x".parse().unwrap();
        assert_eq!(
            string_to_sign(&Method::GET, &h, &uri, None),
            "GET\n\n\nSat, 21 Nov 2026 21:55:32 GMT\nx-amz-acl:private\n/b?storagePolicy"
        );
    }

    #[test]
    fn requests_are_recognised() {
        let u = |s: &str| s.parse::<http::Uri>().unwrap();
        assert!(matches!(classify(&Method::HEAD, &u("/?apiversion"), None), Some(ObsRequest::ApiVersion)));
        assert!(matches!(
            classify(&Method::PUT, &u("/b?quota"), None),
            Some(ObsRequest::Subresource { ref bucket, name: "quota" }) if bucket == "b"
        ));
        assert!(matches!(
            classify(&Method::GET, &u("/?storageinfo"), Some("vb")),
            Some(ObsRequest::Subresource { ref bucket, name: "storageinfo" }) if bucket == "vb"
        ));
        assert!(classify(&Method::GET, &u("/b/key?quota"), None).is_none());
        assert!(classify(&Method::GET, &u("/b?prefix=x"), None).is_none());
    }
}
