//! Classes: the list, the teacher's wizard, the class page with live deployment progress,
//! the invite (join) page for students, and the class as its students see it.

mod about_page;
mod api;
mod class_page;
mod classes_page;
mod join_page;
mod wizard_page;

pub use about_page::ClassAboutPage;
pub use api::*;
pub use class_page::ClassPage;
pub use classes_page::ClassesPage;
pub use join_page::JoinPage;
pub use wizard_page::WizardPage;
