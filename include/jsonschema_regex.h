/*
 * jsonschema_regex.h
 *		JSON Schema's regular expressions (ECMA-262) rewritten for
 *		PostgreSQL's engine (Henry Spencer's ARE) where the two differ.
 *
 * Pure C: no PostgreSQL headers.
 */
#ifndef APIKIT_JSONSCHEMA_REGEX_H
#define APIKIT_JSONSCHEMA_REGEX_H

#include <stdbool.h>
#include <stddef.h>

typedef enum JsRegexResult
{
	JS_REGEX_OK,				/* out holds the ARE form */
	JS_REGEX_NOT_ECMA,			/* ARE-only syntax: inline flags, (?#), \a */
	JS_REGEX_UNSUPPORTED		/* ECMA-262 with no ARE form here, or too long */
} JsRegexResult;

/*
 * Rewrite src[0..len) into out (NUL-terminated).  Unicode property escapes
 * become POSIX classes (\p{L} is [[:alpha:]]) and set *unicode: the caller
 * then compiles with a Unicode-aware collation instead of C.  \s and \S
 * become ECMA-262's white-space set, named groups become numbered ones, and
 * the empty classes [] and [^] become "nothing" and "anything".
 */
extern JsRegexResult jsonschema_regex_translate(const char *src, size_t len,
												char *out, size_t out_size,
												bool *unicode);

#endif							/* APIKIT_JSONSCHEMA_REGEX_H */
