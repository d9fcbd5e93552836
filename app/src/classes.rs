//! Classes: the list, the teacher's wizard, the class page with live deployment progress,
//! and the invite (join) page for students.

mod api;
mod class_page;
mod classes_page;
mod join_page;
mod wizard_page;

pub use api::*;
pub use class_page::ClassPage;
pub use classes_page::ClassesPage;
pub use join_page::JoinPage;
pub use wizard_page::WizardPage;
