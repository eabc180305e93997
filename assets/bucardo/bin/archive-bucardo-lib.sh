# archive-bucardo-lib.sh: shared by archive-bucardo, archive-bucardo-health,
# archive-retire-slave and archive-fleet-status. Sourced, not executed.
#
# Topology: one Bucardo daemon PER SLAVE, running in that slave's `bucardo`
# container, with its control database `bucardo` in the slave's own `db`.
# It pulls from the master's archive database (source `master`) into the
# slave's (target `<name>`). A slave that is down, slow or rebuilt stalls
# only its own daemon; the master runs no daemon at all (it writes the
# heartbeat and keeps the fleet's registry, archive_fleet.slave).
#
# Never print a password: passwords live only in the environment of this
# container, in /root/.pgpass (0600) and in the control database's
# bucardo.db.dbpass (Bucardo's own PL/Perl checks connect from the db server,
# which has no .pgpass).

STATE_FILE=/run/archive-bucardo.state
PIDDIR=${BUCARDO_PIDDIR:-/var/run/bucardo}
DAEMON_LOG=/var/log/bucardo/daemon.log

ARCHIVE_ROLE=${ARCHIVE_ROLE:-}
BUCARDO_SYNC_DIRECTION=${BUCARDO_SYNC_DIRECTION:-}
ARCHIVE_DB_NAME=${ARCHIVE_DB_NAME:-archive_production}
ARCHIVE_DB_USER=${ARCHIVE_DB_USER:-archive}
ARCHIVE_SCHEMA=${ARCHIVE_SCHEMA:-public}
BUCARDO_DB_USER=${BUCARDO_DB_USER:-bucardo}
BUCARDO_DB_NAME=${BUCARDO_DB_NAME:-bucardo}
LOCAL_DB_HOST=${LOCAL_DB_HOST:-db}
LOCAL_DB_PORT=${LOCAL_DB_PORT:-5432}
MASTER_DB_HOST=${MASTER_DB_HOST:-}
MASTER_DB_PORT=${MASTER_DB_PORT:-5432}
SLAVE_NAME=${SLAVE_NAME:-}
APP_HOST=${APP_HOST:-}
DB_PORT=${DB_PORT:-5432}
HEARTBEAT_INTERVAL=${HEARTBEAT_INTERVAL:-5}
BUCARDO_LOOP_SLEEP=${BUCARDO_LOOP_SLEEP:-0.1}
BUCARDO_CHUNK_SIZE=${BUCARDO_CHUNK_SIZE:-500}
BUCARDO_DBPROBLEM_SLEEP=${BUCARDO_DBPROBLEM_SLEEP:-5}
SYNCRUN_RETENTION=${SYNCRUN_RETENTION:-7 days}
BUCARDO_EXCLUDE_TABLES=${BUCARDO_EXCLUDE_TABLES:-schema_migrations ar_internal_metadata}
BUCARDO_RELGROUP=archive
BUCARDO_MASTER_NAME=master
# The fleet's registry on the master's archive database; its own schema, so
# it is never part of the replicated relgroup.
FLEET_SCHEMA=archive_fleet
# The supervisor's record of its daemon in the slave's control database,
# read by archtui (state, reasons, events).
OPS_SCHEMA=archive_ops

# Connection options of the daemon's connection to the master: a master that
# vanished without a reset (link lost, host gone) is noticed within ~15 s
# instead of the kernel's minutes, and a connect gives up after 5 s. No
# nested loops: the kid's "deltas not yet tracked" anti-join planned while
# the delta table still looked small (before autovacuum's ANALYZE of a bulk
# load) became a nested loop that ran for 17 minutes over 1M deltas;
# hash and merge joins keep it at seconds whatever the statistics say.
MASTER_DBCONN="connect_timeout=5;keepalives=1;keepalives_idle=5;keepalives_interval=2;keepalives_count=3;tcp_user_timeout=15000;options='-c enable_nestloop=off'"
LOCAL_DBCONN='connect_timeout=5'

log()  { echo "archive-bucardo: $*"; }
warn() { echo "archive-bucardo: warning: $*" >&2; }

set_state() { printf '%s\n' "$*" > "$STATE_FILE.tmp" && mv -f "$STATE_FILE.tmp" "$STATE_FILE"; }

