# Shared by the bench scripts (sourced): measure NAME COMMAND… runs COMMAND under GNU time,
# keeps its stdout in $WORK/NAME.out and prints wall time and peak RSS.
measure() {
  local name=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.time" || true
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$WORK/$name.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident' "$WORK/$name.time" | awk '{print $NF}')
  printf '%-10s wall %-10s peak RSS %6d MB\n' "$name" "$wall" "$((rss / 1024))"
}
