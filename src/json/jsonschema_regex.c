/*
 * jsonschema_regex.c
 *		ECMA-262 patterns for PostgreSQL's regular expression engine.
 *		See jsonschema_regex.h.
 *
 * Most of what JSON schemas use means the same in both: classes,
 * quantifiers, anchors (JSON Schema patterns are not multi-line), \d \w \s
 * (ASCII under the C collation, as in ECMA-262 without the u flag), \uXXXX.
 * Unicode property escapes are the exception that schemas meet most (the
 * specification's own examples use \p{Letter}); ARE has POSIX classes
 * instead, which know Unicode under a Unicode-aware collation.
 */
#include <stdio.h>
#include <string.h>

#include "jsonschema_regex.h"

typedef struct Property
{
	const char *name;
	const char *posix;
} Property;

static const Property properties[] = {
	{"L", "alpha"}, {"Letter", "alpha"}, {"Alphabetic", "alpha"},
	{"Lu", "upper"}, {"Uppercase_Letter", "upper"}, {"Uppercase", "upper"},
	{"Ll", "lower"}, {"Lowercase_Letter", "lower"}, {"Lowercase", "lower"},
	{"N", "digit"}, {"Nd", "digit"}, {"Number", "digit"}, {"Decimal_Number", "digit"},
	{"digit", "digit"},
	{"P", "punct"}, {"Punctuation", "punct"},
	{"White_Space", "space"}, {"space", "space"},
};

static bool
put(char *out, size_t out_size, size_t *pos, const char *s, size_t n)
{
	if (*pos + n + 1 > out_size)
		return false;
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
	return true;
}

bool
jsonschema_regex_translate(const char *src, size_t len, char *out,
						   size_t out_size, bool *unicode)
{
	size_t		pos = 0;
	bool		in_bracket = false;

	*unicode = false;
	if (out_size == 0)
		return false;
	out[0] = '\0';
	for (size_t i = 0; i < len; i++)
	{
		char		c = src[i];

		if (c == '\\' && i + 1 < len && (src[i + 1] == 'p' || src[i + 1] == 'P') &&
			i + 2 < len && src[i + 2] == '{')
		{
			const char *name = src + i + 3;
			const char *end = memchr(name, '}', len - (i + 3));
			const char *posix = NULL;
			bool		negated = src[i + 1] == 'P';
			char		buf[32];
			size_t		n;

			if (end == NULL)
				return false;
			for (size_t k = 0; k < sizeof(properties) / sizeof(properties[0]); k++)
				if (strlen(properties[k].name) == (size_t) (end - name) &&
					memcmp(properties[k].name, name, end - name) == 0)
					posix = properties[k].posix;
			/* "General_Category=Letter" and other forms: not translated */
			if (posix == NULL || (negated && in_bracket))
				return false;
			if (in_bracket)
				n = (size_t) snprintf(buf, sizeof(buf), "[:%s:]", posix);
			else
				n = (size_t) snprintf(buf, sizeof(buf), negated ? "[^[:%s:]]" : "[[:%s:]]", posix);
			if (!put(out, out_size, &pos, buf, n))
				return false;
			*unicode = true;
			i = end - src;
			continue;
		}
		if (c == '\\' && i + 1 < len)
		{
			/* any other escape passes through whole, so "\[" stays literal */
			if (!put(out, out_size, &pos, src + i, 2))
				return false;
			i++;
			continue;
		}
		if (c == '[' && !in_bracket)
		{
			in_bracket = true;
			if (!put(out, out_size, &pos, src + i, 1))
				return false;
			if (i + 1 < len && src[i + 1] == '^')
			{
				if (!put(out, out_size, &pos, "^", 1))
					return false;
				i++;
			}
			continue;
		}
		if (c == ']' && in_bracket)
			in_bracket = false;
		if (!put(out, out_size, &pos, &c, 1))
			return false;
	}
	return true;
}
