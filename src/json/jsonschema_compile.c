/*
 * jsonschema_compile.c
 *		Turning a schema (jsonb) into a graph of JsNode.
 *
 * Compilation has two steps.  Scanning walks each document through the
 * positions where a subschema can stand (never into "const", "enum" or
 * unknown keywords, whose "$id"s are data) and indexes every subschema
 * under each URI that names it: "<base>#<json pointer>" from every
 * enclosing resource, "<base>" for resources, "<base>#<name>" for anchors.
 * Compiling then decodes each reachable subschema's keywords and resolves
 * "$ref" and "$dynamicRef" through that index, loading further documents
 * (the built-in meta-schemas, then apikit.json_schemas) by URI when a
 * reference names one not yet seen.  Subschemas are compiled from a work
 * list, not by recursion, so that deep or cyclic schemas cost no stack.
 *
 * Everything is allocated in the schema's own memory context, including
 * copies of the documents the nodes point into.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "compat.h"
#include "jsonschema.h"
#include "jsonschema_regex.h"
#include "jsonschema_uri.h"

#define URI_MAX 2048

/* ---- a small string-keyed map ---- */

typedef struct MapEntry
{
	struct MapEntry *next;
	uint32		hash;
	int			len;
	const char *key;
	void	   *value;
} MapEntry;

typedef struct Map
{
	MapEntry  **buckets;
	int			nbuckets;
	int			count;
} Map;

static void
map_init(Map *m)
{
	m->nbuckets = 64;
	m->count = 0;
	m->buckets = palloc0(sizeof(MapEntry *) * m->nbuckets);
}

static void *
map_get(Map *m, const void *key, int len)
{
	uint32		h = hash_bytes((const unsigned char *) key, len);

	for (MapEntry *e = m->buckets[h % m->nbuckets]; e; e = e->next)
		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
			return e->value;
	return NULL;
}

/* First writer wins: a later, less specific name never replaces one. */
static void
map_put(Map *m, const void *key, int len, void *value)
{
	uint32		h = hash_bytes((const unsigned char *) key, len);
	MapEntry   *e;

	if (map_get(m, key, len))
		return;
	if (m->count >= m->nbuckets)
	{
		int			n = m->nbuckets * 2;
		MapEntry  **b = palloc0(sizeof(MapEntry *) * n);

		for (int i = 0; i < m->nbuckets; i++)
		{
			MapEntry   *next;

			for (MapEntry *x = m->buckets[i]; x; x = next)
			{
				next = x->next;
				x->next = b[x->hash % n];
				b[x->hash % n] = x;
			}
		}
		pfree(m->buckets);
		m->buckets = b;
		m->nbuckets = n;
	}
	e = palloc(sizeof(MapEntry));
	e->hash = h;
	e->len = len;
	e->key = palloc(len);		/* binary keys too: not pnstrdup */
	memcpy((char *) e->key, key, len);
	e->value = value;
	e->next = m->buckets[h % m->nbuckets];
	m->buckets[h % m->nbuckets] = e;
	m->count++;
}

/* ---- compiler state ---- */

/* One subschema as the scan found it. */
typedef struct Loc
{
	JV			value;			/* an object or a boolean */
	JsResource *resource;
	int16		draft;
	uint8		vocab;
	char	   *docptr;			/* JSON pointer from its document's root */
	JsNode	   *node;
} Loc;

/* A resource on the scan's path, and where it starts in docptr. */
typedef struct Frame
{
	JsResource *resource;
	int			rootlen;
} Frame;

typedef struct Compiler
{
	JsSchema   *schema;
	Map			names;			/* "uri#fragment" -> Loc */
	Map			containers;		/* JsonbContainer * -> Loc */
	Map			docs;			/* document URI -> Loc of its root */
	List	   *pending;		/* Loc whose node awaits compiling */
	bool		accept_all;		/* a restore met an unregistered meta-schema */
	bool		missing_ok;		/* an unregistered document accepts anything */
} Compiler;

static void free_patterns(void *arg);
static void scan(Compiler *c, JV *v, StringInfo docptr, Frame *frames,
				 int nframes, int16 draft, uint8 vocab);
static Loc *load_document(Compiler *c, const char *uri, int16 draft);

static void
key_for(StringInfo key, const char *base, const char *ptr)
{
	resetStringInfo(key);
	appendStringInfoString(key, base);
	if (ptr[0] != '\0')
	{
		appendStringInfoChar(key, '#');
		appendStringInfoString(key, ptr);
	}
}

static bool
is_key(const JV *k, const char *name)
{
	int			len = strlen(name);

	return k->len == len && memcmp(k->str, name, len) == 0;
}

static char *
jv_cstring(const JV *v)
{
	return pnstrdup(v->str, v->len);
}

pg_noreturn static void
schema_error(const Loc *loc, const char *keyword, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid JSON schema at \"%s/%s\": %s",
					loc ? loc->docptr : "", keyword, problem)));
}

/*
 * pg_dump restores apikit.json_schemas with the other tables' data, in
 * the order of their schemas' names: rows of a table in schema "api",
 * whose CHECK constraint names a registered schema, arrive before the
 * registry does.  Restore scripts run with check_function_bodies off, as
 * PostgreSQL's own validators recognise; then a reference to a schema
 * that is not registered (yet) accepts any value, as the rows passed the
 * constraint when they were written.  Such a compile is never cached.
 *
 * Any role may switch check_function_bodies off, so that alone would let
 * it past every CHECK that names a registered schema.  The leniency also
 * needs a session a superuser logged in to: restores of a database with
 * apikit run as one, since CREATE EXTENSION apikit needs a superuser.  It
 * is the authenticated user, not the current one: a superuser's SECURITY
 * DEFINER function called by an ordinary role must not turn it on, and
 * SET ROLE in a superuser's session (a restore's --role) need not turn it
 * off.  No role can change who logged in.
 *
 * And the session itself must have switched it off, with SET (as pg_dump's
 * scripts and pg_restore do): its value at connection, what RESET would
 * go back to, must be on.  A database's owner can set check_function_bodies
 * for the database (ALTER DATABASE ... SET), which would otherwise make
 * every superuser session there lenient.
 */
bool
jsonschema_restoring(void)
{
	static bool warned = false;
	Oid			login;
	const char *at_connection;

	if (check_function_bodies)
		return false;
	at_connection = GetConfigOptionResetString("check_function_bodies");
	if (at_connection == NULL || strcmp(at_connection, "on") != 0)
		return false;
	login = GetAuthenticatedUserId();
	if (!OidIsValid(login) || !superuser_arg(login))
		return false;
	if (!warned)
	{
		ereport(WARNING,
				(errmsg("JSON schema references to unregistered URIs accept any value while check_function_bodies is off"),
				 errdetail("This is how a restore of apikit.json_schemas after the tables that use it proceeds."),
				 errhint("Set check_function_bodies to on outside restores.")));
		warned = true;
	}
	return true;
}

