#!/usr/bin/env bash
# make install into the server of PG_CONFIG, or say how when we may not.
set -euo pipefail
pg_config=${1:-pg_config}
pkglibdir=$("$pg_config" --pkglibdir)
if [ "$(id -u)" = 0 ] || [ -w "$pkglibdir" ]; then
	make -s install PG_CONFIG="$pg_config"
else
	echo "install: $pkglibdir is not writable; run:" >&2
	echo "    sudo make install PG_CONFIG=$pg_config" >&2
	exit 1
fi
