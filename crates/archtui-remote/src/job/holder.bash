# archtui's lock on a host (src/remote/job.rs says how it is used).
# Holds <deploy dir>/.archtui/lock (flock) for as long as a line arrives on
# stdin at least every $5 seconds; the jobs it starts inherit the lock, so it
# stays held while a job runs after this holder (and archtui) are gone.
# flock is the truth; lock.info only describes the last holder.
# $1 deploy dir, $2 who, $3 action, $4 since, $5 silence (s), $6 job wrapper.
# Prints, one line each: `archtui-job ID STATE METADATA` for every job no
# archtui has reported yet (STATE: running, lost, rc:N, idle:N); then either
# `archtui-ready PID`, or `archtui-busy` with lock.info's key=value lines,
# `holder=alive|gone` and exit 2, or `archtui-error TEXT` and exit 3.
# Then reads `ping`, `start ID IDLE` (followed by a metadata line and a
# command line) and `bye`.
set -u
umask 077
d=$1 who=$2 what=$3 since=$4 quiet=$5 wrapper=$6
a=$d/.archtui
j=$a/jobs

fail() { printf 'archtui-error %s\n' "$*"; exit 3; }
for t in flock setsid tail stat timeout; do
  command -v "$t" >/dev/null 2>&1 || fail "$t is not installed on the host (util-linux and coreutils are needed)"
done
# A bare host: the deploy dir gets the usual mode, archtui's own dirs 0700.
if [ ! -d "$d" ]; then (umask 022 && mkdir -p -- "$d") || fail "cannot create $d"; fi
mkdir -p -- "$j" || fail "cannot create $j"

report() {
  for m in "$j"/*.json; do
    [ -f "$m" ] || continue
    id=${m##*/}; id=${id%.json}
    [ -e "$j/$id.seen" ] && continue
    if [ -f "$j/$id.rc" ]; then
      code='' why=''
      read -r code why < "$j/$id.rc" || true
      case $code in ''|*[!0-9]*) code=255 ;; esac
      if [ "$why" = idle ]; then st=idle:$code; else st=rc:$code; fi
    elif flock -n "$j/$id.run" true 2>/dev/null; then st=lost
    else st=running; fi
    printf 'archtui-job %s %s %s\n' "$id" "$st" "$(head -c 8192 -- "$m" | head -n 1)"
  done
}

# Reported jobs beyond the newest 30 are removed.
prune() {
  ls -1t -- "$j"/*.seen 2>/dev/null | tail -n +31 | while IFS= read -r s; do
    rm -f -- "${s%.seen}.json" "${s%.seen}.log" "${s%.seen}.rc" "${s%.seen}.run" "$s"
  done
}

busy() {
  echo archtui-busy
  head -c 4096 -- "$a/lock.info" 2>/dev/null | grep -E '^[a-z_]+='
  if flock -n "$a/holder" true 2>/dev/null; then echo holder=gone; else echo holder=alive; fi
  report
  exit 2
}

info() {
  printf 'who=%s\naction=%s\nsince=%s\nholder_pid=%s\n' "$who" "$what" "$since" "$$"
  if [ -n "${1:-}" ]; then printf 'job=%s\n' "$1"; fi
}

exec 9>>"$a/lock" || fail "cannot open $a/lock"
n=0
until flock -n 9; do
  # Held by a live holder or a running job: refused. Held by neither, the
  # lock is changing hands: look again.
  n=$((n + 1))
  [ "$n" -ge 5 ] && busy
  flock -n "$a/holder" true 2>/dev/null || busy
  sleep 0.2
done
exec 7>>"$a/holder" || fail "cannot open $a/holder"
flock -w 5 7 || fail "$a/holder stays locked"
info > "$a/lock.info.tmp" && mv -f -- "$a/lock.info.tmp" "$a/lock.info"
report
prune
echo "archtui-ready $$"

start() {
  id=$1 idle=$2 meta='' cmd=''
  IFS= read -r -t 10 meta || { echo "archtui-error no metadata for job $id"; return; }
  IFS= read -r -t 10 cmd || { echo "archtui-error no command for job $id"; return; }
  case $id in ''|*[!A-Za-z0-9-]*) echo "archtui-error bad job id"; return ;; esac
  case $idle in ''|*[!0-9]*) echo "archtui-error bad idle bound"; return ;; esac
  f=$j/$id
  if [ -e "$f.json" ]; then echo "archtui-error job $id exists"; return; fi
  : > "$f.log" || { echo "archtui-error cannot write $f.log"; return; }
  # The job's run lock: taken here, inherited by the wrapper, so the job
  # counts as running from its first instant until its last.
  exec 8>>"$f.run" || { echo "archtui-error cannot open $f.run"; return; }
  flock -n 8 || { echo "archtui-error $f.run is locked"; exec 8>&-; return; }
  setsid bash -c "$wrapper" archtui-job "$f" "$idle" "$d" "$cmd" "$meta" </dev/null >>"$f.log" 2>&1 7>&- &
  pid=$!
  exec 8>&-
  k=0
  while [ ! -f "$f.json" ] && [ "$k" -lt 50 ]; do sleep 0.1; k=$((k + 1)); done
  [ -f "$f.json" ] || { echo "archtui-error job $id did not start"; return; }
  info "$id" > "$a/lock.info.tmp" && mv -f -- "$a/lock.info.tmp" "$a/lock.info"
  echo "archtui-started $id $pid"
}

while IFS= read -r -t "$quiet" line; do
  case $line in
    ping) ;;
    "start "*)
      set -f
      # shellcheck disable=SC2086
      set -- $line
      set +f
      start "${2:-}" "${3:-}"
      ;;
    bye) exit 0 ;;
    *) echo "archtui-error unknown command" ;;
  esac
done
exit 0
