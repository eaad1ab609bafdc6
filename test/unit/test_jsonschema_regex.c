/*
 * test_jsonschema_regex.c
 *		Unit tests for src/json/jsonschema_regex.c: the ECMA-262 forms that
 *		are rewritten for PostgreSQL's engine, and the ones refused.
 */
#include <string.h>

#include "jsonschema_regex.h"
#include "unit.h"

static int
translates_to(const char *ecma, const char *are, bool unicode)
{
	char		out[512];
	bool		u;
	JsRegexResult r = jsonschema_regex_translate(ecma, strlen(ecma), out, sizeof(out), &u);

	if (r != JS_REGEX_OK || strcmp(out, are) != 0 || u != unicode)
	{
		printf("  %s -> %s (result %d, unicode %d), expected %s\n", ecma,
			   r == JS_REGEX_OK ? out : "-", (int) r, (int) u, are);
		return 0;
	}
	return 1;
}

static JsRegexResult
result(const char *ecma)
{
	char		out[512];
	bool		u;

	return jsonschema_regex_translate(ecma, strlen(ecma), out, sizeof(out), &u);
}

static void
test_unchanged(void)
{
	CHECK(translates_to("^[a-z]+$", "^[a-z]+$", false));
	CHECK(translates_to("^\\d{3}-\\w*$", "^\\d{3}-\\w*$", false));
	CHECK(translates_to("a(?=b)(?!c)(?:d)", "a(?=b)(?!c)(?:d)", false));
	CHECK(translates_to("\\[\\p", "\\[\\p", false));	/* escapes stay whole */
}

static void
test_unicode_properties(void)
{
	CHECK(translates_to("^\\p{Letter}+$", "^[[:alpha:]]+$", true));
	CHECK(translates_to("\\P{L}", "[^[:alpha:]]", true));
	CHECK(translates_to("[\\p{Lu}\\d]", "[[:upper:]\\d]", true));
	CHECK_EQ(result("[\\P{L}]"), JS_REGEX_UNSUPPORTED);
	CHECK_EQ(result("\\p{Script=Greek}"), JS_REGEX_UNSUPPORTED);
}

static void
test_white_space(void)
{
	CHECK(translates_to("a\\sb", "a[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]b", false));
	CHECK(translates_to("\\S", "[^\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]", false));
	CHECK_EQ(result("[\\S]"), JS_REGEX_UNSUPPORTED);
}

static void
test_groups_and_classes(void)
{
	CHECK(translates_to("(a)(?<word>b+)\\k<word>", "(a)(b+)\\2", false));
	CHECK(translates_to("(?<=a)b(?<!c)", "(?<=a)b(?<!c)", false));
	CHECK(translates_to("a[]b", "a(?!)b", false));
	CHECK(translates_to("a[^]b", "a(?:.|\\n)b", false));
	CHECK(translates_to("[(]x", "[(]x", false));
	CHECK_EQ(result("\\k<nope>"), JS_REGEX_UNSUPPORTED);
}

static void
test_not_ecma(void)
{
	CHECK_EQ(result("(?i)abc"), JS_REGEX_NOT_ECMA);
	CHECK_EQ(result("a(?#comment)b"), JS_REGEX_NOT_ECMA);
	CHECK_EQ(result("\\a"), JS_REGEX_NOT_ECMA);
	CHECK_EQ(result("(?<1x>a)"), JS_REGEX_NOT_ECMA);
	/* a translation that does not fit is refused, not cut */
	{
		char		out[4];
		bool		u;

		CHECK_EQ(jsonschema_regex_translate("abcdef", 6, out, sizeof(out), &u), JS_REGEX_UNSUPPORTED);
	}
}

int
main(void)
{
	RUN(test_unchanged);
	RUN(test_unicode_properties);
	RUN(test_white_space);
	RUN(test_groups_and_classes);
	RUN(test_not_ecma);
	UNIT_DONE("test_jsonschema_regex");
}
