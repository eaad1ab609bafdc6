/*
 * audit.h
 *		The audit log: the C trigger that writes it, the row hash shared by
 *		the trigger, sealing, verification and redaction, and the seal job.
 */
#ifndef APIKIT_AUDIT_H
#define APIKIT_AUDIT_H

#include "access/tupdesc.h"
#include "utils/array.h"
#include "utils/jsonb.h"

#include "audit_codec.h"

/* The columns of apikit.audit_log, in table order (zero-based). */
typedef enum AuditLogColumn
{
	AUDIT_COL_ID,
	AUDIT_COL_TS,
	AUDIT_COL_XID,
	AUDIT_COL_OP,
	AUDIT_COL_RELID,
	AUDIT_COL_SCHEMA_NAME,
	AUDIT_COL_TABLE_NAME,
	AUDIT_COL_ROW_KEY,
	AUDIT_COL_OLD_ROW,
	AUDIT_COL_NEW_ROW,
	AUDIT_COL_CHANGED_COLUMNS,
	AUDIT_COL_ACTOR,
	AUDIT_COL_DB_USER,
	AUDIT_COL_APPLICATION_NAME,
	AUDIT_COL_CLIENT_ADDR,
	AUDIT_COL_STATEMENT,
	AUDIT_COL_ROW_HASH,
	AUDIT_NCOLUMNS
} AuditLogColumn;

/* What a masked column's value is replaced by, always. */
#define AUDIT_MASKED_VALUE "[masked]"

/* audit_hash.c */
extern void apikit_audit_check_log_desc(TupleDesc desc);
extern void apikit_audit_row_hash(const Datum *values, const bool *nulls,
								  uint8 out[AUDIT_HASH_LEN]);
extern void apikit_audit_value_hash(int64 id, char side,
									const char *key, int keylen,
									JsonbValue *value, uint8 out[AUDIT_HASH_LEN]);
extern bool apikit_audit_value_is_redacted(JsonbValue *value,
										   uint8 hash[AUDIT_HASH_LEN]);
extern void apikit_audit_statement_hash(int64 id, const char *statement, size_t len,
										uint8 out[AUDIT_HASH_LEN]);
extern void apikit_audit_block_begin(int64 block_id, const uint8 *prev_digest);
extern void apikit_audit_block_add(int64 id, const uint8 row_hash[AUDIT_HASH_LEN]);
extern void apikit_audit_block_end(int64 first_id, int64 last_id, int64 row_count,
								   uint8 out[AUDIT_HASH_LEN]);

/* Which row image a value hash belongs to. */
#define AUDIT_SIDE_KEY 'k'
#define AUDIT_SIDE_OLD 'o'
#define AUDIT_SIDE_NEW 'n'
#define AUDIT_SIDE_STATEMENT 's'

/* audit_trigger.c: writes a change to a table's auditing (audit_track.c) */
extern int64 apikit_audit_write_event(Oid relid, const char *schema_name,
									  const char *table_name, Jsonb *old_row,
									  Jsonb *new_row, ArrayType *changed_columns);

/* audit_track.c: a table's first AUDIT row, before its first write */
extern void apikit_audit_first_write(Oid relid, const char *command);

/* audit_seal.c: the scheduler job */
extern void apikit_audit_seal_job(void);

#endif							/* APIKIT_AUDIT_H */
