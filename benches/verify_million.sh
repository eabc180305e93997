#!/bin/sh
# Verify at size (prints a figure, asserts nothing about time): loads items
# on the lab's master up to 1M rows, waits until jukebox has them, then
# times `archtui verify jukebox --tables items` next to one
# `SELECT count(*), sum(hashtext(t::text)) FROM items t` on the master.
# The load leaves 1M delta rows for Bucardo to purge: run it on a lab you
# can spare for a few minutes, not inside the test suite.
# Usage: benches/verify_million.sh   (brings the lab up if it is not)
set -eu
cd "$(dirname "$0")/.."
eval "$(tests/lab/up)"
export ARCHTUI_CONFIG ARCHTUI_LAB=1
exec cargo test --release --test lab -- --ignored --nocapture \
    verify::figure_verify_of_a_million_items_next_to_one_hash_query
