#!/bin/sh
# Provisioning on real data (prints figures, asserts nothing about time):
# fills items on the lab's master up to 1M rows, provisions the bare
# turntable with `archtui provision turntable --yes` (first run must
# succeed), then times `pg_dump | psql` of the same tables from the master
# into a scratch database on turntable. Leaves turntable bare and removes
# the rows it added. Takes a few minutes; not part of the test suite.
# Usage: benches/provision_big.sh   (brings the lab up if it is not)
set -eu
cd "$(dirname "$0")/.."
eval "$(tests/lab/up)"
export ARCHTUI_CONFIG ARCHTUI_LAB=1
exec cargo test --release --test lab -- --ignored --nocapture \
    wizard::figure_provision_with_a_million_rows_next_to_pg_dump
