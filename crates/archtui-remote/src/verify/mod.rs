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

pub use archtui_core::verify::*;

pub mod engine;
pub mod repair;
pub mod sql;
pub mod store;

/// After a verify: the last result per slave (for the metrics) and one
/// audit line per slave; returns the warnings for what could not be written.
pub fn record(r: &report::Report, args: &[String], took: std::time::Duration) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Err(e) = store::record(&store::path(), &r.slaves) {
        warnings.push(format!("warning: {}: {e}", store::path().display()));
    }
    for s in &r.slaves {
        let message = report::slave_text(s).first().cloned().unwrap_or_default();
        let status = match s.outcome {
            report::Outcome::Equal => crate::actions::Status::Ok,
            report::Outcome::Differ => crate::actions::Status::Failed,
            report::Outcome::Refused => crate::actions::Status::Refused,
            report::Outcome::Unreachable => crate::actions::Status::Unreachable,
        };
        let outcome = crate::actions::Outcome::new(status, message);
        if let Err(e) = crate::local::audit::append_work(
            "verify",
            &s.slave,
            args.to_vec(),
            false,
            &outcome,
            took,
        ) {
            warnings.push(format!("warning: {e}"));
        }
    }
    warnings
}
