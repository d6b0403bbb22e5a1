//! Test harness: starts the real `nimbus` binary on an ephemeral port with a temporary data
//! directory, and drives it over HTTP and with the real clients (`openstack`, Huawei SDKs).
//!
//! Tests that use the region run on SQLite, and again on PostgreSQL when
//! `NIMBUS_TEST_POSTGRES_URL` is set (CI sets it; under `CI=true` it is required).
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "admin-secret-1";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The Python virtualenv with the real clients.
pub fn venv_bin(name: &str) -> PathBuf {
    let venv = std::env::var("NIMBUS_VENV").map(PathBuf::from).unwrap_or_else(|_| repo_root().join(".venv"));
    let p = venv.join("bin").join(name);
    assert!(p.exists(), "{} not found: run scripts/test.sh, which installs the clients", p.display());
    p
}

/// The line nimbus-tiny prints once it has applied its config drive.
pub const READY: &str = "nimbus-tiny: ready";

/// A region (SQLite) whose default image is nimbus-tiny, for tests that boot real guests;
/// `None` (the test is skipped) when the image is not built.
pub fn compute_region(env: &[(&str, &str)]) -> Option<Region> {
    let tiny = tiny_dir()?;
    let tiny = tiny.to_str().unwrap().to_string();
    let mut all: Vec<(&str, &str)> = vec![("NIMBUS_DEFAULT_IMAGE_DIR", tiny.as_str())];
    all.extend_from_slice(env);
    Some(Region::start_with(&Db::Sqlite, &all, None))
}

/// Waits until `needle` appears `count` times on a server's console; returns the log.
pub async fn wait_console(region: &Region, server: &str, needle: &str, count: usize) -> String {
    region
        .wait_for(300, &format!("{needle:?} x{count} on the console of {server}"), || async {
            let (ok, log, _) = region.openstack(&["console", "log", "show", server]);
            (ok && log.matches(needle).count() >= count).then_some(log)
        })
        .await
}

/// The default image built by `scripts/build-default-image.sh` (`NIMBUS_TINY_DIR`), for
/// tests that boot real guests. `None` (the test is skipped) outside CI when unset.
pub fn tiny_dir() -> Option<PathBuf> {
    match std::env::var("NIMBUS_TINY_DIR") {
        Ok(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("CI=true but NIMBUS_TINY_DIR is unset"),
        _ => {
            eprintln!("NIMBUS_TINY_DIR unset: build it with scripts/build-default-image.sh to run this test");
            None
        }
    }
}

/// QEMU processes whose command line names a guest under `instances` (pids).
pub fn qemu_pids(instances: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(instances) else { return Vec::new() };
    let mut pids = Vec::new();
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path().join("qemu.pid")) else { continue };
        let Ok(pid) = text.trim().parse::<u32>() else { continue };
        let marker = format!("guest={}", e.file_name().to_string_lossy());
        if std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).split('\0').any(|a| a == marker))
        {
            pids.push(pid);
        }
    }
    pids
}

/// Which store a region runs on.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite,
    Postgres(String),
}

/// Stores to run a test on.
pub fn databases() -> Vec<Db> {
    let mut out = vec![Db::Sqlite];
    match std::env::var("NIMBUS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => out.push(Db::Postgres(url)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("CI=true but NIMBUS_TEST_POSTGRES_URL is unset"),
        _ => eprintln!("NIMBUS_TEST_POSTGRES_URL unset: running on SQLite only"),
    }
    out
}

fn fresh_postgres_db(admin_url: &str) -> String {
    let name = format!("nimbus_it_{}_{}", std::process::id(), uuid_suffix());
    let status = Command::new("psql")
        .arg(admin_url)
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql");
    assert!(status.success(), "creating database {name}");
    let (base, query) = admin_url.split_once('?').map(|(b, q)| (b, Some(q))).unwrap_or((admin_url, None));
    let scheme_end = base.find("://").unwrap() + 3;
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut url = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

fn uuid_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros();
    format!("{t:x}{}", N.fetch_add(1, Ordering::SeqCst))
}

/// A running region.
pub struct Region {
    pub url: String,
    /// The S3 listener's URL.
    pub s3_url: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    child: Option<Child>,
    pub database_url: Option<String>,
    extra_env: Vec<(String, String)>,
    config: Option<PathBuf>,
    pub http: reqwest::Client,
}

