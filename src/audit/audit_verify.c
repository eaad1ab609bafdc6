/*
 * audit_verify.c
 *		apikit.audit_verify(): recomputes every row hash and every block
 *		digest, and checks the chain against a digest kept outside.
 *
 * What it catches, and how:
 *  - a changed value, anywhere in a row: the row's recomputed hash differs
 *    from its stored row_hash;
 *  - a changed row_hash, or a row deleted from or inserted into a sealed
 *    block: the block's recomputed digest differs from the stored one;
 *  - a changed or deleted block: the next block's digest (which covers the
 *    previous digest) no longer matches, block numbers or ID ranges stop
 *    being contiguous;
 *  - the whole chain rewritten from some block on, or its latest blocks
 *    deleted: only a digest kept outside the database can tell, which is
 *    why apikit.audit_digest() exists; pass it as expected_digest.
 * Redacted values carry their own hash, so redaction passes.  Purged blocks
 * keep their seal row: the chain through them still verifies, and any row
 * left in a purged block's range is reported.
 *
 * It also reads the AUDIT rows (audit_track.c), in order, and reports the
 * windows in which a table's changes went unrecorded because its auditing
 * was switched off outside apikit.audit_enable() and audit_disable(): a
 * trigger disabled, replaced or dropped by hand.  A stop is found from the
 * flags "audited" and "truncate_audited" going from true to false between
 * a table's rows, whatever the row calls itself; a row carried before a
 * purge stands for the row it carries, and a restored table's first row
 * (which "follows" the dumped table's last) continues that table's state.
 * Such a window is a problem (ok is false) even after auditing resumed,
 * since the changes made in it are missing for good.  So is a window in
 * which a table's lists were weaker than those last set with
 * audit_enable() ("intended": a column not masked, or excluded, by a
 * trigger changed by hand).  Auditing stopped with audit_disable(), or a
 * partition detached, is a decision recorded in the log: it is only
 * mentioned in detail, and ok stays true.
 *
 * The log and the seals are read through two cursors in ID order, in one
 * pass, so memory stays flat however long the log is (it grows with the
 * number of audited tables, one small entry each, not with the log).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "audit.h"

PG_FUNCTION_INFO_V1(apikit_audit_verify);

#define FETCH_ROWS 1000

/* A cursor read one tuple at a time. */
typedef struct Reader
{
	Portal		portal;
	SPITupleTable *batch;
	uint64		n;
	uint64		pos;
	bool		done;
} Reader;

static HeapTuple
reader_next(Reader *r, TupleDesc *desc)
{
	if (r->done)
		return NULL;
	if (r->batch == NULL || r->pos >= r->n)
	{
		if (r->batch)
			SPI_freetuptable(r->batch);
		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(r->portal, true, FETCH_ROWS);
		r->batch = SPI_tuptable;
		r->n = SPI_processed;
		r->pos = 0;
		if (r->n == 0)
		{
			r->done = true;
			return NULL;
		}
	}
	*desc = r->batch->tupdesc;
	return r->batch->vals[r->pos++];
}

static void
reader_open(Reader *r, const char *query)
{
	SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\"", query);
	memset(r, 0, sizeof(*r));
	r->portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
}

/* The verdict, filled as problems are found; the first one is described. */
typedef struct Verdict
{
	int64		blocks_checked;
	int64		first_bad_block;	/* 0: none */
	int64		first_bad_id;	/* 0: none */
	char	   *detail;
	MemoryContext cxt;			/* the caller's: outlives SPI_finish() */
} Verdict;

static void
bad(Verdict *v, int64 block, int64 id, const char *fmt,...) pg_attribute_printf(4, 5);

static void
bad(Verdict *v, int64 block, int64 id, const char *fmt,...)
{
	if (block > 0 && v->first_bad_block == 0)
		v->first_bad_block = block;
	if (id > 0 && v->first_bad_id == 0)
		v->first_bad_id = id;
	if (v->detail == NULL)
	{
		StringInfoData buf;
		MemoryContext old = MemoryContextSwitchTo(v->cxt);

		initStringInfo(&buf);
		for (;;)
		{
			va_list		args;
			int			needed;

			va_start(args, fmt);
			needed = appendStringInfoVA(&buf, fmt, args);
			va_end(args);
			if (needed == 0)
				break;
			enlargeStringInfo(&buf, needed);
		}
		v->detail = buf.data;
		MemoryContextSwitchTo(old);
	}
}

