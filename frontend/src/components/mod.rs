//! Pieces of screens. Each takes its data as props (signals and callbacks)
//! and does no fetching of its own, except [`key_view`], which loads the
//! selected key through [`crate::api`].

pub mod breadcrumbs;
pub mod coord;
pub mod copy_button;
pub mod header;
pub mod key_view;
pub mod tree_list;
pub mod value_viewer;
