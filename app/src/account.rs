//! The account pages: login, self-registration, first-run setup and the profile. They sit
//! above the layout they use; who is signed in (the `Auth` context) and the account server
//! functions are in [`crate::auth`], below the layout.

mod login_page;
mod profile_page;
mod register_page;
mod setup_page;

pub use login_page::LoginPage;
pub use profile_page::ProfilePage;
pub use register_page::RegisterPage;
pub use setup_page::SetupPage;
