#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, then runs them.
# This is the test command README.md gives, and .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# The store tests run against a real redis-server (they fail, never skip, without one).
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "redis-server is missing: run this as root to install it, or install it yourself" >&2
    exit 1
  fi
  apt-get update
  apt-get install -y redis-server
fi

# The OpenAPI test validates the layer's document with a real validator.
if ! python3 -c "import openapi_spec_validator" 2>/dev/null; then
  python3 -m pip install --quiet openapi-spec-validator
fi

cargo test --all-features --all-targets
cargo test --all-features --doc

# The security fuzz properties (tests/fuzz.rs), each for a bounded minute, in release so that a
# minute covers many cases. `cargo test` above already ran them briefly (FUZZ_SECONDS defaults to 5).
FUZZ_SECONDS=60 cargo test --release --all-features --test fuzz
