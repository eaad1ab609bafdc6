/*
 * test_jsonschema_uri.c
 *		Unit tests for src/json/jsonschema_uri.c: RFC 3986 section 5.4's
 *		examples, the forms JSON Schema's "$id" and "$ref" take (URNs,
 *		anonymous roots, empty fragments), and JSON Pointer tokens.
 */
#include <string.h>

#include "jsonschema_uri.h"
#include "unit.h"

static int
resolves_to(const char *base, const char *ref, const char *expected)
{
	char		out[512];

	if (!jsonschema_uri_resolve(base, ref, strlen(ref), out, sizeof(out)))
	{
		printf("  resolve(%s, %s) failed\n", base, ref);
		return 0;
	}
	if (strcmp(out, expected) != 0)
	{
		printf("  resolve(%s, %s) = %s, expected %s\n", base, ref, out, expected);
		return 0;
	}
	return 1;
}

/* RFC 3986 5.4.1 and 5.4.2, base "http://a/b/c/d;p?q". */
static void
test_rfc3986_examples(void)
{
	static const char *const cases[][2] = {
		{"g:h", "g:h"}, {"g", "http://a/b/c/g"}, {"./g", "http://a/b/c/g"},
		{"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"}, {"//g", "http://g"},
		{"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"},
		{"#s", "http://a/b/c/d;p?q#s"}, {"g#s", "http://a/b/c/g#s"},
		{"g?y#s", "http://a/b/c/g?y#s"}, {";x", "http://a/b/c/;x"},
		{"g;x", "http://a/b/c/g;x"}, {"", "http://a/b/c/d;p?q"},
		{".", "http://a/b/c/"}, {"./", "http://a/b/c/"}, {"..", "http://a/b/"},
		{"../", "http://a/b/"}, {"../g", "http://a/b/g"}, {"../..", "http://a/"},
		{"../../", "http://a/"}, {"../../g", "http://a/g"},
		{"../../../g", "http://a/g"}, {"../../../../g", "http://a/g"},
		{"/./g", "http://a/g"}, {"/../g", "http://a/g"}, {"g.", "http://a/b/c/g."},
		{".g", "http://a/b/c/.g"}, {"g..", "http://a/b/c/g.."}, {"..g", "http://a/b/c/..g"},
		{"./../g", "http://a/b/g"}, {"./g/.", "http://a/b/c/g/"},
		{"g/./h", "http://a/b/c/g/h"}, {"g/../h", "http://a/b/c/h"},
		{"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
		{"g?y/./x", "http://a/b/c/g?y/./x"}, {"g#s/../x", "http://a/b/c/g#s/../x"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(resolves_to("http://a/b/c/d;p?q", cases[i][0], cases[i][1]));
}

static void
test_json_schema_forms(void)
{
	/* an empty fragment names the resource itself */
	CHECK(resolves_to("", "http://localhost:1234/tree#", "http://localhost:1234/tree"));
	CHECK(resolves_to("http://x/root.json", "#", "http://x/root.json"));
	/* a pointer fragment is kept as written */
	CHECK(resolves_to("http://x/root.json", "#/$defs/a%25b", "http://x/root.json#/$defs/a%25b"));
	/* URNs: fragments and whole replacements */
	CHECK(resolves_to("urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed", "#/$defs/bar",
					  "urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed#/$defs/bar"));
	CHECK(resolves_to("urn:example:root", "urn:example:other#foo", "urn:example:other#foo"));
	/* an anonymous root: relative identifiers stay relative and comparable */
	CHECK(resolves_to("", "#/definitions/a", "#/definitions/a"));
	CHECK(resolves_to("", "folder/", "folder/"));
	CHECK(resolves_to("folder/", "foo.json", "folder/foo.json"));
	/* base change through a folder, as in the suite's remotes */
	CHECK(resolves_to("http://localhost:1234/draft2020-12/", "baseUriChange/",
					  "http://localhost:1234/draft2020-12/baseUriChange/"));
	CHECK(resolves_to("http://localhost:1234/draft2020-12/baseUriChange/", "folderInteger.json",
					  "http://localhost:1234/draft2020-12/baseUriChange/folderInteger.json"));
	/* authority with an empty path merges under "/" */
	CHECK(resolves_to("http://example.com", "a.json", "http://example.com/a.json"));
	/* a result that does not fit is refused, not truncated */
	{
		char		small[8];

		CHECK(!jsonschema_uri_resolve("http://example.com/", "abc", 3, small, sizeof(small)));
	}
}

static void
test_pointer_tokens(void)
{
	char		out[64];
	size_t		n;
	size_t		pos = 0;

	CHECK(jsonschema_pointer_unescape("a~1b~0c", 7, out, &n));
	CHECK_EQ(n, 5);
	CHECK(memcmp(out, "a/b~c", 5) == 0);
	CHECK(!jsonschema_pointer_unescape("a~2", 3, out, &n));
	CHECK(!jsonschema_pointer_unescape("a~", 2, out, &n));

	CHECK(jsonschema_uri_percent_decode("a%25b%22", 8, out, &n));
	CHECK(strcmp(out, "a%b\"") == 0);
	CHECK(!jsonschema_uri_percent_decode("a%2", 3, out, &n));
	CHECK(!jsonschema_uri_percent_decode("%zz", 3, out, &n));

	out[0] = '\0';
	CHECK_EQ(jsonschema_pointer_append(out, sizeof(out), &pos, "a/b", 3), 5);
	CHECK_EQ(jsonschema_pointer_append(out, sizeof(out), &pos, "~", 1), 3);
	CHECK(strcmp(out, "/a~1b/~0") == 0);
	/* too long: the size is reported, nothing is written */
	pos = 0;
	out[0] = '\0';
	CHECK_EQ(jsonschema_pointer_append(out, 4, &pos, "abcdef", 6), 7);
	CHECK_EQ(pos, 0);
}

static int
absolute(const char *uri)
{
	return jsonschema_uri_is_absolute(uri, strlen(uri));
}

static void
test_absolute(void)
{
	CHECK(absolute("https://example.com/schemas/order"));
	CHECK(absolute("urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"));
	CHECK(absolute("tag:example.com,2026:order"));
	CHECK(absolute("https://example.com/s?v=2"));
	CHECK(!absolute("schemas/order"));
	CHECK(!absolute("/schemas/order"));
	CHECK(!absolute("//example.com/order"));
	CHECK(!absolute("order"));
	CHECK(!absolute(""));
	CHECK(!absolute("1http://example.com/"));	/* a scheme starts with a letter */
	CHECK(!absolute("https://example.com/s#frag"));
	CHECK(!absolute("https://example.com/s#"));
	CHECK(!absolute("https://example.com/a b"));
	CHECK(!absolute(" https://example.com/"));
}

int
main(void)
{
	RUN(test_rfc3986_examples);
	RUN(test_json_schema_forms);
	RUN(test_pointer_tokens);
	RUN(test_absolute);
	UNIT_DONE("test_jsonschema_uri");
}
