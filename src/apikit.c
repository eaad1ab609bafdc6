/*
 * apikit.c
 *		Module magic and _PG_init: the table of contents of apikit.
 *
 * Each component sets itself up in its own *_init or *_register function;
 * this file only decides the order.  Settings come first, so that SET and
 * SHOW validate apikit.* names in any session.  Everything that lives in
 * shared memory or runs as a background worker exists only when apikit is in
 * shared_preload_libraries; its SQL functions then fail with a hint instead.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "apikit.h"
#include "compat.h"

APIKIT_MODULE_MAGIC;

bool		apikit_preloading = false;

void
_PG_init(void)
{
	apikit_preloading = process_shared_preload_libraries_in_progress;

	/* 1. apikit.* settings, in every process that loads the library. */
	apikit_guc_init();

	/* 2. Per-backend caches that follow invalidations (JSON schemas). */
	apikit_jsonschema_init();

	if (!apikit_preloading)
		return;

	/* 3. Shared memory: one request/startup pair sizes every component. */
	apikit_shmem_init();

	/*
	 * 4. A notice after CREATE EXTENSION apikit in a database the
	 * scheduler does not serve (apikit.database exists only with preload).
	 */
	apikit_install_notice_init();

	/*
	 * 5. Background workers.  pg_upgrade starts the server with -b and must
	 * not see apikit's jobs write to the database it is upgrading.
	 */
	if (!IsBinaryUpgrade)
		apikit_scheduler_register();
}
