# assets/deploy/lib.sh: shared by ./deploy.sh and ./deploy_slave.sh (the
# runbook's deployment scripts). Sourced, not executed; bash.
#
# Both scripts run in the deploy directory (the one holding
# docker-compose.yml), read env.common and env.<role> there themselves
# (so they work with or without the runbook's `source` lines), bring the
# stack up with `docker compose up -d --build`, wait until every service is
# healthy with progress, and end with `docker compose ps` and the sync's
# state. A failure is one line: what failed, then the runbook's next step.

set -uo pipefail

DEPLOY_TIMEOUT=${DEPLOY_TIMEOUT:-600}
SCRIPT=${0##*/}

say()  { printf '%s: %s\n' "$SCRIPT" "$*"; }
# fail WHAT NEXT: the one line a failure prints, then exit 1.
fail() { printf '%s: error: %s; next: %s\n' "$SCRIPT" "$1" "$2" >&2; exit 1; }
refuse() { printf '%s: refused: %s\n' "$SCRIPT" "$*" >&2; exit 2; }

# load_env ROLE: env.common then env.ROLE from this directory, after a check
# that the operator did not source the other role's file.
load_env() {
  local role=$1 other=master
  [[ $role == master ]] && other=slave
  [[ -f docker-compose.yml ]] || refuse "no docker-compose.yml in $PWD: run $SCRIPT from the deploy directory (the copy of the repository)"
  if [[ -n ${ARCHIVE_ROLE:-} && $ARCHIVE_ROLE != "$role" ]]; then
    refuse "this shell has ARCHIVE_ROLE=$ARCHIVE_ROLE (env.$ARCHIVE_ROLE was sourced), but $SCRIPT deploys a $role: $(hint "$other")"
  fi
  [[ -f env.common ]] || refuse "no env.common in $PWD: copy the fleet's env.common here (it must be the same on every host)"
  [[ -f env.$role ]] || refuse "no env.$role in $PWD: this host is not set up as a $role$( [[ -f env.$other ]] && echo " (it has env.$other: $(hint "$other"))")"
  # shellcheck disable=SC1090,SC1091
  source ./env.common && source "./env.$role" || fail "env.common or env.$role does not parse" "fix the line bash names above"
  [[ ${ARCHIVE_ROLE:-} == "$role" ]] || refuse "env.$role sets ARCHIVE_ROLE=${ARCHIVE_ROLE:-} (want $role): $(hint "$other")"
  export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-archive}
}

hint() { if [[ $1 == slave ]]; then echo "on a slave use ./deploy_slave.sh"; else echo "on the master use ./deploy.sh"; fi; }

need_docker() {
  command -v docker >/dev/null || fail "docker is not installed" "install Docker with the compose v2 plugin"
  docker compose version >/dev/null 2>&1 || fail "docker compose (v2) is not available" "install the docker compose plugin (docker compose version)"
  docker info >/dev/null 2>&1 || fail "the Docker engine does not answer" "start it (systemctl start docker) and check 'docker info'"
}

compose() { docker compose --ansi never "$@"; }
# psql in the db container over its socket, as the OS user postgres (peer).
db_psql() { compose exec -T -u postgres db psql -X -qAt -v ON_ERROR_STOP=1 -d "$@"; }

# role_check ROLE: a host whose running stack, or whose own addresses, say
# it has the other role is refused (a deploy dir often holds both env files),
# unless ROLE_CHANGE=1 (--role-change: a switchover swaps the roles).
role_check() {
  local role=$1 other=master running addrs mine theirs
  [[ $role == master ]] && other=slave
  running=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(compose ps -q bucardo 2>/dev/null | head -n1)" 2>/dev/null \
              | sed -n 's/^ARCHIVE_ROLE=//p')
  if [[ -n $running && $running != "$role" && ${ROLE_CHANGE:-0} != 1 ]]; then
    refuse "this host runs the stack as a $running (its bucardo container says ARCHIVE_ROLE=$running), but $SCRIPT deploys a $role: $(hint "$other")"
  fi
  [[ -z $running && -f env.$other ]] || return 0
  addrs=" $(hostname -I 2>/dev/null) "
  mine=${APP_HOST:-}
  theirs=$(bash -c "source ./env.$other >/dev/null 2>&1; echo \${APP_HOST:-}")
  if [[ -n $theirs && $addrs == *" $theirs "* && $addrs != *" $mine "* ]]; then
    refuse "this host has the address $theirs of env.$other's APP_HOST, not env.$role's ($mine): it is the $other; $(hint "$other")"
  fi
}