/* Recompute one row's hash; report it if it differs from row_hash. */
static bool
check_row(Verdict *v, HeapTuple tup, TupleDesc desc, int64 block, uint8 stored[AUDIT_HASH_LEN])
{
	Datum		values[AUDIT_NCOLUMNS];
	bool		nulls[AUDIT_NCOLUMNS];
	uint8		computed[AUDIT_HASH_LEN];
	int64		id;
	bytea	   *h;

	heap_deform_tuple(tup, desc, values, nulls);	/* desc was checked */
	id = DatumGetInt64(values[AUDIT_COL_ID]);
	if (nulls[AUDIT_COL_ROW_HASH] ||
		VARSIZE_ANY_EXHDR(h = DatumGetByteaPP(values[AUDIT_COL_ROW_HASH])) != AUDIT_HASH_LEN)
	{
		memset(stored, 0, AUDIT_HASH_LEN);
		bad(v, block, id, "audit row %lld has no valid row_hash.", (long long) id);
		return false;
	}
	memcpy(stored, VARDATA_ANY(h), AUDIT_HASH_LEN);
	apikit_audit_row_hash(values, nulls, computed);
	if (memcmp(stored, computed, AUDIT_HASH_LEN) != 0)
	{
		bad(v, block, id, "audit row %lld does not match its row_hash: a value in it was changed.",
			(long long) id);
		return false;
	}
	return true;
}


static int64 row_id(HeapTuple tup, TupleDesc desc);

/* A table's auditing as the AUDIT rows tell it, per database and relid. */
typedef struct TableKey
{
	char		database[48];
	Oid			relid;
} TableKey;

typedef struct TableTrack
{
	TableKey	key;			/* hash key */
	bool		audited;
	bool		truncate_audited;
	bool		gap;			/* switched off outside apikit, since gap_from */
	bool		lost_rows;
	bool		lost_truncate;
	int64		gap_from;
	bool		weak;			/* lists weaker than audit_enable set, since weak_from */
	int64		weak_from;
	int64		last_id;		/* the table's last AUDIT row */
	NameData	schema_name;
	NameData	table_name;
	char		reason[160];
	char		weak_what[200];
} TableTrack;

/* Which table an AUDIT row is the last of: for "follows". */
typedef struct LastRow
{
	int64		id;				/* hash key */
	TableKey	key;
} LastRow;

typedef struct Tracker
{
	HTAB	   *tables;
	HTAB	   *last_rows;
	int64		stops;			/* stopped on purpose */
	char	   *last_stop;
} Tracker;

static bool
key_is_true(Jsonb *jb, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);

	return v && v->type == jbvBool && v->val.boolean;
}

/* A string value, copied into buf (cut at its size); false if absent. */
static bool
key_string(Jsonb *jb, const char *key, char *buf, size_t size)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
	size_t		len;

	if (v == NULL || v->type != jbvString)
		return false;
	len = Min((size_t) v->val.string.len, size - 1);
	memcpy(buf, v->val.string.val, len);
	buf[len] = '\0';
	return true;
}

static int64
key_int8(Jsonb *jb, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);

	if (v == NULL || v->type != jbvNumeric)
		return 0;
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
}

/* Is the string an element of the array (in a container)? */
static bool
in_array(JsonbValue *arr, const char *s, int len)
{
	JsonbValue	e;

	if (arr == NULL || arr->type != jbvBinary)
		return false;
	e.type = jbvString;
	e.val.string.val = (char *) s;
	e.val.string.len = len;
	return findJsonbValueFromContainer(arr->val.binary.data, JB_FARRAY, &e) != NULL;
}

/*
 * The first element of "from" that is not in "of", appended to buf as
 * "what: name"; false if there is none.
 */
static bool
not_in(JsonbValue *from, JsonbValue *of, const char *what, StringInfo buf)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	if (from == NULL || from->type != jbvBinary)
		return false;
	it = JsonbIteratorInit(from->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok == WJB_ELEM && e.type == jbvString &&
			!in_array(of, e.val.string.val, e.val.string.len))
		{
			appendStringInfo(buf, "%s%s %.*s", buf->len ? "; " : "", what,
							 e.val.string.len, e.val.string.val);
			return true;
		}
	}
	return false;
}

