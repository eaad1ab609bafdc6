# apikit — PGXS build, plus the project's own targets:
#
#   make                 build
#   make install         install into the server of PG_CONFIG
#   make installcheck    pg_regress + isolation against a running server
#   make test            install what is missing, build, install, run every
#                        suite (unit, pg_regress, isolation, TAP) on temporary
#                        instances; ends with "N passed, N failed"
#   make demo            the same set-up, then a throwaway cluster in ./.demo
#                        with a scripted tour; make demo-stop stops it
#
# PG_CONFIG=/path/to/pg_config selects the server (PostgreSQL 15 or 18).

EXTENSION  = apikit
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = $(EXTENSION)
OBJS = \
	src/apikit.o \
	src/guc.o \
	src/install_notice.o \
	src/shmem.o \
	src/ratelimit/gcra.o \
	src/ratelimit/ratelimit_policy.o \
	src/ratelimit/ratelimit_shmem.o \
	src/ratelimit/ratelimit_sql.o \
	src/audit/audit_codec.o \
	src/audit/audit_hash.o \
	src/audit/audit_redact.o \
	src/audit/audit_seal.o \
	src/audit/audit_track.o \
	src/audit/audit_trigger.o \
	src/audit/audit_verify.o \
	src/audit/sha256.o \
	src/json/json_view.o \
	src/json/jsonschema_compile.o \
	src/json/jsonschema_eval.o \
	src/json/jsonschema_format.o \
	src/json/jsonschema_metadata.o \
	src/json/jsonschema_regex.o \
	src/json/jsonschema_regex_size.o \
	src/json/jsonschema_sql.o \
	src/json/jsonschema_uri.o \
	src/worker/heartbeat.o \
	src/worker/job_settings.o \
	src/worker/jobs.o \
	src/worker/schedule.o \
	src/worker/scheduler.o \
	src/worker/worker_status.o

# The install script is the per-component SQL, in this order.
SQL_PARTS = \
	src/sql/apikit.sql \
	src/sql/worker.sql \
	src/sql/ratelimit.sql \
	src/sql/audit.sql \
	src/sql/json.sql

DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard $(EXTENSION)--*--*.sql)

PG_CPPFLAGS = -I$(srcdir)/include -DAPIKIT_VERSION='"$(EXTVERSION)"'
# make test builds with WERROR=1: apikit's code must stay free of warnings.
# The server headers are read as system headers, so that warnings in them
# (PostgreSQL itself does not build with -Wextra) do not drown ours.
PG_CFLAGS = -Wall -Wextra -isystem $(shell $(PG_CONFIG) --includedir-server)
ifdef WERROR
PG_CFLAGS += -Werror
endif

# make installcheck: against the server at PGHOST/PGPORT, which must have
# apikit installed.  The tests that expect preload run when the server
# preloads apikit, the not-preloaded ones when it does not.  (make test runs
# both kinds on instances of its own, see tools/run-tests.sh.)
REGRESS = extension not_preloaded
ifneq ($(filter installcheck,$(MAKECMDGOALS)),)
ifeq ($(shell psql -XAtqc "SELECT 1 WHERE current_setting('shared_preload_libraries') ~ '(^|[ ,])apikit($$|[ ,])'" postgres 2>/dev/null),1)
REGRESS = extension settings worker_status ratelimit audit jsonschema jsonschema_suite null_arguments trigger_functions
endif
endif
ISOLATION = extension_install ratelimit_concurrency audit_concurrency jsonschema_registry
ISOLATION_OPTS = --inputdir=test/isolation

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# On a fresh machine pg_config may exist (libpq-dev) without the server's
# development files.  make test and make demo install them first and then
# run make again; plain builds say what is missing.
all install installcheck:
	@echo "apikit: no PGXS for $(PG_CONFIG); run tools/deps.sh (make test and make demo run it for you)" >&2
	@exit 1
endif

