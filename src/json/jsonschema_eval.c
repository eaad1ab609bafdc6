/*
 * jsonschema_eval.c
 *		Evaluating a compiled schema against a jsonb instance.
 *
 * Two modes share one walk.  Asked for a boolean, evaluation stops at the
 * first failure and keeps no paths.  Asked for errors, it visits every
 * keyword and records each failure with its instance location and keyword
 * location (JSON pointers, "$ref" included, as JSON Schema's "basic"
 * output has them); failures inside a subschema that does not decide the
 * outcome (a losing anyOf branch when another matched, "not", "if") are
 * dropped again.
 *
 * Annotations are collected only where "unevaluatedProperties" or
 * "unevaluatedItems" needs them: such a node gives its in-place
 * applicators a bitmap of the instance's members, which they mark as they
 * evaluate; successful branches merge theirs in.  Every other evaluation
 * passes no bitmap and pays nothing for the feature.
 *
 * Memory is bounded whatever the schema's fan-out (a "$defs" chain of
 * allOf with two "$ref"s each visits 2^n nodes) and the instance's size:
 * - at most JS_MAX_ERRORS errors (and JS_MAX_ERROR_BYTES of their
 *   strings) are kept, each in one chunk, and freed again when a branch
 *   that does not decide the outcome drops them; later ones are only
 *   counted, without formatting their message;
 * - a message's arguments, and what a leaf check allocates (numbers of
 *   more than 18 digits go through numeric.c, base64 is decoded), live in
 *   a scratch context reset right after;
 * - annotation bitmaps are freed when their node or branch is done.
 * What stays grows with the instance's depth (paths, scope) and its
 * longest string or array (buffers reused from call to call).  Every 256
 * steps check for interrupts, so statement_timeout ends an exponential
 * schema; a countdown, because a check at each step of the common small
 * subschemas cost several percent.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "common/jsonapi.h"
#include "compat.h"
#include "jsonschema.h"
#include "jsonschema_regex.h"
#include "jsonschema_uri.h"

/*
 * Evaluation nested deeper than this is abuse.  eval() recurses once or
 * twice per level of the instance, so its own frame is what the stack pays
 * per level: the keyword helpers are pg_noinline to keep it small (224
 * bytes against 1 KB inlined, with GCC 12 at -O2).
 */
#define MAX_EVAL_DEPTH 4000
/* uniqueItems compares pairwise up to this many items, then hashes. */
#define UNIQUE_PAIRWISE_MAX 16

typedef struct Seg
{
	const char *s;				/* a name, or NULL for an array index */
	int			len;
	int			index;
} Seg;

typedef struct PathStack
{
	Seg		   *segs;
	int			n;
	int			max;
} PathStack;

/* A reference being followed: its target and the instance it is applied to. */
typedef struct RefStep
{
	JsNode	   *target;
	const void *instance;
} RefStep;

typedef struct Eval
{
	bool		collect;
	JsError   **errors;			/* the first nkept errors, in order */
	int			nkept;
	int64		nerrors;		/* errors so far, kept or not */
	Size		kept_bytes;
	MemoryContext cxt;			/* the caller's: errors, paths, bitmaps */
	MemoryContext scratch;		/* reset after each leaf check and report */
	StringInfoData buf[3];		/* a report's two locations and message */
	PathStack	ipath;			/* instance location */
	PathStack	kpath;			/* keyword location */
	JsResource **scope;			/* dynamic scope, outermost first */
	int			nscope;
	int			maxscope;
	int			steps_left;		/* evaluation steps until the next
								 * CHECK_FOR_INTERRUPTS */
	int			depth;
	RefStep    *refs;			/* references being followed, innermost last */
	int			nrefs;
	int			maxrefs;
	bool		format_assertion;
	pg_wchar   *wbuf;
	int			wbuflen;
	/* where scope and refs start: most validations need no more */
	JsResource *scope_buf[16];
	RefStep		refs_buf[16];
} Eval;

/* Steps between checks for interrupts: a fraction of a millisecond. */
#define STEPS_PER_INTERRUPT_CHECK 256
/* Work on strings and lists is charged as steps: bytes or items per step. */
#define BYTES_PER_STEP 64
#define ITEMS_PER_STEP 16

/*
 * Count steps of work towards the next check for interrupts.  A step is
 * one subschema applied to one value, or BYTES_PER_STEP bytes scanned, or
 * ITEMS_PER_STEP names or values compared: so the time between checks stays
 * a fraction of a millisecond whatever the schema's values and the body's
 * strings weigh.
 */
static inline void
spend(Eval *ev, int steps)
{
	ev->steps_left -= steps;
	if (unlikely(ev->steps_left <= 0))
	{
		ev->steps_left = STEPS_PER_INTERRUPT_CHECK;
		CHECK_FOR_INTERRUPTS();
	}
}

typedef struct Annot
{
	int			n;
	bool		all;
	uint64	   *bits;
} Annot;

static bool eval(Eval *ev, JsNode *n, const JV *inst, Annot *ann);

/* ---- paths ---- */

static inline void
push(PathStack *p, const char *s, int len, int index)
{
	if (p->n == p->max)
	{
		p->max = p->max ? p->max * 2 : 32;
		p->segs = p->segs ? repalloc(p->segs, sizeof(Seg) * p->max)
			: palloc(sizeof(Seg) * p->max);
	}
	p->segs[p->n].s = s;
	p->segs[p->n].len = len;
	p->segs[p->n].index = index;
	p->n++;
}

#define PUSH_KW(ev, kw) \
	do { if ((ev)->collect) push(&(ev)->kpath, (kw), strlen(kw), -1); } while (0)
#define PUSH_KEY(ev, path, str, len) \
	do { if ((ev)->collect) push(&(ev)->path, (str), (len), -1); } while (0)
#define PUSH_INDEX(ev, path, i) \
	do { if ((ev)->collect) push(&(ev)->path, NULL, 0, (i)); } while (0)
#define POP(ev, path) \
	do { if ((ev)->collect) (ev)->path.n--; } while (0)

/*
 * A location longer than this keeps its first LOCATION_HEAD and its last
 * LOCATION_TAIL bytes around LOCATION_CUT: a "~" followed by anything but
 * "0" or "1" never occurs in a JSON pointer, so a shortened location cannot
 * be taken for a real one.  Rendering one costs O(LOCATION_MAX) whatever
 * the path's depth and its keys' lengths: error collection renders the path
 * at every failure, also in branches that are dropped again (an anyOf that
 * fails at each of 2,000 levels of a deep body), and paths of megabytes
 * made that quadratic.
 */
