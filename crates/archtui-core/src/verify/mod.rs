//! `archtui verify`, its pure half: keys and ranges, chunk sizing, the
//! rules that settle a key, the report and the last result per slave.
//! `archtui_remote::verify` runs them against the hosts.

pub mod chunk;
pub mod last;
pub mod report;
pub mod settle;
pub mod table;
