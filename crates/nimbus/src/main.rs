//! `nimbus`: one binary for the whole region.
//!
//! `nimbus up` turns this machine into a region: it opens the store (embedded SQLite in the
//! data directory unless `--database-url` names PostgreSQL), bootstraps the region on first
//! start, runs the reconcilers' start-up pass (adopting whatever a previous run left), and
//! serves every API on one listener until SIGTERM. The other subcommands are a client of
//! those APIs (`cli`).

mod cli;
mod up;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "nimbus", version, about = "An open, self-hostable public cloud")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    client: cli::ClientOpts,
}

#[derive(Subcommand)]
enum Command {
    /// Run a region on this machine.
    Up(up::UpArgs),
    #[command(flatten)]
    Client(cli::ClientCmd),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // s3s logs every refused request (a bad signature, a denied access) as an
                // error; those are the client's, answered in S3's format, not ours.
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn,s3s=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Up(args) => runtime.block_on(up::run(args)),
        Command::Client(cmd) => {
            if let Err(e) = runtime.block_on(cli::run(cli.client, cmd)) {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