static bool
restoring(Compiler *c)
{
	if (!jsonschema_restoring())
		return false;
	c->schema->unresolved = true;
	return true;
}

/* ---- $schema and $vocabulary ---- */

int16
jsonschema_known_draft(const char *uri)
{
	static const struct
	{
		const char *uri;
		int16		draft;
	}			drafts[] = {
		{"https://json-schema.org/draft/2020-12/schema", JS_DRAFT_2020},
		{"http://json-schema.org/draft-07/schema", JS_DRAFT_7},
		{"https://json-schema.org/draft-07/schema", JS_DRAFT_7},
	};
	size_t		len = jsonschema_uri_strip_fragment(uri);

	/* only an empty fragment may follow */
	if (uri[len] == '#' && uri[len + 1] != '\0')
		return 0;
	for (size_t i = 0; i < lengthof(drafts); i++)
		if (strlen(drafts[i].uri) == len && strncmp(uri, drafts[i].uri, len) == 0)
			return drafts[i].draft;
	return 0;
}

static uint8
vocab_bit(const char *uri, int len)
{
	static const struct
	{
		const char *uri;
		uint8		bit;
	}			vocabs[] = {
		{"https://json-schema.org/draft/2020-12/vocab/core", 0},
		{"https://json-schema.org/draft/2020-12/vocab/applicator", JS_VOCAB_APPLICATOR},
		{"https://json-schema.org/draft/2020-12/vocab/unevaluated", JS_VOCAB_UNEVALUATED},
		{"https://json-schema.org/draft/2020-12/vocab/validation", JS_VOCAB_VALIDATION},
		{"https://json-schema.org/draft/2020-12/vocab/format-annotation", JS_VOCAB_FORMAT},
		{"https://json-schema.org/draft/2020-12/vocab/format-assertion", JS_VOCAB_FORMAT | JS_VOCAB_FORMAT_ASSERTION},
		{"https://json-schema.org/draft/2020-12/vocab/meta-data", 0},
		{"https://json-schema.org/draft/2020-12/vocab/content", 0},
	};

	for (size_t i = 0; i < lengthof(vocabs); i++)
		if ((int) strlen(vocabs[i].uri) == len && memcmp(vocabs[i].uri, uri, len) == 0)
			return vocabs[i].bit;
	return 0xFF;				/* unknown */
}

/*
 * The draft and vocabularies a "$schema" selects.  A meta-schema other
 * than the two built-in ones is loaded like any reference; its own
 * "$schema" gives the draft and its "$vocabulary" the keywords that count.
 */
static void
apply_dialect(Compiler *c, const JV *schema_kw, int16 *draft, uint8 *vocab,
			  const char *docptr)
{
	char	   *uri = jv_cstring(schema_kw);
	int16		d = jsonschema_known_draft(uri);
	Loc		   *meta;
	JV			v;

	if (d)
	{
		*draft = d;
		*vocab = JS_VOCAB_ALL;
		return;
	}
	if (map_get(&c->docs, uri, strlen(uri)) && !map_get(&c->names, uri, strlen(uri)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON schema at \"%s/$schema\": meta-schema \"%s\" has itself as its meta-schema",
						docptr, uri),
				 errdetail("A chain of \"$schema\" must end at a draft's own meta-schema.")));
	meta = load_document(c, uri, *draft);
	if (meta == NULL && restoring(c))
	{
		/* its dialect is unknown: the whole schema accepts anything */
		c->accept_all = true;
		return;
	}
	if (meta == NULL || meta->value.type != JV_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON schema at \"%s/$schema\": unknown meta-schema \"%s\"",
						docptr, uri),
				 errhint("Use \"https://json-schema.org/draft/2020-12/schema\" or \"http://json-schema.org/draft-07/schema#\", or register the meta-schema in apikit.json_schemas.")));
	*draft = meta->draft;
	*vocab = JS_VOCAB_ALL;
	if (jv_object_find(&meta->value, "$vocabulary", 11, &v) && v.type == JV_OBJECT)
	{
		JvPairs		pairs;
		JV			k,
					required;

		*vocab = 0;
		jv_pairs_init(&pairs, &v);
		while (jv_pairs_next(&pairs, &k, &required))
		{
			uint8		bit = vocab_bit(k.str, k.len);
			if (bit == 0xFF)
			{
				if (required.type == JV_BOOL && required.b)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("JSON schema meta-schema \"%s\" requires unknown vocabulary \"%.*s\"",
									uri, k.len, k.str)));
				continue;
			}
			*vocab |= bit;
		}
	}
}

/* ---- scanning ---- */

/* The object's "$schema", which must be a string; false if it has none. */
static bool
find_schema_kw(const JV *obj, JV *kw, const char *docptr)
{
	if (!jv_object_find(obj, "$schema", 7, kw))
		return false;
	if (kw->type != JV_STRING)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON schema at \"%s/$schema\": the value must be a string (the URI of a meta-schema), not %s",
						docptr, jv_type_name(kw->type))));
	return true;
}

static Loc *
new_loc(const JV *v, JsResource *res, int16 draft, uint8 vocab, const char *docptr)
{
	Loc		   *loc = palloc0(sizeof(Loc));

	loc->value = *v;
	loc->resource = res;
	loc->draft = draft;
	loc->vocab = vocab;
	loc->docptr = pstrdup(docptr);
	return loc;
}

static JsResource *
new_resource(const char *base)
{
	JsResource *r = palloc0(sizeof(JsResource));

	r->base = pstrdup(base);
	return r;
}

static JsNode *node_for(Compiler *c, Loc *loc);

static void
add_dynamic_anchor(Compiler *c, JsResource *r, const char *name, Loc *loc)
{
	r->dynamic_names = r->ndynamic == 0 ? palloc(sizeof(char *))
		: repalloc(r->dynamic_names, sizeof(char *) * (r->ndynamic + 1));
	r->dynamic_nodes = r->ndynamic == 0 ? palloc(sizeof(JsNode *))
		: repalloc(r->dynamic_nodes, sizeof(JsNode *) * (r->ndynamic + 1));
	r->dynamic_names[r->ndynamic] = pstrdup(name);
	r->dynamic_nodes[r->ndynamic] = node_for(c, loc);
	r->ndynamic++;
}