# PGXS does not notice when PG_CONFIG names another server: objects built
# for one major version load into another and fail (or worse).  The stamp
# holds the version they were built for and is rewritten when it changes.
PG_BUILT_FOR := $(shell $(PG_CONFIG) --version 2>/dev/null)
$(OBJS): .pg-built-for
# PGXS tracks no header dependencies: any header change rebuilds everything
# (a struct that changes size under a stale object file smashes the stack).
$(OBJS): $(wildcard $(srcdir)/include/*.h)
.pg-built-for: FORCE
	@echo '$(PG_BUILT_FOR)' | cmp -s - $@ || echo '$(PG_BUILT_FOR)' > $@
FORCE:

# The built-in meta-schemas, compiled into the library.
src/json/jsonschema_metadata.c: tools/embed-metaschemas.sh $(shell find $(srcdir)/src/json/metaschemas -name '*.json' 2>/dev/null)
	tools/embed-metaschemas.sh src/json/metaschemas > $@.tmp && mv $@.tmp $@
EXTRA_CLEAN = src/json/jsonschema_metadata.c

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) $(EXTENSION).control
	cat $(SQL_PARTS) > $@

# Plain C unit tests of the pure halves: no server headers, no server.
UNIT_CFLAGS = -std=c11 -O1 -g -Wall -Wextra -Werror -Iinclude -Itest/unit
UNIT_TESTS = test/unit/bin/test_schedule test/unit/bin/test_gcra test/unit/bin/test_audit_codec \
	test/unit/bin/test_jsonschema_uri test/unit/bin/test_jsonschema_format \
	test/unit/bin/test_jsonschema_regex
UNIT_SELFTEST = test/unit/bin/test_selftest_fails

test/unit/bin/test_schedule: test/unit/test_schedule.c src/worker/schedule.c test/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_schedule.c src/worker/schedule.c

test/unit/bin/test_gcra: test/unit/test_gcra.c src/ratelimit/gcra.c include/gcra.h test/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_gcra.c src/ratelimit/gcra.c

test/unit/bin/test_audit_codec: test/unit/test_audit_codec.c src/audit/audit_codec.c src/audit/sha256.c include/audit_codec.h include/sha256.h test/unit/unit.h
	@mkdir -p test/unit/bin
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_audit_codec.c src/audit/audit_codec.c src/audit/sha256.c

test/unit/bin/test_jsonschema_uri: test/unit/test_jsonschema_uri.c src/json/jsonschema_uri.c include/jsonschema_uri.h test/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_jsonschema_uri.c src/json/jsonschema_uri.c

test/unit/bin/test_jsonschema_format: test/unit/test_jsonschema_format.c src/json/jsonschema_format.c include/jsonschema_format.h test/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_jsonschema_format.c src/json/jsonschema_format.c

test/unit/bin/test_jsonschema_regex: test/unit/test_jsonschema_regex.c src/json/jsonschema_regex.c include/jsonschema_regex.h test/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_jsonschema_regex.c src/json/jsonschema_regex.c

# A unit test that must fail: proves a failing test fails the run.
test/unit/bin/test_selftest_fails: test/unit/test_selftest.c test/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -DUNIT_SELFTEST_MUST_FAIL -o $@ test/unit/test_selftest.c

unit-build: $(UNIT_TESTS) $(UNIT_SELFTEST)

deps:
	@tools/deps.sh '$(PG_CONFIG)'

# The version lives in apikit.control; META.json must repeat it exactly.
check-version:
	@bad=$$(sed '/"meta-spec"/,/}/d' META.json | grep -E '"version": "[0-9]' | grep -v '"version": "$(EXTVERSION)"'); \
	if [ -n "$$bad" ]; then echo "META.json disagrees with apikit.control ($(EXTVERSION)):$$bad" >&2; exit 1; fi

test: deps check-version
	$(MAKE) WERROR=1 all
	$(MAKE) unit-build
	tools/install.sh '$(PG_CONFIG)'
	@tools/node-deps.sh >/dev/null || echo "make test: no node or ajv (tools/node-deps.sh); the ajv differential test will skip" >&2
	tools/run-tests.sh '$(PG_CONFIG)'

demo: deps
	$(MAKE) all
	tools/install.sh '$(PG_CONFIG)'
	tools/demo.sh start '$(PG_CONFIG)'

demo-stop:
	tools/demo.sh stop '$(PG_CONFIG)'

clean: clean-apikit
clean-apikit:
	rm -rf test/unit/bin tmp_check tmp_check_iso output_iso .pg-built-for

.PHONY: check-version deps test demo demo-stop unit-build clean-apikit FORCE
