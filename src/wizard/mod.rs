//! The new-slave wizard's front-ends: the full-screen screen (`tui`) and
//! `archtui provision` (`crate::cli`), both over the state machine of
//! `archtui_core::wizard` and the executor of `archtui_remote::wizard`.

pub mod driver;
pub mod tui;
