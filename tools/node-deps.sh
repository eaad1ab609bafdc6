#!/usr/bin/env bash
# Install what the JavaScript side of the JSON Schema benchmark and of the
# differential test needs (ajv and ajv-formats, the reference validator),
# once, into a cache directory outside the checkout, and print the path of
# its node_modules (for NODE_PATH).  Nothing from npm is committed: the
# versions are pinned by test/bench/jsonschema/package.json and its
# package-lock.json, installed with `npm ci`.
#
#   tools/node-deps.sh       install if missing or stale, print <cache>/node/node_modules
#   APIKIT_CACHE=/some/dir   where (default /var/cache/apikit as root, else
#                            ~/.cache/apikit, as tools/pg18.sh)
#
# As root, a missing node or npm is installed from Debian (apt-get install
# nodejs npm); otherwise the exact command is printed and this fails.  As
# root the cache is left readable by everyone, so the unprivileged test user
# finds it: without APIKIT_CACHE, a user other than root uses root's cache
# when it is complete and current, before installing into its own.
# Progress goes to standard error; standard output is only the path.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pkg=$top/test/bench/jsonschema
log() { echo "node-deps: $*" >&2; }

# A cache is current when it holds node_modules installed from the same
# lock file; the stamp is written last, so an interrupted install is redone.
current() {	# dir
	[ -f "$1/.complete" ] && [ -r "$1/node_modules/ajv/package.json" ] &&
		[ -r "$1/node_modules/ajv-formats/package.json" ] &&
		cmp -s "$1/.complete" "$pkg/package-lock.json"
}

if [ "$(id -u)" = 0 ]; then
	cache=${APIKIT_CACHE:-/var/cache/apikit}
else
	cache=${APIKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/apikit}
fi
dir=$cache/node

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		log "node and npm are missing; run this, then try again:"
		log "    sudo apt-get update && sudo apt-get install -y nodejs npm"
		exit 1
	fi
	log "installing nodejs npm"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2
	apt-get install -y -q --no-install-recommends nodejs npm >&2
fi
# ajv 8 needs node 12 or later; Debian 12 has 18.
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 12 ]; then
	log "node $(node --version) is too old for ajv 8 (12 or later)"
	exit 1
fi

if current "$dir"; then
	echo "$dir/node_modules"
	exit 0
fi
if [ "$(id -u)" != 0 ] && [ -z "${APIKIT_CACHE:-}" ] && current /var/cache/apikit/node; then
	echo "/var/cache/apikit/node/node_modules"
	exit 0
fi

log "installing ajv and ajv-formats (test/bench/jsonschema/package-lock.json) into $dir"
mkdir -p "$dir"
rm -f "$dir/.complete"
cp "$pkg/package.json" "$pkg/package-lock.json" "$dir/"
# --ignore-scripts: nothing from the registry runs at install time.
(cd "$dir" && umask 022 && npm_config_update_notifier=false npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
	--loglevel=error >&2)
cp "$pkg/package-lock.json" "$dir/.complete"
if [ "$(id -u)" = 0 ]; then
	chmod a+rx "$cache"
	chmod -R a+rX "$dir"
fi
echo "$dir/node_modules"
