/*
 * audit_seal.c
 *		apikit.audit_seal(): chains committed audit rows into blocks, and the
 *		scheduler job that runs it every apikit.audit_seal_interval.
 *
 * Writers never wait for sealing and never touch a shared "previous hash":
 * each row carries its own hash, written with it, and sealing happens later,
 * in one transaction at a time (a lock on apikit.audit_seals), over rows
 * that are already committed.
 *
 * The hard part is knowing which rows are final.  Row IDs come from a
 * sequence, so they are not handed out in commit order: row 41 may commit
 * after row 42.  A block, once made, must never be joined by a late row, or
 * verification would fail for no fault.  The rule used here: read the
 * sequence's last value L, then the next transaction ID N.  Every row with
 * an ID up to L was written by a transaction that already had its ID (the
 * trigger makes sure of that before it takes a row ID), so below N.  Once no
 * transaction below N is running in this database, which a snapshot taken
 * after reading N tells, every row up to L is committed or gone for good,
 * and all of them are visible in that snapshot.  When
 * that is already true at once (no writer was running), the rows are sealed
 * in the same call; otherwise (L, N) is remembered in
 * apikit.audit_seal_pending and sealed by a later call.  Under constant load
 * rows are thus sealed one interval after they are written.
 *
 * Blocks cover contiguous ID ranges, gaps (rolled-back rows) included, so
 * that every ID up to the last sealed one belongs to exactly one block and a
 * row inserted later into a gap is caught by verification.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "audit.h"

PG_FUNCTION_INFO_V1(apikit_audit_seal);

/* Rows per block: a verification failure names a block of at most this. */
#define AUDIT_BLOCK_ROWS 10000

