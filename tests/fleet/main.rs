//! The lab tests: one test binary (`cargo test --test lab`) against the
//! local fleet lab (tests/lab), one module per area, with the helpers they
//! share in `common`. Without `ARCHTUI_LAB=1` every lab test is reported
//! as ignored (build.rs), never as passed.
//!
//! Lab tests change shared hosts, so they run one at a time: tests/run
//! passes `--test-threads=1`, and `common::lab` holds a lock besides.
//! One area, or one test: `tests/run --test lab drills::`,
//! `tests/run --test lab verify::verify_finds_slave_damage_by_table_and_key_and_repair_mends_it`.
//!
//! A new area is a file here, `tests/fleet/NAME.rs`, starting with
//! `use crate::common;`, and a `mod NAME;` line below.

mod common;

mod actions;
mod check;
mod drills;
mod failover;
mod hostile;
mod jobs;
mod runbook;
mod stack;
mod status;
mod switchover;
mod tui;
mod verify;
mod wizard;