/*
 * Are the lists weaker than those last set with audit_enable ("intended")?
 * A column intended masked that is not, or excluded that is not intended
 * to be.  Says which in what.
 */
static bool
lists_weaker(Jsonb *row, char *what, size_t size)
{
	JsonbValue *intended = getKeyJsonValueFromContainer(&row->root, "intended", 8, NULL);
	JsonbValue *mask = getKeyJsonValueFromContainer(&row->root, "mask_columns", 12, NULL);
	JsonbValue *exclude = getKeyJsonValueFromContainer(&row->root, "exclude_columns", 15, NULL);
	JsonbValue *imask;
	JsonbValue *iexclude;
	StringInfoData buf;
	bool		weak;

	if (intended == NULL || intended->type != jbvBinary ||
		!JsonContainerIsObject(intended->val.binary.data))
		return false;
	imask = getKeyJsonValueFromContainer(intended->val.binary.data, "mask_columns", 12, NULL);
	iexclude = getKeyJsonValueFromContainer(intended->val.binary.data, "exclude_columns", 15, NULL);
	initStringInfo(&buf);
	weak = not_in(imask, mask, "not masked:", &buf);
	weak |= not_in(exclude, iexclude, "excluded:", &buf);
	strlcpy(what, buf.data, size);
	pfree(buf.data);
	return weak;
}

static void
gap_found(Verdict *v, TableTrack *t, int64 until, const char *how)
{
	if (until > 0)
		bad(v, 0, t->gap_from,
			"Auditing of table %s.%s was switched off outside apikit.audit_enable() and apikit.audit_disable() from audit row %lld to audit row %lld (%s, then %s): changes made in between are not in the log.",
			NameStr(t->schema_name), NameStr(t->table_name), (long long) t->gap_from,
			(long long) until, t->reason, how);
	else
		bad(v, 0, t->gap_from,
			"Auditing of table %s.%s has been switched off outside apikit.audit_enable() and apikit.audit_disable() since audit row %lld (%s): changes made since are not in the log.",
			NameStr(t->schema_name), NameStr(t->table_name), (long long) t->gap_from,
			t->reason);
	t->gap = false;
}

static void
weak_found(Verdict *v, TableTrack *t, int64 until)
{
	if (until > 0)
		bad(v, 0, t->weak_from,
			"The lists of table %s.%s were weaker than those set with apikit.audit_enable() from audit row %lld to audit row %lld (%s): its trigger was changed by other means, and those columns were logged in clear or not at all.",
			NameStr(t->schema_name), NameStr(t->table_name), (long long) t->weak_from,
			(long long) until, t->weak_what);
	else
		bad(v, 0, t->weak_from,
			"The lists of table %s.%s have been weaker than those set with apikit.audit_enable() since audit row %lld (%s): its trigger was changed by other means, and those columns are logged in clear or not at all.",
			NameStr(t->schema_name), NameStr(t->table_name), (long long) t->weak_from,
			t->weak_what);
	t->weak = false;
}

/*
 * One row of the log, in ID order: follow the tables' auditing.  A stop is
 * a change of the flags from one row to the next (whatever the row calls
 * it), not made with audit_disable, by DETACH PARTITION or by dropping the
 * table.  A table's first row that follows a row of another database
 * (a restore) continues that table's state.
 */
