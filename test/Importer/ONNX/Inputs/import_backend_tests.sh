#!/usr/bin/env bash
# import_backend_tests.sh DATA_DIR LIST - imports ONNX backend node tests (Debian libonnx-testdata).
#
# Every test named in LIST must import and pass the graph pipeline; the count per op is printed.
# Every other node test must either import or fail with a diagnostic and exit code 1: never crash.
set -u
data=$1 list=$2
status=0
declare -A perOp
while read -r name; do
  [ -n "$name" ] || continue
  if ! qopt-compile "$data/$name/model.onnx" -o /dev/null 2>/tmp/qopt-backend-err.$$; then
    echo "FAIL $name: $(head -1 /tmp/qopt-backend-err.$$)"
    status=1
  fi
  op=${name#test_}
  op=${op%%_*}
  perOp[$op]=$(( ${perOp[$op]:-0} + 1 ))
done < "$list"
for op in $(printf '%s\n' "${!perOp[@]}" | sort); do
  echo "imported $op: ${perOp[$op]}"
done
for model in "$data"/*/model.onnx; do
  qopt-compile "$model" -o /dev/null 2>/dev/null
  rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "CRASH $(basename "$(dirname "$model")"): exit code $rc"
    status=1
  fi
done
rm -f /tmp/qopt-backend-err.$$
echo "backend node tests: done"
exit $status
