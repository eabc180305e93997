#!/bin/sh
# Console figures against the lab (prints, asserts nothing):
#   time to first frame, time to first complete fleet data,
#   idle CPU and peak RSS over SECS seconds (archtui itself, and its ssh
#   mux processes separately).
# Usage: ARCHTUI_CONFIG=tests/lab/.state/archtui.toml benches/idle_lab.sh
#        (BIN=target/release/archtui SECS=60 by default)
set -eu
BIN=${BIN:-target/release/archtui}
SECS=${SECS:-60}
: "${ARCHTUI_CONFIG:?set ARCHTUI_CONFIG}"
sock=archtui-bench-$$
hz=$(getconf CLK_TCK)
now() { date +%s.%N; }
screen() { tmux -L "$sock" capture-pane -p -t b 2>/dev/null || true; }
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT

t0=$(now)
tmux -L "$sock" new-session -d -s b -x 200 -y 50 "exec env ARCHTUI_CONFIG='$ARCHTUI_CONFIG' '$BIN'"
first_frame=""
while :; do
    s=$(screen)
    if [ -z "$first_frame" ] && printf '%s' "$s" | grep -q '^archtui'; then first_frame=$(now); fi
    if printf '%s' "$s" | grep -q '│● cavaforgepad' && printf '%s' "$s" | grep -q '│● jukebox' \
        && printf '%s' "$s" | grep -q '│archive_jukebox .* good '; then
        full=$(now); break
    fi
    if [ "$(echo "$(now) - $t0 > 60" | bc)" = 1 ]; then echo "no complete fleet data within 60 s"; screen; exit 1; fi
    sleep 0.02
done
echo "time to first frame:               $(echo "($first_frame - $t0) * 1000" | bc | cut -d. -f1) ms (tmux polling, ±20 ms)"
echo "time to first complete fleet data: $(echo "($full - $t0) * 1000" | bc | cut -d. -f1) ms"

pid=$(tmux -L "$sock" list-panes -t b -F '#{pane_pid}')
kids=$(pgrep -P "$pid" | tr '\n' ' ')
sleep 2
c0=$(cpu_ticks "$pid"); k0=0; for k in $kids; do k0=$((k0 + $(cpu_ticks "$k"))); done
w0=$(now)
sleep "$SECS"
c1=$(cpu_ticks "$pid"); k1=0; for k in $kids; do k1=$((k1 + $(cpu_ticks "$k"))); done
w1=$(now)
wall=$(echo "$w1 - $w0" | bc)
echo "idle CPU over ${SECS} s:            $(echo "scale=3; 100 * ($c1 - $c0) / $hz / $wall" | bc) % of a core (archtui); $(echo "scale=3; 100 * ($k1 - $k0) / $hz / $wall" | bc) % (its ssh processes: $kids)"
echo "peak RSS:                          $(awk '/VmHWM/ {print $2 / 1024 " MB"}' "/proc/$pid/status") (current $(awk '/VmRSS/ {print $2 / 1024 " MB"}' "/proc/$pid/status"))"
tmux -L "$sock" send-keys -t b q