static void
track_row(Tracker *tr, Verdict *v, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		op = heap_getattr(tup, AUDIT_COL_OP + 1, desc, &isnull);
	Datum		d;
	Jsonb	   *row;
	TableKey	key;
	TableTrack *t;
	LastRow    *lr;
	bool		found;
	char		event[32];
	char		by[64];
	bool		audited,
				truncate_audited;
	bool		exempt;
	bool		weak;
	char		weak_what[200];
	int64		id;

	if (isnull || VARSIZE_ANY_EXHDR(DatumGetPointer(op)) != 5 ||
		memcmp(VARDATA_ANY(DatumGetPointer(op)), "AUDIT", 5) != 0)
		return;
	d = heap_getattr(tup, AUDIT_COL_NEW_ROW + 1, desc, &isnull);
	if (isnull)
		return;
	row = DatumGetJsonbP(d);
	if (!JB_ROOT_IS_OBJECT(row))
		return;
	id = row_id(tup, desc);
	memset(&key, 0, sizeof(key));
	if (!key_string(row, "database", key.database, sizeof(key.database)))
		return;
	key.relid = DatumGetObjectId(heap_getattr(tup, AUDIT_COL_RELID + 1, desc, &isnull));
	if (!key_string(row, "event", event, sizeof(event)))
		event[0] = '\0';
	/* A row written again before a purge stands for the row it carries. */
	if (strcmp(event, "carried") == 0 && !key_string(row, "carried_event", event, sizeof(event)))
		event[0] = '\0';
	if (!key_string(row, "by", by, sizeof(by)))
		by[0] = '\0';
	audited = key_is_true(row, "audited");
	truncate_audited = key_is_true(row, "truncate_audited");
	exempt = strcmp(by, "apikit.audit_disable") == 0 || strcmp(event, "disabled") == 0 ||
		strcmp(event, "detached") == 0 || strcmp(event, "dropped") == 0;

	t = hash_search(tr->tables, &key, HASH_ENTER, &found);
	if (!found)
	{
		int64		follows = key_int8(row, "follows");
		LastRow    *prev = follows ? hash_search(tr->last_rows, &follows, HASH_FIND, NULL) : NULL;
		TableTrack *from = prev ? hash_search(tr->tables, &prev->key, HASH_FIND, NULL) : NULL;

		if (from && from != t)
		{
			/* The same table, restored: its state and open windows move here. */
			TableKey	k = t->key;

			memcpy(t, from, sizeof(TableTrack));
			t->key = k;
			from->gap = from->weak = false;
		}
		else
		{
			memset((char *) t + sizeof(TableKey), 0, sizeof(TableTrack) - sizeof(TableKey));
			t->audited = audited;
			t->truncate_audited = truncate_audited;
			/*
			 * The earlier rows are gone (purged: this is the row carried
			 * before the purge) but this one says the table was stopped.
			 */
			if (strcmp(event, "stopped") == 0)
			{
				t->audited = true;
				t->truncate_audited = audited ? true : truncate_audited;
			}
		}
	}
	namestrcpy(&t->schema_name, NameStr(*DatumGetName(heap_getattr(tup, AUDIT_COL_SCHEMA_NAME + 1,
																	 desc, &isnull))));
	namestrcpy(&t->table_name, NameStr(*DatumGetName(heap_getattr(tup, AUDIT_COL_TABLE_NAME + 1,
																	desc, &isnull))));

	if (!t->gap && !exempt &&
		((t->audited && !audited) || (t->truncate_audited && !truncate_audited)))
	{
		t->gap = true;
		t->gap_from = id;
		t->lost_rows = t->audited && !audited;
		t->lost_truncate = t->truncate_audited && !truncate_audited;
		if (!key_string(row, "reason", t->reason, sizeof(t->reason)))
			strlcpy(t->reason, "its triggers were changed", sizeof(t->reason));
	}
	else if (t->gap && (!t->lost_rows || audited) && (!t->lost_truncate || truncate_audited))
		gap_found(v, t, id, "auditing resumed");
	else if (t->gap && exempt)
		gap_found(v, t, id, strcmp(event, "dropped") == 0 ? "the table was dropped" :
				  strcmp(event, "detached") == 0 ? "the partition was detached" :
				  "auditing was stopped with apikit.audit_disable()");

	/* Lists weaker than audit_enable set, while rows are logged. */
	weak = audited && lists_weaker(row, weak_what, sizeof(weak_what));
	if (weak && !t->weak)
	{
		t->weak = true;
		t->weak_from = id;
		strlcpy(t->weak_what, weak_what, sizeof(t->weak_what));
	}
	else if (!weak && t->weak)
		weak_found(v, t, id);

	if (strcmp(event, "disabled") == 0 || strcmp(event, "detached") == 0)
	{
		MemoryContext old = MemoryContextSwitchTo(v->cxt);

		tr->stops++;
		if (tr->last_stop)
			pfree(tr->last_stop);
		tr->last_stop = psprintf("table %s.%s, %s at audit row %lld",
								 NameStr(t->schema_name), NameStr(t->table_name),
								 strcmp(event, "disabled") == 0 ?
								 "with apikit.audit_disable()" : "by DETACH PARTITION",
								 (long long) id);
		MemoryContextSwitchTo(old);
	}
	t->audited = audited;
	t->truncate_audited = truncate_audited;
	if (t->last_id)
		hash_search(tr->last_rows, &t->last_id, HASH_REMOVE, NULL);
	t->last_id = id;
	lr = hash_search(tr->last_rows, &id, HASH_ENTER, NULL);
	lr->key = t->key;
}

