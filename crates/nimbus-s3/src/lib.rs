//! The S3 front end of object storage (OBS), served on its own listener (`--s3-listen`).
//!
//! The protocol is the `s3s` crate's: it parses each request into an operation, verifies
//! the signature (SigV4 headers, presigned URLs, aws-chunked streaming, SigV2) with the secret
//! [`auth::KeyStore`] looks up in the identity service, runs [`auth::Caller`]'s access check
//! once, and dispatches to [`ops::Obs`], which calls the same `Control` methods every other
//! front end uses. Errors carry their S3 code (`error.rs`). Before s3s, the wrapper
//! answers what S3 has no operation for: OBS's extensions (`obs_ext.rs`) and CORS
//! preflights (`cors.rs`).

pub mod auth;
mod bucket_config;
mod cors;
mod error;
mod obs_ext;
mod ops;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use nimbus_control::Control;
use s3s::service::{S3Service, S3ServiceBuilder};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Host names: `bucket.<domain>` is virtual-host style; anything else (an IP, `localhost`,
/// an unknown name) is path-style, never a bucket name taken from the host.
struct Hosts {
    domains: Vec<String>,
}

impl Hosts {
    fn new(region: &str, port: u16) -> Self {
        Hosts {
            domains: vec![
                format!("localhost:{port}"),
                format!("obs.{region}.nimbus.local:{port}"),
                "localhost".into(),
                format!("obs.{region}.nimbus.local"),
            ],
        }
    }

    /// The domain a host names, and the bucket in front of it (virtual-host style).
    fn split<'a>(&'a self, host: &'a str) -> (Option<&'a str>, Option<&'a str>) {
        for d in &self.domains {
            if host == d {
                return (Some(d.as_str()), None);
            }
            if let Some(bucket) = host.strip_suffix(d.as_str()).and_then(|h| h.strip_suffix('.')) {
                return (Some(d.as_str()), Some(bucket));
            }
        }
        (None, None)
    }
}

impl s3s::host::S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<s3s::host::VirtualHost<'a>> {
        use s3s::host::VirtualHost;
        Ok(match self.split(host) {
            (Some(d), Some(bucket)) => VirtualHost::new(d).with_bucket(bucket),
            (Some(d), None) => VirtualHost::new(d),
            (None, _) => VirtualHost::new(host),
        })
    }
}

/// Builds the S3 service over the control plane. `port` names the virtual-host domains
/// (`<bucket>.localhost:<port>`, `<bucket>.obs.<region>.nimbus.local:<port>`).
pub fn service(control: Arc<Control>, port: u16) -> S3Service {
    let region = control.config().region.clone();
    let mut b = S3ServiceBuilder::new(ops::Obs { control: control.clone() });
    b.set_auth(auth::KeyStore { control: control.clone() });
    b.set_access(auth::Caller { control });
    b.set_host(Hosts::new(&region, port));
    b.build()
}

/// What the wrapper in front of s3s needs.
#[derive(Clone)]
struct Front {
    svc: S3Service,
    control: Arc<Control>,
    hosts: Arc<Hosts>,
}

impl Front {
    /// The bucket a request addresses: the virtual-host one, else the path's first segment.
    fn buckets(&self, parts: &http::request::Parts) -> (Option<String>, Option<String>) {
        let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let vhost = self.hosts.split(host).1.map(str::to_string);
        let from_path = || {
            let seg = parts.uri.path().trim_start_matches('/').split('/').next().unwrap_or("");
            (!seg.is_empty()).then(|| percent_encoding::percent_decode_str(seg).decode_utf8_lossy().into_owned())
        };
        let bucket = vhost.clone().or_else(from_path);
        (vhost, bucket)
    }
}

/// A request body that records whether it was read to the end.
struct TrackedBody {
    inner: std::pin::Pin<Box<hyper::body::Incoming>>,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl http_body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        if let std::task::Poll::Ready(None) = polled {
            self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Calls the S3 service; when an operation answered without reading the whole request
/// body (a PUT refused before its data), the connection is closed after the answer: the
/// unread bytes would otherwise be taken for the next request on it.
async fn call(front: Front, req: http::Request<hyper::body::Incoming>) -> Result<s3s::HttpResponse, s3s::HttpError> {
    use http_body::Body as _;
    let (parts, body) = req.into_parts();
    let (vhost, bucket) = front.buckets(&parts);
    if let Some(obs) = obs_ext::classify(&parts.method, &parts.uri, vhost.as_deref()) {
        let Ok(bytes) = obs_ext::read_body(body).await else {
            let id = format!("req-{}", nimbus_core::id::new_hex_id());
            let mut r = obs_ext::error_response(
                http::StatusCode::BAD_REQUEST,
                "MalformedXML",
                "The request body is too large or unreadable.",
                &id,
            );
            r.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
            return Ok(r);
        };
        return Ok(obs_ext::handle(&front.control, obs, &parts, bytes, vhost.as_deref()).await);
    }
    if parts.method == http::Method::OPTIONS {
        return Ok(cors::preflight(&front.control, bucket.as_deref(), &parts.headers).await);
    }
    let origin = parts.headers.get(http::header::ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_string);
    let method = parts.method.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(body.is_end_stream()));
    let tracked = TrackedBody { inner: Box::pin(body), done: done.clone() };
    let mut resp = front.svc.call(http::Request::from_parts(parts, s3s::Body::http_body(tracked))).await?;
    if let (Some(origin), Some(bucket)) = (origin, bucket) {
        cors::decorate(&front.control, &bucket, &origin, &method, &mut resp).await;
    }
    // s3s fixes each operation's status; a restore that started answers 202.
    if resp.extensions_mut().remove::<ops::Accepted>().is_some() {
        *resp.status_mut() = http::StatusCode::ACCEPTED;
    }
    if !done.load(std::sync::atomic::Ordering::SeqCst) {
        resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    Ok(resp)
}

/// Serves S3 on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, control: Arc<Control>, mut shutdown: watch::Receiver<bool>) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let region = control.config().region.clone();
    let front = Front { svc: service(control.clone(), port), control, hosts: Arc::new(Hosts::new(&region, port)) };
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let Ok((socket, _peer)) = accepted else { continue };
        // A response's headers and small body go out at once, not after the client's
        // delayed ACK (Nagle's algorithm would hold the body back ~40 ms).
        let _ = socket.set_nodelay(true);
        let front = front.clone();
        let handler = hyper::service::service_fn(move |req| call(front.clone(), req));
        let conn = http.serve_connection(TokioIo::new(socket), handler);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
}
