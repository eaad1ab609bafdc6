/*
 * jsonschema_regex.c
 *		ECMA-262 patterns for PostgreSQL's regular expression engine.
 *		See jsonschema_regex.h.
 *
 * Most of what JSON schemas use means the same in both: classes,
 * quantifiers, anchors (JSON Schema patterns are not multi-line), \d and \w
 * (ASCII under the C collation, as in ECMA-262 without the u flag),
 * \uXXXX, lookahead and lookbehind.  What differs is rewritten here, in one
 * pass that tracks only whether it is inside a bracket expression.
 */
#include <stdio.h>
#include <string.h>

#include "jsonschema_regex.h"

/* ECMA-262 WhiteSpace and LineTerminator, as ARE bracket content */
#define ECMA_SPACE "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"

#define MAX_NAMED_GROUPS 32

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

typedef struct Out
{
	char	   *buf;
	size_t		size;
	size_t		pos;
	bool		overflow;
} Out;

static void
put(Out *o, const char *s, size_t n)
{
	if (o->overflow || o->pos + n + 1 > o->size)
	{
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->pos, s, n);
	o->pos += n;
	o->buf[o->pos] = '\0';
}

static bool
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '$';
}

JsRegexResult
jsonschema_regex_translate(const char *src, size_t len, char *out,
						   size_t out_size, bool *unicode)
{
	Out			o = {out, out_size, 0, false};
	bool		in_bracket = false;
	int			groups = 0;
	const char *names[MAX_NAMED_GROUPS];
	size_t		namelens[MAX_NAMED_GROUPS];
	int			numbers[MAX_NAMED_GROUPS];
	int			nnames = 0;
	char		tmp[64];

	*unicode = false;
	if (out_size == 0)
		return JS_REGEX_UNSUPPORTED;
	out[0] = '\0';
	for (size_t i = 0; i < len; i++)
	{
		char		c = src[i];
		char		next = i + 1 < len ? src[i + 1] : '\0';

		if (c == '\\' && (next == 'p' || next == 'P') && i + 2 < len && src[i + 2] == '{')
		{
			const char *name = src + i + 3;
			const char *end = memchr(name, '}', len - (i + 3));
			const char *posix = NULL;
			bool		negated = next == 'P';

			if (end == NULL)
				return JS_REGEX_UNSUPPORTED;
			for (size_t k = 0; k < sizeof(properties) / sizeof(properties[0]); k++)
				if (strlen(properties[k].name) == (size_t) (end - name) &&
					memcmp(properties[k].name, name, end - name) == 0)
					posix = properties[k].posix;
			/* "General_Category=Letter", scripts and so on: not here */
			if (posix == NULL || (negated && in_bracket))
				return JS_REGEX_UNSUPPORTED;
			if (in_bracket)
				snprintf(tmp, sizeof(tmp), "[:%s:]", posix);
			else
				snprintf(tmp, sizeof(tmp), negated ? "[^[:%s:]]" : "[[:%s:]]", posix);
			put(&o, tmp, strlen(tmp));
			*unicode = true;
			i = end - src;
		}
		else if (c == '\\' && (next == 's' || next == 'S'))
		{
			if (next == 'S' && in_bracket)
				return JS_REGEX_UNSUPPORTED;
			if (in_bracket)
				put(&o, ECMA_SPACE, strlen(ECMA_SPACE));
			else if (next == 's')
				put(&o, "[" ECMA_SPACE "]", strlen("[" ECMA_SPACE "]"));
			else
				put(&o, "[^" ECMA_SPACE "]", strlen("[^" ECMA_SPACE "]"));
			i++;
		}
		else if (c == '\\' && next == 'a')
			return JS_REGEX_NOT_ECMA;	/* ARE's alert */
		else if (c == '\\' && next == 'k' && !in_bracket && i + 2 < len && src[i + 2] == '<')
		{
			/* \k<name>: a back-reference by number */
			const char *name = src + i + 3;
			const char *end = memchr(name, '>', len - (i + 3));
			int			number = -1;

			if (end == NULL)
				return JS_REGEX_NOT_ECMA;
			for (int k = 0; k < nnames; k++)
				if (namelens[k] == (size_t) (end - name) && memcmp(names[k], name, namelens[k]) == 0)
					number = numbers[k];
			if (number < 0 || number > 9)
				return JS_REGEX_UNSUPPORTED;
			snprintf(tmp, sizeof(tmp), "\\%d", number);
			put(&o, tmp, strlen(tmp));
			i = end - src;
		}
		else if (c == '\\' && i + 1 < len)
		{
			/* any other escape passes through whole, so "\[" stays literal */
			put(&o, src + i, 2);
			i++;
		}
		else if (in_bracket)
		{
			if (c == ']')
				in_bracket = false;
			put(&o, &c, 1);
		}
		else if (c == '[')
		{
			if (next == ']')
			{
				put(&o, "(?!)", 4);	/* ECMA's [] matches nothing */
				i++;
			}
			else if (next == '^' && i + 2 < len && src[i + 2] == ']')
			{
				put(&o, "(?:.|\\n)", 8);	/* and [^] anything */
				i += 2;
			}
			else
			{
				in_bracket = true;
				put(&o, &c, 1);
				if (next == '^')
				{
					put(&o, "^", 1);
					i++;
				}
			}
		}
		else if (c == '(' && next == '?')
		{
			char		third = i + 2 < len ? src[i + 2] : '\0';

			if (third == '#' || (third >= 'a' && third <= 'z') || (third >= 'A' && third <= 'Z'))
				return JS_REGEX_NOT_ECMA;	/* inline comments and flags */
			if (third == '<' && i + 3 < len && src[i + 3] != '=' && src[i + 3] != '!')
			{
				/* (?<name>...): a numbered group */
				const char *name = src + i + 3;
				size_t		n = 0;

				while (i + 3 + n < len && is_name_char(name[n]))
					n++;
				if (n == 0 || (name[0] >= '0' && name[0] <= '9') ||
					i + 3 + n >= len || name[n] != '>')
					return JS_REGEX_NOT_ECMA;
				if (nnames == MAX_NAMED_GROUPS)
					return JS_REGEX_UNSUPPORTED;
				groups++;
				names[nnames] = name;
				namelens[nnames] = n;
				numbers[nnames] = groups;
				nnames++;
				put(&o, "(", 1);
				i += 3 + n;
			}
			else
				put(&o, &c, 1);
		}
		else
		{
			if (c == '(')
				groups++;
			put(&o, &c, 1);
		}
	}
	return o.overflow ? JS_REGEX_UNSUPPORTED : JS_REGEX_OK;
}