static int64
spi_int64(int row, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

/*
 * Could transaction xid, which snap saw running, write this database's log?
 * Only if it is not the transaction of a backend connected to another
 * database.  Whatever cannot be placed counts: a prepared transaction or a
 * subtransaction (no backend has it as its top-level ID), or one that ended
 * after the snapshot (its rows are not in it).  The pid may have gone to a
 * new backend, in another database, between the two look-ups: the second
 * look-up of the xid makes sure the database read was that transaction's.
 */
static bool
may_write_here(TransactionId xid)
{
	int			pid = BackendXidGetPid(xid);
	PGPROC	   *proc;

	if (pid == 0)
		return true;
	proc = BackendPidGetProc(pid);
	if (proc == NULL || proc->databaseId == MyDatabaseId)
		return true;
	/* Still that backend's transaction, or it ended and the pid moved on. */
	pg_read_barrier();
	return BackendXidGetPid(xid) != pid;
}

/* A 32-bit ID from the recent past as a full one (at most 2^31 behind next). */
static FullTransactionId
widen(FullTransactionId next, TransactionId xid)
{
	return FullTransactionIdFromU64(U64FromFullTransactionId(next) -
									(uint32) (XidFromFullTransactionId(next) - xid));
}

/*
 * Was a transaction with an ID below "before" that may have written this
 * database's log still running when snap was taken?  Only backends of this
 * database can write its log, so a long transaction in another database does
 * not hold sealing back.
 */
static bool
writers_running_before(Snapshot snap, FullTransactionId before)
{
	FullTransactionId next = ReadNextFullTransactionId();
	FullTransactionId xmax = widen(next, snap->xmax);

	for (uint32 i = 0; i < snap->xcnt; i++)
		if (FullTransactionIdPrecedes(widen(next, snap->xip[i]), before) &&
			may_write_here(snap->xip[i]))
			return true;

	/*
	 * IDs from xmax on are not listed: none of them had ended when the
	 * snapshot was taken (xmax would be past it), so each below "before" is
	 * looked at too.  A long run of them (thousands of subtransactions) just
	 * counts as running.
	 */
	if (FullTransactionIdPrecedes(xmax, before))
	{
		if (U64FromFullTransactionId(before) - U64FromFullTransactionId(xmax) > 1000)
			return true;
		for (FullTransactionId x = xmax; FullTransactionIdPrecedes(x, before);
			 FullTransactionIdAdvance(&x))
			if (may_write_here(XidFromFullTransactionId(x)))
				return true;
	}
	return false;
}

static void
insert_block(int64 block_id, int64 first_id, int64 last_id, int64 row_count,
			 const uint8 digest[AUDIT_HASH_LEN])
{
	Oid			types[5] = {INT8OID, INT8OID, INT8OID, INT8OID, BYTEAOID};
	Datum		values[5];
	bytea	   *d = palloc(VARHDRSZ + AUDIT_HASH_LEN);

	SET_VARSIZE(d, VARHDRSZ + AUDIT_HASH_LEN);
	memcpy(VARDATA(d), digest, AUDIT_HASH_LEN);
	values[0] = Int64GetDatum(block_id);
	values[1] = Int64GetDatum(first_id);
	values[2] = Int64GetDatum(last_id);
	values[3] = Int64GetDatum(row_count);
	values[4] = PointerGetDatum(d);
	if (SPI_execute_with_args("INSERT INTO apikit.audit_seals "
							  "(block_id, first_id, last_id, row_count, digest, sealed_at) "
							  "VALUES ($1, $2, $3, $4, $5, pg_catalog.clock_timestamp())",
							  5, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert into apikit.audit_seals");
}

/*
 * Seal rows last_id < id <= horizon, as visible in snap, into blocks after
 * block prev_block.  Returns the number of rows sealed.
 */
static int64
seal_range(Snapshot snap, int64 prev_block, uint8 *prev_digest, int64 last_id,
		   int64 horizon)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(last_id), Int64GetDatum(horizon)};
	SPIPlanPtr	plan;
	Portal		portal;
	uint8		digest[AUDIT_HASH_LEN];
	int64		sealed = 0;
	int64		block_id = prev_block;
	int64		first_id = last_id + 1;

	plan = SPI_prepare("SELECT id, row_hash FROM apikit.audit_log "
					   "WHERE id OPERATOR(pg_catalog.>) $1 AND id OPERATOR(pg_catalog.<=) $2 "
					   "ORDER BY id", 2, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the audit sealing query");
	PushActiveSnapshot(snap);
	portal = SPI_cursor_open(NULL, plan, values, NULL, true);
	PopActiveSnapshot();

	for (;;)
	{
		int64		n;
		int64		block_last;
		SPITupleTable *rows;

		SPI_cursor_fetch(portal, true, AUDIT_BLOCK_ROWS);
		n = SPI_processed;
		rows = SPI_tuptable;
		if (n == 0)
			break;

		block_id++;
		apikit_audit_block_begin(block_id, block_id > 1 ? prev_digest : NULL);
		block_last = first_id - 1;
		for (int64 i = 0; i < n; i++)
		{
			bool		isnull;
			int64		id = DatumGetInt64(SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &isnull));
			bytea	   *h = DatumGetByteaPP(SPI_getbinval(rows->vals[i], rows->tupdesc, 2, &isnull));

			if (isnull || VARSIZE_ANY_EXHDR(h) != AUDIT_HASH_LEN)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("audit row %lld has no valid row_hash", (long long) id),
						 errhint("Run apikit.audit_verify() to see what was changed.")));
			apikit_audit_block_add(id, (uint8 *) VARDATA_ANY(h));
			block_last = id;
		}

		/* The last block of a run also covers the gap up to the horizon. */
		if (n < AUDIT_BLOCK_ROWS)
			block_last = horizon;
		apikit_audit_block_end(first_id, block_last, n, digest);
		insert_block(block_id, first_id, block_last, n, digest);
		memcpy(prev_digest, digest, AUDIT_HASH_LEN);
		sealed += n;
		first_id = block_last + 1;
		SPI_freetuptable(rows);
	}
	SPI_cursor_close(portal);
	return sealed;
}

