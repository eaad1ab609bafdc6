/*
 * shmem.c
 *		The one shmem_request/shmem_startup pair: sizes and creates the
 *		shared state of every component.
 *
 * Adding a component means adding one line to the table below; the hooks
 * never change.  Each component gets its own named ShmemInitStruct area, so
 * pg_shmem_allocations shows what each one costs.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "apikit.h"
#include "ratelimit.h"
#include "scheduler.h"
#include "shmem.h"

static const ApikitShmemComponent components[] = {
	{"apikit scheduler", apikit_scheduler_shmem_size, apikit_scheduler_shmem_startup, NULL},
	{"apikit ratelimit", apikit_ratelimit_shmem_size, apikit_ratelimit_shmem_startup,
	apikit_ratelimit_shmem_request},
};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Set once this process is attached to apikit's shared memory. */
static bool shmem_attached = false;

static void
apikit_shmem_request(void)
{
	Size		total = 0;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	for (size_t i = 0; i < lengthof(components); i++)
	{
		total = add_size(total, MAXALIGN(components[i].size()));
		if (components[i].request)
			components[i].request();
	}
	RequestAddinShmemSpace(total);
}

static void
apikit_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (size_t i = 0; i < lengthof(components); i++)
	{
		bool		found;
		void	   *ptr;

		ptr = ShmemInitStruct(components[i].name, components[i].size(), &found);
		components[i].startup(ptr, found);
	}
	LWLockRelease(AddinShmemInitLock);

	shmem_attached = true;
}

void
apikit_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = apikit_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = apikit_shmem_startup;
}

/*
 * Fail the way pg_stat_statements does when a function needs shared memory
 * that does not exist because apikit was loaded only by CREATE EXTENSION or
 * a function call.
 */
void
apikit_shmem_require(const char *what)
{
	if (!shmem_attached)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apikit must be loaded via \"shared_preload_libraries\""),
				 errdetail("%s uses apikit's shared memory, which exists only when the server loads apikit at start.", what),
				 errhint("Add apikit to shared_preload_libraries in postgresql.conf and restart the server.")));
}