static void
scan_child(Compiler *c, JV *child, StringInfo docptr, const char *kw,
		   const char *name, int namelen, int index, Frame *frames,
		   int nframes, int16 draft, uint8 vocab)
{
	int			save = docptr->len;
	char		tok[32];
	size_t		pos;

	/* grow docptr by "/kw" and "/name" or "/index", escaped */
	enlargeStringInfo(docptr, strlen(kw) * 2 + 2);
	pos = docptr->len;
	jsonschema_pointer_append(docptr->data, docptr->maxlen, &pos, kw, strlen(kw));
	docptr->len = pos;
	if (name)
	{
		enlargeStringInfo(docptr, namelen * 2 + 2);
		pos = docptr->len;
		jsonschema_pointer_append(docptr->data, docptr->maxlen, &pos, name, namelen);
		docptr->len = pos;
	}
	else if (index >= 0)
	{
		snprintf(tok, sizeof(tok), "/%d", index);
		appendStringInfoString(docptr, tok);
	}
	scan(c, child, docptr, frames, nframes, draft, vocab);
	docptr->len = save;
	docptr->data[save] = '\0';
}

static void
scan_schema_map(Compiler *c, const JV *map, StringInfo docptr, const char *kw,
				Frame *frames, int nframes, int16 draft, uint8 vocab)
{
	JvPairs		pairs;
	JV			k,
				v;

	if (map->type != JV_OBJECT)
		return;
	jv_pairs_init(&pairs, map);
	while (jv_pairs_next(&pairs, &k, &v))
		scan_child(c, &v, docptr, kw, k.str, k.len, -1, frames, nframes, draft, vocab);
}

static void
scan_schema_array(Compiler *c, const JV *arr, StringInfo docptr, const char *kw,
				  Frame *frames, int nframes, int16 draft, uint8 vocab)
{
	JvIter		it;
	int			i = 0;

	if (arr->type != JV_ARRAY)
		return;
	jv_iter_values(&it, arr);
	while (it.i < it.end)
	{
		JV			v;

		jv_iter_next(&it, &v);
		scan_child(c, &v, docptr, kw, NULL, 0, i++, frames, nframes, draft, vocab);
	}
}

/* Keywords whose value is one subschema, a map of them, or an array. */
static const char *const single_kw[] = {
	"additionalProperties", "propertyNames", "if", "then", "else", "not",
	"contains", "items", "unevaluatedItems", "unevaluatedProperties",
	"additionalItems", NULL
};
static const char *const map_kw[] = {
	"$defs", "definitions", "properties", "patternProperties",
	"dependentSchemas", "dependencies", NULL
};
static const char *const array_kw[] = {
	"allOf", "anyOf", "oneOf", "prefixItems", "items", NULL
};

static void
scan(Compiler *c, JV *v, StringInfo docptr, Frame *frames, int nframes,
	 int16 draft, uint8 vocab)
{
	StringInfoData key;
	Loc		   *loc;
	JV			id,
				kw;
	bool		draft7_ref;
	Frame	   *f = frames;
	int			nf = nframes;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (v->type != JV_OBJECT && v->type != JV_BOOL)
		return;					/* not a schema; compiling says so if used */

	initStringInfo(&key);
	if (v->type == JV_OBJECT)
	{
		draft7_ref = draft == JS_DRAFT_7 && jv_object_find(v, "$ref", 4, &kw);

		if (!draft7_ref && jv_object_find(v, "$id", 3, &id) && id.type == JV_STRING)
		{
			char		resolved[URI_MAX];
			JsResource *parent = frames[nframes - 1].resource;

			if (draft == JS_DRAFT_7 && id.len > 0 && id.str[0] == '#')
			{
				/* a draft 7 location-independent identifier: an anchor */
				appendStringInfo(&key, "%s#%.*s", parent->base, id.len - 1, id.str + 1);
			}
			else
			{
				size_t		baselen;

				if (!jsonschema_uri_resolve(parent->base, id.str, id.len, resolved, sizeof(resolved)))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid JSON schema at \"%s/$id\": identifier is too long",
									docptr->data)));
				baselen = jsonschema_uri_strip_fragment(resolved);
				if (resolved[baselen] == '#')
				{
					if (draft != JS_DRAFT_7)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid JSON schema at \"%s/$id\": \"%.*s\" has a fragment",
										docptr->data, id.len, id.str),
								 errhint("Name a location with \"$anchor\" instead.")));
					appendStringInfoString(&key, resolved);
					resolved[baselen] = '\0';
				}
				f = palloc(sizeof(Frame) * (nframes + 1));
				memcpy(f, frames, sizeof(Frame) * nframes);
				f[nframes].resource = new_resource(resolved);
				f[nframes].rootlen = docptr->len;
				nf = nframes + 1;
				if (find_schema_kw(v, &kw, docptr->data))
					apply_dialect(c, &kw, &draft, &vocab, docptr->data);
			}
		}
	}

	loc = new_loc(v, f[nf - 1].resource, draft, vocab, docptr->data);
	if (v->type == JV_OBJECT)
		map_put(&c->containers, &v->c, sizeof(v->c), loc);
	if (key.len > 0)			/* a draft 7 anchor */
		map_put(&c->names, key.data, key.len, loc);
	for (int i = nf - 1; i >= 0; i--)
	{
		key_for(&key, f[i].resource->base, docptr->data + f[i].rootlen);
		map_put(&c->names, key.data, key.len, loc);
	}
	if (v->type != JV_OBJECT)
		return;

	if (draft != JS_DRAFT_7)
	{
		if (jv_object_find(v, "$anchor", 7, &kw) && kw.type == JV_STRING)
		{
			resetStringInfo(&key);
			appendStringInfo(&key, "%s#%.*s", loc->resource->base, kw.len, kw.str);
			map_put(&c->names, key.data, key.len, loc);
		}
		if (jv_object_find(v, "$dynamicAnchor", 14, &kw) && kw.type == JV_STRING)
		{
			char	   *name = jv_cstring(&kw);

			resetStringInfo(&key);
			appendStringInfo(&key, "%s#%s", loc->resource->base, name);
			map_put(&c->names, key.data, key.len, loc);
			add_dynamic_anchor(c, loc->resource, name, loc);
		}
	}

	for (int i = 0; single_kw[i]; i++)
		if (jv_object_find(v, single_kw[i], strlen(single_kw[i]), &kw) &&
			(kw.type == JV_OBJECT || kw.type == JV_BOOL))
			scan_child(c, &kw, docptr, single_kw[i], NULL, 0, -1, f, nf, draft, vocab);
	for (int i = 0; map_kw[i]; i++)
		if (jv_object_find(v, map_kw[i], strlen(map_kw[i]), &kw))
			scan_schema_map(c, &kw, docptr, map_kw[i], f, nf, draft, vocab);
	for (int i = 0; array_kw[i]; i++)
		if (jv_object_find(v, array_kw[i], strlen(array_kw[i]), &kw))
			scan_schema_array(c, &kw, docptr, array_kw[i], f, nf, draft, vocab);
	pfree(key.data);
}

/*
 * Index a document under uri ("" for an anonymous root) and return its
 * root.  draft is the one in effect when the document has no "$schema".
 */
