//! Account server functions, under `/api/auth/`. Each one: find who is asking, call one `lab`
//! function, map the error.

use crate::AppError;
use lab::model::Me;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::audited;
#[cfg(feature = "ssr")]
use crate::session::{self, services};
#[cfg(feature = "ssr")]
use lab::audit::Entry;
#[cfg(feature = "ssr")]
use lab::model::AuditAction;

/// The signed-in user, or `None`.
#[server(endpoint = "auth/me")]
pub async fn current_user() -> Result<Option<Me>, AppError> {
    Ok(session::optional_session().await?.map(|s| s.user.into()))
}

/// Signs in with a local account; sets the session cookie and goes to `next` (a local path).
#[server(endpoint = "auth/login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    let services = services()?;
    let addr = session::client_addr();
    let result = lab::auth::login(
        &services,
        lab::auth::LoginAttempt {
            username: &username,
            password: &password,
            client_addr: addr.as_deref(),
        },
    )
    .await;
    // Who tried: the account, or the name as typed (a failed sign-in names no account).
    let entry = match &result {
        Ok((user, _)) => Entry::by(user, AuditAction::SignIn),
        Err(lab::Error::Throttled { .. }) => {
            Entry::by_name(username.trim(), AuditAction::SignInThrottled)
        }
        Err(_) => Entry::by_name(username.trim(), AuditAction::SignInFailed),
    };
    audited::record(entry.object("the portal"), &result).await;
    let (_, token) = result?;
    session::set_session_cookie(&token);
    leptos_axum::redirect(&session::safe_next(next.as_deref().unwrap_or("/")));
    Ok(())
}

/// Signs out: the session row is deleted and the cookie cleared.
#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    if let Some(token) = session::session_token() {
        let services = services()?;
        if let Ok(Some(s)) = lab::auth::resolve_session(&services, &token).await {
            audited::record(
                Entry::by(&s.user, AuditAction::SignOut).object("the portal"),
                &Ok::<(), lab::Error>(()),
            )
            .await;
        }
        lab::auth::end_session(&services, &token).await?;
    }
    session::clear_session_cookie();
    leptos_axum::redirect(crate::ids::ROUTE_LOGIN);
    Ok(())
}

/// Whether self-registration is open (the login page shows the link only then).
#[server(endpoint = "auth/registration-open")]
pub async fn registration_open() -> Result<bool, AppError> {
    Ok(lab::site::registration_open(&services()?).await?)
}

/// Creates a student account (when registration is open) and signs it in.
#[server(endpoint = "auth/register")]
pub async fn register(
    username: String,
    display_name: String,
    password: String,
    password_confirm: String,
    #[server(default)] next: Option<String>,
) -> Result<(), AppError> {
    let services = services()?;
    if !lab::site::registration_open(&services).await? {
        return Err(AppError::Forbidden);
    }
    same_passwords(&password, &password_confirm)?;
    let new = new_account(username, display_name, lab::model::Role::Student, password);
    let name = new.username.trim().to_owned();
    let result = lab::auth::create_user(&services, new).await;
    let entry = Entry::by_name(&name, AuditAction::Registered).object(format!("account {name}"));
    audited::record(entry, &result).await;
    let user = result?;
    start_session_and_go_home(&services, user.id).await?;
    // An invite link sent the visitor here: back to it once signed in.
    if let Some(next) = next.filter(|n| !n.is_empty()) {
        leptos_axum::redirect(&session::safe_next(&next));
    }
    Ok(())
}

/// Whether a first-run setup link is still valid.
#[server(endpoint = "auth/setup-status")]
pub async fn setup_status(token: String) -> Result<bool, AppError> {
    Ok(lab::auth::setup_token_is_valid(&services()?, &token).await?)
}

/// Creates the first admin with the one-time setup link, and signs them in.
#[server(endpoint = "auth/setup")]
pub async fn complete_setup(
    token: String,
    username: String,
    display_name: String,
    password: String,
    password_confirm: String,
) -> Result<(), AppError> {
    let services = services()?;
    same_passwords(&password, &password_confirm)?;
    let new = new_account(username, display_name, lab::model::Role::Admin, password);
    let name = new.username.trim().to_owned();
    let result = lab::auth::complete_setup(&services, &token, new).await;
    let entry = Entry::by_name(&name, AuditAction::AccountCreated)
        .object(format!("account {name}"))
        .detail("the first admin, with the setup link");
    audited::record(entry, &result).await;
    let admin = result?;
    start_session_and_go_home(&services, admin.id).await
}

/// Changes the signed-in user's display name and email.
#[server(endpoint = "auth/profile")]
pub async fn update_profile(display_name: String, email: String) -> Result<Me, AppError> {
    let me = session::session().await?;
    let email = Some(email.as_str()).filter(|e| !e.trim().is_empty());
    let result = lab::auth::update_profile(&services()?, me.user.id, &display_name, email).await;
    let entry = Entry::by(&me.user, AuditAction::AccountChanged)
        .object(format!("account {}", me.user.username))
        .detail("own name and email");
    audited::record(entry, &result).await;
    Ok(result?)
}

/// Changes the signed-in user's password; their other sessions end.
#[server(endpoint = "auth/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    new_password_confirm: String,
) -> Result<(), AppError> {
    let me = session::session().await?;
    same_passwords(&new_password, &new_password_confirm)?;
    let result = lab::auth::change_password(
        &services()?,
        me.user.id,
        &current_password,
        &new_password,
        &me.token,
    )
    .await;
    let entry = Entry::by(&me.user, AuditAction::PasswordChanged)
        .object(format!("account {}", me.user.username))
        .detail("own password");
    audited::record(entry, &result).await;
    Ok(result?)
}

#[cfg(feature = "ssr")]
fn new_account(
    username: String,
    display_name: String,
    role: lab::model::Role,
    password: String,
) -> lab::auth::NewUser {
    lab::auth::NewUser {
        username,
        display_name,
        email: None,
        role,
        password,
    }
}

#[cfg(feature = "ssr")]
fn same_passwords(a: &str, b: &str) -> Result<(), AppError> {
    if a == b {
        Ok(())
    } else {
        Err(AppError::Invalid("The two passwords do not match.".into()))
    }
}

#[cfg(feature = "ssr")]
async fn start_session_and_go_home(services: &lab::Services, user_id: i32) -> Result<(), AppError> {
    let token = lab::auth::start_session(services, user_id, session::client_addr()).await?;
    session::set_session_cookie(&token);
    leptos_axum::redirect(crate::ids::ROUTE_HOME);
    Ok(())
}
