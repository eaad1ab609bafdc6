/*
 * audit_codec.c
 *		Byte layouts hashed by the audit log, and the text forms of hashes,
 *		redaction markers and digests.  See audit_codec.h.
 *
 * Numbers are written big-endian so that a digest computed on one machine
 * verifies on any other (a dump restored elsewhere must still verify).
 */
#include <stdio.h>
#include <string.h>

#include "audit_codec.h"

static void
put_be64(AuditSink *sink, uint64_t value)
{
	uint8_t		buf[8];

	for (int i = 7; i >= 0; i--)
	{
		buf[i] = (uint8_t) (value & 0xff);
		value >>= 8;
	}
	sink->write(sink->arg, buf, sizeof(buf));
}

static void
put_tag(AuditSink *sink, uint8_t tag)
{
	sink->write(sink->arg, &tag, 1);
}

void
audit_put_null(AuditSink *sink)
{
	put_tag(sink, AUDIT_TAG_NULL);
}

void
audit_put_u64(AuditSink *sink, uint64_t value)
{
	put_tag(sink, AUDIT_TAG_U64);
	put_be64(sink, value);
}

void
audit_put_bytes(AuditSink *sink, const void *data, size_t len)
{
	put_tag(sink, AUDIT_TAG_BYTES);
	put_be64(sink, (uint64_t) len);
	if (len > 0)
		sink->write(sink->arg, data, len);
}

void
audit_put_str(AuditSink *sink, const char *str)
{
	audit_put_bytes(sink, str, strlen(str));
}

void
audit_put_hash(AuditSink *sink, const uint8_t hash[AUDIT_HASH_LEN])
{
	put_tag(sink, AUDIT_TAG_HASH);
	sink->write(sink->arg, hash, AUDIT_HASH_LEN);
}

void
audit_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++)
	{
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
audit_unhex(const char *in, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		int			hi = hex_value(in[2 * i]);
		int			lo = hex_value(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t) (hi << 4 | lo);
	}
	return true;
}

bool
audit_redacted_text_parse(const char *text, size_t len, uint8_t hash[AUDIT_HASH_LEN])
{
	size_t		plen = strlen(AUDIT_REDACTED_PREFIX);

	if (len != plen + AUDIT_HEX_LEN || memcmp(text, AUDIT_REDACTED_PREFIX, plen) != 0)
		return false;
	return audit_unhex(text + plen, AUDIT_HEX_LEN, hash, AUDIT_HASH_LEN);
}

void
audit_digest_format(int64_t block_id, const uint8_t hash[AUDIT_HASH_LEN],
					char out[AUDIT_DIGEST_TEXT_MAX])
{
	char		hex[AUDIT_HEX_LEN + 1];

	audit_hex(hash, AUDIT_HASH_LEN, hex);
	snprintf(out, AUDIT_DIGEST_TEXT_MAX, "%lld:%s", (long long) block_id, hex);
}

bool
audit_digest_parse(const char *text, int64_t *block_id, uint8_t hash[AUDIT_HASH_LEN])
{
	int64_t		id = 0;
	const char *p = text;

	if (*p < '1' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		if (id > (INT64_MAX - 9) / 10)
			return false;
		id = id * 10 + (*p - '0');
	}
	if (*p != ':')
		return false;
	p++;
	if (!audit_unhex(p, strlen(p), hash, AUDIT_HASH_LEN))
		return false;
	*block_id = id;
	return true;
}
