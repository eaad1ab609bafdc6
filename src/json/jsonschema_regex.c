/*
 * jsonschema_regex.c
 *		ECMA-262 patterns for PostgreSQL's regular expression engine.
 *		See jsonschema_regex.h.
 *
 * Most of what JSON schemas use means the same in both: classes,
 * quantifiers, anchors (JSON Schema patterns are not multi-line), \d and \w
 * (ASCII under the C collation, as in ECMA-262 without the u flag),
 * \uXXXX, lookahead and lookbehind.  What differs is rewritten here, in one
 * pass that tracks only whether it is inside a bracket expression: ".",
 * \s and \S, Unicode property escapes, named groups, empty classes.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
	bool		can_start_range = false;	/* in brackets: the last item */
	bool		range_end_next = false; /* was a character, a '-' after one, */
	bool		after_range = false;	/* or the end of a range */
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

		/* an escape in brackets can end a range, never start one */
		if (in_bracket && c == '\\')
		{
			after_range = range_end_next;
			can_start_range = range_end_next = false;
		}

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

			/*
			 * "General_Category=Letter", scripts and so on: not here.  The
			 * caller names the escape in its error, rather than letting
			 * the engine call it an invalid escape.
			 */
			if (posix == NULL || (negated && in_bracket))
			{
				size_t		n = end + 1 - (src + i);

				if (n >= out_size)
					n = out_size - 1;
				memcpy(out, src + i, n);
				out[n] = '\0';
				return JS_REGEX_UNKNOWN_PROPERTY;
			}
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
		else if (c == '\\' && ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z')) &&
				 strchr("dDwWsSbBfnrtvcxupPk", next) == NULL)
			return JS_REGEX_NOT_ECMA;	/* ARE's \A \Z \m \M \y \Y \e \a ... */
		else if (c == '\\' && (next == 'b' || next == 'B') && !in_bracket)
		{
			/* word boundaries: ARE spells them \y and \Y (its \b is backspace) */
			put(&o, next == 'b' ? "\\y" : "\\Y", 2);
			i++;
		}
		else if (c == '\\' && next == 'x')
		{
			/* exactly two hex digits (ARE's \x takes as many as follow) */
			if (i + 3 < len && isxdigit((unsigned char) src[i + 2]) &&
				isxdigit((unsigned char) src[i + 3]))
			{
				snprintf(tmp, sizeof(tmp), "\\u00%c%c", src[i + 2], src[i + 3]);
				put(&o, tmp, strlen(tmp));
				i += 3;
			}
			else
				return JS_REGEX_NOT_ECMA;
		}
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
			/*
			 * "[a-c-z]": ECMA-262 reads a '-' right after a range as a
			 * literal; ARE refuses it, unless escaped.
			 */
			if (c == ']')
				in_bracket = false;
			else if (c == '[')
			{
				/* ECMA-262 has no [:alpha:] in classes: '[' is a literal */
				put(&o, "\\[", 2);
				after_range = range_end_next;
				can_start_range = !range_end_next;
				range_end_next = false;
				continue;
			}
			else if (c == '-' && next != ']' && can_start_range)
			{
				put(&o, "-", 1);
				range_end_next = true;
				can_start_range = after_range = false;
				continue;
			}
			else if (c == '-' && next != ']' && after_range)
			{
				put(&o, "\\-", 2);
				can_start_range = after_range = false;
				continue;
			}
			put(&o, &c, 1);
			after_range = range_end_next;
			can_start_range = !range_end_next;
			range_end_next = false;
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
				can_start_range = range_end_next = after_range = false;
				put(&o, &c, 1);
				if (next == '^')
				{
					put(&o, "^", 1);
					i++;
				}
			}
		}
		else if (c == '.')
		{
			/* ECMA-262's "." stops at line terminators; ARE's does not */
			put(&o, "[^\\n\\r\\u2028\\u2029]", strlen("[^\\n\\r\\u2028\\u2029]"));
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

/* ---- simple patterns ---- */

typedef struct SimpleAtom
{
	unsigned char cls[16];
	int			min;
	int			max;			/* -1: unbounded */
} SimpleAtom;

static void
cls_add(unsigned char *cls, unsigned char c)
{
	cls[c >> 3] |= (unsigned char) (1 << (c & 7));
}

static void
cls_add_range(unsigned char *cls, unsigned char lo, unsigned char hi)
{
	for (int c = lo; c <= hi; c++)
		cls_add(cls, (unsigned char) c);
}

/*
 * One escape inside or outside brackets: \d, \w, or a punctuation
 * character taken literally.  Anything else (\s is Unicode, \b is an
 * assertion, \1 a back-reference...) is not simple.
 */
static bool
simple_escape(char e, unsigned char *cls)
{
	if (e == 'd')
		cls_add_range(cls, '0', '9');
	else if (e == 'w')
	{
		cls_add_range(cls, '0', '9');
		cls_add_range(cls, 'A', 'Z');
		cls_add_range(cls, 'a', 'z');
		cls_add(cls, '_');
	}
	else if (strchr("\\/.-+*?()[]{}|^$", e) != NULL && e != '\0')
		cls_add(cls, (unsigned char) e);
	else
		return false;
	return true;
}

static bool
parse_count(const char *s, size_t len, size_t *i, int *value)
{
	int			v = 0;
	size_t		start = *i;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9')
	{
		v = v * 10 + (s[*i] - '0');
		if (v > JS_SIMPLE_MAX_STATES)
			return false;
		(*i)++;
	}
	*value = v;
	return *i > start;
}

/* State i and every state reachable from it by skipping optional ones. */
static uint64_t
closure_word(const JsSimplePattern *p, int i)
{
	uint64_t	m = UINT64_C(1) << i;

	while (i < p->nstates && p->states[i].optional)
		m |= UINT64_C(1) << ++i;
	return m;
}

static void
simple_precompute(JsSimplePattern *p)
{
	p->small = true;
	p->start = closure_word(p, 0);
	for (int c = 0; c < 128; c++)
	{
		p->charmask[c] = 0;
		for (int j = 0; j < p->nstates; j++)
			if (p->states[j].cls[c >> 3] & (1 << (c & 7)))
				p->charmask[c] |= UINT64_C(1) << j;
	}
	for (int j = 0; j < p->nstates; j++)
		p->follow[j] = closure_word(p, j + 1) | (p->states[j].loop ? closure_word(p, j) : 0);
}

/*
 * Where the UTF-8 character starting at s[i] ends: a non-ASCII character
 * is one character, which no simple class holds.
 */
static inline size_t
last_byte_of_char(const char *s, size_t len, size_t i)
{
	while (i + 1 < len && ((unsigned char) s[i + 1] & 0xC0) == 0x80)
		i++;
	return i;
}

/* The one-word simulation of jsonschema_simple_match. */
static bool
simple_match_small(const JsSimplePattern *p, const char *s, size_t len)
{
	uint64_t	accept = UINT64_C(1) << p->nstates;
	uint64_t	cur = p->start;

	for (size_t i = 0;; i++)
	{
		unsigned char c;
		uint64_t	hit,
					next = 0;

		if ((cur & accept) && (!p->anchored_end || i >= len))
			return true;
		if (i >= len)
			return false;
		c = (unsigned char) s[i];
		if (c >= 0x80)
		{
			i = last_byte_of_char(s, len, i);
			hit = 0;
		}
		else
			hit = cur & p->charmask[c];
		while (hit)
		{
			next |= p->follow[__builtin_ctzll(hit)];
			hit &= hit - 1;
		}
		if (!p->anchored_start)
			next |= p->start;
		else if (next == 0)
			return false;
		cur = next;
	}
}

bool
jsonschema_simple_compile(const char *src, size_t len, JsSimplePattern *p)
{
	size_t		i = 0;

	memset(p, 0, sizeof(*p));
	if (i < len && src[i] == '^')
	{
		p->anchored_start = true;
		i++;
	}
	while (i < len)
	{
		SimpleAtom	a;
		char		c = src[i];

		memset(&a, 0, sizeof(a));
		if (c == '$' && i == len - 1)
		{
			p->anchored_end = true;
			break;
		}
		if (c == '\\')
		{
			if (i + 1 >= len || !simple_escape(src[i + 1], a.cls))
				return false;
			i += 2;
		}
		else if (c == '[')
		{
			i++;
			if (i < len && (src[i] == '^' || src[i] == ']'))
				return false;	/* negation reaches non-ASCII; [] is odd */
			while (i < len && src[i] != ']')
			{
				unsigned char lo;

				if (src[i] == '\\')
				{
					if (i + 1 >= len || !simple_escape(src[i + 1], a.cls))
						return false;
					/* an escape starting a range ("[\\.-9]"): not simple */
					if (i + 3 < len && src[i + 2] == '-' && src[i + 3] != ']')
						return false;
					i += 2;
					continue;
				}
				if (src[i] == '[' || (unsigned char) src[i] >= 0x80)
					return false;	/* [:alpha:] and friends, non-ASCII */
				lo = (unsigned char) src[i];
				if (i + 2 < len && src[i + 1] == '-' && src[i + 2] != ']')
				{
					unsigned char hi = (unsigned char) src[i + 2];

					if (hi == '\\' || hi >= 0x80 || hi < lo)
						return false;
					cls_add_range(a.cls, lo, hi);
					i += 3;
				}
				else
				{
					cls_add(a.cls, lo);
					i++;
				}
			}
			if (i >= len)
				return false;
			i++;				/* the ']' */
		}
		else if (strchr(".()|*+?{}^$]", c) != NULL || (unsigned char) c >= 0x80)
			return false;		/* groups, alternation, '.', non-ASCII... */
		else
		{
			cls_add(a.cls, (unsigned char) c);
			i++;
		}

		/* a quantifier, greedy or lazy (the same for "does it match") */
		a.min = a.max = 1;
		if (i < len)
		{
			if (src[i] == '*' || src[i] == '+' || src[i] == '?')
			{
				a.min = src[i] == '+' ? 1 : 0;
				a.max = src[i] == '?' ? 1 : -1;
				i++;
			}
			else if (src[i] == '{')
			{
				i++;
				if (!parse_count(src, len, &i, &a.min))
					return false;
				a.max = a.min;
				if (i < len && src[i] == ',')
				{
					i++;
					a.max = -1;
					if (i < len && src[i] != '}' && !parse_count(src, len, &i, &a.max))
						return false;
				}
				if (i >= len || src[i] != '}' || (a.max >= 0 && a.max < a.min))
					return false;
				i++;
			}
			if (i < len && src[i] == '?')
				i++;
			if (i < len && (src[i] == '*' || src[i] == '+' || src[i] == '{'))
				return false;	/* stacked quantifiers */
		}

		/* expand: min mandatory copies, then optional ones or one loop */
		{
			int			copies = a.max < 0 ? (a.min > 0 ? a.min : 1) : a.max;

			if (p->nstates + copies > JS_SIMPLE_MAX_STATES)
				return false;
			for (int k = 0; k < copies; k++)
			{
				memcpy(p->states[p->nstates].cls, a.cls, sizeof(a.cls));
				p->states[p->nstates].optional = k >= a.min;
				p->states[p->nstates].loop = a.max < 0 && k == copies - 1;
				p->nstates++;
			}
		}
	}
	if (p->nstates < 64)
		simple_precompute(p);
	return true;
}

typedef struct StateSet
{
	uint64_t	w[(JS_SIMPLE_MAX_STATES + 1 + 63) / 64];
} StateSet;

static inline void
set_add(StateSet *s, int i)
{
	s->w[i / 64] |= UINT64_C(1) << (i % 64);
}

/* Add state i and every state reachable by skipping optional ones. */
static inline void
add_closure(const JsSimplePattern *p, StateSet *s, int i)
{
	set_add(s, i);
	while (i < p->nstates && p->states[i].optional)
		set_add(s, ++i);
}

static inline bool
set_has(const StateSet *s, int i)
{
	return (s->w[i / 64] >> (i % 64)) & 1;
}

bool
jsonschema_simple_match(const JsSimplePattern *p, const char *s, size_t len)
{
	StateSet	cur,
				next;
	int			accept = p->nstates;
	int			words = (p->nstates + 1 + 63) / 64;

	if (p->small)
		return simple_match_small(p, s, len);
	memset(&cur, 0, sizeof(cur));
	add_closure(p, &cur, 0);
	for (size_t i = 0;; i++)
	{
		unsigned char c;
		bool		any = false;

		if (set_has(&cur, accept) && (!p->anchored_end || i >= len))
			return true;
		if (i >= len)
			return false;
		c = (unsigned char) s[i];
		if (c >= 0x80)
			i = last_byte_of_char(s, len, i);
		memset(&next, 0, sizeof(next));
		for (int w = 0; w < words; w++)
		{
			uint64_t	bits = cur.w[w];

			while (bits)
			{
				int			j = w * 64 + __builtin_ctzll(bits);

				bits &= bits - 1;
				if (j >= accept || c >= 0x80 ||
					!(p->states[j].cls[c >> 3] & (1 << (c & 7))))
					continue;
				if (p->states[j].loop)
					add_closure(p, &next, j);
				add_closure(p, &next, j + 1);
				any = true;
			}
		}
		/* unanchored: a match may also start at the next character */
		if (!p->anchored_start)
			add_closure(p, &next, 0);
		else if (!any)
			return false;
		cur = next;
	}
}

/* ---- ECMA-262 syntax, for the "regex" format ---- */

/*
 * What the format "regex" asks is whether a string is an ECMA-262 regular
 * expression.  JSON Schema recommends the "u" flag, and ajv compiles with
 * it, so this is the grammar of ES2023 in Unicode mode, without Annex B's
 * web-compatibility forms: no literal "]", "{" or "}", escapes only of
 * syntax characters and "/", back-references only to groups that exist,
 * ranges in order and never from a class escape, unique group names, no
 * quantified lookaround.  One pass, iterative (a million "(" cost no
 * stack), linear in the string; unlike a regex engine's compile, it costs
 * nothing that grows with the repetitions a pattern spells.  Not checked:
 * whether the names of \p{...} are in Unicode's list (any well-formed name
 * passes), and group names are compared as written (an escape in one is
 * not decoded).
 */

typedef struct Span
{
	const char *s;
	size_t		len;
} Span;

typedef struct Syntax
{
	const char *s;
	size_t		len;
	size_t		i;
	/* the open groups: 1 for a lookaround, 0 otherwise */
	unsigned char *open;
	size_t		nopen;
	size_t		groups;			/* capturing groups */
	size_t		max_backref;	/* the highest \N: checked at the end */
	Span	   *names;			/* group names, then \k<name>s */
	size_t		nnames;
	Span	   *refs;
	size_t		nrefs;
	bool		nomem;
} Syntax;

/* What a class atom or escape stands for: a code point or a whole class. */
typedef struct ClassAtom
{
	uint32_t	cp;
	bool		is_class;
} ClassAtom;

static inline bool
at(const Syntax *x, size_t i, char c)
{
	return i < x->len && x->s[i] == c;
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

static bool
hex_digits(const Syntax *x, size_t i, int n, uint32_t *value)
{
	uint32_t	v = 0;

	for (int k = 0; k < n; k++)
	{
		int			h = i + k < x->len ? hex_value(x->s[i + k]) : -1;

		if (h < 0)
			return false;
		v = v * 16 + (uint32_t) h;
	}
	*value = v;
	return true;
}

/* The UTF-8 character at s[i] (a stray byte stands for itself). */
static uint32_t
utf8_char(const Syntax *x, size_t *i)
{
	const unsigned char *p = (const unsigned char *) x->s + *i;
	size_t		left = x->len - *i;
	int			n = p[0] < 0x80 ? 1 : p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 1;
	uint32_t	cp;

	if ((size_t) n > left)
		n = 1;
	cp = n == 1 ? p[0] : (uint32_t) (p[0] & (0x7F >> n));
	for (int k = 1; k < n; k++)
	{
		if ((p[k] & 0xC0) != 0x80)
		{
			*i += 1;
			return p[0];
		}
		cp = (cp << 6) | (p[k] & 0x3F);
	}
	*i += n;
	return cp;
}

/* \u: four hex digits, a surrogate pair of two such, or \u{...} */
static bool
unicode_escape(Syntax *x, size_t *i, uint32_t *cp)
{
	size_t		j = *i + 2;		/* after "\u" */

	if (at(x, j, '{'))
	{
		uint32_t	v = 0;
		size_t		start = ++j;

		for (; j < x->len && hex_value(x->s[j]) >= 0; j++)
		{
			v = v * 16 + (uint32_t) hex_value(x->s[j]);
			if (v > 0x10FFFF)
				return false;
		}
		if (j == start || !at(x, j, '}'))
			return false;
		*cp = v;
		*i = j + 1;
		return true;
	}
	if (!hex_digits(x, j, 4, cp))
		return false;
	*i = j + 4;
	if (*cp >= 0xD800 && *cp <= 0xDBFF && at(x, *i, '\\') && at(x, *i + 1, 'u'))
	{
		uint32_t	trail;

		if (hex_digits(x, *i + 2, 4, &trail) && trail >= 0xDC00 && trail <= 0xDFFF)
		{
			*cp = 0x10000 + ((*cp - 0xD800) << 10) + (trail - 0xDC00);
			*i += 6;
		}
	}
	return true;
}

static bool
property_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		(c >= '0' && c <= '9');
}

/* \p{Name}, \p{Name=Value} or \P{...}; *i at the backslash. */
static bool
property_escape(Syntax *x, size_t *i)
{
	static const char *const names[] = {
		"General_Category", "gc", "Script", "sc", "Script_Extensions", "scx"
	};
	size_t		j = *i + 2;
	size_t		start,
				eq = 0;

	if (!at(x, j, '{'))
		return false;
	start = ++j;
	for (; j < x->len && x->s[j] != '}'; j++)
	{
		if (x->s[j] == '=' && eq == 0 && j > start)
			eq = j;
		else if (!property_name_char(x->s[j]))
			return false;
	}
	if (j >= x->len || j == start || (eq != 0 && eq + 1 == j))
		return false;
	if (eq != 0)
	{
		bool		known = false;

		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (strlen(names[k]) == eq - start && memcmp(names[k], x->s + start, eq - start) == 0)
				known = true;
		if (!known)
			return false;
	}
	*i = j + 1;
	return true;
}

/*
 * A CharacterEscape (or, in a class, a ClassEscape's "\b" and "\-"): *i at
 * the backslash, moved past it.
 */
static bool
character_escape(Syntax *x, size_t *i, bool in_class, uint32_t *cp)
{
	char		e;

	if (*i + 1 >= x->len)
		return false;
	e = x->s[*i + 1];
	switch (e)
	{
		case 'f':
			*cp = '\f';
			break;
		case 'n':
			*cp = '\n';
			break;
		case 'r':
			*cp = '\r';
			break;
		case 't':
			*cp = '\t';
			break;
		case 'v':
			*cp = '\v';
			break;
		case 'c':
			if (*i + 2 < x->len && ((x->s[*i + 2] >= 'a' && x->s[*i + 2] <= 'z') ||
									(x->s[*i + 2] >= 'A' && x->s[*i + 2] <= 'Z')))
			{
				*cp = (uint32_t) x->s[*i + 2] % 32;
				*i += 3;
				return true;
			}
			return false;
		case '0':
			if (*i + 2 < x->len && x->s[*i + 2] >= '0' && x->s[*i + 2] <= '9')
				return false;
			*cp = 0;
			break;
		case 'x':
			if (!hex_digits(x, *i + 2, 2, cp))
				return false;
			*i += 4;
			return true;
		case 'u':
			return unicode_escape(x, i, cp);
		default:
			if (strchr("^$\\.*+?()[]{}|/", e) != NULL || (in_class && e == '-'))
				*cp = (uint32_t) (unsigned char) e;
			else if (in_class && e == 'b')
				*cp = '\b';
			else
				return false;
			break;
	}
	*i += 2;
	return true;
}

static bool
class_atom(Syntax *x, size_t *i, ClassAtom *a)
{
	a->is_class = false;
	if (x->s[*i] != '\\')
	{
		a->cp = utf8_char(x, i);
		return true;
	}
	if (*i + 1 < x->len && strchr("dDsSwW", x->s[*i + 1]) != NULL && x->s[*i + 1] != '\0')
	{
		a->is_class = true;
		*i += 2;
		return true;
	}
	if (*i + 1 < x->len && (x->s[*i + 1] == 'p' || x->s[*i + 1] == 'P'))
	{
		a->is_class = true;
		return property_escape(x, i);
	}
	return character_escape(x, i, true, &a->cp);
}

/* A class, *i at its "[", moved past its "]". */
static bool
character_class(Syntax *x, size_t *i)
{
	size_t		j = *i + 1;

	if (at(x, j, '^'))
		j++;
	for (;;)
	{
		ClassAtom	lo,
					hi;

		if (j >= x->len)
			return false;
		if (x->s[j] == ']')
			break;
		if (!class_atom(x, &j, &lo))
			return false;
		if (at(x, j, '-') && j + 1 < x->len && x->s[j + 1] != ']')
		{
			j++;
			if (!class_atom(x, &j, &hi) || lo.is_class || hi.is_class || lo.cp > hi.cp)
				return false;
		}
	}
	*i = j + 1;
	return true;
}

/* Decimal digits at *i compared as numbers, however many: a <= b. */
static int
digits_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	while (alen > 1 && *a == '0')
		a++, alen--;
	while (blen > 1 && *b == '0')
		b++, blen--;
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static size_t
digits_at(const Syntax *x, size_t i)
{
	size_t		n = 0;

	while (i + n < x->len && x->s[i + n] >= '0' && x->s[i + n] <= '9')
		n++;
	return n;
}

/* {n}, {n,} or {n,m} with n <= m, *i at the "{". */
static bool
braced_quantifier(Syntax *x, size_t *i)
{
	size_t		j = *i + 1;
	size_t		n = digits_at(x, j),
				m;
	const char *first = x->s + j;

	if (n == 0)
		return false;
	j += n;
	if (at(x, j, ','))
	{
		j++;
		m = digits_at(x, j);
		if (m > 0 && digits_cmp(first, n, x->s + j, m) > 0)
			return false;
		j += m;
	}
	if (!at(x, j, '}'))
		return false;
	*i = j + 1;
	return true;
}

static bool
group_name_char(const Syntax *x, size_t i, bool first)
{
	char		c = x->s[i];

	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '$' || c == '_' ||
		(unsigned char) c >= 0x80 || (!first && c >= '0' && c <= '9');
}

/* "<name>" at *i, recorded in list; *i moved past the ">". */
static bool
group_name(Syntax *x, size_t *i, Span *list, size_t *count)
{
	size_t		j = *i + 1;
	size_t		start = j;
	uint32_t	cp;

	if (!at(x, *i, '<'))
		return false;
	while (j < x->len && x->s[j] != '>')
	{
		if (x->s[j] == '\\' && at(x, j + 1, 'u'))
		{
			if (!unicode_escape(x, &j, &cp))
				return false;
		}
		else if (group_name_char(x, j, j == start))
			j++;
		else
			return false;
	}
	if (j >= x->len || j == start)
		return false;
	list[*count].s = x->s + start;
	list[*count].len = j - start;
	(*count)++;
	*i = j + 1;
	return true;
}

static int
span_cmp(const void *a, const void *b)
{
	const Span *x = a;
	const Span *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->s, y->s, x->len);
}