static Loc *
scan_document(Compiler *c, Jsonb *jb, const char *uri, int16 draft)
{
	JV			root;
	JV			kw;
	Frame		frame;
	StringInfoData docptr;
	uint8		vocab = JS_VOCAB_ALL;
	Loc		   *loc;

	jv_root(jb, &root);
	map_put(&c->docs, uri, strlen(uri), (void *) 1);	/* while scanning */
	if (root.type == JV_OBJECT && find_schema_kw(&root, &kw, ""))
		apply_dialect(c, &kw, &draft, &vocab, "");

	frame.resource = new_resource(uri);
	frame.rootlen = 0;
	initStringInfo(&docptr);
	scan(c, &root, &docptr, &frame, 1, draft, vocab);
	loc = map_get(&c->names, uri, strlen(uri));
	if (loc == NULL)
		loc = root.type == JV_OBJECT ? map_get(&c->containers, &root.c, sizeof(root.c)) : NULL;
	if (loc == NULL)
		loc = new_loc(&root, frame.resource, draft, vocab, "");
	return loc;
}

/* A document by URI: a built-in meta-schema, else the registry. */
static Loc *
load_document(Compiler *c, const char *uri, int16 draft)
{
	Jsonb	   *jb;

	if (map_get(&c->docs, uri, strlen(uri)))
		return map_get(&c->names, uri, strlen(uri));
	jb = jsonschema_builtin(uri);
	if (jb == NULL)
	{
		jb = jsonschema_registry_lookup(uri);
		if (jb != NULL)
			c->schema->uses_registry = true;
	}
	if (jb == NULL)
		return NULL;
	return scan_document(c, jb, uri, draft);
}

/* ---- resolving references ---- */

static Loc *
follow_pointer(Compiler *c, Loc *root, const char *ptr)
{
	JV			v = root->value;
	StringInfoData docptr;
	const char *p = ptr;
	Loc		   *loc;

	initStringInfo(&docptr);
	appendStringInfoString(&docptr, root->docptr);
	while (*p == '/')
	{
		const char *start = ++p;
		char	   *tok;
		size_t		toklen;
		JV			next;

		while (*p && *p != '/')
			p++;
		tok = palloc(p - start + 1);
		if (!jsonschema_pointer_unescape(start, p - start, tok, &toklen))
			return NULL;
		if (v.type == JV_OBJECT)
		{
			if (!jv_object_find(&v, tok, toklen, &next))
				return NULL;
		}
		else if (v.type == JV_ARRAY)
		{
			char	   *end;
			long		i;

			tok[toklen] = '\0';
			i = strtol(tok, &end, 10);
			if (*end || toklen == 0 || i < 0 || i >= jv_count(&v))
				return NULL;
			jv_array_get(&v, (int) i, &next);
		}
		else
			return NULL;
		appendStringInfoChar(&docptr, '/');
		appendBinaryStringInfo(&docptr, start, p - start);
		v = next;
	}
	if (*p)
		return NULL;
	if (v.type == JV_OBJECT && (loc = map_get(&c->containers, &v.c, sizeof(v.c))))
		return loc;
	if (v.type != JV_OBJECT && v.type != JV_BOOL)
		return NULL;
	loc = new_loc(&v, root->resource, root->draft, root->vocab, docptr.data);
	if (v.type == JV_OBJECT)
		map_put(&c->containers, &v.c, sizeof(v.c), loc);
	return loc;
}

static Loc *
resolve_ref(Compiler *c, Loc *from, const char *kw, const JV *ref)
{
	char		uri[URI_MAX];
	char		decoded[URI_MAX];
	size_t		baselen;
	size_t		n;
	Loc		   *loc;
	Loc		   *root;
	char	   *base;

	if (!jsonschema_uri_resolve(from->resource->base, ref->str, ref->len, uri, sizeof(uri)))
		schema_error(from, kw, "the reference is too long");
	baselen = jsonschema_uri_strip_fragment(uri);

	/* JSON pointer fragments are indexed unescaped (RFC 3986 escapes) */
	if (uri[baselen] == '#' && uri[baselen + 1] == '/')
	{
		if (!jsonschema_uri_percent_decode(uri + baselen, strlen(uri + baselen), decoded, &n))
			schema_error(from, kw, "the reference has a malformed percent-escape");
		memcpy(uri + baselen, decoded, n + 1);
	}
	loc = map_get(&c->names, uri, strlen(uri));
	if (loc)
		return loc;

	base = pnstrdup(uri, baselen);
	root = map_get(&c->names, base, baselen);
	if (root == NULL && !map_get(&c->docs, base, baselen))
	{
		root = load_document(c, base, from->draft);
		loc = map_get(&c->names, uri, strlen(uri));
		if (loc)
			return loc;
	}
	if (root && uri[baselen] == '#' && uri[baselen + 1] == '/')
		loc = follow_pointer(c, root, uri + baselen + 1);

	/* a missing document, not a bad pointer or anchor in a found one */
	if (loc == NULL && root == NULL && (c->missing_ok || restoring(c)))
	{
		/*
		 * While a dump is restored: accept what the missing schema checked.
		 * A registry row being checked: that schema may come later.
		 */
		JV			anything = {.type = JV_BOOL, .b = true};

		c->schema->unresolved = true;
		return new_loc(&anything, from->resource, from->draft, from->vocab, from->docptr);
	}
	if (loc == NULL && root != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON schema at \"%s/%s\": cannot resolve reference \"%.*s\"",
						from->docptr, kw, ref->len, ref->str),
				 baselen == 0 ?
				 errdetail("Nothing in the schema is at \"%s\".", uri) :
				 errdetail("It resolves to \"%s\": the document \"%.*s\" exists, but nothing in it is at \"%s\".",
						   uri, (int) baselen, uri, uri + baselen)));
	if (loc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON schema at \"%s/%s\": cannot resolve reference \"%.*s\"",
						from->docptr, kw, ref->len, ref->str),
				 errdetail("It resolves to \"%s\", which is neither in the schema nor in apikit.json_schemas.", uri),
				 errhint("Register the referenced schema with INSERT INTO apikit.json_schemas (uri, schema).")));
	return loc;
}

/* ---- compiling ---- */

static JsNode *
node_for(Compiler *c, Loc *loc)
{
	JsNode	   *n;

	if (loc->node)
		return loc->node;
	n = palloc0(sizeof(JsNode));
	n->boolean = loc->value.type == JV_BOOL ? (loc->value.b ? 1 : 0) : -1;
	n->draft = loc->draft;
	n->resource = loc->resource;
	n->location = loc->docptr;
	n->min_length = n->max_length = n->min_items = n->max_items = -1;
	n->min_properties = n->max_properties = n->max_contains = -1;
	n->min_contains = 1;
	n->format = JSF_UNKNOWN;
	loc->node = n;
	if (n->boolean < 0)
		c->pending = lappend(c->pending, loc);
	else
		n->compiled = true;
	return n;
}

