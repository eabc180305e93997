//! archtui's front-ends: the command line (`cli`), the console's loop
//! (`tui`), its view (`ui`), and the wizard's one driver with its
//! full-screen front-end (`wizard`). The pure core is `archtui_core`; what
//! talks to hosts is `archtui_remote`. `src/main.rs` is the thin binary.

pub mod cli;
pub mod debuglog;
pub mod output;
pub mod term;
pub mod tui;
pub mod ui;
pub mod wizard;
