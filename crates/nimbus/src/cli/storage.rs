//! `nimbus bucket`: object storage with the same credentials as the other commands (the
//! token API at `/v1/obs`), with a progress bar for uploads and downloads.

use super::client::Client;
use super::output::Out;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum BucketCmd {
    /// The project's buckets.
    List,
    /// Creates a bucket.
    Create {
        name: String,
        /// STANDARD, WARM or COLD.
        #[arg(long)]
        class: Option<String>,
    },
    /// Deletes an empty bucket.
    Delete { name: String },
    /// A bucket's objects.
    Ls {
        bucket: String,
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Uploads a file (the key is the file's name unless --key).
    Put {
        file: PathBuf,
        bucket: String,
        #[arg(long)]
        key: Option<String>,
        /// STANDARD, WARM or COLD (default: the bucket's).
        #[arg(long)]
        class: Option<String>,
    },
    /// Downloads an object (to the key's last part unless -o).
    Get {
        bucket: String,
        key: String,
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Deletes an object.
    Rm { bucket: String, key: String },
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn bar(len: u64, what: String) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap()
            .progress_chars("=> "),
    );
    pb.set_message(what);
    pb
}

fn content_type(file: &std::path::Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "txt" | "log" => "text/plain",
        "json" => "application/json",
        "html" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "csv" => "text/csv",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        _ => "application/octet-stream",
    }
}

pub async fn run(c: &Client, out: &Out, cmd: BucketCmd) -> anyhow::Result<()> {
    match cmd {
        BucketCmd::List => {
            let v = c.get("/v1/obs/buckets").await?;
            out.list(
                &v["buckets"],
                &[
                    ("Name", "name"),
                    ("Class", "storage_class"),
                    ("Objects", "objects"),
                    ("Bytes", "bytes"),
                    ("Created", "created_at"),
                ],
            );
        }
        BucketCmd::Create { name, class } => {
            let v = c.post("/v1/obs/buckets", json!({"name": name, "storage_class": class})).await?;
            out.object(&v["bucket"], &["name", "storage_class", "region", "created_at"]);
        }
        BucketCmd::Delete { name } => {
            c.call("DELETE", &format!("/v1/obs/buckets/{}", enc(&name)), None).await?;
        }
        BucketCmd::Ls { bucket, prefix } => {
            let mut all = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let mut path =
                    format!("/v1/obs/buckets/{}/objects?prefix={}", enc(&bucket), enc(prefix.as_deref().unwrap_or("")));
                if let Some(m) = &marker {
                    path.push_str(&format!("&marker={}", enc(m)));
                }
                let v = c.get(&path).await?;
                all.extend(v["objects"].as_array().cloned().unwrap_or_default());
                match v["next_marker"].as_str() {
                    Some(m) => marker = Some(m.to_string()),
                    None => break,
                }
            }
            out.list(
                &serde_json::Value::Array(all),
                &[("Key", "key"), ("Size", "size"), ("Class", "storage_class"), ("Modified", "last_modified")],
            );
        }
        BucketCmd::Put { file, bucket, key, class } => {
            let key =
                key.unwrap_or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            let len = std::fs::metadata(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?.len();
            let pb = bar(len, format!("uploading {key}"));
            let tick = pb.clone();
            let mut path = format!("/v1/obs/buckets/{}/object?key={}", enc(&bucket), enc(&key));
            if let Some(cl) = class {
                path.push_str(&format!("&storage_class={}", enc(&cl)));
            }
            let v = c.put_file(&path, &file, content_type(&file), move |n| tick.inc(n)).await;
            pb.finish();
            out.object(&v?["object"], &["key", "size", "etag", "storage_class", "last_modified"]);
        }
        BucketCmd::Get { bucket, key, output } => {
            let target = output.unwrap_or_else(|| PathBuf::from(key.rsplit('/').next().unwrap_or(&key)));
            let pb = bar(0, format!("downloading {key}"));
            let path = format!("/v1/obs/buckets/{}/object?key={}", enc(&bucket), enc(&key));
            let got = c
                .get_to_file(&path, &target, |n, total| {
                    if let Some(t) = total {
                        pb.set_length(t);
                    }
                    pb.set_position(n);
                })
                .await;
            pb.finish();
            let n = got?;
            out.object(
                &json!({"key": key, "file": target.display().to_string(), "bytes": n}),
                &["key", "file", "bytes"],
            );
        }
        BucketCmd::Rm { bucket, key } => {
            c.call("DELETE", &format!("/v1/obs/buckets/{}/object?key={}", enc(&bucket), enc(&key)), None).await?;
        }
    }
    Ok(())
}