impl Region {
    /// Starts a region on SQLite.
    pub fn start() -> Region {
        Self::start_with(&Db::Sqlite, &[], None)
    }

    /// Starts a region on the given store, with extra environment and an optional config file body.
    pub fn start_with(db: &Db, env: &[(&str, &str)], config_toml: Option<&str>) -> Region {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let config = config_toml.map(|body| {
            let p = tmp.path().join("nimbus.toml");
            std::fs::write(&p, body).unwrap();
            p
        });
        let database_url = match db {
            Db::Sqlite => None,
            Db::Postgres(admin) => Some(fresh_postgres_db(admin)),
        };
        let mut r = Region {
            url: String::new(),
            s3_url: String::new(),
            data_dir,
            _tmp: Some(tmp),
            child: None,
            database_url,
            extra_env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            config,
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
        };
        r.launch();
        r
    }

    /// `nimbus up` on the region's data directory, store and config (not started).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nimbus"));
        cmd.arg("up").arg("--data-dir").arg(&self.data_dir).args([
            "--listen",
            "127.0.0.1:0",
            "--s3-listen",
            "127.0.0.1:0",
        ]);
        if let Some(url) = &self.database_url {
            cmd.args(["--database-url", url]);
        }
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.env("NIMBUS_ADMIN_PASSWORD", ADMIN_PASSWORD).env_remove("NIMBUS_DATA_DIR");
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts the binary on the region's data directory and waits for `/healthz`.
    pub fn launch(&mut self) {
        let mut cmd = self.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawning nimbus");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s3 = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("[nimbus] {line}");
                if let Some(url) = line.trim().strip_prefix("object storage (S3): ") {
                    s3 = url.to_string();
                }
                if let Some(url) = line.strip_prefix("listening: ") {
                    let _ = tx.send((url.to_string(), s3.clone()));
                }
            }
        });
        let (url, s3_url) = rx.recv_timeout(Duration::from_secs(120)).expect("nimbus did not start");
        self.url = url;
        self.s3_url = s3_url;
        self.child = Some(child);
    }

    /// The running `nimbus` process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Replaces the config file the next launch reads.
    pub fn rewrite_config(&self, body: &str) {
        std::fs::write(self.config.as_ref().expect("a region started with a config file"), body).unwrap();
    }

    /// CPU seconds (user and system, all threads) the running `nimbus` has used so far,
    /// from `/proc` (benchmarks report what an operation cost the region).
    #[allow(dead_code)]
    pub fn cpu_seconds(&self) -> f64 {
        let pid = self.child.as_ref().expect("a running region").id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command name (which is in parentheses): utime and stime are the
        // 12th and 13th, in clock ticks.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / hz
    }

    /// `kill -9`, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: a clean stop.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("not running");
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        c.wait().unwrap()
    }

    /// Environment for the `openstack` CLI as a given user and project.
    pub fn os_env(&self, user: &str, password: &str, project: &str) -> Vec<(String, String)> {
        vec![
            ("OS_AUTH_URL".into(), format!("{}/identity/v3", self.url)),
            ("OS_USERNAME".into(), user.into()),
            ("OS_PASSWORD".into(), password.into()),
            ("OS_PROJECT_NAME".into(), project.into()),
            ("OS_USER_DOMAIN_NAME".into(), "Default".into()),
            ("OS_PROJECT_DOMAIN_NAME".into(), "Default".into()),
            ("OS_REGION_NAME".into(), "eu-west-0".into()),
            ("OS_IDENTITY_API_VERSION".into(), "3".into()),
        ]
    }

    /// Runs the real `openstack` CLI as admin; returns (success, stdout, stderr).
    pub fn openstack(&self, args: &[&str]) -> (bool, String, String) {
        self.openstack_as(&self.os_env("admin", ADMIN_PASSWORD, "admin"), args)
    }

    /// Runs the real `openstack` CLI with the given environment.
    pub fn openstack_as(&self, env: &[(String, String)], args: &[&str]) -> (bool, String, String) {
        let out = Command::new(venv_bin("openstack"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.data_dir.parent().unwrap())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("running openstack");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    /// Like [`openstack`] but parses `-f json` output and fails the test on error.
    pub fn openstack_json(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-f", "json"]);
        let (ok, out, err) = self.openstack(&all);
        assert!(ok, "openstack {args:?} failed: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("openstack {args:?}: bad json {e}: {out}"))
    }

    /// The admin's access key pair, from the data directory.
    pub fn admin_keys(&self) -> (String, String) {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(self.data_dir.join("admin-credentials.json")).unwrap())
                .unwrap();
        (v["access_key"].as_str().unwrap().into(), v["secret_key"].as_str().unwrap().into())
    }

    /// Issues a project-scoped token; returns (token, body).
    pub async fn token(&self, user: &str, password: &str, project: &str) -> (String, Value) {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}});
        let r = self.http.post(format!("{}/identity/v3/auth/tokens", self.url)).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "token for {user}/{project}");
        let token = r.headers()["x-subject-token"].to_str().unwrap().to_string();
        (token, r.json().await.unwrap())
    }

    pub async fn admin_token(&self) -> String {
        self.token("admin", ADMIN_PASSWORD, "admin").await.0
    }

    /// Sends a request with a token; returns (status, json body or Null).
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{}", self.url, path));
        if let Some(t) = token {
            req = req.header("X-Auth-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a project with a member user; returns (project_id, user_id).
    pub async fn tenant(&self, admin: &str, project: &str, user: &str, password: &str, role: &str) -> (String, String) {
        let (s, p) =
            self.call("POST", "/identity/v3/projects", Some(admin), Some(json!({"project": {"name": project}}))).await;
        assert_eq!(s, 201, "{p}");
        let pid = p["project"]["id"].as_str().unwrap().to_string();
        let (s, u) = self
            .call(
                "POST",
                "/identity/v3/users",
                Some(admin),
                Some(json!({"user": {"name": user, "password": password}})),
            )
            .await;
        assert_eq!(s, 201, "{u}");
        let uid = u["user"]["id"].as_str().unwrap().to_string();
        let (s, roles) = self.call("GET", &format!("/identity/v3/roles?name={role}"), Some(admin), None).await;
        assert_eq!(s, 200);
        let rid = roles["roles"][0]["id"].as_str().unwrap().to_string();
        let (s, _) =
            self.call("PUT", &format!("/identity/v3/projects/{pid}/users/{uid}/roles/{rid}"), Some(admin), None).await;
        assert_eq!(s, 204);
        (pid, uid)
    }

    /// A token of a user of another domain (password `<user>-pw-1`, as [`Region::account`]
    /// sets it) scoped to a project of that domain.
    pub async fn domain_token(&self, domain: &str, user: &str, project: &str) -> String {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": domain}, "password": format!("{user}-pw-1")}}},
            "scope": {"project": {"name": project, "domain": {"id": domain}}}}});
        let r = self.http.post(format!("{}/identity/v3/auth/tokens", self.url)).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "token for {user}");
        r.headers()["x-subject-token"].to_str().unwrap().to_string()
    }

    /// A customer account: a domain `name` with a project `<name>-prod` and users holding
    /// roles on it; returns (domain id, project id, user ids in order).
    pub async fn account(&self, admin: &str, name: &str, users: &[(&str, &str)]) -> (String, String, Vec<String>) {
        let call = |m: &'static str, p: String, b: Option<Value>| async move { self.call(m, &p, Some(admin), b).await };
        let (s, d) = call("POST", "/identity/v3/domains".into(), Some(json!({"domain": {"name": name}}))).await;
        assert_eq!(s, 201, "{d}");
        let domain = d["domain"]["id"].as_str().unwrap().to_string();
        let (s, p) = call(
            "POST",
            "/identity/v3/projects".into(),
            Some(json!({"project": {"name": format!("{name}-prod"), "domain_id": domain}})),
        )
        .await;
        assert_eq!(s, 201, "{p}");
        let project = p["project"]["id"].as_str().unwrap().to_string();
        let mut ids = Vec::new();
        for (user, role) in users {
            let (s, u) = call(
                "POST",
                "/identity/v3/users".into(),
                Some(json!({"user": {"name": user, "domain_id": domain, "password": format!("{user}-pw-1")}})),
            )
            .await;
            assert_eq!(s, 201, "{u}");
            let uid = u["user"]["id"].as_str().unwrap().to_string();
            let (_, roles) = call("GET", format!("/identity/v3/roles?name={role}"), None).await;
            let rid = roles["roles"][0]["id"].as_str().unwrap().to_string();
            let (s, _) = call("PUT", format!("/identity/v3/projects/{project}/users/{uid}/roles/{rid}"), None).await;
            assert_eq!(s, 204);
            ids.push(uid);
        }
        (domain, project, ids)
    }

    /// Polls until `f` returns Some, or panics after `secs`.
    pub async fn wait_for<T, F, Fut>(&self, secs: u64, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let start = Instant::now();
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.kill9();
        // Guests outlive nimbus by design; a failed test must not leave them running.
        for pid in qemu_pids(&self.data_dir.join("instances")) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        // So do the virtual networks' namespaces and DHCP servers.
        remove_network_plane(&self.data_dir.join("net"));
    }
}

