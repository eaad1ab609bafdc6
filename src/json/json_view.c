/*
 * json_view.c
 *		Reading jsonb in place, and JSON's notions of number and equality.
 *
 * The validator visits every value of a document, often several times
 * (each applicator re-reads its instance), so it reads jsonb's binary
 * layout directly instead of through JsonbIterator, which allocates a
 * JsonbValue per step.  The layout is the on-disk format (utils/jsonb.h),
 * stable across major versions because pg_upgrade keeps jsonb as it is.
 *
 * Numbers: JSON Schema compares numbers mathematically (1.0 is an
 * integer, 1 equals 1.0).  jsonb keeps them as numeric, which is exact;
 * the common ones (18 significant digits or fewer) are decoded once into a
 * scaled int64 so that comparisons avoid numeric's function calls.  The
 * rest go through numeric's own functions.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/json.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "jsonschema.h"

/* ---- containers ---- */

static inline int
child_count(const JsonbContainer *c)
{
	int			n = c->header & JB_CMASK;

	return (c->header & JB_FOBJECT) ? n * 2 : n;
}

static inline char *
child_base(JsonbContainer *c)
{
	return (char *) &c->children[child_count(c)];
}

/* Offset of child i: back to the nearest stored offset, as jsonb does. */
static uint32
child_offset(const JsonbContainer *c, int index)
{
	uint32		offset = 0;

	for (int i = index - 1; i >= 0; i--)
	{
		offset += JBE_OFFLENFLD(c->children[i]);
		if (JBE_HAS_OFF(c->children[i]))
			break;
	}
	return offset;
}

static void
get_child(JsonbContainer *c, int index, JV *out)
{
	uint32		offset = child_offset(c, index);
	uint32		end = offset;

	JBE_ADVANCE_OFFSET(end, c->children[index]);
	jv_fill(c, child_base(c), index, offset, end, out);
}

void
jv_root(Jsonb *jb, JV *out)
{
	JsonbContainer *c = &jb->root;

	if (c->header & JB_FSCALAR)
		get_child(c, 0, out);
	else
	{
		out->type = (c->header & JB_FOBJECT) ? JV_OBJECT : JV_ARRAY;
		out->c = c;
		out->id = c;
	}
}

int
jv_count(const JV *v)
{
	return v->c->header & JB_CMASK;
}

void
jv_array_get(const JV *arr, int i, JV *out)
{
	get_child(arr->c, i, out);
}

static void
iter_init(JvIter *it, JsonbContainer *c, int start, int end)
{
	it->c = c;
	it->base = child_base(c);
	it->i = start;
	it->end = end;
	it->off = start > 0 ? child_offset(c, start) : 0;
}

void
jv_iter_values(JvIter *it, const JV *v)
{
	iter_init(it, v->c, 0, jv_count(v));
}

void
jv_iter_keys(JvIter *it, const JV *obj)
{
	iter_init(it, obj->c, 0, jv_count(obj));
}

void
jv_pairs_init(JvPairs *p, const JV *obj)
{
	jv_iter_keys(&p->keys, obj);
	jv_iter_object_values(&p->values, obj);
}

void
jv_iter_object_values(JvIter *it, const JV *obj)
{
	int			n = jv_count(obj);

	iter_init(it, obj->c, n, 2 * n);
}


