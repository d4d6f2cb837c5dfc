#!/usr/bin/env bash
# Instructions per operation (benches/operations.rs), counted by callgrind, and what the layer
# adds around the cryptography: repeatable figures on a machine whose timings another process
# can disturb.
# Usage: scripts/bench_instructions.sh [CALLS]   (default 2000 calls per operation)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-2000}

if ! command -v valgrind >/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  $sudo apt-get install -y valgrind
fi

exe=$(cargo bench --all-features --no-run --bench operations --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "operations" and m.get("executable"):
        print(m["executable"])')
operations=$("$exe" --list)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for operation in $operations; do
  valgrind --tool=callgrind --callgrind-out-file="$out/$operation" \
    "$exe" --operation "$operation" --count "$calls" >/dev/null 2>&1
  # The inclusive count of the one `measured` function that ran, divided by the calls.
  callgrind_annotate --inclusive=yes --threshold=100 "$out/$operation" |
    awk -v op="$operation" -v calls="$calls" '/operations::measured/ {
        gsub(",", "", $1); if ($1 + 0 > best) best = $1 + 0 }
      END { printf "%s %.1f\n", op, best / calls }'
done | python3 -c '
import sys
per_call = {}
for line in sys.stdin:
    name, count = line.split()
    per_call[name] = float(count)
    print(f"{name:36} {float(count):9.1f} instructions per call")
print()
# Valgrind does not emulate SHA-NI: under it `sha2` takes its software path, so the HMAC, and
# everything that contains one, counts many more instructions than it runs natively. Ratios
# against the HMAC floor belong to the criterion benches; what is compared here is the work
# around the cryptography, in instructions.
def extra(label, top, bottom):
    value = sum(per_call[n] for n in top) - sum(per_call[n] for n in bottom)
    print(f"{label:66} {value:7.1f} instructions")
extra("pass_through - bare_inner", ["pass_through"], ["bare_inner"])
extra("protected_valid_token - (bare_inner_with_bearer + verify)", ["protected_valid_token"], ["bare_inner_with_bearer", "verify_access_token"])
extra("protected_valid_token - (bare_..._and_claims + verify)", ["protected_valid_token"], ["bare_inner_with_bearer_and_claims", "verify_access_token"])
extra("protected_valid_token_cached - (bare_..._and_claims + cache_hit)", ["protected_valid_token_cached"], ["bare_inner_with_bearer_and_claims", "cache_hit"])
label, value = "pass_through / bare_inner", per_call["pass_through"] / per_call["bare_inner"]
print(f"{label:66} {value:7.2f}")
'
