#!/usr/bin/env bash
# Replication throughput on the lab (prints "figure:" lines, asserts
# nothing about time). N rows (default 1,000,000) of `items` are written on
# the master in one statement each way, and each is timed from its commit
# until jukebox holds every row as written:
#   insert   N new rows (a collection of their own);
#   update   the same N rows, every one changed;
#   delete   the same N rows.
# Next to them, the floor: COPY of the same rows from the master into a
# scratch copy of `items` on jukebox (`\copy ... to stdout | \copy ... from
# stdin`, the scratch table has the same indexes), dropped afterwards.
#
# Usage: benches/replication_throughput.sh [N]   (brings the lab up if not)
# The writes leave N delta rows per statement for Bucardo to purge: run it
# on a lab you can spare for a few minutes, not inside the test suite. It
# takes the lab's test lock, so it never runs while a lab test does.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer" >&2; exit 2; }
eval "$(tests/lab/up)" >/dev/null
STATE=${ARCHLAB_STATE:-tests/lab/.state}
exec 9>"$STATE/tests.lock"
flock 9

master() { tests/lab/psql cavaforgepad -X -v ON_ERROR_STOP=1 -qAt "$@"; }
slave() { tests/lab/psql jukebox -X -v ON_ERROR_STOP=1 -qAt "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
rate() { awk -v n="$N" -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b > a ? n / (b - a) : 0) }'; }
# Waits (bounded: 1800 s) until the query on jukebox answers $2.
until_slave() {
  local deadline=$(( $(date +%s) + 1800 )) got
  while :; do
    got=$(slave -c "$1" 2>/dev/null || echo "?")
    [[ $got == "$2" ]] && return 0
    (( $(date +%s) < deadline )) || { echo "jukebox did not reach '$2' (last: '$got') within 1800 s" >&2; return 1; }
    sleep 0.2
  done
}

name="throughput-$$-$(date +%s)"
coll=$(master -c "INSERT INTO collections (name) VALUES ('$name') RETURNING id")
until_slave "SELECT count(*) FROM collections WHERE id = $coll" 1
cleanup() {
  master -c "DELETE FROM items WHERE collection_id = $coll; DELETE FROM collections WHERE id = $coll" >/dev/null 2>&1 || true
  slave -c "DROP TABLE IF EXISTS bench_copy_items" >/dev/null 2>&1 || true
}
trap cleanup EXIT
echo "rows: $N (one statement each; timed from its commit until jukebox holds them all)"

# timed WHAT SQL PROBE CHECK WANT: runs SQL on the master, waits until
# PROBE on jukebox answers t, then until CHECK answers WANT, prints the
# figure and leaves the wait in $took. PROBE reads one row by key: Bucardo
# applies a sync run in one transaction, so that row's new state is the
# run's commit, and polling it costs the busy slave nothing, where CHECK
# scans N rows (0.3-0.7 s each on the lab, 2 cores shared with the apply).
# CHECK then confirms every row; if it does not hold yet, the wait goes on.
# Each phase starts with the deltas every slave has applied purged, as
# Bucardo's VAC does every vac_sleep (120 s): back to back, a phase's delta
# query would also scan the earlier phases' rows (and an earlier run's).
timed() {
  local t0 t1 t2
  master -c "SET client_min_messages = warning; SELECT bucardo.bucardo_purge_delta('0 seconds')" >/dev/null
  t0=$(now)
  master -c "$2"
  t1=$(now)
  until_slave "$3" t
  until_slave "$4" "$5"
  t2=$(now)
  echo "figure: $1 of $N rows: $(secs "$t0" "$t1") s on the master, on jukebox $(secs "$t1" "$t2") s after the commit: $(rate "$t1" "$t2") rows/s"
  took=$(secs "$t1" "$t2")
}

timed insert "INSERT INTO items (collection_id, identifier, title) SELECT $coll, '$name-' || g, 'item ' || g FROM generate_series(1, $N) g" \
  "SELECT EXISTS (SELECT 1 FROM items WHERE identifier = '$name-$N')" \
  "SELECT count(*) FROM items WHERE collection_id = $coll" "$N"
insert_s=$took
timed update "UPDATE items SET title = title || ' u' WHERE collection_id = $coll" \
  "SELECT EXISTS (SELECT 1 FROM items WHERE identifier = '$name-$N' AND title LIKE '% u')" \
  "SELECT count(*) FROM items WHERE collection_id = $coll AND title LIKE '% u'" "$N"
update_s=$took

# The floor: the same rows by COPY into a scratch table with items' indexes.
slave -c "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_copy_items; CREATE TABLE bench_copy_items (LIKE items INCLUDING DEFAULTS INCLUDING INDEXES)"
t0=$(now)
master -c "\\copy (SELECT * FROM items WHERE collection_id = $coll) to stdout" \
  | slave -c "\\copy bench_copy_items from stdin"
t1=$(now)
copy_s=$(secs "$t0" "$t1")
echo "figure: COPY of the same $N rows master -> jukebox: $copy_s s: $(rate "$t0" "$t1") rows/s"
slave -c "DROP TABLE bench_copy_items"

timed delete "DELETE FROM items WHERE collection_id = $coll" \
  "SELECT NOT EXISTS (SELECT 1 FROM items WHERE identifier = '$name-$N')" "SELECT count(*) FROM items WHERE collection_id = $coll" 0
awk -v i="$insert_s" -v u="$update_s" -v c="$copy_s" 'BEGIN {
  printf "figure: replication against COPY: insert %.1fx, update %.1fx (goal: within 3x)\n", i / c, u / c }'