/* The node of a subschema at a keyword of loc. */
static JsNode *
child(Compiler *c, Loc *parent, const JV *v, const char *kw, const char *name,
	  int namelen, int index)
{
	Loc		   *loc;

	if (v->type == JV_OBJECT && (loc = map_get(&c->containers, &v->c, sizeof(v->c))))
		return node_for(c, loc);
	if (v->type != JV_OBJECT && v->type != JV_BOOL)
	{
		StringInfoData where;

		initStringInfo(&where);
		appendStringInfoString(&where, kw);
		if (name)
			appendStringInfo(&where, "/%.*s", namelen, name);
		else if (index >= 0)
			appendStringInfo(&where, "/%d", index);
		schema_error(parent, where.data, "a schema must be an object or a boolean");
	}
	loc = new_loc(v, parent->resource, parent->draft, parent->vocab,
				  psprintf("%s/%s", parent->docptr, kw));
	return node_for(c, loc);
}

/*
 * A collation whose character classes follow Unicode, for patterns with
 * Unicode property escapes: the builtin PG_UNICODE_FAST (PostgreSQL 18 on),
 * else ICU's root locale, else the builtin C.UTF-8 (17 on; its [[:digit:]]
 * is ASCII only, as POSIX has it), else the database's own.
 */
static Oid
unicode_collation(void)
{
	static const char *const names[] = {"pg_unicode_fast", "und-x-icu", "pg_c_utf8"};
	static Oid	collation = InvalidOid;

	for (size_t i = 0; i < lengthof(names) && !OidIsValid(collation); i++)
		collation = get_collation_oid(list_make2(makeString("pg_catalog"),
												 makeString((char *) names[i])), true);
	if (!OidIsValid(collation))
		collation = DEFAULT_COLLATION_OID;
	return collation;
}

static JsPattern *
compile_pattern(Compiler *c, const Loc *loc, const char *kw, const char *src, int len)
{
	JsPattern  *p = palloc0(sizeof(JsPattern));
	char	   *are = palloc((Size) len * JS_REGEX_GROWTH + 1);
	bool		unicode = false;
	int			arelen;
	pg_wchar   *w;
	int			wlen;
	int			rc;
	int64		states;

	if (len > JS_PATTERN_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid JSON schema at \"%s/%s\": a pattern of %d bytes is longer than the limit of %d",
						loc->docptr, kw, len, JS_PATTERN_MAX)));
	p->source = pnstrdup(src, len);
	switch (jsonschema_regex_translate(src, len, are, (Size) len * JS_REGEX_GROWTH + 1, &unicode))
	{
		case JS_REGEX_OK:
			break;
		case JS_REGEX_NOT_ECMA:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
					 errmsg("invalid JSON schema at \"%s/%s\": \"%.200s\" is not an ECMA-262 regular expression",
							loc->docptr, kw, p->source),
					 errhint("Inline flags such as (?i), comments (?#...) and \\a are PostgreSQL syntax, not JSON Schema's.")));
			break;
		case JS_REGEX_UNKNOWN_PROPERTY:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("invalid JSON schema at \"%s/%s\": the Unicode property escape %s in \"%.200s\" is not supported",
							loc->docptr, kw, are, p->source),
					 errdetail("Supported are \\p{L}, \\p{Lu}, \\p{Ll}, \\p{N}, \\p{Nd}, \\p{P} and \\p{White_Space} (also by their long names), and their \\P{...} negations outside brackets; scripts and \"General_Category=...\" are not."),
					 errhint("Spell the characters out in a class instead, such as [\\u0370-\\u03FF] for Greek.")));
			break;
		case JS_REGEX_UNSUPPORTED:
			/* PostgreSQL's engine judges the pattern as written */
			memcpy(are, src, len);
			are[len] = '\0';
			unicode = false;
			break;
	}
	/* the common patterns skip the engine at match time */
	if (GetDatabaseEncoding() == PG_UTF8)
	{
		JsSimplePattern *simple = palloc(sizeof(JsSimplePattern));

		if (jsonschema_simple_compile(src, len, simple))
			p->simple = simple;
		else
			pfree(simple);
	}
	arelen = strlen(are);
	w = palloc((arelen + 1) * sizeof(pg_wchar));
	wlen = pg_mb2wchar_with_len(are, w, arelen);

	/*
	 * C collation: \d, \w and \s are ASCII, as in ECMA-262.  No submatches
	 * (as core's ~): matching never asks for them, and without REG_NOSUB the
	 * engine builds an NFA for every group (38 s and 1 GB for a 4 KB
	 * pattern that takes 0.3 s without); back-references still work.
	 */
	rc = pg_regcomp(&p->re, w, wlen, REG_ADVANCED | REG_NOSUB,
					unicode ? unicode_collation() : C_COLLATION_OID);
	pfree(w);
	if (rc != REG_OKAY)
	{
		char		msg[256];

		/* REG_CANCEL: a cancel or timeout, not an invalid pattern */
		CHECK_FOR_INTERRUPTS();
		pg_regerror(rc, &p->re, msg, sizeof(msg));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("invalid JSON schema at \"%s/%s\": invalid regular expression \"%.200s\": %s",
						loc->docptr, kw, p->source, msg)));
	}
	/* kept in the schema itself, which the error path can see */
	c->schema->patterns = lappend(c->schema->patterns, p);

	/* every match would allocate a DFA cache quadratic in the states */
	states = apikit_regex_nfa_states(&p->re);
	if (states > JS_PATTERN_MAX_STATES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("invalid JSON schema at \"%s/%s\": invalid regular expression \"%.200s\": regular expression is too complex",
						loc->docptr, kw, p->source),
				 errdetail("It compiles to more than %d automaton states, and every match would need memory that grows with their square.",
						   JS_PATTERN_MAX_STATES),
				 errhint("Use fewer or smaller counted repetitions ({n,m}); a length is better checked with minLength and maxLength.")));
	return p;
}

/* -1, 0 or 1, as the number's sign. */
static int
numeric_sign_of(Numeric num)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num),
											 DirectFunctionCall1(int4_numeric, Int32GetDatum(0))));
}

static int64
nonnegative_int(const Loc *loc, const char *kw, const JV *v)
{
	JsDec		d;

	if (v->type == JV_NUMBER)
	{
		d = jv_decimal(v->num);
		if (d.ok && d.scale == 0 && d.m >= 0)
			return d.m;
		/* beyond 18 digits: no instance has that many of anything */
		if (!d.ok && jv_num_is_integer(v->num, &d) && numeric_sign_of(v->num) >= 0)
			return PG_INT64_MAX;
	}
	schema_error(loc, kw, "the value must be a non-negative integer");
}

typedef struct NumericKeyword
{
	const char *name;
	size_t		offset;			/* of its JsNumber in JsNode */
	uint8		flag;
} NumericKeyword;

