//! `nimbus server` and `nimbus volume`: the common flows (create, wait, look, delete; back
//! up and restore) over the Nova and Cinder APIs, with a spinner while the region works.

use super::client::Client;
use super::output::Out;
use anyhow::{anyhow, bail};
use base64::Engine;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum ServerCmd {
    /// The project's servers.
    List,
    /// One server (name or id).
    Show { server: String },
    /// Launches a server; with --wait, until it is ACTIVE.
    Create {
        name: String,
        #[arg(long)]
        flavor: String,
        #[arg(long)]
        image: String,
        /// A network (name or id); none: user-mode networking.
        #[arg(long)]
        network: Option<String>,
        #[arg(long)]
        key_name: Option<String>,
        /// A file whose content the guest runs at first boot.
        #[arg(long)]
        user_data: Option<std::path::PathBuf>,
        #[arg(long)]
        wait: bool,
    },
    /// Starts a stopped server.
    Start {
        server: String,
        #[arg(long)]
        wait: bool,
    },
    /// Stops a server.
    Stop {
        server: String,
        #[arg(long)]
        wait: bool,
    },
    /// Deletes a server; with --wait, until it is gone.
    Delete {
        server: String,
        #[arg(long)]
        wait: bool,
    },
    /// The last lines of the server's console.
    Console {
        server: String,
        #[arg(long, default_value_t = 50)]
        lines: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum VolumeCmd {
    /// The project's volumes.
    List,
    /// Creates a blank volume; with --wait, until available.
    Create {
        name: String,
        /// GB (data disks: 10 to 32768).
        #[arg(long)]
        size: u32,
        /// SATA, SAS or SSD.
        #[arg(long = "type")]
        volume_type: Option<String>,
        #[arg(long)]
        wait: bool,
    },
    /// Backs a volume up (incremental when it has a backup already); with --wait, until done.
    Backup {
        volume: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        wait: bool,
    },
    /// The project's backups.
    Backups,
    /// Restores a backup to a new volume, or to a detached one with --volume.
    Restore {
        backup: String,
        #[arg(long)]
        volume: Option<String>,
        #[arg(long)]
        wait: bool,
    },
}

const NOVA: &str = "/compute/v2.1";

fn spinner(msg: String) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").unwrap());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb.set_message(msg);
    pb
}

/// Polls `status` every second until it returns a final state (`Ok(Some)`), showing it.
async fn wait_until<F, Fut>(what: &str, mut status: F) -> anyhow::Result<String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(String, bool)>>,
{
    let pb = spinner(format!("{what}: ..."));
    loop {
        let (state, done) = status().await?;
        pb.set_message(format!("{what}: {state}"));
        if done {
            pb.finish_with_message(format!("{what}: {state}"));
            return Ok(state);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The id of the one item of `list` (a JSON array of `{id, name}`) named or with id `wanted`.
fn one_id(list: &Value, kind: &str, wanted: &str) -> anyhow::Result<String> {
    let matches: Vec<&Value> =
        list.as_array().into_iter().flatten().filter(|v| v["id"] == wanted || v["name"] == wanted).collect();
    match matches.as_slice() {
        [one] => Ok(one["id"].as_str().unwrap_or_default().to_string()),
        [] => bail!("No {kind} named or with id {wanted:?}."),
        _ => bail!("Several {kind}s are named {wanted:?}: use the id."),
    }
}

/// A server's id from its name or id.
async fn server_id(c: &Client, s: &str) -> anyhow::Result<String> {
    one_id(&c.get(&format!("{NOVA}/servers")).await?["servers"], "server", s)
}

async fn wait_server(c: &Client, id: &str, want: &str) -> anyhow::Result<()> {
    let state = wait_until(&format!("server {id}"), || async {
        let v = c.get(&format!("{NOVA}/servers/{id}")).await?;
        let status = v["server"]["status"].as_str().unwrap_or("?").to_string();
        let task = v["server"]["OS-EXT-STS:task_state"].as_str().map(|t| format!(" ({t})")).unwrap_or_default();
        let done = status == want || status == "ERROR";
        Ok((format!("{status}{task}"), done))
    })
    .await?;
    if state.starts_with("ERROR") {
        let v = c.get(&format!("{NOVA}/servers/{id}")).await?;
        bail!("server {id} is in ERROR: {}", v["server"]["fault"]["message"].as_str().unwrap_or("no reason given"));
    }
    Ok(())
}

const SERVER_FIELDS: &[&str] =
    &["id", "name", "status", "flavor.original_name", "addresses", "created", "fault.message"];

pub async fn run_server(c: &Client, out: &Out, cmd: ServerCmd) -> anyhow::Result<()> {
    match cmd {
        ServerCmd::List => {
            let v = c.get(&format!("{NOVA}/servers/detail")).await?;
            out.list(
                &v["servers"],
                &[("ID", "id"), ("Name", "name"), ("Status", "status"), ("Flavor", "flavor.original_name")],
            );
        }
        ServerCmd::Show { server } => {
            let id = server_id(c, &server).await?;
            let v = c.get(&format!("{NOVA}/servers/{id}")).await?;
            out.object(&v["server"], SERVER_FIELDS);
        }
        ServerCmd::Create { name, flavor, image, network, key_name, user_data, wait } => {
            let mut server = json!({"name": name, "flavorRef": flavor, "imageRef": image, "networks": "none"});
            if let Some(n) = network {
                let id = one_id(&c.get("/network/v2.0/networks").await?["networks"], "network", &n)?;
                server["networks"] = json!([{"uuid": id}]);
            }
            if let Some(k) = key_name {
                server["key_name"] = json!(k);
            }
            if let Some(f) = user_data {
                let data = std::fs::read(&f).map_err(|e| anyhow!("reading {}: {e}", f.display()))?;
                server["user_data"] = json!(base64::engine::general_purpose::STANDARD.encode(data));
            }
            let v = c.post(&format!("{NOVA}/servers"), json!({"server": server})).await?;
            let id = v["server"]["id"].as_str().unwrap_or_default().to_string();
            if wait {
                wait_server(c, &id, "ACTIVE").await?;
            }
            let v = c.get(&format!("{NOVA}/servers/{id}")).await?;
            out.object(&v["server"], SERVER_FIELDS);
        }
        ServerCmd::Start { server, wait } => {
            let id = server_id(c, &server).await?;
            c.post(&format!("{NOVA}/servers/{id}/action"), json!({"os-start": null})).await?;
            if wait {
                wait_server(c, &id, "ACTIVE").await?;
            }
        }
        ServerCmd::Stop { server, wait } => {
            let id = server_id(c, &server).await?;
            c.post(&format!("{NOVA}/servers/{id}/action"), json!({"os-stop": null})).await?;
            if wait {
                wait_server(c, &id, "SHUTOFF").await?;
            }
        }
        ServerCmd::Delete { server, wait } => {
            let id = server_id(c, &server).await?;
            c.call("DELETE", &format!("{NOVA}/servers/{id}"), None).await?;
            if wait {
                wait_until(&format!("server {id}"), || async {
                    match c.get(&format!("{NOVA}/servers/{id}")).await {
                        Ok(v) => Ok((v["server"]["status"].as_str().unwrap_or("?").to_string(), false)),
                        Err(e) if e.to_string().ends_with("(404)") => Ok(("deleted".into(), true)),
                        Err(e) => Err(e),
                    }
                })
                .await?;
            }
        }
        ServerCmd::Console { server, lines } => {
            let id = server_id(c, &server).await?;
            let v = c
                .post(&format!("{NOVA}/servers/{id}/action"), json!({"os-getConsoleOutput": {"length": lines}}))
                .await?;
            print!("{}", v["output"].as_str().unwrap_or_default());
        }
    }
    Ok(())
}

async fn volume_id(c: &Client, v: &str) -> anyhow::Result<String> {
    one_id(&c.get(&format!("/volume/v3/{}/volumes", c.project_id)).await?["volumes"], "volume", v)
}

/// Waits until a volume or backup leaves its working states; fails on an error state.
async fn wait_cinder(c: &Client, kind: &str, id: &str) -> anyhow::Result<()> {
    let path = format!("/volume/v3/{}/{kind}s/{id}", c.project_id);
    let state = wait_until(&format!("{kind} {id}"), || async {
        let v = c.get(&path).await?;
        let status = v[kind]["status"].as_str().unwrap_or("?").to_string();
        let done = matches!(status.as_str(), "available" | "in-use") || status.starts_with("error");
        Ok((status, done))
    })
    .await?;
    if state.starts_with("error") {
        let v = c.get(&path).await?;
        bail!(
            "{kind} {id} is in {state}: {}",
            v[kind]["fail_reason"].as_str().unwrap_or("see `openstack volume message list`")
        );
    }
    Ok(())
}

pub async fn run_volume(c: &Client, out: &Out, cmd: VolumeCmd) -> anyhow::Result<()> {
    let base = format!("/volume/v3/{}", c.project_id);
    match cmd {
        VolumeCmd::List => {
            let v = c.get(&format!("{base}/volumes/detail")).await?;
            out.list(
                &v["volumes"],
                &[("ID", "id"), ("Name", "name"), ("Status", "status"), ("Size", "size"), ("Type", "volume_type")],
            );
        }
        VolumeCmd::Create { name, size, volume_type, wait } => {
            let mut vol = json!({"name": name, "size": size});
            if let Some(t) = volume_type {
                vol["volume_type"] = json!(t);
            }
            let v = c.post(&format!("{base}/volumes"), json!({"volume": vol})).await?;
            let id = v["volume"]["id"].as_str().unwrap_or_default().to_string();
            if wait {
                wait_cinder(c, "volume", &id).await?;
            }
            let v = c.get(&format!("{base}/volumes/{id}")).await?;
            out.object(&v["volume"], &["id", "name", "status", "size", "volume_type"]);
        }
        VolumeCmd::Backup { volume, name, wait } => {
            let id = volume_id(c, &volume).await?;
            let backups = c.get(&format!("{base}/backups/detail")).await?;
            let incremental = backups["backups"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|b| b["volume_id"] == id.as_str() && b["status"] == "available");
            let body = json!({"backup": {"volume_id": id, "name": name, "incremental": incremental, "force": true}});
            let v = c.post(&format!("{base}/backups"), body).await?;
            let bid = v["backup"]["id"].as_str().unwrap_or_default().to_string();
            if wait {
                wait_cinder(c, "backup", &bid).await?;
            }
            let v = c.get(&format!("{base}/backups/{bid}")).await?;
            out.object(&v["backup"], &["id", "name", "status", "volume_id", "size", "is_incremental"]);
        }
        VolumeCmd::Backups => {
            let v = c.get(&format!("{base}/backups/detail")).await?;
            out.list(
                &v["backups"],
                &[
                    ("ID", "id"),
                    ("Name", "name"),
                    ("Status", "status"),
                    ("Volume", "volume_id"),
                    ("Incremental", "is_incremental"),
                ],
            );
        }
        VolumeCmd::Restore { backup, volume, wait } => {
            let target = match volume {
                Some(v) => Some(volume_id(c, &v).await?),
                None => None,
            };
            let body = match &target {
                Some(t) => json!({"restore": {"volume_id": t}}),
                None => json!({"restore": {}}),
            };
            let v = c.post(&format!("{base}/backups/{backup}/restore"), body).await?;
            let vid = v["restore"]["volume_id"].as_str().unwrap_or_default().to_string();
            if wait {
                wait_cinder(c, "volume", &vid).await?;
            }
            out.object(&v["restore"], &[]);
        }
    }
    Ok(())
}
