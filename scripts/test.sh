#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, then runs them.
# This is the test command README.md gives, and .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --all-features --all-targets
cargo test --all-features --doc
