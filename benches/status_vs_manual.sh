#!/usr/bin/env bash
# Benchmarks of `archtui status` against the local fleet lab. They print
# figures ("figure: ..." lines) and assert nothing about time.
#
#  (a) `archtui status --json` versus the seed's manual procedure for the
#      same facts: per host, one ssh running `docker compose ps`, plus
#      `docker compose exec bucardo bucardo status` on the master, host
#      after host as the runbook does it. Medians of N runs and the ratio,
#      cold (`archtui disconnect` first: every run shakes hands) and warm
#      (the SSH masters kept from the run before, [ssh] persist_secs), next
#      to a bare `ssh jukebox true`.
#  (b) fan-out: `archtui status --json` with 1, 2 and 3 configured hosts
#      (the third is the lab's bare host turntable, as a slave).
#  (c) many hosts: 1, 5, 10, 20 and 40 configured (jukebox under as many
#      ssh aliases, so each is its own connection), cold and warm one-shot
#      (both `--fresh`: they look themselves), the warm `--watch` round, a
#      one-shot served by a running `status --watch` of the same config
#      (README, "A running console serves one-shots"), and a one-shot
#      after a one-shot with `[ssh] observer_persist_secs` set: served by
#      the observer the first left behind.
#
#  (d) the console with the 40 hosts of (c), idle for IDLE_SECS (default 60):
#      CPU and RSS (benches/idle_lab.sh).
#
# Usage: benches/status_vs_manual.sh [N]     (N runs of each; default 7)
#   ARCHTUI_BIN   the binary to time (default: target/debug/archtui, built
#                 first; e.g. ARCHTUI_BIN=target/release/archtui after
#                 `cargo build --release`)
# Needs the lab (tests/lab/up). Takes the lab's test lock, so it never runs
# while a lab test changes the fleet.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB=$REPO/tests/lab
STATE=${ARCHLAB_STATE:-$LAB/.state}
N=${1:-7}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer" >&2; exit 2; }
CONFIG=$STATE/archtui.toml
[[ -f $CONFIG ]] || { echo "the lab is not set up ($CONFIG missing): run tests/lab/up" >&2; exit 1; }

BIN=${ARCHTUI_BIN:-}
if [[ -z $BIN ]]; then
  # Built here, so a stale binary is never timed.
  (cd "$REPO" && cargo build --quiet --bin archtui)
  BIN=$REPO/target/debug/archtui
fi
echo "timing $BIN"
# The kept SSH masters of this run live apart from the operator's own.
export XDG_RUNTIME_DIR
XDG_RUNTIME_DIR=$(mktemp -d /tmp/archtui-bench-XXXXXX)

exec 9>"$STATE/tests.lock"
flock 9

