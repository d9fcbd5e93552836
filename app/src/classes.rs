//! Classes, for teachers.

mod classes_page;

pub use classes_page::ClassesPage;