Datum
apikit_audit_seal(PG_FUNCTION_ARGS)
{
	bool		isnull;
	int64		prev_block = 0;
	int64		last_id = 0;
	uint8		prev_digest[AUDIT_HASH_LEN] = {0};
	bool		have_pending = false;
	int64		pending_id = 0;
	FullTransactionId pending_xid = InvalidFullTransactionId;
	int64		seq_last;
	FullTransactionId next_xid;
	Snapshot	snap;
	int64		horizon;
	int64		sealed = 0;

	/*
	 * A transaction snapshot taken before the lock would miss the blocks of
	 * a sealer that committed while we waited for it.
	 */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("apikit.audit_seal() must run in a READ COMMITTED transaction")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* One sealer at a time; readers of the seals are not blocked. */
	if (SPI_execute("LOCK TABLE apikit.audit_seals IN SHARE ROW EXCLUSIVE MODE", false, 0) < 0)
		elog(ERROR, "could not lock apikit.audit_seals");

	if (SPI_execute("SELECT block_id, last_id, digest FROM apikit.audit_seals "
					"ORDER BY block_id DESC LIMIT 1", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read apikit.audit_seals");
	if (SPI_processed == 1)
	{
		bytea	   *d;

		prev_block = spi_int64(0, 1, &isnull);
		last_id = spi_int64(0, 2, &isnull);
		d = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		if (VARSIZE_ANY_EXHDR(d) != AUDIT_HASH_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("audit block %lld has no valid digest", (long long) prev_block),
					 errhint("Run apikit.audit_verify() to see what was changed.")));
		memcpy(prev_digest, VARDATA_ANY(d), AUDIT_HASH_LEN);
	}

	if (SPI_execute("SELECT horizon_id, horizon_xid FROM apikit.audit_seal_pending",
					false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read apikit.audit_seal_pending");
	if (SPI_processed == 1)
	{
		have_pending = true;
		pending_id = spi_int64(0, 1, &isnull);
		pending_xid = DatumGetFullTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 2, &isnull));
	}

	/* First L, then N, then the snapshot: the order is the proof. */
	if (SPI_execute("SELECT CASE WHEN is_called THEN last_value "
					"  ELSE last_value OPERATOR(pg_catalog.-) 1::pg_catalog.int8 END, "
					"(SELECT seqcache FROM pg_catalog.pg_sequence "
					"  WHERE seqrelid OPERATOR(pg_catalog.=) 'apikit.audit_log_id_seq'::pg_catalog.regclass) "
					"FROM apikit.audit_log_id_seq", false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read apikit.audit_log_id_seq");
	seq_last = spi_int64(0, 1, &isnull);
	/* With a cache, IDs below the last value can still be handed out later. */
	if (spi_int64(0, 2, &isnull) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apikit.audit_log_id_seq must have CACHE 1"),
				 errhint("Run ALTER SEQUENCE apikit.audit_log_id_seq CACHE 1.")));
	next_xid = ReadNextFullTransactionId();
	snap = RegisterSnapshot(GetTransactionSnapshot());

	if (!writers_running_before(snap, next_xid))
		horizon = seq_last;
	else if (have_pending && !writers_running_before(snap, pending_xid))
		horizon = pending_id;
	else
		horizon = last_id;

	/*
	 * Remember this call's (L, N) for the next one, unless an older pending
	 * horizon is still waiting: that one becomes sealable sooner.
	 */
	if (horizon < seq_last && (!have_pending || horizon >= pending_id))
	{
		Oid			types[2] = {INT8OID, XID8OID};
		Datum		values[2] = {Int64GetDatum(seq_last), FullTransactionIdGetDatum(next_xid)};

		if (SPI_execute("DELETE FROM apikit.audit_seal_pending", false, 0) != SPI_OK_DELETE ||
			SPI_execute_with_args("INSERT INTO apikit.audit_seal_pending VALUES ($1, $2)",
								  2, types, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write apikit.audit_seal_pending");
	}
	else if (have_pending && horizon >= pending_id)
	{
		if (SPI_execute("DELETE FROM apikit.audit_seal_pending", false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not write apikit.audit_seal_pending");
	}

	if (horizon > last_id)
		sealed = seal_range(snap, prev_block, prev_digest, last_id, horizon);

	UnregisterSnapshot(snap);
	SPI_finish();
	PG_RETURN_INT64(sealed);
}

/*
 * The scheduler job.  A database without apikit's audit tables (an older
 * install, or apikit.database pointing elsewhere) has nothing to seal; the
 * heartbeat job already reports a missing extension.  The look-up is the
 * catalog's, not SQL's: nothing a database owner defines can stand in.
 */
void
apikit_audit_seal_job(void)
{
	Oid			nsp = get_namespace_oid("apikit", true);

	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("audit_seals", nsp)))
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT apikit.audit_seal()", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "apikit.audit_seal() failed");
	SPI_finish();
}
