//! The S3 front end of object storage (OBS), served on its own listener (`--s3-listen`).
//!
//! The protocol is the `s3s` crate's: it parses each request into an operation, verifies
//! the signature (SigV4 headers, presigned URLs, aws-chunked streaming, SigV2) with the secret
//! [`auth::KeyStore`] looks up in the identity service, runs [`auth::Caller`]'s access check
//! once, and dispatches to [`ops::Obs`], which calls the same `Control` methods every other
//! front end uses. Errors carry their S3 code (`error.rs`).

pub mod auth;
mod error;
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

impl s3s::host::S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<s3s::host::VirtualHost<'a>> {
        use s3s::host::VirtualHost;
        for d in &self.domains {
            if host == d {
                return Ok(VirtualHost::new(d.as_str()));
            }
            if let Some(bucket) = host.strip_suffix(d.as_str()).and_then(|h| h.strip_suffix('.')) {
                return Ok(VirtualHost::new(d.as_str()).with_bucket(bucket));
            }
        }
        Ok(VirtualHost::new(host))
    }
}

/// Builds the S3 service over the control plane. `port` names the virtual-host domains
/// (`<bucket>.localhost:<port>`, `<bucket>.obs.<region>.nimbus.local:<port>`).
pub fn service(control: Arc<Control>, port: u16) -> S3Service {
    let region = control.config().region.clone();
    let mut b = S3ServiceBuilder::new(ops::Obs { control: control.clone() });
    b.set_auth(auth::KeyStore { control: control.clone() });
    b.set_access(auth::Caller { control });
    b.set_host(Hosts {
        domains: vec![
            format!("localhost:{port}"),
            format!("obs.{region}.nimbus.local:{port}"),
            "localhost".into(),
            format!("obs.{region}.nimbus.local"),
        ],
    });
    b.build()
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
async fn call(svc: S3Service, req: http::Request<hyper::body::Incoming>) -> Result<s3s::HttpResponse, s3s::HttpError> {
    use http_body::Body as _;
    let (parts, body) = req.into_parts();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(body.is_end_stream()));
    let tracked = TrackedBody { inner: Box::pin(body), done: done.clone() };
    let mut resp = svc.call(http::Request::from_parts(parts, s3s::Body::http_body(tracked))).await?;
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
    let svc = service(control, port);
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let Ok((socket, _peer)) = accepted else { continue };
        let svc = svc.clone();
        let handler = hyper::service::service_fn(move |req| call(svc.clone(), req));
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