#define LOCATION_MAX	4096
#define LOCATION_HEAD	2048
#define LOCATION_TAIL	2040
#define LOCATION_CUT	"~..."

/* A JSON pointer token, escaped as RFC 6901 says, of at most max bytes of s. */
static void
append_token(StringInfo buf, const char *s, int len, int max)
{
	size_t		pos;

	if (len > max)
		len = max;
	enlargeStringInfo(buf, len * 2 + 2);
	pos = buf->len;
	jsonschema_pointer_append(buf->data, buf->maxlen, &pos, s, len);
	buf->len = pos;
}

static void
append_seg(StringInfo buf, const Seg *s, int max)
{
	if (s->s == NULL)
		appendStringInfo(buf, "/%d", s->index);
	else
		append_token(buf, s->s, s->len, max);
}

/* Bytes of a segment before escaping, "/" included. */
static int
seg_raw_len(const Seg *s)
{
	char		digits[16];

	if (s->s)
		return s->len + 1;
	return snprintf(digits, sizeof(digits), "/%d", s->index);
}

/* The byte where a cut at or before max keeps s whole in characters. */
static int
clip_at(const char *s, int len, int max)
{
	return len <= max ? len : pg_mbcliplen(s, len, max);
}

/*
 * The path as a JSON pointer, into buf (reused from report to report),
 * shortened as LOCATION_MAX says.  last, when set, is one more token.
 */
static void
render(StringInfo buf, const PathStack *p, const char *last)
{
	Seg			lastseg = {last, last ? (int) strlen(last) : 0, -1};
	int			n = p->n + (last ? 1 : 0);
	int			from;
	int			need = LOCATION_TAIL;
	int			skip = 0;
	StringInfoData tail;

#define SEG(i) ((i) < p->n ? &p->segs[i] : &lastseg)
	resetStringInfo(buf);
	for (int i = 0; i < n; i++)
	{
		append_seg(buf, SEG(i), LOCATION_MAX + 1 - buf->len);
		if (buf->len > LOCATION_MAX)
			break;
	}
	if (buf->len <= LOCATION_MAX)
		return;

	/* too long: the head, the cut, then the segments that end it */
	buf->len = clip_at(buf->data, buf->len, LOCATION_HEAD);
	buf->data[buf->len] = '\0';
	appendStringInfoString(buf, LOCATION_CUT);
	for (from = n - 1; from > 0; from--)
	{
		int			raw = seg_raw_len(SEG(from));

		if (raw >= need)
			break;
		need -= raw;
	}
	/* of the first of them, a key's last bytes only, without its "/" */
	if (SEG(from)->s && SEG(from)->len + 1 > need)
		skip = SEG(from)->len - need;
	initStringInfo(&tail);
	for (int i = from; i < n; i++)
	{
		const Seg  *s = SEG(i);

		if (i == from && skip > 0)
		{
			append_token(&tail, s->s + skip, s->len - skip, s->len);
			memmove(tail.data, tail.data + 1, tail.len--);
		}
		else
			append_seg(&tail, s, s->s ? s->len : 0);
	}
#undef SEG
	/* escapes may have made it longer: its last LOCATION_TAIL bytes */
	skip = tail.len > LOCATION_TAIL ? tail.len - LOCATION_TAIL : 0;
	while (skip < tail.len && (tail.data[skip] & 0xC0) == 0x80 &&
		   GetDatabaseEncoding() == PG_UTF8)
		skip++;
	appendBinaryStringInfo(buf, tail.data + skip, tail.len - skip);
	pfree(tail.data);
}

/*
 * Whether the next error is kept: only while every error so far was (the
 * kept ones are the first ones, which a rewind can count back to).
 */
static inline bool
error_keepable(const Eval *ev)
{
	return ev->nkept == ev->nerrors && ev->nkept < JS_MAX_ERRORS;
}

/* The length of s as a JSON string, quotes included, as jsonb prints it. */
static Size
json_text_len(const char *s, int len)
{
	Size		n = 2;

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
			c == '\r' || c == '\t')
			n += 2;
		else if (c < 0x20)
			n += 6;				/* \u00XX */
		else
			n++;
	}
	return n;
}

pg_attribute_printf(3, 4)
static void
report(Eval *ev, const char *kw, const char *fmt,...)
{
	StringInfo	iloc = &ev->buf[0];
	StringInfo	kloc = &ev->buf[1];
	StringInfo	msg = &ev->buf[2];
	JsError    *e;
	Size		size;
	Size		text;
	char	   *p;

	if (ev->buf[0].data == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(ev->cxt);

		for (int i = 0; i < 3; i++)
			initStringInfo(&ev->buf[i]);
		MemoryContextSwitchTo(old);
	}
	resetStringInfo(msg);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(msg, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(msg, needed);
	}
	render(iloc, &ev->ipath, NULL);
	render(kloc, &ev->kpath, kw);
	/* a few kilobytes at most, but under a fan-out, at every step */
	spend(ev, (iloc->len + kloc->len + msg->len) / BYTES_PER_STEP);

	ev->nerrors++;
	text = json_text_len(iloc->data, iloc->len) + json_text_len(kloc->data, kloc->len) +
		json_text_len(msg->data, msg->len);
	if (ev->kept_bytes + text > JS_MAX_ERROR_BYTES)
		return;					/* counted, not kept; no later one is */
	size = MAXALIGN(sizeof(JsError)) + iloc->len + kloc->len + msg->len + 3;
	e = MemoryContextAlloc(ev->cxt, size);
	p = (char *) e + MAXALIGN(sizeof(JsError));
	e->size = text;
	e->instance_location = memcpy(p, iloc->data, iloc->len + 1);
	p += iloc->len + 1;
	e->keyword_location = memcpy(p, kloc->data, kloc->len + 1);
	p += kloc->len + 1;
	e->message = memcpy(p, msg->data, msg->len + 1);
	if (ev->errors == NULL)
		ev->errors = MemoryContextAlloc(ev->cxt, sizeof(JsError *) * JS_MAX_ERRORS);
	ev->errors[ev->nkept++] = e;
	ev->kept_bytes += text;
}

/*
 * Out of line, as REPORT's other steps: the keyword checks that report
 * are the evaluator's inner loops, and stay small.
 */
pg_noinline static MemoryContext
scratch_enter(Eval *ev)
{
	if (ev->scratch == NULL)
		ev->scratch = AllocSetContextCreate(ev->cxt, "apikit JSON schema scratch",
											ALLOCSET_SMALL_SIZES);
	return MemoryContextSwitchTo(ev->scratch);
}