/// Stops the DHCP servers and deletes the namespaces a region's network plane left under
/// `dir` (`<namespace>/<bridge>.pid`).
pub fn remove_network_plane(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for ns in entries.flatten() {
        if let Ok(files) = std::fs::read_dir(ns.path()) {
            for f in files.flatten() {
                if f.file_name().to_string_lossy().ends_with(".pid") {
                    if let Ok(pid) = std::fs::read_to_string(f.path()) {
                        let _ = Command::new("kill").args(["-TERM", pid.trim()]).status();
                    }
                }
            }
        }
        let _ = Command::new("ip").args(["netns", "del"]).arg(ns.file_name()).status();
    }
}

/// Runs one of the Huawei SDK check scripts against the region; fails the test unless every
/// check passed (the script's last line is `<name>: N passed, 0 failed`).
pub async fn run_sdk_check(region: &Region, db: &Db, script: &str) {
    run_sdk_check_with(region, db, script, &[]).await
}

/// [`run_sdk_check`] with more environment for the script (the resources it checks).
pub async fn run_sdk_check_with(region: &Region, db: &Db, script: &str, env: &[(&str, &str)]) {
    let (_, body) = region.token("admin", ADMIN_PASSWORD, "admin").await;
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let (ak, sk) = region.admin_keys();
    let out = std::process::Command::new(venv_bin("python"))
        .arg(repo_root().join("tests/clients").join(script))
        .env("NIMBUS_ENDPOINT", &region.url)
        .env("NIMBUS_ACCESS_KEY", ak)
        .env("NIMBUS_SECRET_KEY", sk)
        .env("NIMBUS_PROJECT_ID", &project)
        .env("NIMBUS_POLL_INTERVAL", "0.3")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains(" passed, 0 failed"), "{script} failed on {db:?}:\n{stdout}");
}

