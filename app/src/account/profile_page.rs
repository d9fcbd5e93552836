//! The profile page: display name, email, and the password change (which signs the user out
//! everywhere else).

use super::register_page::PasswordPair;
use crate::auth::{ChangePassword, use_auth};
use crate::ids;
use crate::layout::{FormError, RequireRole, action_error};
use lab::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Profile" />
        <RequireRole role=Role::Student>
            <Profile />
        </RequireRole>
    }
}

#[component]
fn Profile() -> impl IntoView {
    let auth = use_auth();
    let password = ServerAction::<ChangePassword>::new();
    let profile_error = action_error(auth.profile);
    let password_error = action_error(password);
    let profile_saved = move || matches!(auth.profile.value().get(), Some(Ok(_)));
    let password_saved = move || matches!(password.value().get(), Some(Ok(_)));
    view! {
        <h1>"Profile"</h1>
        <div class="columns">
            <section class="card">
                <h2>"About you"</h2>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        auth.me.await.ok().flatten().map(|me| view! {
                            <p class="muted">{format!("Username {} · role {}", me.username, me.role)}</p>
                            <ActionForm action=auth.profile>
                                <label for="display_name">"Display name"</label>
                                <input id="display_name" name="display_name" maxlength="80" value=me.display_name.clone() />
                                <label for="email">"Email (optional)"</label>
                                <input id="email" name="email" type="email" maxlength="254" value=me.email.clone().unwrap_or_default() />
                                <FormError message=profile_error />
                                <Show when=profile_saved>
                                    <p class="notice" role="status" id=ids::FORM_NOTICE>"Saved."</p>
                                </Show>
                                <button type="submit" class="primary">"Save"</button>
                            </ActionForm>
                        })
                    })}
                </Suspense>
            </section>
            <section class="card">
                <h2>"Change password"</h2>
                <ActionForm action=password>
                    <label for="current_password">"Current password"</label>
                    <input id="current_password" name="current_password" type="password" autocomplete="current-password" required maxlength="256" />
                    <PasswordPair name="new_password" label="New password" />
                    <FormError message=password_error />
                    <Show when=password_saved>
                        <p class="notice" role="status" id=ids::FORM_NOTICE>"Password changed. Your other sessions were signed out."</p>
                    </Show>
                    <button type="submit" class="primary">"Change password"</button>
                </ActionForm>
            </section>
        </div>
    }
}
