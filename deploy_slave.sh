#!/usr/bin/env bash
# deploy_slave.sh: deploy the archive stack on a FRESH SLAVE: its empty
# database is created, the app's migrations run, and the slave registers
# with the master and runs its own Bucardo daemon, whose one-time copy
# fills the database; then replication goes on row by row.
#
# Usage: ./deploy_slave.sh [--allow-data] [--role-change] [-h|--help]
#   --allow-data   deploy although this host's archive database already
#                  holds rows and is not yet a slave of this fleet (by
#                  default refused: Bucardo's one-time copy skips tables
#                  that are not empty, so such a host would stay different)
#   --role-change  this host's stack runs as the master and becomes a slave
#                  (archtui switchover does this); by default refused
#
# Run it in the deploy directory, after the runbook's
#   source env.common; source env.slave
# or without that: it reads env.common and env.slave here itself (set
# APP_HOST and MASTER_DB_HOST in env.slave first). The app runs on
# APP_PORT from env.slave (3000). It runs `docker compose up -d --build`,
# waits until every service is healthy and the sync's first good run
# (the initial copy) is done, with progress, and ends with
# `docker compose ps` and the sync's state. Running it again on a
# deployed slave changes nothing.
# Exit: 0 done; 1 failed (one line says what, and the next step); 2 refused.
cd "$(dirname "$0")" || exit 2
source ./assets/deploy/lib.sh

ALLOW_DATA=0 ROLE_CHANGE=0
for a in "$@"; do
  case $a in
    --allow-data) ALLOW_DATA=1 ;;
    --role-change) ROLE_CHANGE=1 ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) refuse "unknown option '$a' (see ./deploy_slave.sh --help)" ;;
  esac
done

load_env slave
role_check slave
need_docker
for v in APP_HOST MASTER_DB_HOST; do
  [[ -n ${!v:-} ]] || refuse "$v is not set in env.slave: set it to $( [[ $v == APP_HOST ]] && echo "this host's address" || echo "the master's address")"
done

# A fresh slave, or this fleet's slave deployed before: a host whose
# archive database holds rows but runs no sync of this fleet is neither.
if ((!ALLOW_DATA)) && db_volume_exists; then
  start_db_for_checks
  rows=$(archive_rows)
  ours=$(db_psql "${BUCARDO_DB_NAME:-bucardo}" -c "SELECT count(*) FROM bucardo.sync WHERE name LIKE 'archive\\_%'" 2>/dev/null || echo 0)
  if [[ $rows =~ ^[0-9]+$ ]] && (( rows > 0 )) && [[ $ours != [1-9]* ]]; then
    refuse "this host's archive database already holds rows and is no slave of this fleet yet: a fresh slave starts empty (Bucardo's one-time copy skips tables that are not empty); empty it (docker compose down -v) or run ./deploy_slave.sh --allow-data"
  fi
fi

compose_up
wait_healthy

# The sync's first good run: the initial copy is done.
say "waiting for this slave's sync to finish its first run (the initial copy)"
t=0 last=""
while :; do
  st=$(compose exec -T bucardo archive-bucardo-ctl state 2>&1 | tail -n1)
  [[ $st != "$last" ]] && { say "$st"; last=$st; }
  [[ $st == *"last run good"* ]] && break
  (( t >= DEPLOY_TIMEOUT )) && fail "the sync had no good run within $DEPLOY_TIMEOUT s ($st)" "docker compose logs bucardo; docker compose exec bucardo bucardo status"
  sleep 2; t=$((t + 2))
done
finish