bool
jv_object_find(const JV *obj, const char *key, int len, JV *out)
{
	int			n = jv_count(obj);
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		JV			k;
		int			cmp;

		get_child(obj->c, mid, &k);
		cmp = jv_key_cmp(k.str, k.len, key, len);
		if (cmp == 0)
		{
			get_child(obj->c, mid + n, out);
			return true;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* ---- numbers ---- */

/*
 * numeric's on-disk header (utils/adt/numeric.c): a short form for small
 * weights and scales, a long form otherwise, and special values (NaN,
 * infinities) that JSON never produces.
 */
#define NUM_SIGN_MASK		0xC000
#define NUM_NEG				0x4000
#define NUM_SHORT			0x8000
#define NUM_SPECIAL			0xC000
#define NUM_SHORT_SIGN		0x2000
#define NUM_SHORT_WEIGHT_SIGN 0x0040
#define NUM_SHORT_WEIGHT	0x003F
#define NBASE_DIGITS		4

static const int64 pow10_table[19] = {
	INT64CONST(1), INT64CONST(10), INT64CONST(100), INT64CONST(1000),
	INT64CONST(10000), INT64CONST(100000), INT64CONST(1000000),
	INT64CONST(10000000), INT64CONST(100000000), INT64CONST(1000000000),
	INT64CONST(10000000000), INT64CONST(100000000000),
	INT64CONST(1000000000000), INT64CONST(10000000000000),
	INT64CONST(100000000000000), INT64CONST(1000000000000000),
	INT64CONST(10000000000000000), INT64CONST(100000000000000000),
	INT64CONST(1000000000000000000)
};

#define DEC_LIMIT	INT64CONST(1000000000000000000)	/* 10^18 */

JsDec
jv_decimal(Numeric n)
{
	JsDec		d = {0, 0, false};
	const char *p = VARDATA_ANY(n);
	int			size = VARSIZE_ANY_EXHDR(n);
	uint16		header;
	int			weight;
	bool		negative;
	const char *digits;
	int			ndigits;
	int			low_exp;
	int64		m = 0;

	if (size < (int) sizeof(uint16))
		return d;
	memcpy(&header, p, sizeof(uint16));
	if ((header & NUM_SIGN_MASK) == NUM_SPECIAL)
		return d;
	if ((header & NUM_SIGN_MASK) == NUM_SHORT)
	{
		negative = (header & NUM_SHORT_SIGN) != 0;
		weight = (header & NUM_SHORT_WEIGHT_SIGN) ? (int) (~NUM_SHORT_WEIGHT | (header & NUM_SHORT_WEIGHT))
			: (int) (header & NUM_SHORT_WEIGHT);
		digits = p + sizeof(uint16);
		ndigits = (size - sizeof(uint16)) / sizeof(int16);
	}
	else
	{
		int16		w;

		if (size < (int) (2 * sizeof(uint16)))
			return d;
		negative = (header & NUM_SIGN_MASK) == NUM_NEG;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		weight = w;
		digits = p + 2 * sizeof(uint16);
		ndigits = (size - 2 * sizeof(uint16)) / sizeof(int16);
	}

	if (ndigits == 0)
	{
		d.ok = true;			/* zero */
		return d;
	}
	if (ndigits > 5)
		return d;
	for (int i = 0; i < ndigits; i++)
	{
		int16		digit;

		/* a short varlena header leaves the digits unaligned */
		memcpy(&digit, digits + i * sizeof(int16), sizeof(int16));
		if (m > (DEC_LIMIT - 1) / 10000)
			return d;
		m = m * 10000 + digit;
	}
	low_exp = weight - (ndigits - 1);
	if (low_exp >= 0)
	{
		for (int i = 0; i < low_exp; i++)
		{
			if (m > (DEC_LIMIT - 1) / 10000)
				return d;
			m *= 10000;
		}
		d.scale = 0;
	}
	else
	{
		if (-low_exp * NBASE_DIGITS > 18)
			return d;
		d.scale = -low_exp * NBASE_DIGITS;
	}
	while (d.scale > 0 && m % 10 == 0)
	{
		m /= 10;
		d.scale--;
	}
	d.m = negative ? -m : m;
	d.ok = true;
	return d;
}

/* a and b scaled to the same exponent, exactly (both scales <= 18). */
static void
align(const JsDec *a, const JsDec *b, __int128 *x, __int128 *y)
{
	int			s = Max(a->scale, b->scale);

	*x = (__int128) a->m * pow10_table[s - a->scale];
	*y = (__int128) b->m * pow10_table[s - b->scale];
}

int
jv_num_cmp(Numeric a, const JsDec *ad, Numeric b, const JsDec *bd)
{
	if (ad->ok && bd->ok)
	{
		__int128	x,
					y;

		align(ad, bd, &x, &y);
		return x < y ? -1 : (x > y ? 1 : 0);
	}
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

bool
jv_num_is_integer(Numeric n, const JsDec *d)
{
	if (d->ok)
		return d->scale == 0;
	return DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(n),
											DirectFunctionCall1(numeric_floor,
																NumericGetDatum(n))));
}

bool
jv_num_multiple_of(Numeric n, const JsDec *nd, Numeric m, const JsDec *md)
{
	Datum		rem;

	if (nd->ok && md->ok && md->m != 0)
	{
		__int128	x,
					y;

		align(nd, md, &x, &y);
		return x % y == 0;
	}
	rem = DirectFunctionCall2(numeric_mod, NumericGetDatum(n), NumericGetDatum(m));
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, rem,
											 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) == 0;
}

