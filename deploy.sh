#!/usr/bin/env bash
# deploy.sh: deploy (or redeploy) the archive stack on the MASTER, an
# existing system whose archive database already holds the data.
#
# Usage: ./deploy.sh [--development] [--allow-empty] [--role-change] [-h|--help]
#   --development   run the app on port 3000 (RAILS_ENV=development);
#                   default: production, APP_PORT from env.master (80)
#   --allow-empty   deploy even though the archive database is empty or
#                   new (a brand-new fleet); by default refused
#   --role-change   this host's stack runs as a slave and becomes the
#                   master (archtui switchover does this); by default a
#                   running slave is refused
#
# Run it in the deploy directory, after the runbook's
#   source env.common; source env.master
# or without that: it reads env.common and env.master here itself.
# It runs `docker compose up -d --build`, waits until every service is
# healthy (with progress), and ends with `docker compose ps` and the
# fleet's replication state. Running it again changes nothing.
# Exit: 0 done; 1 failed (one line says what, and the next step); 2 refused.
cd "$(dirname "$0")" || exit 2
source ./assets/deploy/lib.sh

DEV=0 ALLOW_EMPTY=0 ROLE_CHANGE=0
for a in "$@"; do
  case $a in
    --development) DEV=1 ;;
    --allow-empty) ALLOW_EMPTY=1 ;;
    --role-change) ROLE_CHANGE=1 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) refuse "unknown option '$a' (see ./deploy.sh --help)" ;;
  esac
done

load_env master
role_check master
if ((DEV)); then export APP_PORT=3000 RAILS_ENV=development; fi
need_docker

# The runbook: the master's database "already exists and has data".
if ((!ALLOW_EMPTY)); then
  db_volume_exists || refuse "this master has no database yet (no volume ${COMPOSE_PROJECT_NAME}_db-data): deploy.sh is for an existing master with its data; for a new, empty fleet run ./deploy.sh --allow-empty"
  start_db_for_checks
  rows=$(archive_rows)
  [[ $rows =~ ^[0-9]+$ ]] || fail "could not count the archive database's rows" "docker compose exec db psql -U postgres -d ${ARCHIVE_DB_NAME:-archive_production}"
  (( rows > 0 )) || refuse "the archive database ${ARCHIVE_DB_NAME:-archive_production} on this master has no rows: deploy.sh is for an existing master with its data (restore it first); for a new, empty fleet run ./deploy.sh --allow-empty"
  say "archive database holds data: ok"
fi

compose_up
wait_healthy
finish
