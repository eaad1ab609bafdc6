#!/usr/bin/env bash
# Shared memory per rate-limit key: the server's own shared_memory_size
# (computed by "postgres -C", with apikit preloaded, without starting it)
# with apikit.ratelimit_max_keys at its minimum and a million keys higher.
#
#   test/bench/ratelimit_memory.sh [PG_CONFIG]   (apikit installed first)
set -euo pipefail
pg_config=${1:-pg_config}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tools/common.sh"
bindir=$("$pg_config" --bindir)
ensure_user
dir=$(mktemp -d /tmp/apikit-mem.XXXXXX)
trap 'rm -rf "$dir"' EXIT
if [ "$(id -u)" = 0 ]; then chown "$apikit_user": "$dir"; fi
as_owner "$bindir/initdb" -D "$dir/data" --auth=trust >/dev/null
echo "shared_preload_libraries = 'apikit'" >>"$dir/data/postgresql.conf"
size() { as_owner "$bindir/postgres" -D "$dir/data" -C shared_memory_size -c "apikit.ratelimit_max_keys=$1"; }
small=$(size 100)
large=$(size 1000100)
echo "$("$pg_config" --version): shared_memory_size $small MB with 100 keys, $large MB with 1,000,100"
awk -v a="$small" -v b="$large" 'BEGIN {printf "%.0f bytes per key\n", (b - a) * 1024 * 1024 / 1000000}'
