/*
 * jsonschema_metadata.h
 *		The built-in meta-schemas, as JSON text under their URIs
 *		(src/json/jsonschema_metadata.c is generated at build time).
 */
#ifndef APIKIT_JSONSCHEMA_METADATA_H
#define APIKIT_JSONSCHEMA_METADATA_H

typedef struct JsBuiltinDoc
{
	const char *uri;
	const char *json;
} JsBuiltinDoc;

/* Ends with an entry whose uri is NULL. */
extern const JsBuiltinDoc jsonschema_builtin_docs[];

#endif							/* APIKIT_JSONSCHEMA_METADATA_H */
