//! `proxlab cluster add|list|test|remove`: clusters from the command line. Secrets come from
//! stdin or an environment variable, never argv; an unpinned certificate's fingerprint is shown
//! and must be confirmed on a terminal, the way SSH asks about a new host key.

use crate::cli::{ClusterAdd, ClusterCommand};
use crate::settings::Settings;
use anyhow::{Context, bail};
use lab::Services;
use lab::model::ClusterForm;
use std::io::{BufRead, IsTerminal, Write};

pub async fn cluster(settings: Settings, command: ClusterCommand) -> anyhow::Result<()> {
    let services = crate::services::open_services(&settings).await?;
    match command {
        ClusterCommand::Add(add) => add_cluster(&services, *add).await,
        ClusterCommand::List => list(&services).await,
        ClusterCommand::Test { name } => test(&services, &name).await,
        ClusterCommand::Remove { name } => {
            let id = find(&services, &name).await?;
            lab::clusters::delete(&services, id).await?;
            super::audit_cli(
                &services,
                lab::audit::Entry::by_name(
                    lab::audit::COMMAND_LINE,
                    lab::model::AuditAction::ClusterRemoved,
                )
                .object(format!("cluster {name}"))
                .cluster(id),
            )
            .await;
            println!("Removed cluster {name}.");
            Ok(())
        }
    }
}

async fn add_cluster(services: &Services, add: ClusterAdd) -> anyhow::Result<()> {
    let secret = read_secret(&add)?;
    let fingerprint = match (&add.fingerprint, add.system_ca) {
        (Some(fp), _) => fp.clone(),
        (None, true) => String::new(),
        (None, false) => confirm_fingerprint(&add.urls[0]).await?,
    };
    let (auth_kind, auth_id) = match (&add.token_id, &add.user) {
        (Some(token), _) => ("token", token.clone()),
        (None, Some(user)) => ("password", user.clone()),
        (None, None) => bail!("give --token-id or --user"),
    };
    let form = ClusterForm {
        name: add.name.clone(),
        api_urls: add.urls.join("\n"),
        fingerprint,
        auth_kind: auth_kind.into(),
        auth_id,
        secret,
        admin_group: add.admin_group.clone().unwrap_or_default(),
        teacher_group: add.teacher_group.clone().unwrap_or_default(),
        student_group: add.student_group.clone().unwrap_or_default(),
        vm_subnets: add.vm_subnets.clone().unwrap_or_default(),
        ..Default::default()
    };
    // Tested before it is saved: a cluster with a wrong secret or fingerprint would otherwise
    // sit enabled, and every sync would be one more failed login in the node's log.
    let tested = lab::clusters::test_form(&form)
        .await
        .context("not added: the connection test failed")?;
    let view = lab::clusters::create(services, &form).await?;
    super::audit_cli(
        services,
        lab::audit::Entry::by_name(
            lab::audit::COMMAND_LINE,
            lab::model::AuditAction::ClusterAdded,
        )
        .object(format!("cluster {}", view.name))
        .cluster(view.id),
    )
    .await;
    println!("Added cluster {} (id {}).", view.name, view.id);
    print_test(&tested);
    Ok(())
}

fn read_secret(add: &ClusterAdd) -> anyhow::Result<String> {
    if let Some(var) = &add.secret_env {
        return std::env::var(var)
            .with_context(|| format!("environment variable {var} is not set"));
    }
    if add.secret_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the secret from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    super::user::read_password(false)
}

async fn confirm_fingerprint(url: &str) -> anyhow::Result<String> {
    let fingerprint = lab::clusters::fetch_fingerprint(url).await?;
    println!("The certificate of {url} has the SHA-256 fingerprint\n  {fingerprint}");
    if !std::io::stdin().is_terminal() {
        bail!("confirm it by passing --fingerprint {fingerprint} (no terminal to ask on)");
    }
    print!("Compare it with the node's (Datacenter > node > Certificates). Trust it? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not added: the fingerprint was not confirmed");
    }
    Ok(fingerprint)
}

async fn find(services: &Services, name: &str) -> anyhow::Result<i32> {
    lab::clusters::list(services)
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.id)
        .with_context(|| format!("no cluster is named {name}"))
}

async fn list(services: &Services) -> anyhow::Result<()> {
    let clusters = lab::clusters::list(services).await?;
    if clusters.is_empty() {
        println!("No clusters yet: proxlab cluster add NAME --url https://node:8006 …");
    }
    for c in clusters {
        println!(
            "{}\t{}\t{}\t{}\t{} guests\t{}",
            c.name,
            if c.enabled { "enabled" } else { "disabled" },
            c.api_urls.join(","),
            c.auth_id,
            c.sync.guests,
            c.sync.last_error.as_deref().unwrap_or("ok"),
        );
    }
    Ok(())
}

async fn test(services: &Services, name: &str) -> anyhow::Result<()> {
    let id = find(services, name).await?;
    let t = lab::clusters::test(services, id).await?;
    print_test(&t);
    Ok(())
}

fn print_test(t: &lab::model::ClusterTest) {
    println!(
        "Connected: Proxmox VE {}, {}/{} nodes online, {} guests ({} ms).",
        t.version, t.nodes_online, t.nodes_total, t.guests, t.millis
    );
    for warning in &t.warnings {
        println!("Warning: {warning}");
    }
}
