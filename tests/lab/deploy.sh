# Sourced by up and deploy: the lab's secrets, and deploying the stack to
# lab hosts the way an operator does (copy the stack files over SSH,
# `docker compose up -d --build` there).
# shellcheck shell=bash

# Random per-lab passwords: the lab never runs on the repository's defaults.
ensure_secrets() {
  mkdir -p "$STATE/secrets"; chmod 700 "$STATE/secrets"
  local s
  for s in postgres_password archive_db_password bucardo_password secret_key_base; do
    [[ -s $STATE/secrets/$s ]] || (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$STATE/secrets/$s")
  done
}

# set_env FILE KEY VALUE: change KEY's value in an env file, keeping the
# line's `export ` prefix; append it when absent.
set_env() {
  local file=$1 key=$2 value=$3
  if grep -qE "^(export )?$key=" "$file"; then
    sed -i -E "s|^(export )?$key=.*|\\1$key=$value|" "$file"
  else
    printf 'export %s=%s\n' "$key" "$value" >>"$file"
  fi
}

# render_stack HOST ROLE DIR [KEY=VALUE...]: the stack files as the operator
# prepares them for HOST (the seed's procedure: the repository's files, the
# operator's passwords in env.common, then APP_HOST and, on a slave,
# MASTER_DB_HOST set); KEY=VALUE pairs go into env.ROLE on top.
render_stack() {
  local h=$1 role=$2 dir=$3; shift 3
  mkdir -p "$dir"
  tar -C "$REPO_DIR" -cf - docker-compose.yml .env env.common env.master env.slave deploy.sh deploy_slave.sh assets | tar -C "$dir" -xf -
  set_env "$dir/env.common" POSTGRES_PASSWORD "$(cat "$STATE/secrets/postgres_password")"
  set_env "$dir/env.common" ARCHIVE_DB_PASSWORD "$(cat "$STATE/secrets/archive_db_password")"
  set_env "$dir/env.common" BUCARDO_PASSWORD "$(cat "$STATE/secrets/bucardo_password")"
  set_env "$dir/env.common" SECRET_KEY_BASE "$(cat "$STATE/secrets/secret_key_base")"
  # The lab's LAN (the db also admits its own Docker networks: samenet).
  set_env "$dir/env.common" DB_ALLOWED_CIDRS "$SUBNET"
  set_env "$dir/env.$role" APP_HOST "$(host_addr "$h")"
  [[ $role == slave ]] && set_env "$dir/env.slave" MASTER_DB_HOST "$(host_addr "$MASTER")"
  local kv
  for kv in "$@"; do set_env "$dir/env.$role" "${kv%%=*}" "${kv#*=}"; done
  chmod 600 "$dir"/env.*
}

# deploy_host HOST ROLE DIR WAIT [KEY=VALUE...]: copy the rendered stack to
# DIR on the host and `docker compose up -d --build` there; WAIT=1 waits
# until every service is healthy.
deploy_host() {
  local h=$1 role=$2 dir=$3 wait=$4; shift 4
  local tmp log waitflags=""
  tmp=$(mktemp -d); log="$(host_state "$h")/deploy-$(basename "$dir").log"
  render_stack "$h" "$role" "$tmp" "$@"
  tar -C "$tmp" -cf - . | lab_ssh "$h" "mkdir -p $dir && tar -C $dir -xf -"
  rm -rf "$tmp"
  [[ $wait == copy ]] && { log "$h: stack files copied to $dir ($role)"; return 0; }
  [[ $wait == 1 ]] && waitflags="--wait --wait-timeout 600"
  log "$h: docker compose up -d --build in $dir ($role; output in $log)"
  if ! lab_ssh "$h" "cd $dir && docker compose --env-file env.common --env-file env.$role up -d --build $waitflags" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    lab_ssh "$h" "cd $dir && docker compose --env-file env.common --env-file env.$role logs --tail 20" >&2 || true
    die "$h: deploying the stack failed (full output: $log)"
  fi
}

deploy_fleet() {
  deploy_host "$MASTER" master "$DEPLOY_DIR" 1 &
  local master_job=$!
  deploy_host jukebox slave "$DEPLOY_DIR" 1 &
  local slave_job=$!
  wait "$master_job" || die "deploying the master failed"
  wait "$slave_job" || die "deploying the slave failed"
  log "fleet deployed: $MASTER (master), jukebox (slave)"
}
