#!/usr/bin/env bash
# Install what building and testing apikit needs, from Debian's packages.
#
#   tools/deps.sh [PG_CONFIG]
#
# As root it runs apt-get; otherwise it prints the exact command and fails.
# With the default pg_config it installs PostgreSQL 15 from Debian; with any
# other pg_config (PostgreSQL 18 from tools/pg18.sh) that server must exist.
set -euo pipefail
pg_config=${1:-pg_config}

# Build and test tools, for every PostgreSQL version.
pkgs="make gcc libcjson-dev libipc-run-perl gdb"
# gdb: the rate-limit race tests stop a backend at a chosen function.
# Later components add their packages here, with a reason in the README.
if [ "$pg_config" = pg_config ] || [ "$pg_config" = /usr/bin/pg_config ]; then
	pkgs="$pkgs postgresql-15 postgresql-server-dev-15"
elif [ ! -x "$pg_config" ]; then
	echo "deps: $pg_config does not exist; build PostgreSQL 18 with tools/pg18.sh" >&2
	exit 1
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run this, then try again:" >&2
	echo "    sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
# Debian's postgresql-15 creates and starts a "main" cluster; apikit's tests
# and demo never use it, so leave it as the package set it up.
