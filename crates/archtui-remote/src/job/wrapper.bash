# One detached job (src/remote/job.rs): runs the command line $4 in the
# deploy dir $3 in a session of its own, output appended to $1.log, then its
# exit status (and `idle` when it was stopped) in $1.rc. Stops it once the
# log has not grown for $2 seconds: TERM to its process group, KILL 10 s
# later. Holds, inherited from the holder, the host's lock (fd 9) and the
# job's run lock (fd 8) until it exits; the command itself gets neither, so
# nothing it leaves behind can keep the host locked.
# $5 is the job's metadata (a JSON object on one line); its pid is added.
f=$1 idle=$2 d=$3 cmd=$4 meta=$5
printf '%s,"pid":%s}\n' "${meta%\}}" "$$" > "$f.json.tmp" && mv -f -- "$f.json.tmp" "$f.json"
end() {
  printf '%s %s\n' "$1" "${2:-}" > "$f.rc.tmp" && mv -f -- "$f.rc.tmp" "$f.rc"
  exit 0
}
cd -- "$d" || end 126
setsid bash -c "$cmd" </dev/null >>"$f.log" 2>&1 8>&- 9>&- &
c=$!
why='' termed=0
while kill -0 "$c" 2>/dev/null; do
  sleep 1
  now=$(date +%s)
  if [ -z "$why" ]; then
    last=$(stat -c %Y -- "$f.log" 2>/dev/null || echo "$now")
    if [ $((now - last)) -ge "$idle" ]; then
      why=idle termed=$now
      echo "archtui: no output for $idle s: stopping the job (TERM, then KILL after 10 s)" >> "$f.log"
      kill -TERM -- "-$c" 2>/dev/null
    fi
  elif [ $((now - termed)) -ge 10 ]; then
    kill -KILL -- "-$c" 2>/dev/null
  fi
done
wait "$c"
end "$?" "$why"
