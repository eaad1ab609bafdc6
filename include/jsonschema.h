/*
 * jsonschema.h
 *		JSON Schema validation of jsonb: the compiled form of a schema, the
 *		evaluator's interface and the in-place jsonb reader they share.
 *
 * A schema is compiled once into a graph of JsNode (one per subschema, with
 * its keywords decoded: numbers, sorted property names, compiled regular
 * expressions, resolved references) and cached per backend by content
 * (jsonschema_cache.c).  Instances are never converted: the evaluator reads
 * jsonb containers in place through JV, a view of one value.
 */
#ifndef APIKIT_JSONSCHEMA_H
#define APIKIT_JSONSCHEMA_H

#include "nodes/pg_list.h"
#include "regex/regex.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "jsonschema_format.h"

/* ---- jsonb values in place (json_view.c) ---- */

typedef enum JvType
{
	JV_NULL,
	JV_BOOL,
	JV_NUMBER,
	JV_STRING,
	JV_ARRAY,
	JV_OBJECT
} JvType;

typedef struct JV
{
	JvType		type;
	bool		b;				/* JV_BOOL */
	int			len;			/* JV_STRING: bytes */
	const char *str;			/* JV_STRING, not NUL-terminated */
	Numeric		num;			/* JV_NUMBER */
	JsonbContainer *c;			/* JV_ARRAY, JV_OBJECT */
	const void *id;				/* where it is stored: one per value */
} JV;

/* Reads the children of one container in order, with running offsets. */
typedef struct JvIter
{
	JsonbContainer *c;
	char	   *base;
	int			i;				/* next child */
	int			end;			/* one past the last child to read */
	uint32		off;
} JvIter;

/* A number as m * 10^-scale when it fits in 18 digits; else not ok. */
typedef struct JsDec
{
	int64		m;
	int16		scale;
	bool		ok;
} JsDec;

extern void jv_root(Jsonb *jb, JV *out);
extern int	jv_count(const JV *v);
extern void jv_array_get(const JV *arr, int i, JV *out);
extern void jv_iter_values(JvIter *it, const JV *v);	/* array elements */
extern void jv_iter_keys(JvIter *it, const JV *obj);
extern void jv_iter_object_values(JvIter *it, const JV *obj);
extern bool jv_object_find(const JV *obj, const char *key, int len, JV *out);
extern bool jv_equal(const JV *a, const JV *b);
extern int	jv_compare(const JV *a, const JV *b);
extern JsDec jv_decimal(Numeric n);
extern int	jv_num_cmp(Numeric a, const JsDec *ad, Numeric b, const JsDec *bd);
extern bool jv_num_is_integer(Numeric n, const JsDec *d);
extern bool jv_num_multiple_of(Numeric n, const JsDec *nd, Numeric m, const JsDec *md);
extern const char *jv_type_name(JvType t);
extern char *jv_to_text(const JV *v, int maxlen);
extern uint32 *jv_offsets(const JV *arr);
extern void jv_child_at(const JV *arr, const uint32 *offsets, int i, JV *out);
extern uint32 *jv_sorted_children(const JV *arr, const uint32 *offsets);
extern bool jv_sorted_contains(const JV *arr, const uint32 *offsets,
							   const uint32 *order, const JV *v);

/*
 * Child index of container c, stored at base + offset and ending at end,
 * as a JV.  Inline, with jv_iter_next: the evaluator's inner loops.
 */
static inline void
jv_fill(JsonbContainer *c, char *base, int index, uint32 offset, uint32 end,
	 JV *out)
{
	JEntry		e = c->children[index];

	out->id = &c->children[index];
	out->str = NULL;			/* callers read str and len of any key */
	out->len = 0;
	out->b = false;
	if (JBE_ISSTRING(e))
	{
		out->type = JV_STRING;
		out->str = base + offset;
		out->len = end - offset;
	}
	else if (JBE_ISNUMERIC(e))
	{
		out->type = JV_NUMBER;
		out->num = (Numeric) (base + INTALIGN(offset));
	}
	else if (JBE_ISBOOL_TRUE(e))
	{
		out->type = JV_BOOL;
		out->b = true;
	}
	else if (JBE_ISBOOL_FALSE(e))
	{
		out->type = JV_BOOL;
		out->b = false;
	}
	else if (JBE_ISNULL(e))
		out->type = JV_NULL;
	else
	{
		JsonbContainer *child = (JsonbContainer *) (base + INTALIGN(offset));

		out->type = (child->header & JB_FOBJECT) ? JV_OBJECT : JV_ARRAY;
		out->c = child;
	}
}

/* The next child of the iterator's range. */
static inline void
jv_iter_next(JvIter *it, JV *out)
{
	uint32		start = it->off;

	Assert(it->i < it->end);
	JBE_ADVANCE_OFFSET(it->off, it->c->children[it->i]);
	jv_fill(it->c, it->base, it->i, start, it->off, out);
	it->i++;
}

