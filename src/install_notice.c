/*
 * install_notice.c
 *		After CREATE EXTENSION apikit, say so when the scheduler will not
 *		serve this database.
 *
 * The scheduler's jobs (audit sealing among them) run only in
 * apikit.database: an install anywhere else works, but its audit rows are
 * never sealed unless someone calls apikit.audit_seal().  The install script
 * cannot tell the user, because CREATE EXTENSION raises client_min_messages
 * to WARNING while a script runs; so a utility hook speaks once the
 * statement has finished.  It looks at nothing but CREATE EXTENSION apikit,
 * and costs every other utility statement one node-tag test.
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "apikit.h"
#include "guc.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void
apikit_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	bool		creating = IsA(stmt, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) stmt)->extname, "apikit") == 0 &&
		!OidIsValid(get_extension_oid("apikit", true));

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (creating && apikit_database != NULL)
	{
		char	   *here = get_database_name(MyDatabaseId);

		if (here != NULL && strcmp(here, apikit_database) != 0)
			ereport(NOTICE,
					(errmsg("apikit's scheduler runs in database \"%s\", not in this one",
							apikit_database),
					 errdetail("Audit rows written in this database are not sealed by the scheduler."),
					 errhint("Set apikit.database = '%s' and restart the server, or seal with apikit.audit_seal().",
							 here)));
	}
}

void
apikit_install_notice_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = apikit_ProcessUtility;
}
