/*
 * compat.h
 *		Every difference between the PostgreSQL versions apikit supports.
 *
 * apikit targets PostgreSQL 15 and 18.  Code elsewhere calls the names
 * defined here and never tests PG_VERSION_NUM itself, so that adding or
 * dropping a major version touches this one file.
 */
#ifndef APIKIT_COMPAT_H
#define APIKIT_COMPAT_H

#include "catalog/pg_attribute.h"
#include "utils/wait_event.h"

#if PG_VERSION_NUM < 150000
#error "apikit requires PostgreSQL 15 or later"
#endif

/* PostgreSQL 16 declares _PG_init in fmgr.h; 15 leaves it to the module. */
#if PG_VERSION_NUM < 160000
extern PGDLLEXPORT void _PG_init(void);
#endif

/*
 * PostgreSQL 18 marks functions that do not return with pg_noreturn, placed
 * before the declaration; 15 has a GCC-style attribute that works there too.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * PostgreSQL 17 lets the caller supply the JSON lexer's context and takes
 * the text as const.
 */
#if PG_VERSION_NUM >= 170000
#define apikit_json_lexer(json, len) \
	makeJsonLexContextCstringLen(NULL, (json), (len), GetDatabaseEncoding(), false)
#else
#define apikit_json_lexer(json, len) \
	makeJsonLexContextCstringLen((char *) (json), (len), GetDatabaseEncoding(), false)
#endif

/*
 * PostgreSQL 16 renamed SetSingleFuncCall() to InitMaterializedSRF(); the
 * behaviour is the same.
 */
#if PG_VERSION_NUM < 160000
#define InitMaterializedSRF(fcinfo, flags) SetSingleFuncCall(fcinfo, flags)
#endif

/*
 * PostgreSQL 18 lets a module report its name and version in
 * pg_get_loaded_modules(); older versions only check the ABI.
 */
#if PG_VERSION_NUM >= 180000
#define APIKIT_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "apikit", .version = APIKIT_VERSION)
#else
#define APIKIT_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/*
 * Custom wait events get their own name in pg_stat_activity from
 * PostgreSQL 17 on; before that every extension shares "Extension".
 */
static inline uint32
apikit_wait_event(const char *name)
{
#if PG_VERSION_NUM >= 170000
	return WaitEventExtensionNew(name);
#else
	(void) name;
	return PG_WAIT_EXTENSION;
#endif
}

/*
 * PostgreSQL 18 has virtual generated columns, computed when read and never
 * stored: a trigger's tuple holds no value for them.
 */
#ifdef ATTRIBUTE_GENERATED_VIRTUAL
#define apikit_attr_is_virtual(att) ((att)->attgenerated == ATTRIBUTE_GENERATED_VIRTUAL)
#else
#define apikit_attr_is_virtual(att) false
#endif

/*
 * From PostgreSQL 17 an index may keep state between inserts (BRIN keeps a
 * pinned revmap buffer) until index_insert_cleanup(); the executor calls it
 * when it closes the indexes.  Code that inserts into indexes itself must
 * call it too, before the buffer pin outlives its resource owner.
 */
#if PG_VERSION_NUM >= 170000
#define apikit_index_insert_cleanup(index, ii) index_insert_cleanup(index, ii)
#else
#define apikit_index_insert_cleanup(index, ii) ((void) 0)
#endif

/*
 * The same state is allocated in the IndexInfo's context, which for a
 * cached IndexInfo lives as long as the backend: on 17 and later it goes
 * into the current (per-call) context instead, and a state left behind by
 * an error, whose buffer pins the abort released, is forgotten.  Before 17,
 * BRIN caches only its descriptor there, which is meant to last.
 */
#if PG_VERSION_NUM >= 170000
#define apikit_index_insert_begin(ii) \
	((ii)->ii_AmCache = NULL, (ii)->ii_Context = CurrentMemoryContext)
#else
#define apikit_index_insert_begin(ii) ((void) 0)
#endif

/*
 * PostgreSQL 16 keeps the settings in a hash table and builds the sorted
 * array on request, with its length; 15 keeps the array itself.
 */
struct config_generic;
#if PG_VERSION_NUM >= 160000
#define apikit_guc_variables(n) get_guc_variables(n)
#else
#define apikit_guc_variables(n) (*(n) = GetNumConfigOptions(), get_guc_variables())
#endif

#endif							/* APIKIT_COMPAT_H */
