/*
 * jsonschema_uri.c
 *		RFC 3986 reference resolution and RFC 6901 pointer tokens, for
 *		"$id" and "$ref".  See jsonschema_uri.h.
 *
 * Schemas are identified by strings: two references name the same
 * resource exactly when their resolved forms are equal.  So resolution also
 * normalises what JSON Schema treats as equal but RFC 3986 keeps apart:
 * dot segments, and an empty fragment ("http://x/s#" is "http://x/s").
 */
#include <string.h>

#include "jsonschema_uri.h"

typedef struct Part
{
	const char *p;
	size_t		len;
	bool		present;
} Part;

typedef struct UriParts
{
	Part		scheme;
	Part		authority;
	Part		path;
	Part		query;
	Part		fragment;
} UriParts;

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 3986 appendix B, without the regular expression. */
static void
split_uri(const char *s, size_t len, UriParts *u)
{
	size_t		i = 0;
	size_t		start;

	memset(u, 0, sizeof(*u));

	/* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	if (len > 0 && is_alpha(s[0]))
	{
		size_t		j = 1;

		while (j < len && (is_alpha(s[j]) || is_digit(s[j]) ||
						   s[j] == '+' || s[j] == '-' || s[j] == '.'))
			j++;
		if (j < len && s[j] == ':')
		{
			u->scheme = (Part) {s, j, true};
			i = j + 1;
		}
	}

	if (i + 1 < len && s[i] == '/' && s[i + 1] == '/')
	{
		start = i + 2;
		i = start;
		while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#')
			i++;
		u->authority = (Part) {s + start, i - start, true};
	}

	start = i;
	while (i < len && s[i] != '?' && s[i] != '#')
		i++;
	u->path = (Part) {s + start, i - start, true};

	if (i < len && s[i] == '?')
	{
		start = ++i;
		while (i < len && s[i] != '#')
			i++;
		u->query = (Part) {s + start, i - start, true};
	}
	if (i < len && s[i] == '#')
	{
		start = i + 1;
		u->fragment = (Part) {s + start, len - start, true};
	}
}

/* A bounded string builder: overflow is remembered, not written. */
typedef struct Buf
{
	char	   *out;
	size_t		size;
	size_t		len;
	bool		overflow;
} Buf;

static void
buf_put(Buf *b, const char *p, size_t n)
{
	if (b->overflow || b->len + n + 1 > b->size)
	{
		b->overflow = true;
		return;
	}
	memcpy(b->out + b->len, p, n);
	b->len += n;
	b->out[b->len] = '\0';
}

/*
 * RFC 3986 5.2.4, applied to path[0..len) and appended to b.  Works on the
 * output in place: each input segment is appended or removes the last one.
 */
static void
put_path_without_dots(Buf *b, const char *in, size_t len)
{
	size_t		base = b->len;
	size_t		i = 0;

	while (i < len)
	{
		const char *rest = in + i;
		size_t		left = len - i;

		if (left >= 3 && memcmp(rest, "../", 3) == 0)
			i += 3;
		else if (left >= 2 && memcmp(rest, "./", 2) == 0)
			i += 2;
		else if (left >= 3 && memcmp(rest, "/./", 3) == 0)
			i += 2;
		else if (left == 2 && memcmp(rest, "/.", 2) == 0)
		{
			buf_put(b, "/", 1);
			i += 2;
		}
		else if ((left >= 4 && memcmp(rest, "/../", 4) == 0) ||
				 (left == 3 && memcmp(rest, "/..", 3) == 0))
		{
			/* drop the last output segment and its leading '/' */
			while (!b->overflow && b->len > base && b->out[b->len - 1] != '/')
				b->len--;
			if (!b->overflow && b->len > base)
				b->len--;
			if (!b->overflow)
				b->out[b->len] = '\0';
			/* "/../x" continues at "/x"; a final "/.." leaves "/" */
			if (left == 3)
				buf_put(b, "/", 1);
			i += 3;
		}
		else if ((left == 1 && rest[0] == '.') ||
				 (left == 2 && memcmp(rest, "..", 2) == 0))
			i += left;
		else
		{
			/* move the first segment, with its leading '/' if any */
			size_t		j = (rest[0] == '/') ? 1 : 0;

			while (j < left && rest[j] != '/')
				j++;
			buf_put(b, rest, j);
			i += j;
		}
	}
}

bool
jsonschema_uri_resolve(const char *base, const char *ref, size_t ref_len,
					   char *out, size_t out_size)
{
	UriParts	r;
	UriParts	bp;
	Buf			b = {out, out_size, 0, false};
	const Part *scheme;
	const Part *authority;
	const Part *query;

	if (out_size == 0)
		return false;
	out[0] = '\0';
	split_uri(ref, ref_len, &r);
	split_uri(base, strlen(base), &bp);

	if (r.scheme.present)
	{
		scheme = &r.scheme;
		authority = &r.authority;
		query = &r.query;
	}
	else
	{
		scheme = &bp.scheme;
		authority = r.authority.present ? &r.authority : &bp.authority;
		if (r.authority.present || r.path.len > 0)
			query = &r.query;
		else
			query = r.query.present ? &r.query : &bp.query;
	}

	if (scheme->present)
	{
		buf_put(&b, scheme->p, scheme->len);
		buf_put(&b, ":", 1);
	}
	if (authority->present)
	{
		buf_put(&b, "//", 2);
		buf_put(&b, authority->p, authority->len);
	}

	if (r.scheme.present || r.authority.present)
		put_path_without_dots(&b, r.path.p, r.path.len);
	else if (r.path.len == 0)
		buf_put(&b, bp.path.p, bp.path.len);
	else if (r.path.p[0] == '/')
		put_path_without_dots(&b, r.path.p, r.path.len);
	else
	{
		/* RFC 3986 5.2.3: merge with the base path, then remove dots */
		char		merged[2048];
		Buf			m = {merged, sizeof(merged), 0, false};

		if (bp.authority.present && bp.path.len == 0)
			buf_put(&m, "/", 1);
		else
		{
			size_t		keep = bp.path.len;

			while (keep > 0 && bp.path.p[keep - 1] != '/')
				keep--;
			buf_put(&m, bp.path.p, keep);
		}
		buf_put(&m, r.path.p, r.path.len);
		if (m.overflow)
			return false;
		put_path_without_dots(&b, merged, m.len);
	}

	if (query->present)
	{
		buf_put(&b, "?", 1);
		buf_put(&b, query->p, query->len);
	}
	if (r.fragment.present && r.fragment.len > 0)
	{
		buf_put(&b, "#", 1);
		buf_put(&b, r.fragment.p, r.fragment.len);
	}
	return !b.overflow;
}

size_t
jsonschema_uri_strip_fragment(const char *uri)
{
	const char *hash = strchr(uri, '#');

	return hash ? (size_t) (hash - uri) : strlen(uri);
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
jsonschema_uri_percent_decode(const char *src, size_t len, char *out,
							  size_t *out_len)
{
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (src[i] == '%')
		{
			int			hi,
						lo;

			if (i + 2 >= len)
				return false;
			hi = hex_value(src[i + 1]);
			lo = hex_value(src[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			out[n++] = (char) (hi * 16 + lo);
			i += 2;
		}
		else
			out[n++] = src[i];
	}
	out[n] = '\0';
	*out_len = n;
	return true;
}

bool
jsonschema_pointer_unescape(const char *src, size_t len, char *out,
							size_t *out_len)
{
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (src[i] == '~')
		{
			if (i + 1 >= len || (src[i + 1] != '0' && src[i + 1] != '1'))
				return false;
			out[n++] = src[i + 1] == '0' ? '~' : '/';
			i++;
		}
		else
			out[n++] = src[i];
	}
	*out_len = n;
	return true;
}

size_t
jsonschema_pointer_append(char *out, size_t out_size, size_t *pos,
						  const char *token, size_t len)
{
	size_t		need = 1;

	for (size_t i = 0; i < len; i++)
		need += (token[i] == '~' || token[i] == '/') ? 2 : 1;
	if (*pos + need + 1 > out_size)
		return need;
	out[(*pos)++] = '/';
	for (size_t i = 0; i < len; i++)
	{
		if (token[i] == '~' || token[i] == '/')
		{
			out[(*pos)++] = '~';
			out[(*pos)++] = token[i] == '~' ? '0' : '1';
		}
		else
			out[(*pos)++] = token[i];
	}
	out[*pos] = '\0';
	return need;
}

bool
jsonschema_uri_is_absolute(const char *uri, size_t len)
{
	UriParts	u;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char) uri[i] <= ' ' || uri[i] == 0x7F)
			return false;		/* no URI holds white space or controls */
	split_uri(uri, len, &u);
	return u.scheme.present && !u.fragment.present;
}