/// A guest's user data that watches its data disks (`/dev/vd[c-z]`): for each new disk it
/// prints `head N: ...` (the disk's first bytes as `head_of_disk`, a pipeline reading
/// `/dev/$n`, renders them), then writes `nimbus-pattern-SERIAL` to it and prints `wrote N`;
/// whenever the disks or their sizes change it prints `disks: N:SERIAL:SECTORS ...`.
pub fn disk_watch(head_of_disk: &str) -> String {
    r#"#!/bin/sh
(
last=""
while :; do
  now=""
  for d in /sys/block/vd[c-z]; do
    [ -e "$d" ] || continue
    n=${d##*/}; serial=$(cat $d/serial)
    now="$now $n:$serial:$(cat $d/size)"
    if [ ! -e /run/seen-$n-$serial ]; then
      echo "head $n: $({HEAD})."
      echo "nimbus-pattern-$serial" | dd of=/dev/$n conv=fsync 2>/dev/null && echo "wrote $n"
      touch /run/seen-$n-$serial
    fi
  done
  if [ "$now" != "$last" ]; then echo "disks:$now."; last="$now"; fi
  sleep 1
done
) &
"#
    .replace("{HEAD}", head_of_disk)
}

/// The serial a guest sees for a volume (its id's first 20 characters).
pub fn serial(volume_id: &str) -> &str {
    &volume_id[..20]
}
