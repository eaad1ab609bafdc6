/*
 * jsonschema_uri.h
 *		URI references as JSON Schema uses them: RFC 3986 resolution of
 *		"$id" and "$ref" against a base, and JSON Pointer fragments.
 *
 * Pure C: no PostgreSQL headers.  Results go to caller-provided buffers;
 * a function returns false when the result would not fit, and the caller
 * reports that as an invalid schema.
 */
#ifndef APIKIT_JSONSCHEMA_URI_H
#define APIKIT_JSONSCHEMA_URI_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Resolve reference "ref" (ref_len bytes) against the absolute base "base"
 * (NUL-terminated, may be empty: then ref is used as it is, which is how an
 * anonymous root schema's relative identifiers stay comparable).  The
 * result is NUL-terminated in out[0..out_size).  Dot segments are removed
 * and an empty fragment ("#" at the end) is dropped, so that equal
 * resources compare equal as strings.
 */
extern bool jsonschema_uri_resolve(const char *base, const char *ref,
								   size_t ref_len, char *out, size_t out_size);

/*
 * Whether uri[0..len) is an absolute URI (RFC 3986 "absolute-URI": a
 * scheme, no fragment) with no white space or control characters: what a
 * schema can be registered and then found under.
 */
extern bool jsonschema_uri_is_absolute(const char *uri, size_t len);

/* Length of the part of uri before '#' (the whole string if none). */
extern size_t jsonschema_uri_strip_fragment(const char *uri);

/*
 * Percent-decode src[0..len) into out (at most len bytes plus NUL).
 * Returns false on a malformed escape.
 */
extern bool jsonschema_uri_percent_decode(const char *src, size_t len,
										  char *out, size_t *out_len);

/*
 * Decode one JSON Pointer reference token (RFC 6901: "~1" is "/", "~0" is
 * "~") from src[0..len) into out; false on "~" followed by anything else.
 */
extern bool jsonschema_pointer_unescape(const char *src, size_t len,
										char *out, size_t *out_len);

/*
 * Append token[0..len) to a JSON Pointer being built in out, escaped, with
 * a leading '/'.  Returns the number of bytes the escaped token needs
 * (including the '/'); writes only when it fits in out_size - *pos - 1.
 */
extern size_t jsonschema_pointer_append(char *out, size_t out_size,
										size_t *pos, const char *token,
										size_t len);

#endif							/* APIKIT_JSONSCHEMA_URI_H */