/* ---- equality, as JSON Schema defines it for const, enum, uniqueItems ---- */

bool
jv_equal(const JV *a, const JV *b)
{
	check_stack_depth();

	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case JV_NULL:
			return true;
		case JV_BOOL:
			return a->b == b->b;
		case JV_STRING:
			return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
		case JV_NUMBER:
			{
				JsDec		ad = jv_decimal(a->num);
				JsDec		bd = jv_decimal(b->num);

				return jv_num_cmp(a->num, &ad, b->num, &bd) == 0;
			}
		case JV_ARRAY:
		case JV_OBJECT:
			{
				JvIter		ia,
							ib;
				int			n = child_count(a->c);

				if ((a->c->header & JB_CMASK) != (b->c->header & JB_CMASK))
					return false;
				/* keys are sorted the same way in both, so pairwise works */
				iter_init(&ia, a->c, 0, n);
				iter_init(&ib, b->c, 0, n);
				while (ia.i < ia.end)
				{
					JV			x,
								y;

					CHECK_FOR_INTERRUPTS();
					jv_iter_next(&ia, &x);
					jv_iter_next(&ib, &y);
					if (!jv_equal(&x, &y))
						return false;
				}
				return true;
			}
	}
	return false;
}

/*
 * A total order consistent with jv_equal (0 exactly when equal), for
 * sorting: by type, then value; containers by size, then member by member
 * in storage order (an object's sorted keys, then its values).
 */
int
jv_compare(const JV *a, const JV *b)
{
	check_stack_depth();

	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	switch (a->type)
	{
		case JV_NULL:
			return 0;
		case JV_BOOL:
			return (int) a->b - (int) b->b;
		case JV_STRING:
			return jv_key_cmp(a->str, a->len, b->str, b->len);
		case JV_NUMBER:
			{
				JsDec		ad = jv_decimal(a->num);
				JsDec		bd = jv_decimal(b->num);

				return jv_num_cmp(a->num, &ad, b->num, &bd);
			}
		case JV_ARRAY:
		case JV_OBJECT:
			{
				int			na = a->c->header & JB_CMASK;
				int			nb = b->c->header & JB_CMASK;
				JvIter		ia,
							ib;

				if (na != nb)
					return na < nb ? -1 : 1;
				iter_init(&ia, a->c, 0, child_count(a->c));
				iter_init(&ib, b->c, 0, child_count(b->c));
				while (ia.i < ia.end)
				{
					JV			x,
								y;
					int			c;

					CHECK_FOR_INTERRUPTS();
					jv_iter_next(&ia, &x);
					jv_iter_next(&ib, &y);
					if ((c = jv_compare(&x, &y)) != 0)
						return c;
				}
				return 0;
			}
	}
	return 0;
}

const char *
jv_type_name(JvType t)
{
	switch (t)
	{
		case JV_NULL:
			return "null";
		case JV_BOOL:
			return "boolean";
		case JV_NUMBER:
			return "number";
		case JV_STRING:
			return "string";
		case JV_ARRAY:
			return "array";
		case JV_OBJECT:
			return "object";
	}
	return "unknown";
}

/*
 * The value as JSON text into buf, stopping once buf holds more than max
 * bytes: a 30 MB "const" costs what its first max bytes cost.  Strings
 * are read only as far as they could show.
 */
