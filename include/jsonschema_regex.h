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
#include <stdint.h>

typedef enum JsRegexResult
{
	JS_REGEX_OK,				/* out holds the ARE form */
	JS_REGEX_NOT_ECMA,			/* ARE-only syntax: inline flags, (?#), \a */
	JS_REGEX_UNSUPPORTED,		/* ECMA-262 with no ARE form here, or too long */
	JS_REGEX_UNKNOWN_PROPERTY	/* a \p{...} or \P{...} not supported here;
								 * out holds that escape */
} JsRegexResult;

/*
 * Rewrite src[0..len) into out (NUL-terminated).  Unicode property escapes
 * become POSIX classes (\p{L} is [[:alpha:]]) and set *unicode: the caller
 * then compiles with a Unicode-aware collation instead of C.  \s and \S
 * become ECMA-262's white-space set, named groups become numbered ones, and
 * the empty classes [] and [^] become "nothing" and "anything".
 */
/*
 * The most a translation can grow per input byte: "\s" (2 bytes) becomes
 * ECMA-262's white-space class (under 96).  Out buffers of
 * len * JS_REGEX_GROWTH + 1 always suffice.
 */
#define JS_REGEX_GROWTH 48

extern JsRegexResult jsonschema_regex_translate(const char *src, size_t len,
												char *out, size_t out_size,
												bool *unicode);

#endif							/* APIKIT_JSONSCHEMA_REGEX_H */

/*
 * Whether src[0..len) is an ECMA-262 regular expression (ES2023 syntax with
 * the "u" flag; see jsonschema_regex.c for what is approximated).  Linear
 * time; memory (malloc'd and freed here) at most a few times len.
 */
typedef enum JsRegexSyntax
{
	JS_REGEX_SYNTAX_OK,
	JS_REGEX_SYNTAX_INVALID,
	JS_REGEX_SYNTAX_NOMEM		/* malloc failed: no verdict */
} JsRegexSyntax;

extern JsRegexSyntax jsonschema_regex_check(const char *src, size_t len);

/*
 * The patterns most schemas use (anchored runs of ASCII classes with
 * counts: "^[A-Z]{3}-[0-9]{4,6}$") matched without a regex engine: a
 * Thompson simulation over at most JS_SIMPLE_MAX_STATES states, linear in
 * the input, no allocation.
 */
#define JS_SIMPLE_MAX_STATES 192

typedef struct JsSimplePattern
{
	int			nstates;
	bool		anchored_start;
	bool		anchored_end;
	struct
	{
		unsigned char cls[16];	/* ASCII bitmap: which characters match */
		bool		optional;	/* may be skipped */
		bool		loop;		/* may repeat */
	}			states[JS_SIMPLE_MAX_STATES];

	/*
	 * Up to 63 states (almost every pattern), one word per state set:
	 * charmask[c] holds the states whose class has c, follow[j] the states
	 * after consuming a character in state j, closures included.
	 */
	bool		small;
	uint64_t	start;
	uint64_t	charmask[128];
	uint64_t	follow[64];
} JsSimplePattern;

/* Whether src[0..len) has this simple form; if so, compiled into *p. */
extern bool jsonschema_simple_compile(const char *src, size_t len,
									  JsSimplePattern *p);

/* Whether the pattern matches somewhere in the UTF-8 string s[0..len). */
extern bool jsonschema_simple_match(const JsSimplePattern *p, const char *s,
									size_t len);
