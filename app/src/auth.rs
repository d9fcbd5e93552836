//! Who is signed in: the `Auth` context that tells every component (the layout's header and
//! guards too), and the account server functions behind it (login, logout, registration,
//! first-run setup, profile). The pages that use them are in [`crate::account`].

mod api;

pub use api::*;

use crate::AppError;
use lab::model::Me;
use leptos::prelude::*;

/// Who is signed in, refreshed whenever an action that changes it completes.
#[derive(Clone, Copy)]
pub struct Auth {
    pub me: Resource<Result<Option<Me>, AppError>>,
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub register: ServerAction<Register>,
    pub setup: ServerAction<CompleteSetup>,
    pub profile: ServerAction<UpdateProfile>,
}

/// Provides [`Auth`] to its children (inside `<Router>`: its components use the router).
#[component]
pub fn AuthProvider(children: Children) -> impl IntoView {
    provide_auth();
    children()
}

fn provide_auth() {
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let register = ServerAction::<Register>::new();
    let setup = ServerAction::<CompleteSetup>::new();
    let profile = ServerAction::<UpdateProfile>::new();
    let me = Resource::new(
        move || {
            (
                login.version().get(),
                logout.version().get(),
                register.version().get(),
                setup.version().get(),
                profile.version().get(),
            )
        },
        |_| current_user(),
    );
    provide_context(Auth {
        me,
        login,
        logout,
        register,
        setup,
        profile,
    });
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}
