/*
 * jsonschema_format.h
 *		The JSON Schema "format" checkers that need no server: dates and
 *		times (RFC 3339), e-mail addresses (RFC 5321/6531), host names
 *		(RFC 1123, IDNA2008), IP addresses, URIs and IRIs (RFC 3986/3987),
 *		URI templates (RFC 6570), UUIDs and JSON pointers (RFC 6901).
 *
 * Plain C, no PostgreSQL headers and no allocation, so that test/unit can
 * run the official test suite's cases against it.  Every checker takes a
 * length-delimited string that may contain any bytes (NUL included), reads
 * nothing past it, does not recurse and runs in time linear in its length.
 */
#ifndef APIKIT_JSONSCHEMA_FORMAT_H
#define APIKIT_JSONSCHEMA_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum JsonSchemaFormat
{
	JSF_UNKNOWN = -1,
	JSF_DATE_TIME,
	JSF_DATE,
	JSF_TIME,
	JSF_DURATION,
	JSF_EMAIL,
	JSF_IDN_EMAIL,
	JSF_HOSTNAME,
	JSF_IDN_HOSTNAME,
	JSF_IPV4,
	JSF_IPV6,
	JSF_URI,
	JSF_URI_REFERENCE,
	JSF_IRI,
	JSF_IRI_REFERENCE,
	JSF_URI_TEMPLATE,
	JSF_UUID,
	JSF_JSON_POINTER,
	JSF_RELATIVE_JSON_POINTER,
	JSF_REGEX					/* checked by the caller with PostgreSQL's
								 * regex engine; the pure check returns true */
} JsonSchemaFormat;

/*
 * Name -> format; JSF_UNKNOWN for names the validator does not know (those
 * are annotations only).  len-delimited, not NUL-terminated.
 */
extern JsonSchemaFormat jsonschema_format_lookup(const char *name, size_t len);

/* The canonical name of a known format, for error messages. */
extern const char *jsonschema_format_name(JsonSchemaFormat f);

/*
 * Whether the UTF-8 string s[0..len) is valid for format f.  Input is not
 * NUL-terminated and may contain any bytes.  JSF_UNKNOWN and JSF_REGEX
 * always pass.
 */
extern bool jsonschema_format_check(JsonSchemaFormat f, const char *s, size_t len);

/*
 * Draft 7's contentEncoding "base64" (RFC 4648 section 4: the standard
 * alphabet, length a multiple of four, '=' padding only at the end).
 * Decodes s[0..len) into out (at least len / 4 * 3 bytes) and sets
 * *out_len; false when s is not base64.  out may be NULL to only check.
 */
extern bool jsonschema_base64_decode(const char *s, size_t len,
									 unsigned char *out, size_t *out_len);

#endif							/* APIKIT_JSONSCHEMA_FORMAT_H */
