#!/usr/bin/env bash
# test.sh - builds qopt and runs every test: the lit suite and the FileCheck directive lint.
# Ends with the line `N passed, N failed`.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${QOPT_BUILD_DIR:-$root/build}"
bash "$root/scripts/build.sh" || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
/usr/lib/llvm-22/bin/lit -sv "$build/test" 2>&1 | tee "$log"
passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$log" | head -1)
failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' "$log" | head -1)
unresolved=$(sed -n 's/^ *Unresolved *: *\([0-9]*\).*/\1/p' "$log" | head -1)
rm -f "$log"
passed=${passed:-0}
failed=$(( ${failed:-0} + ${unresolved:-0} ))
[ "$passed" -gt 0 ] || failed=$((failed + 1)) # A suite that ran nothing has failed.

if /usr/bin/python3 "$root/scripts/lint_filecheck.py" "$root/test"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
