/*
 * audit_redact.c
 *		apikit.audit_redact(): erases a row's personal values from the audit
 *		log while keeping the log verifiable.
 *
 * Each value in row_key, old_row and new_row has a hash of its own, over
 * the row ID, the image, the column name and the value (audit_hash.c).
 * Redaction replaces the value by {"$apikit_redacted": "<that hash>"} and
 * the statement by "$apikit_redacted:<its hash>": the row hash is computed
 * from those hashes, so it, and every block digest above it, stay the same.
 *
 * What is erased: the columns named, or by default every column except the
 * table's key (primary key or replica identity), so that the history stays
 * findable by key and says what happened, when and by whom, but no longer
 * what the values were.  A table without a key logs the whole row as
 * row_key; there it is redacted too.  Salting each value's hash with the
 * row ID and column stops one lookup table from reversing them all, but a
 * value from a small set (a boolean, a birth year) can still be confirmed by
 * guessing: the README says so.
 *
 * The row's rows are found as audit_history() finds them (audit_lineage():
 * across renames of the table and across dump/restore).  An erasure that
 * silently erases nothing is worse than an error, so input that cannot
 * name what it means to erase is refused, and a key no row has gets a
 * NOTICE.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/bitmapset.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "audit.h"

PG_FUNCTION_INFO_V1(apikit_audit_redact);

typedef struct RedactRule
{
	List	   *names;			/* the columns to redact, or to keep */
	bool		keep;			/* true: names are kept, the rest redacted */
} RedactRule;

static bool
to_redact(RedactRule *rule, const char *key, int len)
{
	ListCell   *lc;

	foreach(lc, rule->names)
	{
		const char *name = lfirst(lc);

		if ((int) strlen(name) == len && memcmp(name, key, len) == 0)
			return !rule->keep;
	}
	return rule->keep;
}

/*
 * The image with the chosen values replaced by their markers; NULL when
 * nothing in it changes (already redacted, or nothing to redact).
 */
static Jsonb *
redact_image(Jsonb *image, int64 id, char side, RedactRule *rule)
{
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	k,
				v,
			   *res;
	JsonbIteratorToken tok;
	bool		changed = false;

	if (!JB_ROOT_IS_OBJECT(image))
		return NULL;
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&image->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		uint8		h[AUDIT_HASH_LEN];

		if (tok != WJB_KEY)
			continue;
		JsonbIteratorNext(&it, &v, true);
		pushJsonbValue(&state, WJB_KEY, &k);
		if (to_redact(rule, k.val.string.val, k.val.string.len) &&
			!apikit_audit_value_is_redacted(&v, h))
		{
			JsonbParseState *mstate = NULL;
			JsonbValue	mk,
						mv;
			char		hex[AUDIT_HEX_LEN + 1];

			apikit_audit_value_hash(id, side, k.val.string.val, k.val.string.len, &v, h);
			audit_hex(h, AUDIT_HASH_LEN, hex);
			mk.type = jbvString;
			mk.val.string.val = AUDIT_REDACTED_KEY;
			mk.val.string.len = strlen(AUDIT_REDACTED_KEY);
			mv.type = jbvString;
			mv.val.string.val = pstrdup(hex);
			mv.val.string.len = AUDIT_HEX_LEN;
			pushJsonbValue(&mstate, WJB_BEGIN_OBJECT, NULL);
			pushJsonbValue(&mstate, WJB_KEY, &mk);
			pushJsonbValue(&mstate, WJB_VALUE, &mv);
			v.type = jbvBinary;
			{
				Jsonb	   *marker = JsonbValueToJsonb(pushJsonbValue(&mstate, WJB_END_OBJECT, NULL));

				v.val.binary.data = &marker->root;
				v.val.binary.len = VARSIZE(marker) - VARHDRSZ;
			}
			changed = true;
		}
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return changed ? JsonbValueToJsonb(res) : NULL;
}

/* The table's key columns now: primary key or replica identity. */
static List *
key_columns(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	Bitmapset  *attrs = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);
	List	   *names = NIL;
	int			m = -1;

	while ((m = bms_next_member(attrs, m)) >= 0)
		names = lappend(names,
						pstrdup(NameStr(TupleDescAttr(RelationGetDescr(rel),
													  m + FirstLowInvalidHeapAttributeNumber - 1)->attname)));
	table_close(rel, AccessShareLock);
	return names;
}

static Datum
image_arg(Jsonb *redacted, HeapTuple tup, TupleDesc desc, int col, char *nulls, int i)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (redacted)
		return JsonbPGetDatum(redacted);
	nulls[i] = isnull ? 'n' : ' ';
	return d;
}

/* Is the name a key of one of the images of a row? */
static bool
in_images(HeapTuple tup, TupleDesc desc, const char *name)
{
	for (int col = 2; col <= 4; col++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, col, &isnull);
		Jsonb	   *jb;

		if (isnull)
			continue;
		jb = DatumGetJsonbP(d);
		if (JB_ROOT_IS_OBJECT(jb) &&
			getKeyJsonValueFromContainer(&jb->root, name, strlen(name), NULL) != NULL)
			return true;
	}
	return false;
}

/*
 * The key is checked as audit_history() checks it; every column named must
 * be a column of the table or appear in the row's logged images (a dropped
 * or renamed column's values are still there under the old name).
 */