static const NumericKeyword numeric_keywords[] = {
	{"minimum", offsetof(JsNode, minimum), JS_HAS_MINIMUM},
	{"maximum", offsetof(JsNode, maximum), JS_HAS_MAXIMUM},
	{"exclusiveMinimum", offsetof(JsNode, exclusive_minimum), JS_HAS_EXMIN},
	{"exclusiveMaximum", offsetof(JsNode, exclusive_maximum), JS_HAS_EXMAX},
	{"multipleOf", offsetof(JsNode, multiple_of), JS_HAS_MULTIPLE},
};

static const NumericKeyword *
numeric_keyword(const JV *k)
{
	for (size_t i = 0; i < lengthof(numeric_keywords); i++)
		if (is_key(k, numeric_keywords[i].name))
			return &numeric_keywords[i];
	return NULL;
}

static void
number_kw(const Loc *loc, const char *kw, const JV *v, JsNumber *out)
{
	if (v->type != JV_NUMBER)
		schema_error(loc, kw, "the value must be a number");
	out->num = v->num;
	out->dec = jv_decimal(v->num);
}

static uint8
type_bit(const Loc *loc, const JV *t)
{
	static const struct
	{
		const char *name;
		uint8		bit;
	}			types[] = {
		{"null", JS_T_NULL}, {"boolean", JS_T_BOOLEAN}, {"object", JS_T_OBJECT},
		{"array", JS_T_ARRAY}, {"number", JS_T_NUMBER}, {"string", JS_T_STRING},
		{"integer", JS_T_INTEGER},
	};

	if (t->type == JV_STRING)
		for (size_t i = 0; i < lengthof(types); i++)
			if (is_key(t, types[i].name))
				return types[i].bit;
	schema_error(loc, "type", "the type must be one of \"null\", \"boolean\", \"object\", \"array\", \"number\", \"string\" or \"integer\"");
}

static int
named_cmp(const void *a, const void *b)
{
	const JsNamedNode *x = a;
	const JsNamedNode *y = b;

	return jv_key_cmp(x->name, x->len, y->name, y->len);
}

static JsNode **
schema_array(Compiler *c, Loc *loc, const char *kw, const JV *v, int *count)
{
	JsNode	  **nodes;
	JvIter		it;
	int			i = 0;

	if (v->type != JV_ARRAY || (jv_count(v) == 0 && strcmp(kw, "prefixItems") != 0 &&
								strcmp(kw, "items") != 0))
		schema_error(loc, kw, "the value must be a non-empty array of schemas");
	*count = jv_count(v);
	nodes = palloc(sizeof(JsNode *) * Max(*count, 1));
	jv_iter_values(&it, v);
	while (it.i < it.end)
	{
		JV			x;

		jv_iter_next(&it, &x);
		nodes[i] = child(c, loc, &x, kw, NULL, 0, i);
		i++;
	}
	return nodes;
}

static JsNamedNode *
schema_map(Compiler *c, Loc *loc, const char *kw, const JV *v, int *count)
{
	JsNamedNode *out;
	JvPairs		pairs;
	JV			k,
				x;
	int			i = 0;

	if (v->type != JV_OBJECT)
		schema_error(loc, kw, "the value must be an object of schemas");
	*count = jv_count(v);
	out = palloc(sizeof(JsNamedNode) * Max(*count, 1));
	jv_pairs_init(&pairs, v);
	while (jv_pairs_next(&pairs, &k, &x))
	{
		out[i].name = k.str;
		out[i].len = k.len;
		out[i].node = child(c, loc, &x, kw, k.str, k.len, -1);
		i++;
	}
	/* jsonb keeps keys in this order already; sorting states the reliance */
	qsort(out, *count, sizeof(JsNamedNode), named_cmp);
	return out;
}

static void
check_string_array(const Loc *loc, const char *kw, const JV *v)
{
	JvIter		it;

	if (v->type != JV_ARRAY)
		schema_error(loc, kw, "the value must be an array of strings");
	jv_iter_values(&it, v);
	while (it.i < it.end)
	{
		JV			x;

		jv_iter_next(&it, &x);
		if (x.type != JV_STRING)
			schema_error(loc, kw, "the value must be an array of strings");
	}
}

static void
add_dep_required(JsNode *n, const char *name, int len, const JV *names)
{
	n->dep_required = n->ndep_required == 0 ? palloc(sizeof(JsNamedList))
		: repalloc(n->dep_required, sizeof(JsNamedList) * (n->ndep_required + 1));
	n->dep_required[n->ndep_required].name = name;
	n->dep_required[n->ndep_required].len = len;
	n->dep_required[n->ndep_required].names = *names;
	n->ndep_required++;
}

/* Summaries of a compiled node, so that evaluation skips what it lacks. */
static void
summarise(JsNode *n)
{
	n->string_checks = n->min_length >= 0 || n->max_length >= 0 || n->pattern ||
		n->format != JSF_UNKNOWN || n->content_base64 || n->content_json;
	n->in_place = n->ref || n->dynamic_ref || n->nall_of || n->nany_of ||
		n->none_of || n->not_schema || n->if_schema;
	n->numbers_fit =
		(!(n->numflags & JS_HAS_MINIMUM) || n->minimum.dec.ok) &&
		(!(n->numflags & JS_HAS_MAXIMUM) || n->maximum.dec.ok) &&
		(!(n->numflags & JS_HAS_EXMIN) || n->exclusive_minimum.dec.ok) &&
		(!(n->numflags & JS_HAS_EXMAX) || n->exclusive_maximum.dec.ok) &&
		(!(n->numflags & JS_HAS_MULTIPLE) ||
		 (n->multiple_of.dec.ok && n->multiple_of.dec.m != 0));
}

