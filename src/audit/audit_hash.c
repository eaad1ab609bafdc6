/*
 * audit_hash.c
 *		The hash of an audit row, and of a block of rows.
 *
 * The trigger computes a row's hash from the very Datums it stores, and
 * audit_verify() recomputes it from the stored row with the same function,
 * so the two cannot drift apart.
 *
 * Values in row_key, old_row and new_row, and the statement, are not hashed directly
 * into the row: each gets a hash of its own (over the row id, the image it
 * belongs to, its column name and its value), and the row hash covers those.
 * Redaction replaces a value by its own hash, which is all the row hash
 * needs, so an erased value can no longer be read but can still be proven
 * to have been there, and the chain of blocks above it still verifies.
 *
 * Three SHA-256 states: one for the row, one for the values inside it, one
 * for a block being sealed or verified (rows are hashed while a block is
 * open).  The hashing is apikit's own (sha256.c), not pg_cryptohash: see
 * sha256.h for why.
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "audit.h"
#include "sha256.h"

typedef enum
{
	CTX_ROW,
	CTX_VALUE,
	CTX_BLOCK,
	NCTX
} HashCtxKind;

static Sha256 hash_ctx[NCTX];

static void
sink_write(void *arg, const void *data, size_t len)
{
	sha256_update(arg, data, len);
}

static void
finish(Sha256 *ctx, uint8 out[AUDIT_HASH_LEN])
{
	sha256_final(ctx, out);
}

static AuditSink
start(HashCtxKind kind, const char *label)
{
	AuditSink	sink;

	sink.write = sink_write;
	sink.arg = &hash_ctx[kind];
	sha256_init(&hash_ctx[kind]);
	audit_put_str(&sink, label);
	return sink;
}

/*
 * A value's hash.  Computed a dozen times per audited row, so it is laid
 * out to fit one SHA-256 block for short values: a fixed-width head (kind,
 * row ID, image, key length), the key, a type letter, then the value, which
 * is last and so needs no length.  Strings are hashed as their raw bytes,
 * numbers as numeric's canonical output, containers (json and array
 * columns) as jsonb's canonical text.
 */
static void
value_hash(int64 id, char side, const char *key, int keylen, char type,
		   const char *value, size_t len, uint8 out[AUDIT_HASH_LEN])
{
	Sha256	   *ctx = &hash_ctx[CTX_VALUE];
	uint8		head[14];

	head[0] = 'v';
	for (int i = 0; i < 8; i++)
		head[1 + i] = (uint8) ((uint64) id >> (56 - 8 * i));
	head[9] = (uint8) side;
	for (int i = 0; i < 4; i++)
		head[10 + i] = (uint8) ((uint32) keylen >> (24 - 8 * i));
	sha256_init(ctx);
	sha256_update(ctx, head, sizeof(head));
	sha256_update(ctx, key, keylen);
	sha256_update(ctx, &type, 1);
	sha256_update(ctx, value, len);
	sha256_final(ctx, out);
}

void
apikit_audit_value_hash(int64 id, char side, const char *key, int keylen,
						JsonbValue *v, uint8 out[AUDIT_HASH_LEN])
{
	char	   *text;

	switch (v->type)
	{
		case jbvNull:
			value_hash(id, side, key, keylen, 'z', "", 0, out);
			return;
		case jbvBool:
			value_hash(id, side, key, keylen, v->val.boolean ? 't' : 'f', "", 0, out);
			return;
		case jbvString:
			value_hash(id, side, key, keylen, 's', v->val.string.val, v->val.string.len, out);
			return;
		case jbvNumeric:
			text = DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
			value_hash(id, side, key, keylen, 'n', text, strlen(text), out);
			break;
		case jbvBinary:
			text = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
			value_hash(id, side, key, keylen, 'j', text, strlen(text), out);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d in an audit row", (int) v->type);
	}
	pfree(text);
}

void
apikit_audit_statement_hash(int64 id, const char *statement, size_t len,
							uint8 out[AUDIT_HASH_LEN])
{
	value_hash(id, AUDIT_SIDE_STATEMENT, "", 0, 's', statement, len, out);
}

