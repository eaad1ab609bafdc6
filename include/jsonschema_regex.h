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

/*
 * Rewrite src[0..len) into out (NUL-terminated; false if out_size is too
 * small or the pattern uses an ECMA-262 form with no ARE equivalent).
 * Unicode property escapes become POSIX classes: \p{L} is [[:alpha:]],
 * \P{L} is [^[:alpha:]].  *unicode is set when the pattern needs classes
 * to know non-ASCII characters, which the caller does with a Unicode-aware
 * collation instead of C.
 */
extern bool jsonschema_regex_translate(const char *src, size_t len,
									   char *out, size_t out_size,
									   bool *unicode);

#endif							/* APIKIT_JSONSCHEMA_REGEX_H */
