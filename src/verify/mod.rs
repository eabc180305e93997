//! `archtui verify`: are the slaves' rows the master's rows?
//!
//! Each replicated table is compared over primary-key ranges, master and
//! slave at once, by `count(*)` and a sum of 64-bit row hashes; a range
//! that differs is bisected down to rows, and rows are told apart by key
//! (missing on the slave, extra on it, changed). Rows with changes still
//! pending for the slave in the master's delta tables are left out and
//! rechecked once the slave has caught up, so replication in flight is
//! never reported as a difference. Nothing is ever written on a slave.
//!
//! The pure parts (keys and ranges, SQL text, chunk sizing, the rules that
//! settle a key, the report) are in the submodules; `engine` runs them.

pub mod chunk;
pub mod engine;
pub mod repair;
pub mod report;
pub mod settle;
pub mod sql;
pub mod store;