/* An object's members in order: while (jv_pairs_next(&p, &k, &v)) ... */
typedef struct JvPairs
{
	JvIter		keys;
	JvIter		values;
} JvPairs;

extern void jv_pairs_init(JvPairs *p, const JV *obj);

static inline bool
jv_pairs_next(JvPairs *p, JV *key, JV *value)
{
	if (p->keys.i >= p->keys.end)
		return false;
	jv_iter_next(&p->keys, key);
	jv_iter_next(&p->values, value);
	return true;
}

/*
 * jsonb's key order: shorter first, then bytes.  Inline and byte-wise:
 * keys are short, and the merges of eval_object compare many.
 */
static inline int
jv_key_cmp(const char *a, int alen, const char *b, int blen)
{
	int			i = 0;

	if (alen != blen)
		return alen < blen ? -1 : 1;
	/* eight bytes at a time while they are equal */
	for (; i + 8 <= alen; i += 8)
	{
		uint64		x,
					y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			break;
	}
	for (; i < alen; i++)
		if (a[i] != b[i])
			return (unsigned char) a[i] < (unsigned char) b[i] ? -1 : 1;
	return 0;
}

/* ---- compiled schemas (jsonschema_compile.c) ---- */

/* An enum longer than this is sorted when compiled and binary-searched. */
#define JS_ENUM_LINEAR_MAX 16

#define JS_DRAFT_7		7
#define JS_DRAFT_2020	2020

/* Vocabularies a meta-schema's "$vocabulary" can turn off. */
#define JS_VOCAB_APPLICATOR		0x01
#define JS_VOCAB_UNEVALUATED	0x02
#define JS_VOCAB_VALIDATION		0x04
#define JS_VOCAB_FORMAT			0x08	/* format-annotation or -assertion */
#define JS_VOCAB_ALL			0x0F
#define JS_VOCAB_FORMAT_ASSERTION 0x10	/* format-assertion: always asserted */

/* Type bits, for "type" and for the instance's own type. */
#define JS_T_NULL		0x01
#define JS_T_BOOLEAN	0x02
#define JS_T_OBJECT		0x04
#define JS_T_ARRAY		0x08
#define JS_T_NUMBER		0x10
#define JS_T_STRING		0x20
#define JS_T_INTEGER	0x40

typedef struct JsNode JsNode;

/* A schema resource: the document root or a subschema with "$id". */
typedef struct JsResource
{
	char	   *base;			/* absolute URI, no fragment */
	int			ndynamic;
	char	  **dynamic_names;	/* its "$dynamicAnchor"s */
	JsNode	  **dynamic_nodes;
} JsResource;

typedef struct JsNamedNode
{
	const char *name;
	int			len;
	JsNode	   *node;
} JsNamedNode;

typedef struct JsNamedList		/* dependentRequired: name -> names */
{
	const char *name;
	int			len;
	JV			names;			/* array of strings */
} JsNamedList;

/* Patterns longer than this: no. */
#define JS_PATTERN_MAX (1024 * 1024)

/*
 * Patterns whose compiled NFAs have more states than this: no.  A match
 * allocates about n * n / 4 bytes of DFA state cache for n states
 * (jsonschema_regex_size.c): this keeps it to tens of megabytes.
 */
#define JS_PATTERN_MAX_STATES 20000
extern int64 apikit_regex_nfa_states(const regex_t *re);

typedef struct JsPattern
{
	char	   *source;
	regex_t		re;
	struct JsSimplePattern *simple; /* matched without the engine, if set */
} JsPattern;

typedef struct JsPatternNode
{
	JsPattern  *pattern;
	JsNode	   *node;
} JsPatternNode;

typedef struct JsNumber
{
	Numeric		num;
	JsDec		dec;
} JsNumber;

/* Which numeric keywords a node has. */
#define JS_HAS_MINIMUM		0x01
#define JS_HAS_MAXIMUM		0x02
#define JS_HAS_EXMIN		0x04
#define JS_HAS_EXMAX		0x08
#define JS_HAS_MULTIPLE		0x10

struct JsNode
{
	int8		boolean;		/* -1: an object schema; 0/1: false/true */
	bool		compiled;
	int16		draft;
	JsResource *resource;
	char	   *location;		/* JSON pointer from its document's root */

	uint8		types;			/* 0: no "type" keyword */
	uint8		numflags;
	bool		has_const;
	bool		has_enum;
	bool		unique_items;
	bool		has_dynamic_anchor;
	JV			const_value;
	JV			enum_values;	/* an array */
	uint32	   *enum_offsets;	/* a long enum: where its values start, */
	uint32	   *enum_order;		/* and their indexes in jv_compare order */
	JsNumber	minimum,
				maximum,
				exclusive_minimum,
				exclusive_maximum,
				multiple_of;
	int64		min_length,		/* -1: absent */
				max_length,
				min_items,
				max_items,
				min_properties,
				max_properties,
				min_contains,	/* default 1 */
				max_contains;
	bool		has_min_contains;
	JsPattern  *pattern;
	JsonSchemaFormat format;
	const char *format_name;
	bool		format_asserted;	/* whatever the caller asks for */
	bool		numbers_fit;	/* every numeric keyword fits in 18 digits */
	bool		string_checks;	/* any keyword that looks at a string */
	bool		in_place;		/* $ref, $dynamicRef or a combinator */
	bool		content_base64; /* draft 7 asserts contentEncoding... */
	bool		content_json;	/* ...and contentMediaType */

