#!/usr/bin/env bash
# Build PostgreSQL 18 from Debian's postgresql-18 source package into a cache
# directory outside the checkout, once, and print its pg_config.
#
# The source comes through a private apt configuration (its own sources list,
# lists and cache under the cache directory) with a deb-src entry for Debian's
# unstable suite; the system's apt sources are never touched. The archive
# address is taken from the system's own Debian entry, so this works behind
# whatever mirror the machine is set up with.
#
#   tools/pg18.sh            build if missing, print the path of pg_config
#                            (<cache>/postgresql-18/bin/pg_config)
#   APIKIT_CACHE=/some/dir   where to build (default /var/cache/apikit as
#                            root, else ~/.cache/apikit)
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
	cache=${APIKIT_CACHE:-/var/cache/apikit}
else
	cache=${APIKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/apikit}
fi
# Debian's 50-per-version-dirs patch sends the server's libraries to
# /usr/lib/postgresql/18 unless the install path names "postgres"; this
# prefix does, so everything stays inside the cache.
prefix=$cache/postgresql-18
if [ -x "$prefix/bin/pg_config" ] && [ -f "$prefix/.complete" ]; then
	echo "$prefix/bin/pg_config"
	exit 0
fi

log() { echo "pg18: $*" >&2; }

# The build needs Debian's archive for the sources and a few -dev packages.
need="dpkg-dev bison flex libreadline-dev zlib1g-dev libipc-run-perl pkg-config"
missing=$(for p in $need; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		log "installing $(echo $missing)"
		apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2
	else
		echo "pg18: missing packages; run: sudo apt-get install -y $(echo $missing)" >&2
		exit 1
	fi
fi

mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	mirror=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' "$f")
	[ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
	mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "pg18: no Debian archive found in the system's apt sources" >&2; exit 1; }

apt=$cache/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$cache/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror unstable main" > "$apt/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/none"
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
      -o "APT::Sandbox::User=$(id -un)" -o "Debug::NoLocking=1")

srcdir=$(ls -d "$cache"/src/postgresql-18-*/ 2>/dev/null | head -n 1 || true)
if [ -z "$srcdir" ]; then
	log "fetching the postgresql-18 source package"
	apt-get "${opts[@]}" -q update >&2
	(cd "$cache/src" && apt-get "${opts[@]}" -q source postgresql-18 >&2)
	srcdir=$(ls -d "$cache"/src/postgresql-18-*/ | head -n 1)
fi
srcdir=${srcdir%/}
log "building $srcdir into $prefix (once; later runs reuse it)"

build=$cache/build18
rm -rf "$build" "$prefix"
mkdir -p "$build"
cd "$build"
# Assertions on: the second target is where apikit's own bugs should trip.
"$srcdir/configure" --prefix="$prefix" --enable-tap-tests --enable-cassert \
	--enable-debug --without-icu --without-readline >"$build/configure.log" 2>&1 \
	|| { tail -n 30 "$build/configure.log" >&2; exit 1; }
make -s -j"$(nproc)" >"$build/make.log" 2>&1 || { tail -n 40 "$build/make.log" >&2; exit 1; }
make -s install >"$build/install.log" 2>&1 || { tail -n 40 "$build/install.log" >&2; exit 1; }
# isolationtester and the TAP modules are not part of a plain install.
for d in src/test/isolation src/test/perl; do
	make -s -C "$d" install >>"$build/install.log" 2>&1 || { tail -n 40 "$build/install.log" >&2; exit 1; }
done
case $("$prefix/bin/pg_config" --pkglibdir) in
"$prefix"/*) ;;
*) echo "pg18: the build escaped $prefix" >&2; exit 1 ;;
esac
touch "$prefix/.complete"
rm -rf "$build"
echo "$prefix/bin/pg_config"