/* Back to old; the scratch context is emptied unless old was it. */
pg_noinline static void
scratch_leave(Eval *ev, MemoryContext old)
{
	MemoryContextSwitchTo(old);
	if (old != ev->scratch)
		MemoryContextReset(ev->scratch);
}

/*
 * In boolean mode, not even the message's arguments are computed; past
 * the errors kept, neither are they: the error is only counted.  The
 * arguments are computed in the scratch context, emptied after.
 */
#define REPORT(ev, ...) \
	do { \
		if ((ev)->collect) \
		{ \
			if (error_keepable(ev)) \
			{ \
				MemoryContext report_old_ = scratch_enter(ev); \
				report(ev, __VA_ARGS__); \
				scratch_leave(ev, report_old_); \
			} \
			else \
				(ev)->nerrors++; \
		} \
	} while (0)

static int64
error_mark(Eval *ev)
{
	return ev->nerrors;
}

/* Forget the errors since mark, and free the ones that were kept. */
static void
error_rewind(Eval *ev, int64 mark)
{
	if (!ev->collect)
		return;
	while (ev->nkept > mark)
	{
		JsError    *e = ev->errors[--ev->nkept];

		ev->kept_bytes -= e->size;
		pfree(e);
	}
	ev->nerrors = mark;
}

/* ---- annotations ---- */

static Annot *
annot_new(int n)
{
	Annot	   *a = palloc(sizeof(Annot));

	a->n = n;
	a->all = false;
	a->bits = palloc0(sizeof(uint64) * ((n + 63) / 64 + 1));
	return a;
}

static void
annot_free(Annot *a)
{
	if (a)
	{
		pfree(a->bits);
		pfree(a);
	}
}

static inline void
annot_mark(Annot *a, int i)
{
	if (a)
		a->bits[i / 64] |= UINT64CONST(1) << (i % 64);
}

static inline bool
annot_has(const Annot *a, int i)
{
	return a->all || (a->bits[i / 64] & (UINT64CONST(1) << (i % 64))) != 0;
}

static void
annot_merge(Annot *dst, const Annot *src)
{
	if (dst == NULL || src == NULL)
		return;
	dst->all |= src->all;
	for (int i = 0; i < (dst->n + 63) / 64; i++)
		dst->bits[i] |= src->bits[i];
}

/* ---- scalars ---- */

/* Whether a number of more than 18 digits is an integer: numeric.c allocates. */
pg_noinline static bool
big_is_integer(Eval *ev, Numeric n)
{
	JsDec		d = jv_decimal(n);
	MemoryContext old = scratch_enter(ev);
	bool		integer = jv_num_is_integer(n, &d);

	scratch_leave(ev, old);
	return integer;
}

static uint8
instance_types(Eval *ev, const JV *v, bool want_integer)
{
	switch (v->type)
	{
		case JV_NULL:
			return JS_T_NULL;
		case JV_BOOL:
			return JS_T_BOOLEAN;
		case JV_OBJECT:
			return JS_T_OBJECT;
		case JV_ARRAY:
			return JS_T_ARRAY;
		case JV_STRING:
			return JS_T_STRING;
		case JV_NUMBER:
			if (want_integer)
			{
				JsDec		d = jv_decimal(v->num);

				if (d.ok ? d.scale == 0 : big_is_integer(ev, v->num))
					return JS_T_NUMBER | JS_T_INTEGER;
			}
			return JS_T_NUMBER;
	}
	return 0;
}

static char *
type_list(uint8 types)
{
	static const char *const names[] = {"null", "boolean", "object", "array", "number", "string", "integer"};
	StringInfoData buf;
	int			count = 0;

	initStringInfo(&buf);
	for (int i = 0; i < 7; i++)
		if (types & (1 << i))
			count++;
	for (int i = 0, seen = 0; i < 7; i++)
		if (types & (1 << i))
		{
			if (seen > 0)
				appendStringInfoString(&buf, seen == count - 1 ? " or " : ", ");
			appendStringInfoString(&buf, names[i]);
			seen++;
		}
	return buf.data;
}

/*
 * A string of the body's (or the schema's) in a message: at most this many
 * bytes, cut at a character and "..." after.  A key of 150,000 bytes would
 * otherwise be copied into the message, then escaped into the error's
 * DETAIL, PostgREST's body and the server log.
 */
#define MESSAGE_STRING_MAX 200

static char *
msg_text(const char *s, int len)
{
	int			cut = clip_at(s, len, MESSAGE_STRING_MAX);

	return cut < len ? psprintf("%.*s...", cut, s) : pnstrdup(s, len);
}

/* A number for a message, likewise cut (numeric has up to 147,455 digits). */
static char *
num_text(Numeric n)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));

	return msg_text(text, strlen(text));
}

static bool
regex_matches(Eval *ev, JsPattern *p, const char *s, int len)
{
	int			wlen;
	int			rc;

	if (p->simple)
		return jsonschema_simple_match(p->simple, s, len);
	if (ev->wbuflen < len + 1)
	{
		ev->wbuflen = Max(len + 1, 256);
		ev->wbuf = ev->wbuf ? repalloc(ev->wbuf, sizeof(pg_wchar) * ev->wbuflen)
			: palloc(sizeof(pg_wchar) * ev->wbuflen);
	}
	wlen = pg_mb2wchar_with_len(s, ev->wbuf, len);
	rc = pg_regexec(&p->re, ev->wbuf, wlen, 0, NULL, 0, NULL, 0);
	if (rc == REG_OKAY)
		return true;
	if (rc != REG_NOMATCH)
	{
		char		msg[256];

		/* the engine gives up with REG_CANCEL on a cancel or a timeout */
		CHECK_FOR_INTERRUPTS();
		pg_regerror(rc, &p->re, msg, sizeof(msg));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("regular expression \"%.200s\" failed: %s", p->source, msg)));
	}
	return false;
}

/*
 * The "regex" format: ECMA-262's syntax with the "u" flag, by a linear
 * scan.  Not PostgreSQL's engine: its compile of an attacker's string
 * costs time and memory that grow with the repetitions it spells (a 30-byte
 * string of nested counts takes 180 MB before the engine gives up), and
 * whether the engine can compile a string is not what the format asks.
 */