/*
 * Is this value a redaction marker, {"$apikit_redacted": "<hex>"}?  Then
 * its hash is the one it carries.
 */
bool
apikit_audit_value_is_redacted(JsonbValue *value, uint8 hash[AUDIT_HASH_LEN])
{
	JsonbContainer *c;
	JsonbValue *h;

	if (value->type != jbvBinary)
		return false;
	c = value->val.binary.data;
	if (!JsonContainerIsObject(c) || JsonContainerSize(c) != 1)
		return false;
	h = getKeyJsonValueFromContainer(c, AUDIT_REDACTED_KEY,
									 strlen(AUDIT_REDACTED_KEY), NULL);
	return h != NULL && h->type == jbvString &&
		audit_unhex(h->val.string.val, h->val.string.len, hash, AUDIT_HASH_LEN);
}

/*
 * A row image: the hashes of its values, in jsonb's key order.  The value
 * hashes use the value context while the row context is open.
 */
static void
put_row_image(AuditSink *sink, int64 id, char side, Jsonb *image)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	uint8		h[AUDIT_HASH_LEN];

	if (!JB_ROOT_IS_OBJECT(image))
	{
		/* Never written by the trigger; hashed whole so that it still counts. */
		char	   *text = JsonbToCString(NULL, &image->root, VARSIZE(image));

		audit_put_str(sink, text);
		pfree(text);
		return;
	}

	audit_put_u64(sink, JB_ROOT_COUNT(image));
	it = JsonbIteratorInit(&image->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (!apikit_audit_value_is_redacted(&v, h))
			apikit_audit_value_hash(id, side, k.val.string.val, k.val.string.len, &v, h);
		/* the value's hash covers its key */
		audit_put_hash(sink, h);
	}
}

