//! `proxlab user add|set-password`: accounts from the command line, for the first admin and for
//! admins who automate. Passwords come from a no-echo prompt or from stdin, never from argv
//! (which other users of the machine can read in the process list).

use crate::cli::{SetPassword, UserAdd, UserCommand};
use crate::settings::Settings;
use anyhow::{Context, bail};
use lab::Services;
use std::io::{BufRead, IsTerminal};
use std::time::Duration;

pub async fn user(settings: Settings, command: UserCommand) -> anyhow::Result<()> {
    let services = crate::services::open_services(&settings).await?;
    // A new password ends the account's sessions. On PostgreSQL the serving instances hear
    // of it now and close its consoles; otherwise their relays' next re-check does.
    services.bridge_revocations(lab::revocation::Bridge::SendOnly);
    let done = match command {
        UserCommand::Add(add) => add_user(&services, add).await,
        UserCommand::SetPassword(set) => set_password(&services, set).await,
    };
    if !services.shut_down(Duration::from_secs(10)).await {
        tracing::warn!("the serving instances may not have heard of this change");
    }
    done
}

async fn add_user(services: &Services, add: UserAdd) -> anyhow::Result<()> {
    let password = read_password(add.password_stdin)?;
    let user = lab::auth::create_user(
        services,
        lab::auth::NewUser {
            username: add.name,
            display_name: add.display_name,
            email: add.email,
            role: add.role,
            password,
        },
    )
    .await?;
    // An admin now exists: any first-run setup link stops working.
    lab::auth::issue_setup_token(services).await?;
    let entry = lab::audit::Entry::by_name(
        lab::audit::COMMAND_LINE,
        lab::model::AuditAction::AccountCreated,
    )
    .object(format!("account {}", user.username))
    .detail(format!("role {}", user.role));
    super::audit_cli(services, entry).await;
    println!("Created {} ({}).", user.username, user.role);
    Ok(())
}

async fn set_password(services: &Services, set: SetPassword) -> anyhow::Result<()> {
    let Some(user) = lab::auth::find_user(services, &set.name).await? else {
        bail!("no account is named {}", set.name);
    };
    let password = read_password(set.password_stdin)?;
    lab::auth::reset_password(services, user.id, &password).await?;
    let entry = lab::audit::Entry::by_name(
        lab::audit::COMMAND_LINE,
        lab::model::AuditAction::PasswordChanged,
    )
    .object(format!("account {}", user.username));
    super::audit_cli(services, entry).await;
    println!(
        "Password changed for {}; their sessions were ended.",
        user.username
    );
    Ok(())
}

pub(super) fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for a password: pass it on stdin with --password-stdin");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Repeat it: ")?;
    if first != again {
        bail!("the two passwords do not match");
    }
    Ok(first)
}
