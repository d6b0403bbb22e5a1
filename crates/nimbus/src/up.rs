//! `nimbus up`: start (and on first run, create) a region.

use anyhow::{bail, Context};
use clap::Args;
use nimbus_control::{reconcile, Control, RegionConfig};
use nimbus_drivers::hypervisor::qemu::Accel;
use nimbus_drivers::hypervisor::Hypervisor;
use nimbus_store::Store;
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of `nimbus up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Where the region keeps its state.
    #[arg(long, env = "NIMBUS_DATA_DIR", default_value = ".nimbus")]
    data_dir: PathBuf,
    /// Address of the API listener (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Address of the S3 listener.
    #[arg(long, default_value = "127.0.0.1:9000")]
    s3_listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://...` (default: SQLite inside the data directory).
    #[arg(long, env = "NIMBUS_DATABASE_URL")]
    database_url: Option<String>,
    /// A TOML file of region settings (region name, zones, token lifetime, quotas...).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The output of `scripts/build-default-image.sh`: registers `nimbus-tiny` as the public
    /// default image on first start and probes whether KVM really runs a guest.
    #[arg(long, env = "NIMBUS_DEFAULT_IMAGE_DIR")]
    default_image_dir: Option<PathBuf>,
}

/// The admin's credentials, kept (mode 0600) beside the store so the openrc file can be
/// rewritten on every start; only the argon2id hash is in the database.
#[derive(Serialize, Deserialize)]
struct AdminCredentials {
    password: String,
    access_key: String,
    secret_key: String,
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn write_client_files(data_dir: &Path, cfg: &RegionConfig, creds: &AdminCredentials) -> anyhow::Result<()> {
    let auth_url = format!("{}/identity/v3", cfg.public_url);
    let openrc = format!(
        "# Nimbus region {region}: admin credentials. Source this file: . {path}\n\
         export OS_AUTH_URL={auth_url}\n\
         export OS_USERNAME=admin\n\
         export OS_PASSWORD={password}\n\
         export OS_PROJECT_NAME=admin\n\
         export OS_USER_DOMAIN_NAME=Default\n\
         export OS_PROJECT_DOMAIN_NAME=Default\n\
         export OS_REGION_NAME={region}\n\
         export OS_IDENTITY_API_VERSION=3\n\
         export NIMBUS_ENDPOINT={endpoint}\n\
         export NIMBUS_ACCESS_KEY={ak}\n\
         export NIMBUS_SECRET_KEY={sk}\n\
         export AWS_ACCESS_KEY_ID={ak}\n\
         export AWS_SECRET_ACCESS_KEY={sk}\n\
         export NIMBUS_S3_ENDPOINT={s3}\n",
        region = cfg.region,
        path = data_dir.join("admin-openrc.sh").display(),
        password = shell_quote(&creds.password),
        endpoint = cfg.public_url,
        ak = creds.access_key,
        sk = creds.secret_key,
        s3 = cfg.s3_url,
    );
    write_private(&data_dir.join("admin-openrc.sh"), &openrc)?;
    let clouds = format!(
        "clouds:\n  nimbus:\n    auth:\n      auth_url: {auth_url}\n      username: admin\n      password: {password}\n      \
         project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    \
         region_name: {region}\n    identity_api_version: 3\n",
        password = serde_json::to_string(&creds.password)?,
        region = cfg.region,
    );
    write_private(&data_dir.join("clouds.yaml"), &clouds)
}

fn load_config(path: Option<&Path>) -> anyhow::Result<RegionConfig> {
    match path {
        None => Ok(RegionConfig::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))
        }
    }
}