static bool
valid_regex(const char *s, int len)
{
	switch (jsonschema_regex_check(s, len))
	{
		case JS_REGEX_SYNTAX_OK:
			return true;
		case JS_REGEX_SYNTAX_INVALID:
			return false;
		case JS_REGEX_SYNTAX_NOMEM:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory"),
			 errdetail("Failed while checking a string of %d bytes for the format \"regex\".", len)));
	return false;
}

static pg_attribute_always_inline bool eval_number_checks(Eval *ev, JsNode *n, const JV *inst,
														const JsDec *dp);

pg_noinline static bool
eval_number(Eval *ev, JsNode *n, const JV *inst)
{
	JsDec		d = jv_decimal(inst->num);
	MemoryContext old = NULL;
	bool		ok;

	/* numeric.c compares what does not fit in 18 digits, and allocates */
	if (unlikely(!d.ok || !n->numbers_fit))
	{
		/* numeric.c's work grows with the digits (up to 147,455) */
		spend(ev, VARSIZE_ANY(inst->num) / BYTES_PER_STEP);
		old = scratch_enter(ev);
	}
	ok = eval_number_checks(ev, n, inst, &d);
	if (unlikely(old != NULL))
		scratch_leave(ev, old);
	return ok;
}

static pg_attribute_always_inline bool
eval_number_checks(Eval *ev, JsNode *n, const JV *inst, const JsDec *dp)
{
	bool		ok = true;
	JsDec		d = *dp;

	if ((n->numflags & JS_HAS_MINIMUM) &&
		jv_num_cmp(inst->num, &d, n->minimum.num, &n->minimum.dec) < 0)
	{
		ok = false;
		REPORT(ev, "minimum", "%s is less than the minimum of %s",
			   num_text(inst->num), num_text(n->minimum.num));
		if (!ev->collect)
			return false;
	}
	if ((n->numflags & JS_HAS_MAXIMUM) &&
		jv_num_cmp(inst->num, &d, n->maximum.num, &n->maximum.dec) > 0)
	{
		ok = false;
		REPORT(ev, "maximum", "%s is greater than the maximum of %s",
			   num_text(inst->num), num_text(n->maximum.num));
		if (!ev->collect)
			return false;
	}
	if ((n->numflags & JS_HAS_EXMIN) &&
		jv_num_cmp(inst->num, &d, n->exclusive_minimum.num, &n->exclusive_minimum.dec) <= 0)
	{
		ok = false;
		REPORT(ev, "exclusiveMinimum", "%s must be greater than %s",
			   num_text(inst->num), num_text(n->exclusive_minimum.num));
		if (!ev->collect)
			return false;
	}
	if ((n->numflags & JS_HAS_EXMAX) &&
		jv_num_cmp(inst->num, &d, n->exclusive_maximum.num, &n->exclusive_maximum.dec) >= 0)
	{
		ok = false;
		REPORT(ev, "exclusiveMaximum", "%s must be less than %s",
			   num_text(inst->num), num_text(n->exclusive_maximum.num));
		if (!ev->collect)
			return false;
	}
	if ((n->numflags & JS_HAS_MULTIPLE) &&
		!jv_num_multiple_of(inst->num, &d, n->multiple_of.num, &n->multiple_of.dec))
	{
		ok = false;
		REPORT(ev, "multipleOf", "%s is not a multiple of %s",
			   num_text(inst->num), num_text(n->multiple_of.num));
	}
	return ok;
}

/* Draft 7's content keywords: base64 that decodes, JSON that parses. */
static bool
content_ok(Eval *ev, JsNode *n, const JV *inst)
{
	const char *data = inst->str;
	size_t		len = inst->len;

	if (n->content_base64)
	{
		unsigned char *decoded = palloc(inst->len / 4 * 3 + 1);

		if (!jsonschema_base64_decode(inst->str, inst->len, decoded, &len))
		{
			REPORT(ev, "contentEncoding", "the string is not valid base64");
			return false;
		}
		data = (const char *) decoded;
	}
	if (n->content_json &&
		(!pg_verifymbstr(data, len, true) ||
		 pg_parse_json(apikit_json_lexer(data, len), &nullSemAction) != JSON_SUCCESS))
	{
		REPORT(ev, "contentMediaType", "the content is not valid JSON");
		return false;
	}
	return true;
}

