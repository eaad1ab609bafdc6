# Shared by tools/run-tests.sh and tools/demo.sh (sourced, not run).
#
# PostgreSQL refuses to run as root, so as root the servers of the tests and
# the demo run as an unprivileged user: $APIKIT_TEST_USER, default "apikit",
# a system account created on first use.
apikit_user=${APIKIT_TEST_USER:-apikit}

ensure_user() {
	[ "$(id -u)" = 0 ] || return 0
	id -u "$apikit_user" >/dev/null 2>&1 && return 0
	useradd --system --user-group --create-home --home-dir "/var/lib/$apikit_user" \
		--shell /bin/bash "$apikit_user"
}

# Run a command as the server owner: the unprivileged user when root, else
# the caller.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$apikit_user" -- "$@"
	else
		"$@"
	fi
}
