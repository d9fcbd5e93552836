//! `proxlab`: settings, logging, then the chosen command (`serve` by default).

use clap::Parser;
use server::cli::{Cli, Command};
use server::{Settings, commands, telemetry};

fn main() -> anyhow::Result<()> {
    server::malloc::tune();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(cli.log_json || settings.log_json);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => commands::serve(settings).await,
        Command::Migrate => commands::migrate(settings).await,
        Command::User(user) => commands::user(settings, user).await,
        Command::Cluster(cluster) => commands::cluster(settings, cluster).await,
        Command::Jobs(jobs) => commands::jobs(settings, jobs).await,
        Command::Demo(demo) => commands::demo(settings, demo).await,
        Command::SetupLink => commands::setup_link(settings).await,
        Command::Backup { file } => commands::backup(settings, &file).await,
        Command::Restore { file } => commands::restore(settings, &file).await,
    }
}