static int
utf8_length(const char *s, int len)
{
	int			n = 0;

	for (int i = 0; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

pg_noinline static bool
eval_string(Eval *ev, JsNode *n, const JV *inst)
{
	bool		ok = true;

	/* each check below reads the whole string, once or more */
	spend(ev, inst->len / BYTES_PER_STEP);
	if (n->min_length >= 0 || n->max_length >= 0)
	{
		int			chars = GetDatabaseEncoding() == PG_UTF8 ?
			utf8_length(inst->str, inst->len) : pg_mbstrlen_with_len(inst->str, inst->len);

		if (n->min_length >= 0 && chars < n->min_length)
		{
			ok = false;
			REPORT(ev, "minLength", "the string is %d characters long, shorter than the minimum of " INT64_FORMAT,
				   chars, n->min_length);
			if (!ev->collect)
				return false;
		}
		if (n->max_length >= 0 && chars > n->max_length)
		{
			ok = false;
			REPORT(ev, "maxLength", "the string is %d characters long, longer than the maximum of " INT64_FORMAT,
				   chars, n->max_length);
			if (!ev->collect)
				return false;
		}
	}
	if (n->pattern && !regex_matches(ev, n->pattern, inst->str, inst->len))
	{
		ok = false;
		REPORT(ev, "pattern", "the string does not match the pattern \"%s\"",
			   msg_text(n->pattern->source, strlen(n->pattern->source)));
		if (!ev->collect)
			return false;
	}
	if (n->content_base64 || n->content_json)
	{
		/* the decoded bytes and the JSON parser's state go with scratch */
		MemoryContext old = scratch_enter(ev);
		bool		valid = content_ok(ev, n, inst);

		scratch_leave(ev, old);
		if (!valid)
		{
			ok = false;
			if (!ev->collect)
				return false;
		}
	}
	if (n->format != JSF_UNKNOWN && (ev->format_assertion || n->format_asserted))
	{
		bool		valid;

		if (n->format == JSF_REGEX)
			valid = valid_regex(inst->str, inst->len);
		else
			valid = jsonschema_format_check(n->format, inst->str, inst->len);

		if (!valid)
		{
			ok = false;
			REPORT(ev, "format", "the string is not a valid %s", jsonschema_format_name(n->format));
		}
	}
	return ok;
}

static bool
in_enum(const JsNode *n, const JV *inst)
{
	JvIter		it;

	if (n->enum_order)
		return jv_sorted_contains(&n->enum_values, n->enum_offsets, n->enum_order, inst);
	jv_iter_values(&it, &n->enum_values);
	while (it.i < it.end)
	{
		JV			v;

		jv_iter_next(&it, &v);
		if (jv_equal(&v, inst))
			return true;
	}
	return false;
}

/* ---- uniqueItems ---- */

/*
 * Whether all items differ; else the first equal pair in *i < *j.  Long
 * arrays are sorted in a total order consistent with JSON equality
 * (n log n comparisons, whatever the values: no hash to collide), as
 * indexes with the items' offsets: eight bytes an item (a 5 million item
 * array costs 40 MB, where sorting copies of the values cost 280 MB).
 */
pg_noinline static bool
items_unique(const JV *arr, int *first, int *second)
{
	int			count = jv_count(arr);

	if (count <= UNIQUE_PAIRWISE_MAX)
	{
		JV			items[UNIQUE_PAIRWISE_MAX];

		for (int i = 0; i < count; i++)
			jv_array_get(arr, i, &items[i]);
		for (int i = 0; i < count; i++)
			for (int j = i + 1; j < count; j++)
				if (jv_equal(&items[i], &items[j]))
				{
					*first = i;
					*second = j;
					return false;
				}
		return true;
	}
	else
	{
		uint32	   *offsets = jv_offsets(arr);
		uint32	   *order = jv_sorted_children(arr, offsets);
		bool		unique = true;

		*first = *second = count;
		for (int i = 0; i + 1 < count; i++)
		{
			JV			x,
						y;

			CHECK_FOR_INTERRUPTS();
			jv_child_at(arr, offsets, order[i], &x);
			jv_child_at(arr, offsets, order[i + 1], &y);
			if (jv_compare(&x, &y) == 0)
			{
				/* report the pair that ends first, as the pairwise scan does */
				int			lo = order[i];	/* equal ones sort by index */
				int			hi = order[i + 1];

				if (hi < *second || (hi == *second && lo < *first))
				{
					*first = lo;
					*second = hi;
				}
				unique = false;
			}
		}
		pfree(order);
		pfree(offsets);
		return unique;
	}
}

/* ---- arrays and objects ---- */

/* minItems and maxItems, minProperties and maxProperties (-1: absent). */
static bool
size_ok(Eval *ev, int count, int64 min, int64 max, const char *min_kw,
		const char *max_kw, const char *what, const char *members)
{
	if (min >= 0 && count < min)
	{
		REPORT(ev, min_kw, "the %s has %d %s, fewer than the minimum of " INT64_FORMAT,
			   what, count, members, min);
		return false;
	}
	if (max >= 0 && count > max)
	{
		REPORT(ev, max_kw, "the %s has %d %s, more than the maximum of " INT64_FORMAT,
			   what, count, members, max);
		return false;
	}
	return true;
}

pg_noinline static bool
eval_array(Eval *ev, JsNode *n, const JV *inst, Annot *ann)
{
	bool		ok = true;
	int			count = jv_count(inst);

	if (!size_ok(ev, count, n->min_items, n->max_items, "minItems", "maxItems", "array", "items"))
	{
		ok = false;
		if (!ev->collect)
			return false;
	}
	if (n->unique_items && count > 1)
	{
		int			i,
					j;

		if (!items_unique(inst, &i, &j))
		{
			ok = false;
			REPORT(ev, "uniqueItems", "items %d and %d are equal, and items must be unique", i, j);
			if (!ev->collect)
				return false;
		}
	}

	if (n->prefix_items || n->items)
	{
		JvIter		it;
		int			i = 0;

		jv_iter_values(&it, inst);
		while (it.i < it.end)
		{
			JV			item;
			JsNode	   *s;
			const char *kw;

			CHECK_FOR_INTERRUPTS();
			jv_iter_next(&it, &item);
			if (i < n->nprefix_items)
			{
				s = n->prefix_items[i];
				kw = n->prefix_kw;
			}
			else if (n->items)
			{
				s = n->items;
				kw = n->items_kw;
			}
			else
				break;
			PUSH_KW(ev, kw);
			if (i < n->nprefix_items)
				PUSH_INDEX(ev, kpath, i);
			PUSH_INDEX(ev, ipath, i);
			if (!eval(ev, s, &item, NULL))
				ok = false;
			POP(ev, ipath);
			if (i < n->nprefix_items)
				POP(ev, kpath);
			POP(ev, kpath);
			annot_mark(ann, i);
			if (!ok && !ev->collect)
				return false;
			i++;
		}
	}

	if (n->contains)
	{
		JvIter		it;
		int			matches = 0;
		int			i = 0;
		int64		min = n->has_min_contains ? n->min_contains : 1;
		bool		saved = ev->collect;

		/* which items match is the result; their failures are noise */
		ev->collect = false;
		jv_iter_values(&it, inst);
		while (it.i < it.end)
		{
			JV			item;

			CHECK_FOR_INTERRUPTS();
			jv_iter_next(&it, &item);
			if (eval(ev, n->contains, &item, NULL))
			{
				matches++;
				annot_mark(ann, i);
				/* enough, unless a maximum or the annotations need all */
				if (!saved && ann == NULL && n->max_contains < 0 && matches >= min)
					break;
			}
			i++;
		}
		ev->collect = saved;
		if (matches < min)
		{
			ok = false;
			if (min == 1)
				REPORT(ev, "contains", "the array contains no item that matches the schema in \"contains\"");
			else
				REPORT(ev, "minContains", "the array contains %d items that match the schema in \"contains\", fewer than the minimum of " INT64_FORMAT,
					   matches, min);
		}
		else if (n->max_contains >= 0 && matches > n->max_contains)
		{
			ok = false;
			REPORT(ev, "maxContains", "the array contains %d items that match the schema in \"contains\", more than the maximum of " INT64_FORMAT,
				   matches, n->max_contains);
		}
	}
	return ok;
}

/* ---- objects ---- */

pg_noinline static bool
eval_object(Eval *ev, JsNode *n, const JV *inst, Annot *ann)
{
	bool		ok = true;
	int			count = jv_count(inst);

	if (!size_ok(ev, count, n->min_properties, n->max_properties,
				 "minProperties", "maxProperties", "object", "properties"))
	{
		ok = false;
		if (!ev->collect)
			return false;
	}
	for (int d = 0; d < n->ndep_required; d++)
	{
		JsNamedList *dep = &n->dep_required[d];
		JV			found;
		JvIter		it;

		if (!jv_object_find(inst, dep->name, dep->len, &found))
			continue;
		jv_iter_values(&it, &dep->names);
		while (it.i < it.end)
		{
			JV			name;

			CHECK_FOR_INTERRUPTS();
			jv_iter_next(&it, &name);
			if (!jv_object_find(inst, name.str, name.len, &found))
			{
				ok = false;
				if (ev->collect)
				{
					PUSH_KW(ev, n->dep_required_kw);
					REPORT(ev, pnstrdup(dep->name, dep->len),
						   "the property \"%s\" is required when \"%s\" is present",
						   msg_text(name.str, name.len), msg_text(dep->name, dep->len));
					POP(ev, kpath);
				}
				else
					return false;
			}
		}
	}

	/*
	 * One pass over the instance's keys serves "required" and the
	 * properties keywords: schema names and instance keys are both in
	 * jsonb key order, so each is a merge.
	 */
	if (n->properties || n->pattern_properties || n->additional_properties ||
		n->nrequired > 0)
	{
		JvIter		keys,
					vals;
		int			p = 0;
		int			pcmp;
		int			r = 0;
		int			i = 0;
		bool		members = n->properties || n->pattern_properties || n->additional_properties;

		jv_iter_keys(&keys, inst);
		jv_iter_object_values(&vals, inst);
		while (keys.i < keys.end)
		{
			JV			k,
						v;
			bool		matched = false;

			CHECK_FOR_INTERRUPTS();
			jv_iter_next(&keys, &k);

			while (r < n->nrequired)
			{
				int			cmp;

				CHECK_FOR_INTERRUPTS(); /* a million names, each failing */
				cmp = jv_key_cmp(n->required[r].name, n->required[r].len, k.str, k.len);

				if (cmp > 0)
					break;
				if (cmp < 0)
				{
					ok = false;
					REPORT(ev, "required", "the required property \"%s\" is missing",
						   msg_text(n->required[r].name, n->required[r].len));
					if (!ev->collect)
						return false;
				}
				r++;
			}
			if (!members)
			{
				if (r >= n->nrequired)
					break;		/* nothing more to look for */
				i++;
				continue;
			}
			jv_iter_next(&vals, &v);

			pcmp = 1;
			while (p < n->nproperties &&
				   (pcmp = jv_key_cmp(n->properties[p].name, n->properties[p].len, k.str, k.len)) < 0)
				p++;
			if (p < n->nproperties && pcmp == 0)
			{
				matched = true;
				PUSH_KW(ev, "properties");
				PUSH_KEY(ev, kpath, k.str, k.len);
				PUSH_KEY(ev, ipath, k.str, k.len);
				if (!eval(ev, n->properties[p].node, &v, NULL))
					ok = false;
				POP(ev, ipath);
				POP(ev, kpath);
				POP(ev, kpath);
				if (!ok && !ev->collect)
					return false;
			}
			for (int j = 0; j < n->npattern_properties; j++)
			{
				JsPatternNode *pp = &n->pattern_properties[j];

				if (!regex_matches(ev, pp->pattern, k.str, k.len))
					continue;
				matched = true;
				PUSH_KW(ev, "patternProperties");
				PUSH_KEY(ev, kpath, pp->pattern->source, strlen(pp->pattern->source));
				PUSH_KEY(ev, ipath, k.str, k.len);
				if (!eval(ev, pp->node, &v, NULL))
					ok = false;
				POP(ev, ipath);
				POP(ev, kpath);
				POP(ev, kpath);
				if (!ok && !ev->collect)
					return false;
			}
			if (!matched && n->additional_properties)
			{
				matched = true;
				PUSH_KEY(ev, ipath, k.str, k.len);
				if (n->additional_properties->boolean == 0)
				{
					ok = false;
					REPORT(ev, "additionalProperties", "the property \"%s\" is not allowed here",
						   msg_text(k.str, k.len));
				}
				else
				{
					PUSH_KW(ev, "additionalProperties");
					if (!eval(ev, n->additional_properties, &v, NULL))
						ok = false;
					POP(ev, kpath);
				}
				POP(ev, ipath);
				if (!ok && !ev->collect)
					return false;
			}
			if (matched)
				annot_mark(ann, i);
			i++;
		}
		for (; r < n->nrequired; r++)
		{
			CHECK_FOR_INTERRUPTS();
			ok = false;
			REPORT(ev, "required", "the required property \"%s\" is missing",
				   msg_text(n->required[r].name, n->required[r].len));
			if (!ev->collect)
				return false;
		}
	}

	if (n->property_names)
	{
		JvIter		keys;

		jv_iter_keys(&keys, inst);
		PUSH_KW(ev, "propertyNames");
		while (keys.i < keys.end)
		{
			JV			k;

			CHECK_FOR_INTERRUPTS();
			jv_iter_next(&keys, &k);
			PUSH_KEY(ev, ipath, k.str, k.len);
			if (!eval(ev, n->property_names, &k, NULL))
				ok = false;
			POP(ev, ipath);
			if (!ok && !ev->collect)
				break;
		}
		POP(ev, kpath);
		if (!ok && !ev->collect)
			return false;
	}

	for (int d = 0; d < n->ndep_schemas; d++)
	{
		JV			found;

		if (!jv_object_find(inst, n->dep_schemas[d].name, n->dep_schemas[d].len, &found))
			continue;
		PUSH_KW(ev, n->dep_schemas_kw);
		PUSH_KEY(ev, kpath, n->dep_schemas[d].name, n->dep_schemas[d].len);
		if (!eval(ev, n->dep_schemas[d].node, inst, ann))
			ok = false;
		POP(ev, kpath);
		POP(ev, kpath);
		if (!ok && !ev->collect)
			return false;
	}
	return ok;
}

/* ---- applicators in place ---- */

pg_noinline static bool
eval_combinators(Eval *ev, JsNode *n, const JV *inst, Annot *ann)
{
	bool		ok = true;

	for (int i = 0; i < n->nall_of; i++)
	{
		PUSH_KW(ev, "allOf");
		PUSH_INDEX(ev, kpath, i);
		if (!eval(ev, n->all_of[i], inst, ann))
			ok = false;
		POP(ev, kpath);
		POP(ev, kpath);
		if (!ok && !ev->collect)
			return false;
	}

	if (n->nany_of > 0)
	{
		int			mark = error_mark(ev);
		bool		any = false;

		for (int i = 0; i < n->nany_of; i++)
		{
			Annot	   *a = ann ? annot_new(ann->n) : NULL;

			PUSH_KW(ev, "anyOf");
			PUSH_INDEX(ev, kpath, i);
			if (eval(ev, n->any_of[i], inst, a))
			{
				any = true;
				annot_merge(ann, a);
			}
			annot_free(a);
			POP(ev, kpath);
			POP(ev, kpath);
			/* the rest only matter for their annotations */
			if (any && ann == NULL)
				break;
		}
		if (any)
			error_rewind(ev, mark);
		else
		{
			ok = false;
			REPORT(ev, "anyOf", "the value matches none of the %d schemas in \"anyOf\"", n->nany_of);
			if (!ev->collect)
				return false;
		}
	}

	if (n->none_of > 0)
	{
		int			mark = error_mark(ev);
		int			matched = 0;
		int			first = -1,
					second = -1;

		for (int i = 0; i < n->none_of; i++)
		{
			Annot	   *a = ann ? annot_new(ann->n) : NULL;

			PUSH_KW(ev, "oneOf");
			PUSH_INDEX(ev, kpath, i);
			if (eval(ev, n->one_of[i], inst, a))
			{
				if (matched == 0)
				{
					first = i;
					annot_merge(ann, a);
				}
				else if (matched == 1)
					second = i;
				matched++;
			}
			annot_free(a);
			POP(ev, kpath);
			POP(ev, kpath);
			if (matched > 1 && !ev->collect)
				break;
		}
		if (matched == 1)
			error_rewind(ev, mark);
		else
		{
			ok = false;
			if (matched == 0)
				REPORT(ev, "oneOf", "the value matches none of the %d schemas in \"oneOf\"", n->none_of);
			else
			{
				error_rewind(ev, mark);
				REPORT(ev, "oneOf", "the value matches more than one schema in \"oneOf\" (%d and %d), and must match exactly one",
					   first, second);
			}
			if (!ev->collect)
				return false;
		}
	}

	if (n->not_schema)
	{
		bool		saved = ev->collect;
		bool		matched;

		ev->collect = false;
		matched = eval(ev, n->not_schema, inst, NULL);
		ev->collect = saved;
		if (matched)
		{
			ok = false;
			REPORT(ev, "not", "the value must not match the schema in \"not\"");
			if (!ev->collect)
				return false;
		}
	}

	if (n->if_schema)
	{
		bool		saved = ev->collect;
		Annot	   *a = ann ? annot_new(ann->n) : NULL;
		bool		cond;

		ev->collect = false;
		cond = eval(ev, n->if_schema, inst, a);
		ev->collect = saved;
		if (cond)
			annot_merge(ann, a);
		annot_free(a);
		if (cond && n->then_schema)
		{
			PUSH_KW(ev, "then");
			if (!eval(ev, n->then_schema, inst, ann))
				ok = false;
			POP(ev, kpath);
		}
		else if (!cond && n->else_schema)
		{
			PUSH_KW(ev, "else");
			if (!eval(ev, n->else_schema, inst, ann))
				ok = false;
			POP(ev, kpath);
		}
	}
	return ok;
}

/*
 * A member no other keyword evaluated, against "unevaluatedProperties" or
 * "unevaluatedItems": the property key (name, not NULL) or the item index.
 */
pg_noinline static bool
eval_leftover(Eval *ev, JsNode *schema, const char *kw, const JV *member,
			  const char *name, int namelen, int index)
{
	bool		ok;

	if (schema->boolean == 0)
	{
		if (name)
			REPORT(ev, kw, "the property \"%s\" is not allowed here (no schema evaluates it)",
				   msg_text(name, namelen));
		else
			REPORT(ev, kw, "item %d is not allowed here (no schema evaluates it)", index);
		return false;
	}
	PUSH_KW(ev, kw);
	ok = eval(ev, schema, member, NULL);
	POP(ev, kpath);
	return ok;
}

pg_noinline static bool
eval_unevaluated(Eval *ev, JsNode *n, const JV *inst, Annot *local)
{
	bool		ok = true;
	int			i = 0;

	if (inst->type == JV_OBJECT && n->unevaluated_properties)
	{
		JvPairs		pairs;
		JV			k,
					v;

		jv_pairs_init(&pairs, inst);
		while (jv_pairs_next(&pairs, &k, &v))
		{
			CHECK_FOR_INTERRUPTS();
			if (!annot_has(local, i))
			{
				PUSH_KEY(ev, ipath, k.str, k.len);
				if (!eval_leftover(ev, n->unevaluated_properties, "unevaluatedProperties", &v,
								   k.str, k.len, -1))
					ok = false;
				POP(ev, ipath);
				if (!ok && !ev->collect)
					return false;
			}
			i++;
		}
		local->all = true;
	}
	else if (inst->type == JV_ARRAY && n->unevaluated_items)
	{
		JvIter		items;

		jv_iter_values(&items, inst);
		while (items.i < items.end)
		{
			JV			v;

			CHECK_FOR_INTERRUPTS();
			jv_iter_next(&items, &v);
			if (!annot_has(local, i))
			{
				PUSH_INDEX(ev, ipath, i);
				if (!eval_leftover(ev, n->unevaluated_items, "unevaluatedItems", &v,
								   NULL, 0, i))
					ok = false;
				POP(ev, ipath);
				if (!ok && !ev->collect)
					return false;
			}
			i++;
		}
		local->all = true;
	}
	return ok;
}

/* ---- one schema ---- */

/* An array that starts in the Eval itself, twice as long. */
pg_noinline static void *
grow(void *array, void *inline_buf, int *max, Size elem)
{
	void	   *bigger;

	if (array == inline_buf)
	{
		bigger = palloc(elem * *max * 2);
		memcpy(bigger, array, elem * *max);
	}
	else
		bigger = repalloc(array, elem * *max * 2);
	*max *= 2;
	return bigger;
}

/*
 * Follow a reference.  Reaching a target again at the same instance
 * location, with no keyword having moved into the instance in between,
 * would recurse for ever: that is a cycle in the schema, said as such.
 */
static bool
eval_ref(Eval *ev, const char *kw, JsNode *target, const JV *inst, Annot *ann)
{
	bool		ok;

	for (int i = ev->nrefs - 1; i >= 0; i--)
		if (ev->refs[i].target == target && ev->refs[i].instance == inst->id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid JSON schema at \"%s\": \"%s\" leads back to itself without moving into the instance",
							target->location, kw)));
	if (ev->nrefs == ev->maxrefs)
		ev->refs = grow(ev->refs, ev->refs_buf, &ev->maxrefs, sizeof(RefStep));
	ev->refs[ev->nrefs].target = target;
	ev->refs[ev->nrefs].instance = inst->id;
	ev->nrefs++;
	PUSH_KW(ev, kw);
	ok = eval(ev, target, inst, ann);
	POP(ev, kpath);
	ev->nrefs--;
	return ok;
}

