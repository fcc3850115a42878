# lib.sh: the step runner behind build.sh. Each step has a name and a key
# (a hash of everything it depends on); a step whose key matches its stamp is
# skipped, so a rebuild with nothing changed takes seconds. Every step logs to
# its own file, prints its duration, and on failure names itself and keeps the log.

: "${CACHE:?CACHE must be set}"
mkdir -p "$CACHE/stamps" "$CACHE/logs"

BUILD_START=$(date +%s)

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# key_of ARGS...: a short content hash of strings and function bodies.
key_of() {
  local parts=()
  for a in "$@"; do
    if declare -F "$a" >/dev/null 2>&1; then parts+=("$(declare -f "$a")"); else parts+=("$a"); fi
  done
  printf '%s\n' "${parts[@]}" | sha256sum | cut -c1-16
}

# hash_files PATH...: content hash of files and directories.
hash_files() {
  find "$@" -type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -c1-16
}

# stamps_of STEP...: the keys of earlier steps, so a step's key changes
# whenever an input step rebuilt (cheaper than hashing their outputs).
stamps_of() {
  local n
  for n in "$@"; do cat "$CACHE/stamps/$n"; done | sha256sum | cut -c1-16
}

# outputs_present NAME: whether step NAME's outputs still exist. A stamp
# alone proves nothing: a cleaned cache folder or a new Docker data root
# leaves stamps whose outputs are gone.
outputs_present() {
  case $1 in
  node-*) docker image inspect "ckalab/node:v${1#node-}" >/dev/null 2>&1 ;;
  *) [[ -n "$(ls -A "$CACHE/out/$1" 2>/dev/null)" ]] ;;
  esac
}

# step NAME KEY FUNC [ARGS...]: run FUNC unless NAME's stamp holds KEY and
# its outputs are present. Each line it prints is whole, so steps may run
# side by side.
step() {
  local name=$1 key=$2 fn=$3
  shift 3
  local stamp="$CACHE/stamps/$name" log="$CACHE/logs/$name.log"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]] && outputs_present "$name"; then
    printf '  ✓ %-38s cached\n' "$name"
    return 0
  fi
  printf '  → %-38s started\n' "$name"
  local t0=$(date +%s)
  rm -f "$stamp"
  # Not an if-condition: errexit must stay on inside the step.
  local rc=0
  set +e
  ( set -euo pipefail; "$fn" "$@" ) >"$log" 2>&1
  rc=$?
  set -e
  if ((rc == 0)); then
    echo "$key" >"$stamp"
    printf '  ✓ %-38s %s  (total %s)\n' "$name" "$(fmt_secs $(($(date +%s) - t0)))" "$(fmt_secs $(($(date +%s) - BUILD_START)))"
  else
    printf '  ✗ %-38s FAILED after %s\n' "$name" "$(fmt_secs $(($(date +%s) - t0)))"
    echo "step $name failed; its log is $log. Last lines:" >&2
    tail -n 40 "$log" | sed 's/^/    /' >&2
    exit 1
  fi
}