static void
put_text(AuditSink *sink, Datum d)
{
	text	   *t = DatumGetTextPP(d);

	audit_put_bytes(sink, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

static void
put_text_or_null(AuditSink *sink, const Datum *values, const bool *nulls, int col)
{
	if (nulls[col])
		audit_put_null(sink);
	else
		put_text(sink, values[col]);
}

static void
put_image_or_null(AuditSink *sink, const Datum *values, const bool *nulls, int col,
				  int64 id, char side)
{
	if (nulls[col])
		audit_put_null(sink);
	else
		put_row_image(sink, id, side, DatumGetJsonbP(values[col]));
}

static void
put_name_or_null(AuditSink *sink, const Datum *values, const bool *nulls, int col)
{
	if (nulls[col])
		audit_put_null(sink);
	else
		audit_put_str(sink, NameStr(*DatumGetName(values[col])));
}

/*
 * The trigger and verification handle rows as arrays in the column order of
 * AuditLogColumn.  A DBA who altered the table would make them read or
 * write the wrong columns, or past the arrays: refuse instead.
 */
void
apikit_audit_check_log_desc(TupleDesc desc)
{
	static const char *const names[AUDIT_NCOLUMNS] = {
		"id", "ts", "xid", "op", "relid", "schema_name", "table_name", "row_key",
		"old_row", "new_row", "changed_columns", "actor", "db_user",
		"application_name", "client_addr", "statement", "row_hash"
	};
	bool		ok = desc->natts == AUDIT_NCOLUMNS;

	for (int i = 0; ok && i < AUDIT_NCOLUMNS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		ok = !att->attisdropped && strcmp(NameStr(att->attname), names[i]) == 0;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apikit.audit_log does not have the columns apikit wrote it with"),
				 errdetail("Its columns were added, dropped or reordered after CREATE EXTENSION apikit."),
				 errhint("Restore the table's definition; audit rows cannot be written or verified until then.")));
}

/*
 * The hash of one apikit.audit_log row, from its column values (row_hash
 * itself excluded).
 */
void
apikit_audit_row_hash(const Datum *values, const bool *nulls, uint8 out[AUDIT_HASH_LEN])
{
	AuditSink	sink = start(CTX_ROW, AUDIT_LABEL_ROW);
	int64		id = DatumGetInt64(values[AUDIT_COL_ID]);

	audit_put_u64(&sink, (uint64) id);
	audit_put_u64(&sink, (uint64) DatumGetTimestampTz(values[AUDIT_COL_TS]));
	audit_put_u64(&sink, U64FromFullTransactionId(DatumGetFullTransactionId(values[AUDIT_COL_XID])));
	put_text_or_null(&sink, values, nulls, AUDIT_COL_OP);
	audit_put_u64(&sink, DatumGetObjectId(values[AUDIT_COL_RELID]));
	put_name_or_null(&sink, values, nulls, AUDIT_COL_SCHEMA_NAME);
	put_name_or_null(&sink, values, nulls, AUDIT_COL_TABLE_NAME);

	put_image_or_null(&sink, values, nulls, AUDIT_COL_ROW_KEY, id, AUDIT_SIDE_KEY);

	if (nulls[AUDIT_COL_CHANGED_COLUMNS])
		audit_put_null(&sink);
	else
	{
		Datum	   *elems;
		bool	   *elemnulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(values[AUDIT_COL_CHANGED_COLUMNS]),
						  TEXTOID, -1, false, TYPALIGN_INT, &elems, &elemnulls, &n);
		audit_put_u64(&sink, n);
		for (int i = 0; i < n; i++)
		{
			if (elemnulls[i])
				audit_put_null(&sink);
			else
				put_text(&sink, elems[i]);
		}
	}

	put_text_or_null(&sink, values, nulls, AUDIT_COL_ACTOR);
	put_name_or_null(&sink, values, nulls, AUDIT_COL_DB_USER);
	put_text_or_null(&sink, values, nulls, AUDIT_COL_APPLICATION_NAME);
	if (nulls[AUDIT_COL_CLIENT_ADDR])
		audit_put_null(&sink);
	else
		audit_put_str(&sink, DatumGetCString(DirectFunctionCall1(inet_out,
																 values[AUDIT_COL_CLIENT_ADDR])));

	if (nulls[AUDIT_COL_STATEMENT])
		audit_put_null(&sink);
	else
	{
		text	   *t = DatumGetTextPP(values[AUDIT_COL_STATEMENT]);
		uint8		h[AUDIT_HASH_LEN];

		if (!audit_redacted_text_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), h))
			apikit_audit_statement_hash(id, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), h);
		audit_put_hash(&sink, h);
	}

	put_image_or_null(&sink, values, nulls, AUDIT_COL_OLD_ROW, id, AUDIT_SIDE_OLD);
	put_image_or_null(&sink, values, nulls, AUDIT_COL_NEW_ROW, id, AUDIT_SIDE_NEW);

	finish(sink.arg, out);
}

/*
 * A block's digest covers its number, the previous block's digest, every
 * row's id and hash in id order, the block's id range and its row count.
 */
static AuditSink block_sink;

void
apikit_audit_block_begin(int64 block_id, const uint8 *prev_digest)
{
	block_sink = start(CTX_BLOCK, AUDIT_LABEL_BLOCK);
	audit_put_u64(&block_sink, (uint64) block_id);
	if (prev_digest)
		audit_put_hash(&block_sink, prev_digest);
	else
		audit_put_null(&block_sink);
}

void
apikit_audit_block_add(int64 id, const uint8 row_hash[AUDIT_HASH_LEN])
{
	audit_put_u64(&block_sink, (uint64) id);
	audit_put_hash(&block_sink, row_hash);
}

void
apikit_audit_block_end(int64 first_id, int64 last_id, int64 row_count,
					   uint8 out[AUDIT_HASH_LEN])
{
	audit_put_u64(&block_sink, (uint64) first_id);
	audit_put_u64(&block_sink, (uint64) last_id);
	audit_put_u64(&block_sink, (uint64) row_count);
	finish(block_sink.arg, out);
}