static bool
eval(Eval *ev, JsNode *n, const JV *inst, Annot *ann)
{
	bool		ok = true;
	bool		pushed = false;
	Annot	   *local = ann;

	if (n->boolean >= 0)
	{
		/* true produces no annotations: only the keyword applying it does */
		if (n->boolean == 0)
		{
			REPORT(ev, NULL, "no value is allowed here (the schema is false)");
			return false;
		}
		return true;
	}


	/* a schema's fan-out can make any number of steps: cancel works */
	spend(ev, 1);

	/*
	 * Every eighth level is enough: eight frames are a few kilobytes, well
	 * within the slack PostgreSQL leaves beyond max_stack_depth.
	 */
	if ((++ev->depth & 7) == 0)
		check_stack_depth();
	if (ev->depth > MAX_EVAL_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("JSON schema evaluation is nested more than %d levels deep", MAX_EVAL_DEPTH),
				 errhint("The instance is nested too deeply for this schema.")));

	if (ev->nscope == 0 || ev->scope[ev->nscope - 1] != n->resource)
	{
		if (ev->nscope == ev->maxscope)
			ev->scope = grow(ev->scope, ev->scope_buf, &ev->maxscope, sizeof(JsResource *));
		ev->scope[ev->nscope++] = n->resource;
		pushed = true;
	}

	if ((n->unevaluated_properties && inst->type == JV_OBJECT) ||
		(n->unevaluated_items && inst->type == JV_ARRAY))
		local = annot_new(jv_count(inst));

	if (n->types)
	{
		uint8		t = instance_types(ev, inst, (n->types & JS_T_INTEGER) && !(n->types & JS_T_NUMBER));

		if ((t & n->types) == 0)
		{
			ok = false;
			if (n->types == 0x80)
				REPORT(ev, "type", "no value is allowed here (\"type\" is an empty list)");
			else
				REPORT(ev, "type", "the value must be %s, not %s",
					   type_list(n->types), jv_type_name(inst->type));
			if (!ev->collect)
				goto done;
		}
	}
	/* equal strings are compared in full (containers check interrupts) */
	if (n->has_const && inst->type == JV_STRING)
		spend(ev, inst->len / BYTES_PER_STEP);
	if (n->has_const && !jv_equal(&n->const_value, inst))
	{
		ok = false;
		REPORT(ev, "const", "the value must be %s", jv_to_text(&n->const_value, 200));
		if (!ev->collect)
			goto done;
	}
	if (n->has_enum && !in_enum(n, inst))
	{
		ok = false;
		REPORT(ev, "enum", "the value must be one of %s", jv_to_text(&n->enum_values, 200));
		if (!ev->collect)
			goto done;
	}

	switch (inst->type)
	{
		case JV_NUMBER:
			if (n->numflags && !eval_number(ev, n, inst))
				ok = false;
			break;
		case JV_STRING:
			if (n->string_checks && !eval_string(ev, n, inst))
				ok = false;
			break;
		case JV_ARRAY:
			if (!eval_array(ev, n, inst, local))
				ok = false;
			break;
		case JV_OBJECT:
			if (!eval_object(ev, n, inst, local))
				ok = false;
			break;
		default:
			break;
	}
	if (!ok && !ev->collect)
		goto done;
	if (!n->in_place)
		goto unevaluated;

	if (n->ref)
	{
		if (!eval_ref(ev, "$ref", n->ref, inst, local))
			ok = false;
		if (!ok && !ev->collect)
			goto done;
	}
	if (n->dynamic_ref)
	{
		JsNode	   *target = n->dynamic_ref;

		if (n->dynamic_ref_name)
		{
			/* the outermost resource in scope with that dynamic anchor */
			bool		found = false;

			for (int i = 0; i < ev->nscope && !found; i++)
			{
				JsResource *r = ev->scope[i];

				CHECK_FOR_INTERRUPTS(); /* scope is as deep as the instance */
				for (int j = 0; j < r->ndynamic && !found; j++)
					if (strcmp(r->dynamic_names[j], n->dynamic_ref_name) == 0)
					{
						target = r->dynamic_nodes[j];
						found = true;
					}
			}
		}
		if (!eval_ref(ev, "$dynamicRef", target, inst, local))
			ok = false;
		if (!ok && !ev->collect)
			goto done;
	}

	if ((n->nall_of || n->nany_of || n->none_of || n->not_schema || n->if_schema) &&
		!eval_combinators(ev, n, inst, local))
		ok = false;
	if (!ok && !ev->collect)
		goto done;

