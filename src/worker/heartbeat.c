/*
 * heartbeat.c
 *		The heartbeat job: proves that the scheduler can run a transaction in
 *		apikit.database and that apikit is installed there, at the version of
 *		the loaded library.
 *
 * The jobs later issues add need apikit's tables in that database, so a
 * heartbeat that fails here tells the DBA early, in apikit.worker_status()
 * and once in the server log, what the other jobs would trip over.
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"

#include "apikit.h"
#include "scheduler.h"

void
apikit_heartbeat_run(void)
{
	char	   *version;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* Qualified throughout, as every job's SQL (see job_settings.c). */
	if (SPI_execute("SELECT extversion FROM pg_catalog.pg_extension"
					" WHERE extname OPERATOR(pg_catalog.=) 'apikit'::pg_catalog.name",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_extension");

	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"apikit\" is not installed in database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errhint("Run CREATE EXTENSION apikit in that database, or set apikit.database to the database where it is installed.")));

	version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(version, APIKIT_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"apikit\" in database \"%s\" is at version %s, but the loaded library is version %s",
						get_database_name(MyDatabaseId), version, APIKIT_VERSION),
				 errhint("Run ALTER EXTENSION apikit UPDATE in that database.")));

	SPI_finish();
}
