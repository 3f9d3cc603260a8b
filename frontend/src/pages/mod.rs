//! Whole screens, one per route. Pages own the state of a screen (what is
//! loaded, where the user is) and hand it to [`crate::components`].

pub mod audit;
pub mod browse;
pub mod cluster;
pub mod coord;
pub mod events;
pub mod login;
pub mod not_found;
pub mod search;
pub mod sessions;
pub mod users;
pub mod wall;