TMP=$(mktemp -d)
trap '"$BIN" disconnect >/dev/null 2>&1 || true; rm -rf "$TMP" "$XDG_RUNTIME_DIR"' EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Milliseconds one run of "$@" takes; its output is kept in $TMP/last.
time_ms() {
  local t0 t1
  t0=$(now_ms)
  "$@" >"$TMP/last" 2>&1 || true
  t1=$(now_ms)
  echo $(( t1 - t0 ))
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

runs() { # runs N "$@": the median of N timed runs
  local i
  for ((i = 0; i < N; i++)); do time_ms "$@"; done | median
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }

compose() { # compose ROLE ARGS: the runbook's compose line
  echo "cd /srv/archive && docker compose --env-file env.common --env-file env.$1 $2"
}

manual() {
  "$LAB/sh" cavaforgepad "$(compose master ps) && $(compose master 'exec -T bucardo bucardo status')"
  "$LAB/sh" jukebox "$(compose slave ps)"
}

status_json() { ARCHTUI_CONFIG=$1 "$BIN" status --json --fresh; }
served_json() { ARCHTUI_CONFIG=$1 "$BIN" status --json; }
# wait_served CONFIG KIND: until a one-shot on CONFIG is served by an
# observer of KIND (every host read), at most a minute.
wait_served() {
  local i
  for ((i = 0; i < 120; i++)); do
    # status exits 1-2 on a warning: the document is read all the same.
    { served_json "$1" 2>/dev/null || true; } | grep -q "\"kind\": *\"$2\"" && return
    sleep 0.5
  done
  echo "warning: no $2 served every host of $1" >&2
}
# served_runs CONFIG: the median one-shot while `status --watch 5` (the
# console's own poll) runs on CONFIG (started here, stopped after).
served_runs() {
  local pid
  ARCHTUI_CONFIG=$1 "$BIN" status --json --watch 5 >/dev/null 2>&1 &
  pid=$!
  wait_served "$1" watch
  runs served_json "$1"
  kill -INT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
}
# left_runs CONFIG: the median one-shot after a first one-shot left its
# observer behind ([ssh] observer_persist_secs = 60 in a copy of CONFIG);
# `archtui disconnect` stops it after.
left_runs() {
  sed 's/^\[ssh\]$/[ssh]\nobserver_persist_secs = 60/' "$1" >"$TMP/left.toml"
  served_json "$TMP/left.toml" >/dev/null 2>&1 || true
  wait_served "$TMP/left.toml" observer
  runs served_json "$TMP/left.toml"
  "$BIN" disconnect >/dev/null 2>&1 || true
}
cold_status_json() { "$BIN" disconnect >/dev/null 2>&1; status_json "$1"; }
bare_ssh() { ssh -F "$STATE/ssh_config" jukebox true; }

# The console's own mode keeps its sessions open: one refresh is one full
# observation round, whose time the debug log gives ("observation round
# ... full=true ms=N"; the first, which opens the database connections, is
# left out). Light rounds (a sync completion's rows alone) are not counted.
warm_round() { # warm_round CONFIG: the slowest host's median full round, ms
  rm -f "$TMP/watch.log"
  ARCHTUI_LOG=$TMP/watch.log timeout 10 "$BIN" status --json --watch 0.2 --config "$1" >/dev/null 2>&1 || true
  python3 - "$TMP/watch.log" <<'PY'
import re, sys
seen = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"observation round host=(\S+) full=true ms=(\d+)", line)
    if m:
        seen.setdefault(m.group(1), []).append(int(m.group(2)))
rounds = []
for ms in seen.values():
    ms = sorted(ms[1:])
    if ms:
        rounds.append(ms[len(ms) // 2])
print(max(rounds) if rounds else 0)
PY
}

# Sanity: both procedures see the fleet before anything is timed.
manual >"$TMP/manual.txt" 2>&1 || { cat "$TMP/manual.txt" >&2; echo "the manual procedure fails on the lab" >&2; exit 1; }
grep -q archive_jukebox "$TMP/manual.txt" || { cat "$TMP/manual.txt" >&2; echo "bucardo status shows no sync" >&2; exit 1; }
status_json "$CONFIG" >"$TMP/status.json" || true
grep -q '"hosts"' "$TMP/status.json" || { cat "$TMP/status.json" >&2; echo "archtui status --json printed no document" >&2; exit 1; }

echo "(a) archtui status --json vs the manual procedure, median of $N runs each"
m_manual=$(runs manual)
m_bare=$(runs bare_ssh)
m_cold=$(runs cold_status_json "$CONFIG")
status_json "$CONFIG" >/dev/null 2>&1 || true
m_status=$(runs status_json "$CONFIG")
echo "figure: manual_procedure_ms=$m_manual"
echo "figure: bare_ssh_true_ms=$m_bare"
echo "figure: archtui_status_json_cold_ms=$m_cold (goal at most 1.2 x bare ssh + 150 = $(( m_bare * 12 / 10 + 150 )))"
echo "figure: archtui_status_json_warm_ms=$m_status (kept ssh masters)"
m_left=$(left_runs "$CONFIG")
echo "figure: archtui_status_json_left_ms=$m_left (served by the observer a one-shot left, [ssh] observer_persist_secs)"
echo "figure: speedup=$(ratio "$m_manual" "$m_status")x warm one-shot (goal 10x), $(ratio "$m_manual" "$m_left")x after a one-shot left its observer, $(ratio "$m_manual" "$m_cold")x cold"
m_warm=$(warm_round "$CONFIG")
echo "figure: archtui_warm_refresh_ms=$m_warm (slowest host's median full round, sessions kept open)"
echo "figure: speedup_warm=$(ratio "$m_manual" "$m_warm")x (goal 10x)"

# (b) the lab config cut to its master, as is, and with turntable added.
awk '/^\[\[hosts\]\]/ { n++ } n < 2' "$CONFIG" >"$TMP/one.toml"
cp "$CONFIG" "$TMP/two.toml"
{ cat "$CONFIG"; printf '\n[[hosts]]\nname = "turntable"\nrole = "slave"\nssh = "turntable"\n'; } >"$TMP/three.toml"

echo "(b) fan-out: archtui status --json by number of hosts, median of $N runs each"
m1=$(runs status_json "$TMP/one.toml")
m2=$(runs status_json "$TMP/two.toml")
m3=$(runs status_json "$TMP/three.toml")
echo "figure: hosts_1_ms=$m1"
echo "figure: hosts_2_ms=$m2"
echo "figure: hosts_3_ms=$m3"
echo "figure: fanout_3_over_1=$(ratio "$m3" "$m1")x (goal at most 1.3x)"

# (c) many hosts: jukebox under further ssh aliases (jukebox-2, ...; its
# host key under its own name) beside the master, as a fleet of N slaves
# would be connected: cold and warm one-shot `status --json` and the warm
# round of `--watch` per size. The extra names have no sync of their own:
# their status is judged all the same.
sed -e 's/^Host jukebox$/Host jukebox jukebox-*/' \
    -e 's/^Host cavaforgepad jukebox turntable /Host cavaforgepad jukebox jukebox-* turntable /' \
    "$STATE/ssh_config" >"$TMP/ssh_config"
printf 'Host jukebox-*\n  HostKeyAlias jukebox\n' >>"$TMP/ssh_config"
fleet() { # fleet N: the master and N-1 slaves
  local i
  awk '/^\[\[hosts\]\]/ { n++ } n < 3' "$CONFIG" | sed "s|^config_file = .*|config_file = \"$TMP/ssh_config\"|"
  for ((i = 2; i < $1; i++)); do
    printf '\n[[hosts]]\nname = "jukebox_%d"\nrole = "slave"\nssh = "jukebox-%d"\n' "$i" "$i"
  done
}
echo "(c) fan-out to many hosts (jukebox under N-1 aliases), median of $N runs; warm round: --watch"
for n in 1 5 10 20 40; do
  if ((n == 1)); then cp "$TMP/one.toml" "$TMP/many.toml"; else fleet "$n" >"$TMP/many.toml"; fi
  cold=$(runs cold_status_json "$TMP/many.toml")
  status_json "$TMP/many.toml" >/dev/null 2>&1 || true
  warm=$(runs status_json "$TMP/many.toml")
  round=$(warm_round "$TMP/many.toml")
  served=$(served_runs "$TMP/many.toml")
  left=$(left_runs "$TMP/many.toml")
  # status exits 1 or 2 on a warning: the document is read all the same.
  up=$({ status_json "$TMP/many.toml" 2>/dev/null || true; } | python3 -c 'import json,sys; print(sum(h["state"] == "up" for h in json.load(sys.stdin)["hosts"]))' || echo "?")
  echo "figure: hosts=$n up=$up cold_status_json_ms=$cold warm_status_json_ms=$warm warm_round_ms=$round served_status_json_ms=$served left_observer_status_json_ms=$left"
done
fleet 40 >"$TMP/forty.toml"
echo "(d) the console left idle with 40 hosts, ${IDLE_SECS:-60} s (goal under 1 % of a core, under 40 MB RSS)"
ARCHTUI_CONFIG=$TMP/forty.toml BIN=$BIN SECS=${IDLE_SECS:-60} sh "$REPO/benches/idle_lab.sh" | sed 's/^/figure: forty_hosts /'