Datum
apikit_audit_redact(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Jsonb	   *key;
	RedactRule	rule;
	char	   *nspname;
	char	   *relname;
	Oid			types[2] = {REGCLASSOID, JSONBOID};
	Datum		args[2];
	SPITupleTable *rows;
	uint64		nrows;
	int64		redacted = 0;
	SPIPlanPtr	update;
	ListCell   *lc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rel and key must not be null")));
	relid = PG_GETARG_OID(0);
	key = PG_GETARG_JSONB_P(1);
	relname = get_rel_name(relid);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	nspname = get_namespace_name(get_rel_namespace(relid));

	if (PG_ARGISNULL(2))
	{
		rule.names = key_columns(relid);
		rule.keep = true;
	}
	else
	{
		Datum	   *elems;
		bool	   *enulls;
		int			n;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &enulls, &n);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("columns must name at least one column"),
					 errhint("Pass null to redact every column but the key.")));
		rule.names = NIL;
		for (int i = 0; i < n; i++)
		{
			if (enulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("columns must not contain null")));
			rule.names = lappend(rule.names, TextDatumGetCString(elems[i]));
		}
		rule.keep = false;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = ObjectIdGetDatum(relid);
	args[1] = JsonbPGetDatum(key);
	/* The same errors as audit_history() for a key of the wrong shape. */
	if (SPI_execute_with_args("SELECT apikit.audit_check_key($1, $2)",
							  2, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not check the audit row key");
	/* The row's rows, in every run of the table's history (audit_lineage). */
	if (SPI_execute_with_args("SELECT l.id, l.row_key, l.old_row, l.new_row, l.statement "
							  "FROM apikit.audit_lineage($1) e "
							  "JOIN apikit.audit_log l ON l.relid OPERATOR(pg_catalog.=) e.relid "
							  " AND l.id OPERATOR(pg_catalog.>=) e.first_id "
							  " AND l.id OPERATOR(pg_catalog.<) e.next_id "
							  "WHERE l.row_key OPERATOR(pg_catalog.=) $2 "
							  "ORDER BY l.id FOR UPDATE OF l",
							  2, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read apikit.audit_log");
	rows = SPI_tuptable;
	nrows = SPI_processed;

	if (!rule.keep)
	{
		foreach(lc, rule.names)
		{
			const char *name = lfirst(lc);
			bool		known = get_attnum(relid, name) != InvalidAttrNumber;

			for (uint64 r = 0; r < nrows && !known; r++)
				known = in_images(rows->vals[r], rows->tupdesc, name);
			if (!known)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of relation \"%s\" does not exist", name, relname),
						 errdetail("It is not a column of the table, and no audit row of this key holds it.")));
		}
	}
	if (nrows == 0)
		ereport(NOTICE,
				(errmsg("no audit rows of table \"%s.%s\" have the key %s",
						nspname, relname,
						JsonbToCString(NULL, &key->root, VARSIZE(key))),
				 errdetail("Nothing was redacted.")));

	{
		Oid			utypes[5] = {INT8OID, JSONBOID, JSONBOID, JSONBOID, TEXTOID};

		update = SPI_prepare("UPDATE apikit.audit_log "
							 "SET row_key = $2, old_row = $3, new_row = $4, statement = $5 "
							 "WHERE id OPERATOR(pg_catalog.=) $1", 5, utypes);
		if (update == NULL)
			elog(ERROR, "could not prepare the redaction update");
	}

	for (uint64 r = 0; r < nrows; r++)
	{
		HeapTuple	tup = rows->vals[r];
		TupleDesc	desc = rows->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		Jsonb	   *images[3] = {NULL, NULL, NULL};
		char		sides[3] = {AUDIT_SIDE_KEY, AUDIT_SIDE_OLD, AUDIT_SIDE_NEW};
		Datum		uargs[5];
		char		unulls[5] = {' ', ' ', ' ', ' ', ' '};
		Datum		stmt;
		bool		changed = false;

		for (int i = 0; i < 3; i++)
		{
			Datum		d = SPI_getbinval(tup, desc, i + 2, &isnull);

			if (!isnull)
				images[i] = redact_image(DatumGetJsonbP(d), id, sides[i], &rule);
			changed |= images[i] != NULL;
		}

		uargs[0] = Int64GetDatum(id);
		for (int i = 0; i < 3; i++)
			uargs[i + 1] = image_arg(images[i], tup, desc, i + 2, unulls, i + 1);

		stmt = SPI_getbinval(tup, desc, 5, &isnull);
		unulls[4] = isnull ? 'n' : ' ';
		uargs[4] = stmt;
		if (!isnull)
		{
			text	   *t = DatumGetTextPP(stmt);
			uint8		h[AUDIT_HASH_LEN];

			if (!audit_redacted_text_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), h))
			{
				char		marker[sizeof(AUDIT_REDACTED_PREFIX) + AUDIT_HEX_LEN];

				apikit_audit_statement_hash(id, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), h);
				strcpy(marker, AUDIT_REDACTED_PREFIX);
				audit_hex(h, AUDIT_HASH_LEN, marker + strlen(AUDIT_REDACTED_PREFIX));
				uargs[4] = CStringGetTextDatum(marker);
				changed = true;
			}
		}

		if (!changed)
			continue;
		if (SPI_execute_plan(update, uargs, unulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not redact audit row %lld", (long long) id);
		redacted++;
	}

	SPI_finish();
	PG_RETURN_INT64(redacted);
}
