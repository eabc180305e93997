# archive-bucardo-lib.sh: shared by archive-bucardo, archive-bucardo-health
# and archive-retire-slave. Sourced, not executed.
#
# Never print a password: passwords live only in the environment of this
# container, in /root/.pgpass (0600) and in Bucardo's bucardo.db.dbpass.

STATE_FILE=/run/archive-bucardo.state
PIDDIR=${BUCARDO_PIDDIR:-/var/run/bucardo}

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
BUCARDO_DBPROBLEM_SLEEP=${BUCARDO_DBPROBLEM_SLEEP:-5}
SYNCRUN_RETENTION=${SYNCRUN_RETENTION:-7 days}
BUCARDO_EXCLUDE_TABLES=${BUCARDO_EXCLUDE_TABLES:-schema_migrations ar_internal_metadata}
BUCARDO_RELGROUP=archive
BUCARDO_MASTER_NAME=master

log()  { echo "archive-bucardo: $*"; }
warn() { echo "archive-bucardo: warning: $*" >&2; }

set_state() { printf '%s\n' "$*" > "$STATE_FILE.tmp" && mv -f "$STATE_FILE.tmp" "$STATE_FILE"; }

# Control database: local on the master, the master's over the LAN on a slave.
ctl_host() { if [[ $ARCHIVE_ROLE == slave ]]; then echo "$MASTER_DB_HOST"; else echo "$LOCAL_DB_HOST"; fi; }
ctl_port() { if [[ $ARCHIVE_ROLE == slave ]]; then echo "$MASTER_DB_PORT"; else echo "$LOCAL_DB_PORT"; fi; }

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
psql_ctl()   { psql_at "$(ctl_host)" "$(ctl_port)" "$BUCARDO_DB_NAME" "$@"; }
# This host's archive database (on the master: the master's).
psql_local() { psql_at "$LOCAL_DB_HOST" "$LOCAL_DB_PORT" "$ARCHIVE_DB_NAME" "$@"; }
# NOTIFY on the control database, optionally waiting for the answer.
notify_ctl() { archive-bucardo-notify --host "$(ctl_host)" --port "$(ctl_port)" --db "$BUCARDO_DB_NAME" --user "$BUCARDO_DB_USER" "$@"; }
# The Bucardo daemon's (MCP's) pid from its pid file, and whether it lives.
mcp_pid() { local p; p=$(head -1 "$PIDDIR/bucardo.mcp.pid" 2>/dev/null); [[ $p =~ ^[0-9]+$ ]] && echo "$p"; }
mcp_alive() { local p; p=$(mcp_pid) || return 1; kill -0 "$p" 2>/dev/null; }

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
# `docker compose exec bucardo bucardo status` works without arguments (on a
# slave it talks to the master's control database).
write_client_config() {
  local pw=${BUCARDO_PASSWORD//\\/\\\\}; pw=${pw//:/\\:}
  umask 077
  printf '*:*:*:%s:%s\n' "$BUCARDO_DB_USER" "$pw" > /root/.pgpass
  cat > /etc/bucardorc <<EOF
# written by archive-bucardo on container start
dbhost = $(ctl_host)
dbport = $(ctl_port)
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

# slave_sync_health: state of this slave's sync on the master, one line on
# stdout. Return 0 healthy, 1 unhealthy, 2 stale (active but no run for
# STALE_AFTER seconds: the daemon dropped it, e.g. after this slave's db was
# unreachable when the daemon (re)started), 3 master unreachable.
# A healthy sync runs every HEARTBEAT_INTERVAL seconds (the heartbeat).
slave_sync_health() {
  local sync row sstatus dstatus running lastbad age stale
  sync=$(sync_of "$SLAVE_NAME")
  stale=$(( HEARTBEAT_INTERVAL * 12 )); (( stale < 60 )) && stale=60
  row=$(PGCONNECT_TIMEOUT=5 psql_ctl -F ' ' -v s="$sync" -v n="$SLAVE_NAME" -c "
SELECT s.status,
       COALESCE((SELECT d.status FROM bucardo.db d WHERE d.name = :'n'), 'missing'),
       CASE WHEN EXISTS (SELECT 1 FROM bucardo.syncrun r WHERE r.sync = s.name AND r.ended IS NULL) THEN 'running' ELSE 'idle' END,
       COALESCE((SELECT CASE WHEN r.lastbad THEN 'bad' ELSE 'good' END FROM bucardo.syncrun r
                  WHERE r.sync = s.name AND (r.lastgood OR r.lastbad OR r.lastempty)
                  ORDER BY r.ended DESC LIMIT 1), 'none'),
       COALESCE((SELECT round(extract(epoch FROM now() - max(r.ended)))::int FROM bucardo.syncrun r WHERE r.sync = s.name), -1)
FROM bucardo.sync s WHERE s.name = :'s'" 2>&1) || { echo "master's control database unreachable: $(echo "$row" | head -1)"; return 3; }
  [[ -n $row ]] || { echo "sync $sync is not registered on the master"; return 1; }
  read -r sstatus dstatus running lastbad age <<<"$row"
  [[ $sstatus == active ]] || { echo "sync $sync is $sstatus on the master"; return 1; }
  [[ $dstatus == active ]] || { echo "db $SLAVE_NAME is $dstatus on the master"; return 1; }
  [[ $running == running ]] && { echo "sync $sync is running"; return 0; }
  case $lastbad in
    bad)  echo "sync $sync: last run failed (bucardo status $sync on the master)"; return 1;;
    none) echo "sync $sync: no run yet"; return 1;;
  esac
  if (( age > stale )); then
    echo "sync $sync: no run for ${age} s although the heartbeat changes every ${HEARTBEAT_INTERVAL} s: the daemon is not running it"; return 2
  fi
  echo "sync $sync: last run good, ${age} s ago"
  return 0
}