# psql helpers: -At output, stop on error, quiet. Passwords come from ~/.pgpass.
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5}
export PGAPPNAME=archive-bucardo
# `-c SQL` arguments are fed through stdin so that psql variables (:'x')
# are interpolated in them too.
psql_at() { # host port db [psql args...]
  local h=$1 p=$2 d=$3; shift 3
  local args=() sql="" has_c=0
  while (($#)); do
    if [[ $1 == -c ]]; then sql+="$2;"$'\n'; has_c=1; shift 2; else args+=("$1"); shift; fi
  done
  if ((has_c)); then
    printf '%s' "$sql" | psql -X -q -At -v ON_ERROR_STOP=1 -h "$h" -p "$p" -U "$BUCARDO_DB_USER" -d "$d" "${args[@]}"
  else
    psql -X -q -At -v ON_ERROR_STOP=1 -h "$h" -p "$p" -U "$BUCARDO_DB_USER" -d "$d" "${args[@]}"
  fi
}
# This host's Bucardo control database (slaves) and archive database.
psql_ctl()    { psql_at "$LOCAL_DB_HOST" "$LOCAL_DB_PORT" "$BUCARDO_DB_NAME" "$@"; }
psql_local()  { psql_at "$LOCAL_DB_HOST" "$LOCAL_DB_PORT" "$ARCHIVE_DB_NAME" "$@"; }
# The master's archive database (on the master: its own).
psql_master() {
  if [[ $ARCHIVE_ROLE == slave ]]; then psql_at "$MASTER_DB_HOST" "$MASTER_DB_PORT" "$ARCHIVE_DB_NAME" "$@"
  else psql_local "$@"; fi
}
# NOTIFY on this host's control database, optionally waiting for the answer.
notify_ctl() { archive-bucardo-notify --host "$LOCAL_DB_HOST" --port "$LOCAL_DB_PORT" --db "$BUCARDO_DB_NAME" --user "$BUCARDO_DB_USER" "$@"; }
# The Bucardo daemon's (MCP's) pid from its pid file, and whether it lives.
mcp_pid() { local p; p=$(head -1 "$PIDDIR/bucardo.mcp.pid" 2>/dev/null); [[ $p =~ ^[0-9]+$ ]] && echo "$p"; }
mcp_alive() { local p; p=$(mcp_pid) || return 1; kill -0 "$p" 2>/dev/null; }
# The MCP's process title names the syncs it runs ("... Active syncs: a,b");
# a sync missing there was dropped (validation failed) or never started.
mcp_title() { ps -eo args= 2>/dev/null | grep -m1 '^Bucardo Master Control Program'; }
# Between its death and its own respawn (mcp_dbproblem_sleep) the MCP has
# no pid file: count it as running while any such process exists.
mcp_running() { mcp_alive || pgrep -f '^Bucardo Master Control Program' >/dev/null; }
controller_running() { pgrep -f "^Bucardo Controller\\. Sync \"$1\"" >/dev/null; }

# SQL literal quoting for values that passed validation anyway.
sqlq() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }

# Exports BUCARDO_PASSWORD from it or from BUCARDO_PASSWORD_FILE; on a bad
# setting returns 1 with the reason and its fix in PW_ERR.
load_password() {
  local val=${BUCARDO_PASSWORD:-} f=${BUCARDO_PASSWORD_FILE:-}
  PW_ERR=
  if [[ -n $val && -n $f ]]; then
    PW_ERR="both BUCARDO_PASSWORD and BUCARDO_PASSWORD_FILE are set: keep only one of them (in env.common)"; return 1
  fi
  if [[ -n $f ]]; then
    if [[ ! -r $f ]]; then
      PW_ERR="BUCARDO_PASSWORD_FILE='$f' is not a readable file in the container: put the file in the secrets directory (SECRETS_DIR, mounted read-only at /run/secrets/archive) or set BUCARDO_PASSWORD in env.common"; return 1
    fi
    val=$(<"$f"); val=${val%$'\n'}
  fi
  if [[ -z $val ]]; then
    PW_ERR="BUCARDO_PASSWORD is not set: set BUCARDO_PASSWORD, or BUCARDO_PASSWORD_FILE (path of a file under /run/secrets/archive), in env.common"; return 1
  fi
  export BUCARDO_PASSWORD=$val
  unset BUCARDO_PASSWORD_FILE
}

# write_client_config: ~/.pgpass for psql/DBD::Pg and /etc/bucardorc so that
# `docker compose exec bucardo bucardo status` works without arguments: on
# a slave it reads the slave's own control database.
write_client_config() {
  local pw=${BUCARDO_PASSWORD//\\/\\\\}; pw=${pw//:/\\:}
  umask 077
  printf '*:*:*:%s:%s\n' "$BUCARDO_DB_USER" "$pw" > /root/.pgpass
  cat > /etc/bucardorc <<EOF
# written by archive-bucardo on container start
dbhost = $LOCAL_DB_HOST
dbport = $LOCAL_DB_PORT
dbname = $BUCARDO_DB_NAME
dbuser = $BUCARDO_DB_USER
piddir = $PIDDIR
EOF
  umask 022
}

# Names of the objects for one slave.
sync_of()    { echo "archive_$1"; }
dbgroup_of() { echo "${1}_grp"; }
valid_slave_name() { [[ $1 =~ ^[a-z][a-z0-9_]{0,30}$ ]]; }

# The Docker host's name (mounted from its /etc/hostname) as a slave name:
# first label, lowercased, '-' as '_'.
host_slave_name() {
  local h; h=$(head -n1 /etc/host-hostname 2>/dev/null)
  h=${h%%.*}; h=${h,,}; echo "${h//-/_}"
}
# Named after the host by default, so that copying env.slave to a new host
# and changing its addresses is all it takes (the seed's procedure).
SLAVE_NAME_FROM_HOST=0
if [[ -z $SLAVE_NAME ]]; then SLAVE_NAME=$(host_slave_name); SLAVE_NAME_FROM_HOST=1; fi

# Tables to replicate, as the master has them: every table with a primary
# key in ARCHIVE_SCHEMA, minus BUCARDO_EXCLUDE_TABLES.
replicated_tables() {
  local t list="''"
  for t in $BUCARDO_EXCLUDE_TABLES; do list+=",$(sqlq "$t")"; done
  psql_master -v schema="$ARCHIVE_SCHEMA" <<SQL
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :'schema' AND c.relkind = 'r'
  AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
  AND c.relname NOT IN ($list)
ORDER BY 1;
SQL
}

# ops_event KIND SYNC DETAIL: one line of the supervisor's history in the
# control database (archtui shows the latest as the reason of a state).
ops_event() {
  psql_ctl -v k="$1" -v s="$2" -v d="$3" -c \
    "INSERT INTO $OPS_SCHEMA.event (kind, sync, detail) VALUES (:'k', NULLIF(:'s', ''), NULLIF(:'d', ''))" >/dev/null 2>&1 || true
}
# ops_phase PHASE DETAIL: what the daemon is doing now (starting, running,
# restarting, stopped, retired, error), since when.
ops_phase() {
  psql_ctl -v p="$1" -v d="${2:-}" -v pid="$(mcp_pid || echo)" -c \
    "INSERT INTO $OPS_SCHEMA.daemon (id, phase, detail, mcp_pid) VALUES (1, :'p', NULLIF(:'d', ''), NULLIF(:'pid', '')::int)
     ON CONFLICT (id) DO UPDATE SET phase = EXCLUDED.phase, detail = EXCLUDED.detail, mcp_pid = EXCLUDED.mcp_pid,
       since = CASE WHEN $OPS_SCHEMA.daemon.phase = EXCLUDED.phase THEN $OPS_SCHEMA.daemon.since ELSE now() END,
       updated = now()" >/dev/null 2>&1 || true
}

# slave_sync_health: this slave's sync as its own daemon runs it, one line
# on stdout. Return 0 healthy, 1 unhealthy, 2 stale (active but no run for
# STALE_AFTER seconds although the heartbeat changes every few seconds).
# A healthy sync runs every HEARTBEAT_INTERVAL seconds (the heartbeat).
slave_sync_health() {
  local sync row sstatus dstatus running lastbad age stale title
  sync=$(sync_of "$SLAVE_NAME")
  stale=$(( HEARTBEAT_INTERVAL * 6 )); (( stale < 30 )) && stale=30
  mcp_running || { echo "Bucardo daemon not running"; return 1; }
  title=$(mcp_title)
  if [[ $title != *"Active syncs: "* || ",${title##*Active syncs: }," != *",$sync,"* ]]; then
    echo "sync $sync: the daemon runs without it (dropped or starting)"; return 1
  fi
  row=$(psql_ctl -F ' ' -v s="$sync" -v n="$SLAVE_NAME" -c "
SELECT s.status,
       COALESCE((SELECT string_agg(DISTINCT d.status, ',') FROM bucardo.db d WHERE d.name IN (:'n', 'master') AND d.status <> 'active'), 'active'),
       CASE WHEN EXISTS (SELECT 1 FROM bucardo.syncrun r WHERE r.sync = s.name AND r.ended IS NULL) THEN 'running' ELSE 'idle' END,
       COALESCE((SELECT CASE WHEN r.lastbad THEN 'bad' ELSE 'good' END FROM bucardo.syncrun r
                  WHERE r.sync = s.name AND (r.lastgood OR r.lastbad OR r.lastempty)
                  ORDER BY r.ended DESC LIMIT 1), 'none'),
       COALESCE((SELECT round(extract(epoch FROM now() - max(r.ended)))::int FROM bucardo.syncrun r WHERE r.sync = s.name), -1)
FROM bucardo.sync s WHERE s.name = :'s'" 2>&1) || { echo "control database unreachable: $(echo "$row" | head -1)"; return 1; }
  [[ -n $row ]] || { echo "sync $sync is not registered"; return 1; }
  read -r sstatus dstatus running lastbad age <<<"$row"
  [[ $sstatus == active ]] || { echo "sync $sync is $sstatus"; return 1; }
  [[ $dstatus == active ]] || { echo "a database of sync $sync is $dstatus"; return 1; }
  controller_running "$sync" || { echo "sync $sync has no controller process (paused?)"; return 1; }
  [[ $running == running ]] && { echo "sync $sync is running"; return 0; }
  case $lastbad in
    bad)  echo "sync $sync: last run failed (bucardo status $sync)"; return 1;;
    none) echo "sync $sync: no run yet"; return 1;;
  esac
  if (( age > stale )); then
    echo "sync $sync: no run for ${age} s although the heartbeat changes every ${HEARTBEAT_INTERVAL} s"; return 2
  fi
  echo "sync $sync: last run good, ${age} s ago"
  return 0
}
