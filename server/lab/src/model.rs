//! Wire types shared by the server and the browser: plain serde structs and the input rules
//! both sides check (the browser for quick feedback, the server because it must).

mod account;
mod role;

pub use account::{
    MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, Me, UserView, check_password_policy, normalize_username,
};
pub use role::Role;
