#!/usr/bin/env bash
# Builds bin/tenantd (make build, make run). go build is incremental: when
# nothing changed it only checks, in about a second. Without a binary yet
# (the first build, about 1½ minutes on 2 idle cores with an empty build
# cache) it says so and shows the packages it compiles as a count.
#
# Environment: GO (default go), LDFLAGS (passed to go build -ldflags), OUT
# (default bin/tenantd).
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
out="${OUT:-bin/tenantd}"
if [ -x "$out" ]; then
  exec "$GO" build -ldflags "${LDFLAGS:-}" -o "$out" ./cmd/tenantd
fi
echo "building $out (the first build takes about 1½ min on 2 cores; later ones only recompile what changed)…"
total=$("$GO" list -deps ./cmd/tenantd | wc -l)
start=$SECONDS
# -v names each package as it is compiled; anything else (a compile error)
# is printed as it comes.
"$GO" build -v -ldflags "${LDFLAGS:-}" -o "$out" ./cmd/tenantd 2>&1 | {
  n=0
  while IFS= read -r line; do
    case $line in
      *' '* | '#'* | '') printf '%s\n' "$line" ;;
      *)
        n=$((n + 1))
        if [ -t 1 ]; then
          printf '\r  %d of at most %d packages compiled (%ds)' "$n" "$total" $((SECONDS - start))
        elif [ $((n % 100)) -eq 0 ]; then
          printf '  %d of at most %d packages compiled (%ds)\n' "$n" "$total" $((SECONDS - start))
        fi
        ;;
    esac
  done
  [ -t 1 ] && printf '\n'
  true
}
echo "built $out in $((SECONDS - start))s"