static void
text_append(StringInfo buf, const JV *v, int max)
{
	check_stack_depth();
	switch (v->type)
	{
		case JV_NULL:
			appendStringInfoString(buf, "null");
			break;
		case JV_BOOL:
			appendStringInfoString(buf, v->b ? "true" : "false");
			break;
		case JV_NUMBER:
			appendStringInfoString(buf, DatumGetCString(DirectFunctionCall1(numeric_out,
																		NumericGetDatum(v->num))));
			break;
		case JV_STRING:
			{
				int			room = max + 1 - buf->len;
				int			len = v->len <= room ? v->len : pg_mbcliplen(v->str, v->len, Max(room, 1));
				char	   *s = pnstrdup(v->str, len);

				escape_json(buf, s);
				pfree(s);
				break;
			}
		case JV_ARRAY:
		case JV_OBJECT:
			{
				bool		object = v->type == JV_OBJECT;
				JvPairs		pairs = {{0}, {0}};
				JvIter		items = {0};
				JV			k,
							x;
				bool		first = true;

				appendStringInfoChar(buf, object ? '{' : '[');
				if (object)
					jv_pairs_init(&pairs, v);
				else
					jv_iter_values(&items, v);
				while (buf->len <= max)
				{
					if (object)
					{
						if (!jv_pairs_next(&pairs, &k, &x))
							break;
					}
					else if (items.i < items.end)
						jv_iter_next(&items, &x);
					else
						break;
					CHECK_FOR_INTERRUPTS();
					if (!first)
						appendStringInfoString(buf, ", ");
					first = false;
					if (object)
					{
						text_append(buf, &k, max);
						appendStringInfoString(buf, ": ");
					}
					text_append(buf, &x, max);
				}
				appendStringInfoChar(buf, object ? '}' : ']');
				break;
			}
	}
}

/* The value as JSON text, cut to about maxlen bytes, for messages. */
char *
jv_to_text(const JV *v, int maxlen)
{
	StringInfoData buf;
	int			cut;

	initStringInfo(&buf);
	text_append(&buf, v, maxlen);
	if (buf.len <= maxlen)
		return buf.data;
	cut = pg_mbcliplen(buf.data, buf.len, maxlen);
	buf.data[cut] = '\0';
	return psprintf("%s...", buf.data);
}

/* ---- random access to a container's children ---- */

/*
 * Where each child of an array starts, and where the last one ends:
 * n + 1 offsets.  With them, jv_child_at reads any child in O(1) where
 * jv_array_get walks back to the nearest stored offset; four bytes a
 * child, where a JV is 56.
 */
uint32 *
jv_offsets(const JV *arr)
{
	int			n = jv_count(arr);
	uint32	   *off = palloc(sizeof(uint32) * (n + 1));
	uint32		pos = 0;

	for (int i = 0; i < n; i++)
	{
		off[i] = pos;
		JBE_ADVANCE_OFFSET(pos, arr->c->children[i]);
	}
	off[n] = pos;
	return off;
}

void
jv_child_at(const JV *arr, const uint32 *offsets, int i, JV *out)
{
	jv_fill(arr->c, child_base(arr->c), i, offsets[i], offsets[i + 1], out);
}

typedef struct ChildOrder
{
	const JV   *arr;
	const uint32 *offsets;
} ChildOrder;

/* jv_compare's order of two children, then their positions. */
static int
child_cmp(const void *a, const void *b, void *arg)
{
	const ChildOrder *o = arg;
	uint32		i = *(const uint32 *) a;
	uint32		j = *(const uint32 *) b;
	JV			x,
				y;
	int			c;

	CHECK_FOR_INTERRUPTS();
	jv_child_at(o->arr, o->offsets, i, &x);
	jv_child_at(o->arr, o->offsets, j, &y);
	c = jv_compare(&x, &y);
	if (c != 0)
		return c;
	return i < j ? -1 : (i > j ? 1 : 0);
}

/*
 * The indexes of an array's children in jv_compare's order (equal ones by
 * position): n log n comparisons whatever the values, no hash to collide.
 */
uint32 *
jv_sorted_children(const JV *arr, const uint32 *offsets)
{
	int			n = jv_count(arr);
	uint32	   *order = palloc(sizeof(uint32) * Max(n, 1));
	ChildOrder	o = {arr, offsets};

	for (int i = 0; i < n; i++)
		order[i] = i;
	qsort_arg(order, n, sizeof(uint32), child_cmp, &o);
	return order;
}

/* Whether v equals a child of arr, whose children order sorts. */
bool
jv_sorted_contains(const JV *arr, const uint32 *offsets, const uint32 *order,
				   const JV *v)
{
	int			lo = 0,
				hi = jv_count(arr);

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		JV			x;
		int			c;

		jv_child_at(arr, offsets, order[mid], &x);
		c = jv_compare(&x, v);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}
