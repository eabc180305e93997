//! archtui's pure core: plain data about the fleet and the logic over it.
//!
//! No tokio, openssh, bollard or tokio-postgres here (Cargo enforces it:
//! this crate cannot name them), and no clock: every function that needs
//! the time takes `now`. The edge (`archtui-remote`) observes the hosts and
//! carries out effects; the front-ends (`archtui`) draw and ask.

pub mod actions;
pub mod app;
pub mod config;
pub mod credentials;
pub mod envfile;
pub mod fleet;
pub mod health;
pub mod key;
pub mod keymap;
pub mod line_edit;
pub mod metrics;
pub mod model;
pub mod observation;
pub mod sanitize;
pub mod served;
pub mod status;
pub mod switchover;
pub mod verdict;
pub mod verify;
pub mod wizard;