/* Room for the names and references a pattern of this length can hold. */
static bool
names_room(Syntax *x)
{
	if (x->names == NULL)
	{
		/* each takes at least four bytes: "(?<a" or "\k<a" */
		size_t		max = x->len / 4 + 1;

		x->names = malloc(sizeof(Span) * max);
		x->refs = malloc(sizeof(Span) * max);
		if (x->names == NULL || x->refs == NULL)
		{
			x->nomem = true;
			return false;
		}
	}
	return true;
}

static bool
syntax_check(Syntax *x)
{
	enum
	{
		NOTHING,				/* nothing a quantifier may follow */
		ATOM
	}			last = NOTHING;

	while (x->i < x->len)
	{
		char		c = x->s[x->i];

		switch (c)
		{
			case '|':
			case '^':
			case '$':
				last = NOTHING;
				x->i++;
				break;
			case '(':
				{
					unsigned char lookaround = 0;

					if (x->open == NULL && (x->open = malloc(x->len)) == NULL)
					{
						x->nomem = true;
						return false;
					}
					if (at(x, x->i + 1, '?'))
					{
						size_t		j = x->i + 2;

						if (at(x, j, ':'))
							j++;
						else if (at(x, j, '=') || at(x, j, '!'))
							lookaround = 1, j++;
						else if (at(x, j, '<') && (at(x, j + 1, '=') || at(x, j + 1, '!')))
							lookaround = 1, j += 2;
						else if (at(x, j, '<'))
						{
							if (!names_room(x) || !group_name(x, &j, x->names, &x->nnames))
								return false;
							x->groups++;
						}
						else
							return false;	/* (?i), (?#...), (?P<...>) ... */
						x->i = j;
					}
					else
					{
						x->groups++;
						x->i++;
					}
					x->open[x->nopen++] = lookaround;
					last = NOTHING;
					break;
				}
			case ')':
				if (x->nopen == 0)
					return false;
				/* lookaround is not quantifiable with the u flag */
				last = x->open[--x->nopen] ? NOTHING : ATOM;
				x->i++;
				break;
			case '*':
			case '+':
			case '?':
			case '{':
				if (last != ATOM)
					return false;
				if (c == '{')
				{
					if (!braced_quantifier(x, &x->i))
						return false;
				}
				else
					x->i++;
				if (at(x, x->i, '?'))
					x->i++;		/* lazy */
				last = NOTHING;
				break;
			case '}':
			case ']':
				return false;	/* literal only outside Unicode mode */
			case '[':
				if (!character_class(x, &x->i))
					return false;
				last = ATOM;
				break;
			case '\\':
				{
					char		e = x->i + 1 < x->len ? x->s[x->i + 1] : '\0';
					uint32_t	cp;

					if (e == 'b' || e == 'B')
					{
						x->i += 2;
						last = NOTHING;
						break;
					}
					last = ATOM;
					if (e >= '1' && e <= '9')
					{
						size_t		n = digits_at(x, x->i + 1);
						size_t		v = 0;

						for (size_t k = 0; k < n; k++)
						{
							v = v * 10 + (size_t) (x->s[x->i + 1 + k] - '0');
							if (v > x->len)
								v = x->len + 1; /* more than any count of groups */
						}
						if (v > x->max_backref)
							x->max_backref = v;
						x->i += 1 + n;
					}
					else if (e == 'k')
					{
						x->i += 2;
						if (!names_room(x) || !group_name(x, &x->i, x->refs, &x->nrefs))
							return false;
					}
					else if (e != '\0' && strchr("dDsSwW", e) != NULL)
						x->i += 2;
					else if (e == 'p' || e == 'P')
					{
						if (!property_escape(x, &x->i))
							return false;
					}
					else if (!character_escape(x, &x->i, false, &cp))
						return false;
					break;
				}
			default:
				(void) utf8_char(x, &x->i);
				last = ATOM;
				break;
		}
	}
	if (x->nopen > 0 || x->max_backref > x->groups)
		return false;
	if (x->nnames > 1)
	{
		qsort(x->names, x->nnames, sizeof(Span), span_cmp);
		for (size_t k = 1; k < x->nnames; k++)
			if (span_cmp(&x->names[k - 1], &x->names[k]) == 0)
				return false;
	}
	for (size_t k = 0; k < x->nrefs; k++)
		if (x->nnames == 0 ||
			bsearch(&x->refs[k], x->names, x->nnames, sizeof(Span), span_cmp) == NULL)
			return false;
	return true;
}

JsRegexSyntax
jsonschema_regex_check(const char *src, size_t len)
{
	Syntax		x;
	bool		ok;

	memset(&x, 0, sizeof(x));
	x.s = src;
	x.len = len;
	ok = syntax_check(&x);
	free(x.open);
	free(x.names);
	free(x.refs);
	if (x.nomem)
		return JS_REGEX_SYNTAX_NOMEM;
	return ok ? JS_REGEX_SYNTAX_OK : JS_REGEX_SYNTAX_INVALID;
}
