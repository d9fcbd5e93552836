//! The admin "Users" page: search, create, change role, reset password, disable, delete, and
//! the self-registration switch. Every form is an `ActionForm`, so the page works before the
//! wasm loads; the list refreshes after each action.

use super::{
    CreateUser, DeleteUser, ResetPassword, SetDisabled, SetRegistration, SetRole, list_users,
};
use crate::auth::registration_open;
use crate::ids;
use crate::layout::{FormError, RequireRole, action_error};
use crate::when::format_time;
use lab::model::{MIN_PASSWORD_LEN, Role, UserView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateUser>,
    role: ServerAction<SetRole>,
    password: ServerAction<ResetPassword>,
    disabled: ServerAction<SetDisabled>,
    delete: ServerAction<DeleteUser>,
    registration: ServerAction<SetRegistration>,
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let actions = Actions {
        create: ServerAction::new(),
        role: ServerAction::new(),
        password: ServerAction::new(),
        disabled: ServerAction::new(),
        delete: ServerAction::new(),
        registration: ServerAction::new(),
    };
    let query = use_query_map();
    let search = move || query.with(|q| q.get("q").unwrap_or_default());
    let changes = move || {
        (
            actions.create.version().get(),
            actions.role.version().get(),
            actions.password.version().get(),
            actions.disabled.version().get(),
            actions.delete.version().get(),
        )
    };
    let users = Resource::new(move || (search(), changes()), |(q, _)| list_users(q));
    let registration = Resource::new(
        move || actions.registration.version().get(),
        |_| registration_open(),
    );
    let row_error = Signal::derive({
        let errors = [
            action_error(actions.role),
            action_error(actions.password),
            action_error(actions.disabled),
            action_error(actions.delete),
        ];
        move || errors.iter().find_map(|e| e.get())
    });
    view! {
        <Title text="Users" />
        <RequireRole role=Role::Admin>
            <h1>"Users"</h1>
            <div class="columns">
                <CreateUserForm action=actions.create />
                <section class="card">
                    <h2>"Self-registration"</h2>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            let open = registration.await.unwrap_or(false);
                            view! {
                                <p>{if open { "Anyone can create a student account." } else { "Closed: only admins create accounts." }}</p>
                                <ActionForm action=actions.registration>
                                    <input type="hidden" name="open" value=(!open).to_string() />
                                    <button type="submit">{if open { "Close registration" } else { "Open registration" }}</button>
                                </ActionForm>
                            }
                        })}
                    </Suspense>
                </section>
            </div>
            <section class="card">
                <form method="get" class="search" role="search">
                    <label for="q" class="visually-hidden">"Search users"</label>
                    <input id="q" name="q" type="search" placeholder="Search by name or email" value=search />
                    <button type="submit">"Search"</button>
                </form>
                <FormError message=row_error />
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match users.await {
                            Ok(list) if list.is_empty() => view! { <p class="empty">"No account matches."</p> }.into_any(),
                            Ok(list) => view! { <UserTable users=list actions /> }.into_any(),
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </RequireRole>
    }
}

#[component]
fn CreateUserForm(action: ServerAction<CreateUser>) -> impl IntoView {
    let error = action_error(action);
    let created = move || match action.value().get() {
        Some(Ok(u)) => Some(format!("Created {} ({}).", u.username, u.role)),
        _ => None,
    };
    view! {
        <section class="card">
            <h2>"Create an account"</h2>
            <ActionForm action>
                <label for="new-username">"Username"</label>
                <input id="new-username" name="username" required maxlength="32" autocomplete="off" />
                <label for="new-display-name">"Display name"</label>
                <input id="new-display-name" name="display_name" maxlength="80" autocomplete="off" />
                <label for="new-email">"Email (optional)"</label>
                <input id="new-email" name="email" type="email" maxlength="254" autocomplete="off" />
                <label for="new-role">"Role"</label>
                <select id="new-role" name="role">
                    <option value="student">"Student"</option>
                    <option value="teacher">"Teacher"</option>
                    <option value="admin">"Admin"</option>
                </select>
                <label for="new-password">"Initial password"</label>
                <input id="new-password" name="password" type="password" required
                    minlength=MIN_PASSWORD_LEN maxlength="256" autocomplete="new-password" />
                <FormError message=error />
                {move || created().map(|m| view! { <p class="notice" role="status" id=ids::FORM_NOTICE>{m}</p> })}
                <button type="submit" class="primary">"Create"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn UserTable(users: Vec<UserView>, actions: Actions) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table id=ids::USERS_TABLE>
                <thead>
                    <tr>
                        <th scope="col">"Username"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Last sign-in"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    {users.into_iter().map(|user| view! { <UserRow user actions /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn UserRow(user: UserView, actions: Actions) -> impl IntoView {
    let id = user.id.to_string();
    let (id_role, id_disabled, id_password) = (id.clone(), id.clone(), id.clone());
    let row_id = format!("user-{}", user.username);
    let confirm = format!("Delete {} for good?", user.username);
    view! {
        <tr id=row_id data-username=user.username.clone()>
            <td>{user.username.clone()}</td>
            <td>
                {user.display_name.clone()}
                {user.email.clone().map(|e| view! { <br /><span class="muted">{e}</span> })}
            </td>
            <td>
                <ActionForm action=actions.role>
                    <input type="hidden" name="user_id" value=id_role />
                    <label class="visually-hidden" for=format!("role-{}", user.id)>"Role"</label>
                    <select id=format!("role-{}", user.id) name="role">
                        {Role::ALL.into_iter().rev().map(|r| view! {
                            <option value=r.as_str() selected=r == user.role>{r.as_str()}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class="small">"Set"</button>
                </ActionForm>
            </td>
            <td>{if user.disabled { "disabled" } else { "active" }}</td>
            <td>{user.last_login_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
            <td class="row-actions">
                <ActionForm action=actions.disabled>
                    <input type="hidden" name="user_id" value=id_disabled />
                    <input type="hidden" name="disabled" value=(!user.disabled).to_string() />
                    <button type="submit" class="small">{if user.disabled { "Enable" } else { "Disable" }}</button>
                </ActionForm>
                <details>
                    <summary class="small">"Reset password"</summary>
                    <ActionForm action=actions.password>
                        <input type="hidden" name="user_id" value=id_password />
                        <label for=format!("pw-{}", user.id)>"New password"</label>
                        <input id=format!("pw-{}", user.id) name="password" type="password" required
                            minlength=MIN_PASSWORD_LEN maxlength="256" autocomplete="new-password" />
                        <button type="submit" class="small">"Set password"</button>
                    </ActionForm>
                </details>
                <details>
                    <summary class="small danger">"Delete"</summary>
                    <ActionForm action=actions.delete>
                        <input type="hidden" name="user_id" value=id />
                        <p>{confirm}</p>
                        <button type="submit" class="small danger">"Delete account"</button>
                    </ActionForm>
                </details>
            </td>
        </tr>
    }
}