static void
compile_node(Compiler *c, Loc *loc)
{
	JsNode	   *n = loc->node;
	JV			obj = loc->value;
	JvPairs		pairs;
	JV			k;
	bool		draft7 = loc->draft == JS_DRAFT_7;
	uint8		vocab = loc->vocab;
	JV			v;
	JV			items = {0};
	bool		has_items = false;
	JV			additional_items = {0};
	bool		has_additional_items = false;
	const NumericKeyword *nk;

	CHECK_FOR_INTERRUPTS();
	n->compiled = true;

	/* a restore met a meta-schema not registered yet: see accept_all */
	if (c->accept_all)
		return;

	/* draft 7: "$ref" stands alone, its siblings are ignored */
	if (draft7 && jv_object_find(&obj, "$ref", 4, &v))
	{
		if (v.type != JV_STRING)
			schema_error(loc, "$ref", "the value must be a string");
		n->ref = node_for(c, resolve_ref(c, loc, "$ref", &v));
		return;
	}

	jv_pairs_init(&pairs, &obj);
	while (jv_pairs_next(&pairs, &k, &v))
	{
		if (is_key(&k, "$ref"))
		{
			if (v.type != JV_STRING)
				schema_error(loc, "$ref", "the value must be a string");
			n->ref = node_for(c, resolve_ref(c, loc, "$ref", &v));
		}
		else if (is_key(&k, "$schema") && v.type != JV_STRING)
			schema_error(loc, "$schema", "the value must be a string (the URI of a meta-schema)");
		else if (is_key(&k, "$dynamicRef") && !draft7)
		{
			Loc		   *target;

			if (v.type != JV_STRING)
				schema_error(loc, "$dynamicRef", "the value must be a string");
			target = resolve_ref(c, loc, "$dynamicRef", &v);
			n->dynamic_ref = node_for(c, target);

			/*
			 * Dynamic only when the static target has a "$dynamicAnchor" of
			 * the fragment's name (the "bookend"); else it is a "$ref".
			 */
			{
				const char *hash = memchr(v.str, '#', v.len);
				JV			anchor;

				if (hash && hash[1] != '/' && target->value.type == JV_OBJECT &&
					jv_object_find(&target->value, "$dynamicAnchor", 14, &anchor) &&
					anchor.type == JV_STRING &&
					anchor.len == v.len - (hash + 1 - v.str) &&
					memcmp(anchor.str, hash + 1, anchor.len) == 0)
					n->dynamic_ref_name = jv_cstring(&anchor);
			}
		}
		else if (is_key(&k, "$dynamicAnchor") && !draft7)
			n->has_dynamic_anchor = true;
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "type"))
		{
			if (v.type == JV_ARRAY)
			{
				JvIter		it;

				jv_iter_values(&it, &v);
				while (it.i < it.end)
				{
					JV			t;

					jv_iter_next(&it, &t);
					n->types |= type_bit(loc, &t);
				}
				if (n->types == 0)
					n->types = 0x80;	/* "type": [] allows nothing */
			}
			else
				n->types = type_bit(loc, &v);
		}
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "const"))
		{
			n->has_const = true;
			n->const_value = v;
		}
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "enum"))
		{
			if (v.type != JV_ARRAY)
				schema_error(loc, "enum", "the value must be an array");
			n->has_enum = true;
			n->enum_values = v;
			/* a long one is looked up in O(log n) comparisons, not n */
			if (jv_count(&v) > JS_ENUM_LINEAR_MAX)
			{
				n->enum_offsets = jv_offsets(&v);
				n->enum_order = jv_sorted_children(&v, n->enum_offsets);
			}
		}
		else if ((vocab & JS_VOCAB_VALIDATION) && (nk = numeric_keyword(&k)) != NULL)
		{
			number_kw(loc, nk->name, &v, (JsNumber *) ((char *) n + nk->offset));
			n->numflags |= nk->flag;
			if (nk->flag == JS_HAS_MULTIPLE && numeric_sign_of(v.num) <= 0)
				schema_error(loc, "multipleOf", "the value must be greater than 0");
		}
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "minLength"))
			n->min_length = nonnegative_int(loc, "minLength", &v);
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "maxLength"))
			n->max_length = nonnegative_int(loc, "maxLength", &v);
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "minItems"))
			n->min_items = nonnegative_int(loc, "minItems", &v);
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "maxItems"))
			n->max_items = nonnegative_int(loc, "maxItems", &v);
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "minProperties"))
			n->min_properties = nonnegative_int(loc, "minProperties", &v);
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "maxProperties"))
			n->max_properties = nonnegative_int(loc, "maxProperties", &v);
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "minContains") && !draft7)
		{
			n->min_contains = nonnegative_int(loc, "minContains", &v);
			n->has_min_contains = true;
		}
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "maxContains") && !draft7)
			n->max_contains = nonnegative_int(loc, "maxContains", &v);
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "uniqueItems"))
		{
			if (v.type != JV_BOOL)
				schema_error(loc, "uniqueItems", "the value must be a boolean");
			n->unique_items = v.b;
		}
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "pattern"))
		{
			if (v.type != JV_STRING)
				schema_error(loc, "pattern", "the value must be a string");
			n->pattern = compile_pattern(c, loc, "pattern", v.str, v.len);
		}
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "required"))
		{
			JvIter		it;

			check_string_array(loc, "required", &v);
			/* sorted like an object's keys, to be merged with them */
			n->required = palloc(sizeof(JsNamedNode) * Max(jv_count(&v), 1));
			jv_iter_values(&it, &v);
			while (it.i < it.end)
			{
				JV			name;

				jv_iter_next(&it, &name);
				n->required[n->nrequired].name = name.str;
				n->required[n->nrequired].len = name.len;
				n->required[n->nrequired].node = NULL;
				n->nrequired++;
			}
			qsort(n->required, n->nrequired, sizeof(JsNamedNode), named_cmp);
			/* a name listed twice is required once */
			if (n->nrequired > 1)
			{
				int			kept = 1;

				for (int i = 1; i < n->nrequired; i++)
					if (named_cmp(&n->required[i], &n->required[kept - 1]) != 0)
						n->required[kept++] = n->required[i];
				n->nrequired = kept;
			}
		}
		else if ((vocab & JS_VOCAB_VALIDATION) && is_key(&k, "dependentRequired") && !draft7)
		{
			JvPairs		deps;
			JV			dk,
						dv;

			if (v.type != JV_OBJECT)
				schema_error(loc, "dependentRequired", "the value must be an object of string arrays");
			jv_pairs_init(&deps, &v);
			while (jv_pairs_next(&deps, &dk, &dv))
			{
				check_string_array(loc, "dependentRequired", &dv);
				add_dep_required(n, dk.str, dk.len, &dv);
			}
			n->dep_required_kw = "dependentRequired";
		}
		else if (draft7 && is_key(&k, "contentEncoding"))
		{
			/* draft 7 lets validators assert content; apikit knows base64 */
			n->content_base64 = v.type == JV_STRING && is_key(&v, "base64");
		}
		else if (draft7 && is_key(&k, "contentMediaType"))
			n->content_json = v.type == JV_STRING && is_key(&v, "application/json");
		else if ((vocab & JS_VOCAB_FORMAT) && is_key(&k, "format"))
		{
			if (v.type != JV_STRING)
				schema_error(loc, "format", "the value must be a string");
			n->format = jsonschema_format_lookup(v.str, v.len);
			n->format_name = jv_cstring(&v);
			/* a dialect with the format-assertion vocabulary asks for it */
			n->format_asserted = (vocab & JS_VOCAB_FORMAT_ASSERTION) != 0;
		}
		else if (!(vocab & JS_VOCAB_APPLICATOR))
			continue;
		else if (is_key(&k, "properties"))
			n->properties = schema_map(c, loc, "properties", &v, &n->nproperties);
		else if (is_key(&k, "patternProperties"))
		{
			JsNamedNode *m = schema_map(c, loc, "patternProperties", &v, &n->npattern_properties);

			n->pattern_properties = palloc(sizeof(JsPatternNode) * Max(n->npattern_properties, 1));
			for (int i = 0; i < n->npattern_properties; i++)
			{
				n->pattern_properties[i].pattern = compile_pattern(c, loc, "patternProperties", m[i].name, m[i].len);
				n->pattern_properties[i].node = m[i].node;
			}
		}
		else if (is_key(&k, "additionalProperties"))
			n->additional_properties = child(c, loc, &v, "additionalProperties", NULL, 0, -1);
		else if (is_key(&k, "propertyNames"))
			n->property_names = child(c, loc, &v, "propertyNames", NULL, 0, -1);
		else if (is_key(&k, "dependentSchemas") && !draft7)
		{
			n->dep_schemas = schema_map(c, loc, "dependentSchemas", &v, &n->ndep_schemas);
			n->dep_schemas_kw = "dependentSchemas";
		}
		else if (is_key(&k, "dependencies") && n->ndep_schemas == 0)
		{
			/*
			 * Draft 7's keyword; 2020-12 split it in two, and its
			 * meta-schema still describes it, so it works there too.
			 */
			JvPairs		deps;
			JV			dk,
						dv;
			int			i = 0;

			if (v.type != JV_OBJECT)
				schema_error(loc, "dependencies", "the value must be an object");
			n->dep_schemas = palloc(sizeof(JsNamedNode) * Max(jv_count(&v), 1));
			jv_pairs_init(&deps, &v);
			while (jv_pairs_next(&deps, &dk, &dv))
			{
				if (dv.type == JV_ARRAY)
				{
					check_string_array(loc, "dependencies", &dv);
					add_dep_required(n, dk.str, dk.len, &dv);
				}
				else
				{
					n->dep_schemas[i].name = dk.str;
					n->dep_schemas[i].len = dk.len;
					n->dep_schemas[i].node = child(c, loc, &dv, "dependencies", dk.str, dk.len, -1);
					i++;
				}
			}
			n->ndep_schemas = i;
			n->dep_schemas_kw = n->dep_required_kw = "dependencies";
		}
		else if (is_key(&k, "prefixItems") && !draft7)
		{
			n->prefix_items = schema_array(c, loc, "prefixItems", &v, &n->nprefix_items);
			n->prefix_kw = "prefixItems";
		}
		else if (is_key(&k, "items"))
		{
			items = v;
			has_items = true;
		}
		else if (is_key(&k, "additionalItems") && draft7)
		{
			additional_items = v;
			has_additional_items = true;
		}
		else if (is_key(&k, "contains"))
			n->contains = child(c, loc, &v, "contains", NULL, 0, -1);
		else if (is_key(&k, "allOf"))
			n->all_of = schema_array(c, loc, "allOf", &v, &n->nall_of);
		else if (is_key(&k, "anyOf"))
			n->any_of = schema_array(c, loc, "anyOf", &v, &n->nany_of);
		else if (is_key(&k, "oneOf"))
			n->one_of = schema_array(c, loc, "oneOf", &v, &n->none_of);
		else if (is_key(&k, "not"))
			n->not_schema = child(c, loc, &v, "not", NULL, 0, -1);
		else if (is_key(&k, "if"))
			n->if_schema = child(c, loc, &v, "if", NULL, 0, -1);
		else if (is_key(&k, "then"))
			n->then_schema = child(c, loc, &v, "then", NULL, 0, -1);
		else if (is_key(&k, "else"))
			n->else_schema = child(c, loc, &v, "else", NULL, 0, -1);
		else if ((vocab & JS_VOCAB_UNEVALUATED) && !draft7 && is_key(&k, "unevaluatedProperties"))
			n->unevaluated_properties = child(c, loc, &v, "unevaluatedProperties", NULL, 0, -1);
		else if ((vocab & JS_VOCAB_UNEVALUATED) && !draft7 && is_key(&k, "unevaluatedItems"))
			n->unevaluated_items = child(c, loc, &v, "unevaluatedItems", NULL, 0, -1);
	}

	/* items: one schema for every item after prefixItems (draft 7: an array is the prefix) */
	if (has_items)
	{
		if (draft7 && items.type == JV_ARRAY)
		{
			n->prefix_items = schema_array(c, loc, "items", &items, &n->nprefix_items);
			n->prefix_kw = "items";
			if (has_additional_items)
			{
				n->items = child(c, loc, &additional_items, "additionalItems", NULL, 0, -1);
				n->items_kw = "additionalItems";
			}
		}
		else
		{
			n->items = child(c, loc, &items, "items", NULL, 0, -1);
			n->items_kw = "items";
		}
	}
	/* a "then" or "else" without "if" does nothing */
	if (n->if_schema == NULL)
		n->then_schema = n->else_schema = NULL;
	/* minContains without contains does nothing; maxContains likewise */
	if (n->contains == NULL)
		n->has_min_contains = false;

}