unevaluated:
	if (local != ann)
	{
		if (!eval_unevaluated(ev, n, inst, local))
			ok = false;
		if (ok)
			annot_merge(ann, local);
	}

done:
	if (local != ann)
		annot_free(local);
	if (pushed)
		ev->nscope--;
	ev->depth--;
	return ok;
}

/*
 * Everything is allocated in the current memory context (the errors kept,
 * and the few arrays that outgrow the Eval), which the caller resets or
 * deletes: each SQL function's call site resets its own at every call.
 */
bool
jsonschema_validate(JsSchema *s, Jsonb *instance, JsErrors *errors,
					bool format_assertion)
{
	Eval		ev;
	JV			root;
	bool		ok;

	/* not all of it: the inline arrays need no zeroing */
	memset(&ev, 0, offsetof(Eval, scope_buf));
	ev.collect = errors != NULL;
	ev.format_assertion = format_assertion;
	ev.cxt = CurrentMemoryContext;
	ev.scope = ev.scope_buf;
	ev.maxscope = lengthof(ev.scope_buf);
	ev.refs = ev.refs_buf;
	ev.maxrefs = lengthof(ev.refs_buf);
	ev.steps_left = STEPS_PER_INTERRUPT_CHECK;
	jv_root(instance, &root);
	ok = eval(&ev, s->root, &root, NULL);
	if (errors)
	{
		errors->items = ev.errors;
		errors->nitems = ev.nkept;
		errors->total = ev.nerrors;
	}
	if (ev.scratch)
		MemoryContextDelete(ev.scratch);
	return ok;
}
