//! Pieces of screens. Each takes its data as props (signals and callbacks)
//! and does no fetching of its own, except [`key_view`], which loads the
//! selected key through [`crate::api`], and the write side ([`editor`],
//! [`history`], [`prefix_ops`]), which reads and writes through
//! [`crate::api::edit`], and the cluster operations ([`cluster_ops`]),
//! through [`crate::api::operations`].

pub mod breadcrumbs;
pub mod cluster_ops;
pub mod conflict;
pub mod coord;
pub mod copy_button;
pub mod decoded_value;
pub mod diff_view;
pub mod editor;
pub mod etcdctl_copy;
pub mod event_row;
pub mod header;
pub mod history;
pub mod key_view;
pub mod masked_value;
pub mod prefix_box;
pub mod prefix_ops;
pub mod read_notes;
pub mod stale_notice;
pub mod tree_list;
pub mod value_viewer;
pub mod wall;
