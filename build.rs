//! Decides at build time whether the lab tests (tests/fleet) run.
//!
//! libtest can only report a test as ignored from an attribute, so the
//! choice has to be made before the tests compile: with `ARCHTUI_LAB`
//! unset or `0` the lab tests carry `#[ignore]` (cfg `archtui_lab` absent)
//! and `cargo test` reports them as ignored, never as passed. With any
//! other value they are built to run; `common::lab` (tests/fleet/common)
//! then takes `1` and fails on anything else, naming the value and the fix.

fn main() {
    println!("cargo:rerun-if-env-changed=ARCHTUI_LAB");
    println!("cargo:rustc-check-cfg=cfg(archtui_lab)");
    match std::env::var("ARCHTUI_LAB").ok().as_deref() {
        None | Some("0") => {}
        Some(_) => println!("cargo:rustc-cfg=archtui_lab"),
    }
}
