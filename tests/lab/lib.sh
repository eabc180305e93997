# Shared by the lab's executables: the fleet's shape, paths and helpers.
# shellcheck shell=bash
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)
# Everything the lab keeps between runs (keys, known_hosts, ssh config,
# archtui config, cached base image, docker data) lives here; git ignores it.
STATE=${ARCHLAB_STATE:-$LAB_DIR/.state}
# Runtime files (namespaces, sockets, pid files) stay under /run with short
# paths: unix socket paths are limited to 108 bytes.
RUN=/run/archlab

BRIDGE=archlab0
SUBNET=10.77.0.0/24
BRIDGE_ADDR=10.77.0.254
# The lab's fleet: the master, a slave, and a bare third host (sshd and
# docker only) for the new-slave wizard and the add-a-slave test.
HOSTS=(cavaforgepad jukebox turntable)
declare -A HOST_INDEX=([cavaforgepad]=1 [jukebox]=2 [turntable]=3)
MASTER=cavaforgepad
# Where the stack is deployed on every lab host (each host has its own /srv).
DEPLOY_DIR=/srv/archive

host_addr() { echo "10.77.0.${HOST_INDEX[$1]}"; }
host_netns() { echo "archlab-$1"; }
host_veth() { echo "alab${HOST_INDEX[$1]}"; }
host_state() { echo "$STATE/hosts/$1"; }
host_run() { echo "$RUN/$1/run"; }
host_mntns() { echo "$RUN/ns/$1.mnt"; }
host_utsns() { echo "$RUN/ns/$1.uts"; }
host_docker_sock() { echo "$(host_run "$1")/docker.sock"; }

is_host() { [[ -n "${HOST_INDEX[$1]:-}" ]]; }
require_host() {
  is_host "$1" || die "unknown lab host '$1' (hosts: ${HOSTS[*]})"
}

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "the lab needs root (network namespaces, dockerd): run it with sudo"
}

# Run a command inside a host's network, mount and UTS namespaces: what the
# host itself would run (its /run, /srv, hostname and docker engine).
in_host() {
  local h=$1; shift
  nsenter --net="/run/netns/$(host_netns "$h")" --mount="$(host_mntns "$h")" \
    --uts="$(host_utsns "$h")" "$@"
}

# docker against a host's engine, from the machine the lab runs on.
host_docker() {
  local h=$1; shift
  DOCKER_HOST="unix://$(host_docker_sock "$h")" docker "$@"
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
pidfile_alive() { [[ -f "$1" ]] && pid_alive "$(cat "$1" 2>/dev/null)"; }

SSH_CONFIG="$STATE/ssh_config"
lab_ssh() { ssh -F "$SSH_CONFIG" "$@"; }

# Starts a host's dockerd unless it runs and answers (up, dockerd).
ensure_dockerd() {
  local h=$1 hs; hs=$(host_state "$h")
  if pidfile_alive "$(host_run "$h")/docker.pid" && host_docker "$h" info >/dev/null 2>&1; then return; fi
  # Leftovers of a killed run: a stale pid file or containerd socket keeps
  # dockerd from starting again.
  rm -f "$(host_run "$h")/docker.pid" "$(host_docker_sock "$h")"
  rm -rf "$(host_run "$h")/docker/containerd/containerd.pid"
  mkdir -p "$hs/docker"
  log "$h: starting dockerd"
  # nsenter rather than `ip netns exec`: the latter remounts /sys and dockerd
  # then fails with "Devices cgroup isn't mounted".
  # A fixed address pool: Docker's default one ends in 192.168.0.0/16, which
  # it reaches after a few dozen networks; the lab keeps to its own ranges.
  in_host "$h" setsid dockerd --data-root "$hs/docker" --cgroup-parent "/archlab-$h" \
    --default-address-pool "base=172.30.0.0/16,size=24" \
    >>"$hs/dockerd.log" 2>&1 </dev/null &
}

wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "timed out after ${secs}s waiting for $what"
    sleep 0.3
  done
}
