#!/usr/bin/env bash
# Puts a RustSec advisory database snapshot where deny.toml's `db-path` points
# (target/advisory-dbs), as cargo-deny reads it offline: a git repository in a folder named
# after the default database URL's hash.
#
#   scripts/advisory_db.sh ../shared/advisory-db
set -euo pipefail
cd "$(dirname "$0")/.."

snapshot=${1:?usage: scripts/advisory_db.sh SNAPSHOT_DIR}
db=target/advisory-dbs/advisory-db-3157b0e258782691
rm -rf "$db"
mkdir -p "$db"
cp -r "$snapshot"/. "$db"/
git -C "$db" init -q
git -C "$db" add -A
git -C "$db" -c user.name=ci -c user.email=ci@localhost commit -qm "RustSec snapshot"
