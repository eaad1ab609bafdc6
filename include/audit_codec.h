/*
 * audit_codec.h
 *		The byte layouts that the audit log's hashes cover, and the text forms
 *		of hashes, redaction markers and digests: plain C, no PostgreSQL
 *		headers, so that test/unit can pin them down.
 *
 * Row and block hashes are SHA-256 over a stream written with the put_*
 * functions below.  Each field is a tag byte followed by a fixed-width
 * number or a length-prefixed string, so two different rows can never
 * produce the same stream (no field can run into the next).  The stream
 * goes straight into the hash through an AuditSink; nothing is buffered.
 * (The hash of a single value, computed a dozen times per row, has a
 * compact layout of its own: see audit_hash.c.)
 */
#ifndef APIKIT_AUDIT_CODEC_H
#define APIKIT_AUDIT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_HASH_LEN 32
#define AUDIT_HEX_LEN (2 * AUDIT_HASH_LEN)

/* Where an encoded stream goes: a hash context, or a buffer in tests. */
typedef struct AuditSink
{
	void		(*write) (void *arg, const void *data, size_t len);
	void	   *arg;
} AuditSink;

/* Field tags. */
#define AUDIT_TAG_NULL		0x00
#define AUDIT_TAG_BYTES		0x01
#define AUDIT_TAG_U64		0x02
#define AUDIT_TAG_HASH		0x03

extern void audit_put_null(AuditSink *sink);
extern void audit_put_u64(AuditSink *sink, uint64_t value);
extern void audit_put_bytes(AuditSink *sink, const void *data, size_t len);
extern void audit_put_str(AuditSink *sink, const char *str);
extern void audit_put_hash(AuditSink *sink, const uint8_t hash[AUDIT_HASH_LEN]);

/* Domain separation: each kind of hash starts with its own label. */
#define AUDIT_LABEL_ROW		"apikit audit row v1"
#define AUDIT_LABEL_BLOCK	"apikit audit block v1"

/*
 * Hex: lower-case on output; either case on input.  audit_unhex() reads
 * exactly 2 * n digits and fails on anything else.
 */
extern void audit_hex(const uint8_t *in, size_t n, char *out);
extern bool audit_unhex(const char *in, size_t len, uint8_t *out, size_t n);

/*
 * A redacted value keeps its hash, so that the row's hash, and every block
 * digest above it, can still be recomputed.  In a jsonb row image the value
 * becomes the object {"$apikit_redacted": "<64 hex digits>"}; a redacted
 * statement becomes the text "$apikit_redacted:<64 hex digits>".
 */
#define AUDIT_REDACTED_KEY	"$apikit_redacted"
#define AUDIT_REDACTED_PREFIX AUDIT_REDACTED_KEY ":"

extern bool audit_redacted_text_parse(const char *text, size_t len,
									  uint8_t hash[AUDIT_HASH_LEN]);

/*
 * A digest to keep outside the database names its block, so that it can be
 * checked after later blocks were added: "<block id>:<64 hex digits>".
 */
#define AUDIT_DIGEST_TEXT_MAX (20 + 1 + AUDIT_HEX_LEN + 1)

extern void audit_digest_format(int64_t block_id, const uint8_t hash[AUDIT_HASH_LEN],
								char out[AUDIT_DIGEST_TEXT_MAX]);
extern bool audit_digest_parse(const char *text, int64_t *block_id,
							   uint8_t hash[AUDIT_HASH_LEN]);

#endif							/* APIKIT_AUDIT_CODEC_H */
