//! The `nimbus` command line as a client of the region's APIs, for what the `openstack` CLI
//! does not cover (billing and reserved instances, support, Cloud Trace) and the common flows
//! (servers, volumes and backups, buckets and objects) with progress while the region works
//! or bytes move. It signs in with the
//! `OS_*` settings of `admin-openrc.sh` and prints tables, or JSON with `-f json`; an API's
//! refusal is printed with the API's message and the command exits with status 1.

pub mod billing;
pub mod client;
pub mod compute;
pub mod output;
pub mod storage;
pub mod support;

use clap::Subcommand;
use client::{Client, Credentials};
use output::{Format, Out};

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCmd {
    /// Prices, invoices, budgets and alerts.
    #[command(subcommand)]
    Billing(billing::BillingCmd),
    /// Reserved instances.
    #[command(subcommand)]
    Ri(billing::RiCmd),
    /// Support plans, contacts, tickets, engineer invitations and change notices.
    #[command(subcommand)]
    Support(support::SupportCmd),
    /// Servers: list, show, create (--wait), start, stop, delete, console.
    #[command(subcommand)]
    Server(compute::ServerCmd),
    /// Volumes and their backups.
    #[command(subcommand)]
    Volume(compute::VolumeCmd),
    /// Buckets and objects (uploads and downloads with a progress bar).
    #[command(subcommand)]
    Bucket(storage::BucketCmd),
    /// Cloud Trace: the project's audit traces, newest first.
    Traces {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Only traces of this service (IAM, ECS, EVS, VPC, OBS, BSS, Support...).
        #[arg(long)]
        service: Option<String>,
    },
}

/// Options every client command takes.
#[derive(Debug, clap::Args)]
pub struct ClientOpts {
    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,
    #[command(flatten)]
    pub credentials: Credentials,
}

/// Runs a client command.
pub async fn run(opts: ClientOpts, cmd: ClientCmd) -> anyhow::Result<()> {
    let client = Client::login(&opts.credentials).await?;
    let out = Out { format: opts.format };
    match cmd {
        ClientCmd::Billing(c) => billing::run(&client, &out, c).await,
        ClientCmd::Ri(c) => billing::run_ri(&client, &out, c).await,
        ClientCmd::Support(c) => support::run(&client, &out, c).await,
        ClientCmd::Server(c) => compute::run_server(&client, &out, c).await,
        ClientCmd::Volume(c) => compute::run_volume(&client, &out, c).await,
        ClientCmd::Bucket(c) => storage::run(&client, &out, c).await,
        ClientCmd::Traces { limit, service } => {
            let mut path = format!("/v3/{}/traces?limit={limit}", client.project_id);
            if let Some(s) = service {
                path.push_str(&format!("&service_type={s}"));
            }
            let v = client.get(&path).await?;
            out.list(
                &v["traces"],
                &[
                    ("Time", "time"),
                    ("Service", "service_type"),
                    ("Operation", "trace_name"),
                    ("Resource", "resource_name"),
                    ("User", "user.name"),
                    ("Code", "code"),
                    ("Rating", "trace_rating"),
                ],
            );
            Ok(())
        }
    }
}