	JsNamedNode *required;		/* names (node unused), in jsonb key order */
	int			nrequired;
	JsNamedList *dep_required;
	int			ndep_required;
	const char *dep_required_kw;

	JsNamedNode *properties;	/* sorted in jsonb key order */
	int			nproperties;
	JsPatternNode *pattern_properties;
	int			npattern_properties;
	JsNode	   *additional_properties;
	JsNode	   *property_names;
	JsNamedNode *dep_schemas;
	int			ndep_schemas;
	const char *dep_schemas_kw;

	JsNode	  **prefix_items;
	int			nprefix_items;
	const char *prefix_kw;		/* "prefixItems", or draft 7's "items" */
	JsNode	   *items;			/* items after the prefix */
	const char *items_kw;		/* "items", or draft 7's "additionalItems" */
	JsNode	   *contains;

	JsNode	  **all_of;
	int			nall_of;
	JsNode	  **any_of;
	int			nany_of;
	JsNode	  **one_of;
	int			none_of;
	JsNode	   *not_schema;
	JsNode	   *if_schema;
	JsNode	   *then_schema;
	JsNode	   *else_schema;
	JsNode	   *unevaluated_properties;
	JsNode	   *unevaluated_items;

	JsNode	   *ref;			/* "$ref", resolved */
	JsNode	   *dynamic_ref;	/* "$dynamicRef", resolved statically */
	const char *dynamic_ref_name;	/* its anchor when the target bookends */
};

/* A compiled schema: everything lives in cxt, deleted as a whole. */
typedef struct JsSchema
{
	MemoryContext cxt;
	JsNode	   *root;
	Jsonb	   *source;			/* the schema, copied: nodes point into it */
	bool		uses_registry;	/* read apikit.json_schemas */
	List	   *patterns;		/* JsPattern: regex_t must be freed */
	bool		unresolved;		/* a reference was let through (restore) */
	MemoryContextCallback patterns_freed;	/* pg_regfree when cxt goes */
	int			default_draft;
} JsSchema;

/*
 * missing_ok: a reference to a document that is neither built in nor
 * registered accepts anything (and the schema is marked unresolved), as
 * while a restore runs; a bad pointer or anchor in a document that exists
 * stays an error.
 */
extern JsSchema *jsonschema_compile(Jsonb *schema, const char *uri,
									int default_draft, bool missing_ok,
									MemoryContext parent);
extern void jsonschema_free(JsSchema *s);
extern Jsonb *jsonschema_builtin(const char *uri);	/* jsonschema_meta.c */
extern const char *jsonschema_metaschema_uri(int draft);
extern int16 jsonschema_known_draft(const char *uri);
extern bool jsonschema_restoring(void);

/* ---- evaluation (jsonschema_eval.c) ---- */

/* One failure; allocated as one chunk with its three strings. */
typedef struct JsError
{
	char	   *instance_location;
	char	   *keyword_location;
	char	   *message;
	Size		size;			/* its strings as JSON text */
} JsError;

/*
 * At most this many errors are kept, and their strings, as JSON text
 * (escapes and quotes counted), take at most JS_MAX_ERROR_BYTES: the
 * errors after them are only counted.  Fixed, not a setting, so that
 * json_validation_errors stays IMMUTABLE.  A kept error is at most a few
 * kilobytes: locations are shortened beyond 4 KB, the body's strings in
 * messages beyond 200 bytes (jsonschema_eval.c).
 */
#define JS_MAX_ERRORS		100
#define JS_MAX_ERROR_BYTES	((Size) 256 * 1024)

/* What a validation that collects errors found. */
typedef struct JsErrors
{
	JsError   **items;			/* the first nitems errors, in order */
	int			nitems;
	int64		total;			/* every error, those not kept too */
} JsErrors;

/*
 * Validate instance against s.  With errors non-NULL, every failure is
 * counted and the first ones kept, else evaluation stops at the first
 * one.  Memory beyond the errors kept grows at most linearly with the
 * instance (its depth, its longest array), never with the number of
 * evaluation steps a schema's fan-out makes (see jsonschema_eval.c).
 */
extern bool jsonschema_validate(JsSchema *s, Jsonb *instance, JsErrors *errors,
								bool format_assertion);

/* ---- the registry and the cache (jsonschema_sql.c) ---- */

extern Jsonb *jsonschema_registry_lookup(const char *uri);


#endif							/* APIKIT_JSONSCHEMA_H */