# Rows in the archive database's replicated tables (heartbeat not
# counted), as the db container sees them; -1 when the db is not up.
archive_rows() {
  db_psql "${ARCHIVE_DB_NAME:-archive_production}" <<'SQL' 2>/dev/null || echo -1
DO $$
DECLARE r record; n bigint := 0; c bigint;
BEGIN
  FOR r IN SELECT c.oid::regclass AS t FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
            WHERE s.nspname = 'public' AND c.relkind = 'r'
              AND c.relname NOT IN ('schema_migrations', 'ar_internal_metadata', 'archive_heartbeat')
              AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') LOOP
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s LIMIT 1) x', r.t) INTO c;
    n := n + c;
  END LOOP;
  PERFORM set_config('archive.rows', n::text, false);
END $$;
SELECT current_setting('archive.rows');
SQL
}

# The db volume exists: this host has run the stack before.
db_volume_exists() { docker volume inspect "${COMPOSE_PROJECT_NAME}_db-data" >/dev/null 2>&1; }

# Starts db alone (no change to the others) and waits for it, for checks
# that need the data before the rest is deployed.
start_db_for_checks() {
  # --no-recreate: a check changes nothing; the deploy below recreates.
  compose up -d --no-recreate db >/dev/null 2>&1 || fail "the db service does not start" "docker compose logs db"
  local t=0
  until [[ $(compose ps --format '{{.Health}}' db 2>/dev/null) == healthy ]]; do
    (( t >= 180 )) && fail "the db service is not healthy after 180 s" "docker compose logs db; docker compose exec db pg_isready -U postgres"
    sleep 2; t=$((t + 2))
  done
}

# wait_healthy: every service running and healthy, progress when it changes.
wait_healthy() {
  local t=0 last="" now
  while :; do
    now=$(compose ps -a --format '{{.Service}}={{.State}}/{{.Health}}' 2>/dev/null | sort | tr '\n' ' ')
    if [[ $now != "$last" ]]; then say "services: ${now:-none}"; last=$now; fi
    # Healthy when every service says so (all three have healthchecks).
    if [[ -n $now ]] && ! tr ' ' '\n' <<<"$now" | grep -v '^$' | grep -qv '=running/healthy$'; then
      return 0
    fi
    for s in $now; do
      if [[ $s == */unhealthy ]] && (( t > 30 )); then
        local svc=${s%%=*} why
        why=$(docker inspect --format '{{range .State.Health.Log}}{{.Output}}{{end}}' "$(compose ps -q "$svc")" 2>/dev/null | tail -n1 | tr -d '\r' | cut -c1-200)
        # bucardo's healthcheck names the reason; keep waiting while it starts up.
        if (( t > 240 )); then fail "service $svc is unhealthy: ${why:-see its log}" "docker compose logs $svc"; fi
      fi
      if [[ $s == *=exited/* || $s == *=dead/* ]]; then
        fail "service ${s%%=*} is ${s#*=}" "docker compose logs ${s%%=*}"
      fi
    done
    (( t >= DEPLOY_TIMEOUT )) && fail "not every service is healthy after $DEPLOY_TIMEOUT s ($now)" "docker compose ps; docker compose logs bucardo"
    sleep 3; t=$((t + 3))
  done
}

# compose_up: build every image first, then recreate what changed.
compose_up() {
  say "docker compose up -d --build (project $COMPOSE_PROJECT_NAME)"
  compose up -d --build --remove-orphans || fail "docker compose up failed (its output is above)" "fix what it names, then run $SCRIPT again"
}

finish() {
  echo
  compose ps
  echo
  compose exec -T bucardo bucardo status 2>&1 || true
  say "done: every service healthy"
}