/// Runs the region until SIGTERM or Ctrl-C.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let mut cfg = load_config(args.config.as_deref())?;
    if cfg.availability_zones.is_empty() {
        bail!("the region needs at least one availability zone");
    }
    if let Ok(ms) = std::env::var("NIMBUS_JOB_STEP_DELAY_MS") {
        cfg.job_step_delay_ms = ms.parse().context("NIMBUS_JOB_STEP_DELAY_MS")?;
    }

    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let s3_listener = tokio::net::TcpListener::bind(args.s3_listen)
        .await
        .with_context(|| format!("binding the S3 listener {}", args.s3_listen))?;
    let s3_addr = s3_listener.local_addr()?;
    cfg.public_url = format!("http://{addr}");
    cfg.s3_url = format!("http://{s3_addr}");

    let url = args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", data_dir.join("nimbus.db").display()));
    let store = Store::connect(&url).await.map_err(|e| anyhow::anyhow!("opening the store: {e}"))?;
    let images =
        nimbus_drivers::image_files::ImageFiles::new(data_dir.join("images")).context("creating the image store")?;
    // Guests use TCG until the KVM probe (after the listener is up) says KVM really works.
    let qemu = Arc::new(
        nimbus_drivers::hypervisor::qemu::Qemu::new(data_dir.join("instances"), Accel::Tcg)
            .context("creating the instances directory")?,
    );
    let hypervisor: Arc<dyn Hypervisor> = match cfg.hypervisor.as_str() {
        "qemu" => qemu.clone(),
        "simulated" => {
            println!("  hypervisor: SIMULATED (guests exist only in memory; for tests, never for service)");
            Arc::new(nimbus_drivers::hypervisor::simulated::Simulated::default())
        }
        other => bail!("unknown hypervisor {other:?}: use qemu or simulated"),
    };
    let objects = nimbus_drivers::object_files::ObjectFiles::new(data_dir.join("objects"))
        .context("creating the object store")?;
    let volumes = nimbus_drivers::volume_files::VolumeFiles::new(data_dir.join("volumes"))
        .context("creating the volume store")?;
    // Virtual networks live in namespaces this process makes; without them (not root, no
    // dnsmasq) the networking API still answers and servers keep user-mode networking.
    let network = if nimbus_drivers::netns::NetworkPlane::available().await {
        Some(nimbus_drivers::netns::NetworkPlane::new(data_dir.join("net")).context("creating the network plane")?)
    } else {
        println!(
            "  networking: no network namespaces here (needs root, iproute2 and dnsmasq): virtual networks are \
             recorded but have no data plane, servers use user-mode networking"
        );
        None
    };
    let control =
        Control::new(store, cfg.clone(), nimbus_control::Drivers { images, objects, volumes, hypervisor, network });
    if let Err(e) = control.check_region_key().await {
        // Leave no new key behind, or the next start would take it for the real one.
        let _ = std::fs::remove_file(data_dir.join("keys").join("obs-sse.key"));
        bail!("{e}");
    }
    if let Err(e) = control.check_volume_key().await {
        let _ = std::fs::remove_file(data_dir.join("keys").join("evs.key"));
        bail!("{e}");
    }
    match control.sweep_object_partials().await {
        Ok(0) => {}
        Ok(n) => println!("  removed {n} partial object upload(s) a crash left"),
        Err(e) => bail!("sweeping the object store: {e}"),
    }

    let creds_path = data_dir.join("admin-credentials.json");
    let existing: Option<AdminCredentials> =
        std::fs::read_to_string(&creds_path).ok().and_then(|t| serde_json::from_str(&t).ok());
    let password = std::env::var("NIMBUS_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| existing.as_ref().map(|c| c.password.clone()))
        .unwrap_or_else(|| Alphanumeric.sample_string(&mut rand::thread_rng(), 20));
    let outcome = control.bootstrap(&password).await.map_err(|e| anyhow::anyhow!("bootstrapping the region: {e}"))?;
    let creds = match (outcome.access_key, existing) {
        (Some((access_key, secret_key)), _) => {
            let c = AdminCredentials { password: password.clone(), access_key, secret_key };
            write_private(&creds_path, &serde_json::to_string_pretty(&c)?)?;
            println!("Created region {} with admin user 'admin', password: {password}", cfg.region);
            Some(c)
        }
        (None, Some(c)) => Some(c),
        (None, None) => {
            tracing::warn!("admin credentials file missing: admin-openrc.sh not rewritten");
            None
        }
    };
    if let Some(c) = &creds {
        write_client_files(&data_dir, &cfg, c)?;
    }

    control.load_price_list().await.map_err(|e| anyhow::anyhow!("loading the price list: {e}"))?;

    let external =
        control.ensure_external_network().await.map_err(|e| anyhow::anyhow!("making the external network: {e}"))?;

    if let Some(dir) = &args.default_image_dir {
        let qcow2 = dir.join("nimbus-tiny.qcow2");
        match control.ensure_default_image(&qcow2).await {
            Ok(Some(id)) => println!("Registered the default public image nimbus-tiny ({id})"),
            Ok(None) => {}
            Err(e) => bail!("registering the default image from {}: {e}", qcow2.display()),
        }
    }

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut tasks = reconcile::start(control.clone(), reconcile::all(), shutdown_rx.clone()).await;
    tasks.push(tokio::spawn(nimbus_s3::serve(s3_listener, control.clone(), shutdown_rx)));

    let app = nimbus_api::app(control.clone());
    println!("Nimbus region {} serving on http://{addr}", cfg.region);
    println!("  availability zones: {}", cfg.availability_zones.join(", "));
    println!("  store: {}", if url.starts_with("sqlite:") { "SQLite (embedded)" } else { "PostgreSQL" });
    println!("  credentials: . {}", data_dir.join("admin-openrc.sh").display());
    println!("  object storage (S3): http://{s3_addr}");
    println!("  web console: http://{addr}/console/");
    if control.drivers().network.is_some() {
        // The external network's namespace stands for the internet: EIPs answer there.
        println!(
            "  external network: {} ({}), the internet's namespace: {}",
            cfg.external_network_name,
            cfg.external_network_cidr,
            nimbus_drivers::netns::namespace(&external)
        );
    }
    println!("listening: http://{addr}");
    if cfg.hypervisor == "qemu" {
        // After the listening line: a KVM that hangs would otherwise delay start-up.
        let kernel = args.default_image_dir.clone().map(|d| d.join("vmlinuz"));
        tokio::spawn(async move {
            let kvm = match &kernel {
                Some(k) => nimbus_drivers::hypervisor::qemu::probe_kvm(k, std::time::Duration::from_secs(10)).await,
                None => false,
            };
            if kvm {
                qemu.set_accel(Accel::Kvm);
                println!("  hypervisor: qemu-kvm (KVM runs guests here)");
            } else {
                println!(
                    "  hypervisor: qemu-tcg (KVM missing or unable to run a guest here; using software emulation)"
                );
            }
        });
    }
    serve(listener, app).await?;
    let _ = shutdown_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    if let Err(e) = control.flush_request_meter().await {
        tracing::warn!(error = %e, "writing the last object-storage request counts failed");
    }
    control.store().close().await;
    println!("Nimbus region {} stopped", cfg.region);
    Ok(())
}

async fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> anyhow::Result<()> {
    use axum::serve::ListenerExt;
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    // Small answers go out at once instead of waiting on the client's delayed ACK (Nagle).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