static int64
row_id(HeapTuple tup, TupleDesc desc)
{
	bool		isnull;

	return DatumGetInt64(heap_getattr(tup, AUDIT_COL_ID + 1, desc, &isnull));
}

/* Check a row and follow its table's auditing, in a context reset after. */
static bool
check_row_in(MemoryContext cxt, Verdict *v, Tracker *tr, HeapTuple tup, TupleDesc desc,
			 int64 block, uint8 stored[AUDIT_HASH_LEN])
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	bool		ok = check_row(v, tup, desc, block, stored);

	track_row(tr, v, tup, desc);
	MemoryContextSwitchTo(old);
	MemoryContextReset(cxt);
	return ok;
}

Datum
apikit_audit_verify(PG_FUNCTION_ARGS)
{
	Verdict		v = {0};
	bool		have_expected = !PG_ARGISNULL(0);
	int64		expected_block = 0;
	uint8		expected_digest[AUDIT_HASH_LEN];
	bool		expected_found = false;
	Reader		seals,
				rows;
	HeapTuple	row;
	TupleDesc	rowdesc = NULL;
	HeapTuple	seal;
	TupleDesc	sealdesc;
	int64		prev_block = 0;
	int64		prev_last_id = 0;
	uint8		prev_digest[AUDIT_HASH_LEN];
	TupleDesc	resdesc;
	MemoryContext rowcxt;
	bool		seen_unpurged = false;
	Tracker		tracker = {0};
	HASHCTL		ctl;
	Datum		result[5];
	bool		resnulls[5] = {false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &resdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	if (have_expected)
	{
		char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(0));

		if (!audit_digest_parse(given, &expected_block, expected_digest))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid audit digest \"%s\"", given),
					 errdetail("A digest is a block number, a colon and 64 hexadecimal digits, as apikit.audit_digest() returns it.")));
	}

	v.cxt = CurrentMemoryContext;
	ctl.keysize = sizeof(TableKey);
	ctl.entrysize = sizeof(TableTrack);
	ctl.hcxt = CurrentMemoryContext;
	tracker.tables = hash_create("apikit audit verify tables", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(LastRow);
	tracker.last_rows = hash_create("apikit audit verify last rows", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	reader_open(&seals, "SELECT block_id, first_id, last_id, row_count, digest, purged_at IS NOT NULL "
				"FROM apikit.audit_seals ORDER BY block_id");
	reader_open(&rows, "SELECT * FROM apikit.audit_log ORDER BY id");
	row = reader_next(&rows, &rowdesc);
	if (row)
		apikit_audit_check_log_desc(rowdesc);

	/* What hashing a row allocates (detoasted values, text) goes per row. */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "apikit audit verify row",
								   ALLOCSET_DEFAULT_SIZES);

	while ((seal = reader_next(&seals, &sealdesc)) != NULL)
	{
		bool		isnull;
		int64		block = DatumGetInt64(heap_getattr(seal, 1, sealdesc, &isnull));
		int64		first_id = DatumGetInt64(heap_getattr(seal, 2, sealdesc, &isnull));
		int64		last_id = DatumGetInt64(heap_getattr(seal, 3, sealdesc, &isnull));
		int64		row_count = DatumGetInt64(heap_getattr(seal, 4, sealdesc, &isnull));
		bytea	   *dg = DatumGetByteaPP(heap_getattr(seal, 5, sealdesc, &isnull));
		bool		purged = DatumGetBool(heap_getattr(seal, 6, sealdesc, &isnull));
		uint8		stored_digest[AUDIT_HASH_LEN] = {0};

		v.blocks_checked++;
		if (VARSIZE_ANY_EXHDR(dg) == AUDIT_HASH_LEN)
			memcpy(stored_digest, VARDATA_ANY(dg), AUDIT_HASH_LEN);
		else
			bad(&v, block, 0, "block %lld has no valid digest.", (long long) block);
		if (block != prev_block + 1)
			bad(&v, block, 0, "block %lld follows block %lld: the blocks in between are missing.",
				(long long) block, (long long) prev_block);
		if (first_id != prev_last_id + 1 || last_id < first_id)
			bad(&v, block, 0, "block %lld covers IDs %lld to %lld, but the previous block ended at %lld.",
				(long long) block, (long long) first_id, (long long) last_id,
				(long long) prev_last_id);

		/* Purging drops the oldest blocks only: a gap in the middle is not it. */
		if (purged && seen_unpurged)
			bad(&v, block, 0, "block %lld is marked purged, but an earlier block is not: only the oldest blocks are purged.",
				(long long) block);
		seen_unpurged |= !purged;

		if (purged)
		{
			/* The digest is taken as stored; the next block's digest covers it. */
			while (row && row_id(row, rowdesc) <= last_id)
			{
				bad(&v, block, row_id(row, rowdesc),
					"audit row %lld is in purged block %lld.",
					(long long) row_id(row, rowdesc), (long long) block);
				row = reader_next(&rows, &rowdesc);
			}
		}
		else
		{
			uint8		computed[AUDIT_HASH_LEN];
			int64		count = 0;

			apikit_audit_block_begin(block, block > 1 ? prev_digest : NULL);
			while (row && row_id(row, rowdesc) <= last_id)
			{
				uint8		stored[AUDIT_HASH_LEN];
				int64		id = row_id(row, rowdesc);

				if (id < first_id)
					bad(&v, block, id, "audit row %lld lies before block %lld and in no block.",
						(long long) id, (long long) block);
				check_row_in(rowcxt, &v, &tracker, row, rowdesc, block, stored);
				apikit_audit_block_add(id, stored);
				count++;
				row = reader_next(&rows, &rowdesc);
			}
			apikit_audit_block_end(first_id, last_id, count, computed);
			if (count != row_count)
				bad(&v, block, 0, "block %lld was sealed with %lld rows, but %lld are there.",
					(long long) block, (long long) row_count, (long long) count);
			else if (memcmp(computed, stored_digest, AUDIT_HASH_LEN) != 0)
				bad(&v, block, 0, "block %lld does not match its digest: a row_hash, a row ID or an earlier block was changed.",
					(long long) block);
		}

		if (have_expected && block == expected_block)
		{
			expected_found = true;
			if (memcmp(stored_digest, expected_digest, AUDIT_HASH_LEN) != 0)
				bad(&v, block, 0, "block %lld does not have the expected digest: the chain was rewritten up to it.",
					(long long) block);
		}

		memcpy(prev_digest, stored_digest, AUDIT_HASH_LEN);
		prev_block = block;
		prev_last_id = last_id;
	}

	/* Rows not sealed yet: each must still match its own hash. */
	for (; row; row = reader_next(&rows, &rowdesc))
	{
		uint8		stored[AUDIT_HASH_LEN];

		check_row_in(rowcxt, &v, &tracker, row, rowdesc, 0, stored);
	}

	/* Windows still open at the end of the log. */
	{
		HASH_SEQ_STATUS seq;
		TableTrack *t;

		hash_seq_init(&seq, tracker.tables);
		while ((t = hash_seq_search(&seq)) != NULL)
		{
			if (t->gap)
				gap_found(&v, t, 0, NULL);
			if (t->weak)
				weak_found(&v, t, 0);
		}
	}

	if (have_expected && !expected_found)
		bad(&v, 0, 0, "block %lld of the expected digest is not in apikit.audit_seals: the chain was truncated, or the digest comes from another database.",
			(long long) expected_block);

	SPI_finish();

	result[0] = BoolGetDatum(v.detail == NULL);
	result[1] = Int64GetDatum(v.blocks_checked);
	result[2] = Int64GetDatum(v.first_bad_block);
	resnulls[2] = v.first_bad_block == 0;
	result[3] = Int64GetDatum(v.first_bad_id);
	resnulls[3] = v.first_bad_id == 0;
	if (v.detail)
		result[4] = CStringGetTextDatum(v.detail);
	else if (tracker.stops == 1)
		/* All is well, but auditing was stopped on purpose: say so. */
		result[4] = CStringGetTextDatum(psprintf("Auditing was stopped on purpose once: %s.",
												 tracker.last_stop));
	else if (tracker.stops > 1)
		result[4] = CStringGetTextDatum(psprintf("Auditing was stopped on purpose %lld times; the latest: %s.",
												 (long long) tracker.stops, tracker.last_stop));
	else
		resnulls[4] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(resdesc), result, resnulls)));
}