JsSchema *
jsonschema_compile(Jsonb *schema, const char *uri, int default_draft,
				   bool missing_ok, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "apikit JSON schema",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	JsSchema   *s = palloc0(sizeof(JsSchema));
	Compiler	c = {0};
	Loc		   *root;

	s->cxt = cxt;
	s->default_draft = default_draft;
	s->patterns_freed.func = free_patterns;
	s->patterns_freed.arg = s;
	MemoryContextRegisterResetCallback(cxt, &s->patterns_freed);
	s->source = palloc(VARSIZE(schema));
	memcpy(s->source, schema, VARSIZE(schema));
	c.schema = s;
	c.missing_ok = missing_ok;
	map_init(&c.names);
	map_init(&c.containers);
	map_init(&c.docs);

	PG_TRY();
	{
		JV			r;

		jv_root(s->source, &r);
		if (r.type != JV_OBJECT && r.type != JV_BOOL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid JSON schema: a schema must be an object or a boolean, not %s",
							jv_type_name(r.type))));
		root = scan_document(&c, s->source, uri ? uri : "", (int16) default_draft);
		s->root = node_for(&c, root);
		while (c.pending != NIL)
		{
			Loc		   *loc = llast(c.pending);

			c.pending = list_delete_last(c.pending);
			compile_node(&c, loc);
			summarise(loc->node);
		}
		if (c.accept_all)
		{
			JV			anything = {.type = JV_BOOL, .b = true};

			s->root = node_for(&c, new_loc(&anything, root->resource, root->draft, root->vocab, ""));
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();

	MemoryContextSwitchTo(old);
	return s;
}

/*
 * Runs whenever the schema's context goes, however it goes (freed from the
 * cache, with a call site's context, on an error while compiling):
 * PostgreSQL 15's regex engine allocates with malloc.
 */
static void
free_patterns(void *arg)
{
	JsSchema   *s = arg;
	ListCell   *lc;

	foreach(lc, s->patterns)
		pg_regfree(&((JsPattern *) lfirst(lc))->re);
	s->patterns = NIL;
}

void
jsonschema_free(JsSchema *s)
{
	MemoryContextDelete(s->cxt);
}
