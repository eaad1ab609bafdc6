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

/* The escape an unsupported property is named by, in out. */
static int
unknown_property(const char *ecma, const char *escape)
{
	char		out[512];
	bool		u;
	JsRegexResult r = jsonschema_regex_translate(ecma, strlen(ecma), out, sizeof(out), &u);

	if (r != JS_REGEX_UNKNOWN_PROPERTY || strcmp(out, escape) != 0)
	{
		printf("  %s -> result %d, %s, expected %s\n", ecma, (int) r,
			   r == JS_REGEX_UNKNOWN_PROPERTY ? out : "-", escape);
		return 0;
	}
	return 1;
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
	CHECK_EQ(result("[\\P{L}]"), JS_REGEX_UNKNOWN_PROPERTY);
	CHECK_EQ(result("\\p{Script=Greek}"), JS_REGEX_UNKNOWN_PROPERTY);
	CHECK(unknown_property("^\\p{Greek}+$", "\\p{Greek}"));
	CHECK(unknown_property("a[b\\P{Lu}]", "\\P{Lu}"));
	/* an unterminated escape is no property: PostgreSQL's engine judges it */
	CHECK_EQ(result("\\p{Greek"), JS_REGEX_UNSUPPORTED);
}

static void
test_white_space(void)
{
	CHECK(translates_to("a\\sb", "a[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]b", false));
	CHECK(translates_to("\\S", "[^\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]", false));
	CHECK_EQ(result("[\\S]"), JS_REGEX_UNSUPPORTED);
	/* the worst growth fits the bound callers size their buffers by */
	{
		char		out[2 * JS_REGEX_GROWTH + 1];
		bool		u;

		CHECK_EQ(jsonschema_regex_translate("\\S", 2, out, sizeof(out), &u), JS_REGEX_OK);
	}
}

static void
test_groups_and_classes(void)
{
	CHECK(translates_to("(a)(?<word>b+)\\k<word>", "(a)(b+)\\2", false));
	CHECK(translates_to("(?<=a)b(?<!c)", "(?<=a)b(?<!c)", false));
	CHECK(translates_to("a[]b", "a(?!)b", false));
	CHECK(translates_to("a[^]b", "a(?:.|\\n)b", false));
	CHECK(translates_to("[(]x", "[(]x", false));
	CHECK(translates_to("\\bcat\\B", "\\ycat\\Y", false));
	CHECK(translates_to("[\\b]", "[\\b]", false));	/* backspace in a class */
	CHECK(translates_to("^\\x41B", "^\\u0041B", false));
	CHECK(translates_to("^[a-c-z]+$", "^[a-c\\-z]+$", false));
	CHECK(translates_to("[-a-c-]", "[-a-c-]", false));
	CHECK(translates_to("[a-\\x7f-z]", "[a-\\u007f\\-z]", false));
	CHECK(translates_to("[ab-c]", "[ab-c]", false));
	CHECK(translates_to("[[:alpha:]]", "[\\[:alpha:]]", false));
	CHECK(translates_to("^a.c[.]$", "^a[^\\n\\r\\u2028\\u2029]c[.]$", false));
	CHECK_EQ(result("\\k<nope>"), JS_REGEX_UNSUPPORTED);
}

static void
test_not_ecma(void)
{
	CHECK_EQ(result("(?i)abc"), JS_REGEX_NOT_ECMA);
	CHECK_EQ(result("a(?#comment)b"), JS_REGEX_NOT_ECMA);
	CHECK_EQ(result("\\a"), JS_REGEX_NOT_ECMA);
	CHECK_EQ(result("\\Aabc\\Z"), JS_REGEX_NOT_ECMA);
	CHECK_EQ(result("\\mword\\M"), JS_REGEX_NOT_ECMA);
	CHECK_EQ(result("\\x4"), JS_REGEX_NOT_ECMA);
	CHECK_EQ(result("(?<1x>a)"), JS_REGEX_NOT_ECMA);
	/* a translation that does not fit is refused, not cut */
	{
		char		out[4];
		bool		u;

		CHECK_EQ(jsonschema_regex_translate("abcdef", 6, out, sizeof(out), &u), JS_REGEX_UNSUPPORTED);
	}
}

static int
simple(const char *pattern, const char *input)
{
	static JsSimplePattern p;

	if (!jsonschema_simple_compile(pattern, strlen(pattern), &p))
		return -1;
	return jsonschema_simple_match(&p, input, strlen(input)) ? 1 : 0;
}

static void
test_simple_patterns(void)
{
	/* the order schema's patterns */
	CHECK_EQ(simple("^[A-Z]{3}-[0-9]{6,10}$", "ABC-123456"), 1);
	CHECK_EQ(simple("^[A-Z]{3}-[0-9]{6,10}$", "ABC-12345"), 0);
	CHECK_EQ(simple("^[A-Z]{3}-[0-9]{6,10}$", "ABC-12345678901"), 0);
	CHECK_EQ(simple("^\\+[1-9][0-9]{7,14}$", "+4915112345678"), 1);
	CHECK_EQ(simple("^\\+[1-9][0-9]{7,14}$", "+0915112345678"), 0);
	CHECK_EQ(simple("^[A-Za-z0-9 -]{3,10}$", "SW1A 1AA"), 1);
	CHECK_EQ(simple("^[A-Za-z0-9 -]{3,10}$", "SW"), 0);
	CHECK_EQ(simple("^[A-Z]{2}$", "DE"), 1);
	CHECK_EQ(simple("^[A-Z]{2}$", "DEU"), 0);
	/* unanchored: a match anywhere */
	CHECK_EQ(simple("a+b", "xxaaab"), 1);
	CHECK_EQ(simple("a+b", "xxaaa"), 0);
	CHECK_EQ(simple("^a", "ba"), 0);
	CHECK_EQ(simple("a$", "ab"), 0);
	CHECK_EQ(simple("a$", "ba"), 1);
	CHECK_EQ(simple("", "anything"), 1);
	/* optional, repeated and lazy forms */
	CHECK_EQ(simple("^ab?c*d{0,2}e{2,}$", "aee"), 1);
	CHECK_EQ(simple("^ab?c*d{0,2}e{2,}$", "abcccddeee"), 1);
	CHECK_EQ(simple("^ab?c*d{0,2}e{2,}$", "abdddee"), 0);
	CHECK_EQ(simple("^a+?$", "aaa"), 1);
	CHECK_EQ(simple("^\\d\\w\\.$", "1_."), 1);
	CHECK_EQ(simple("^\\d\\w\\.$", "1_x"), 0);
	/* a non-ASCII character is one character, in no ASCII class */
	CHECK_EQ(simple("^[a-z]{2}$", "a\xc3\xa9"), 0);
	CHECK_EQ(simple("^x[a-z]?y", "x\xc3\xa9" "y"), 0);
	CHECK_EQ(simple("b", "\xc3\xa9" "b"), 1);
	/* more than 63 states: the multi-word simulation */
	{
		char		a70[71],
					a69[70];

		memset(a70, 'a', 70);
		a70[70] = '\0';
		memset(a69, 'a', 69);
		a69[69] = '\0';
		CHECK_EQ(simple("^a{70}$", a70), 1);
		CHECK_EQ(simple("^a{70}$", a69), 0);
		CHECK_EQ(simple("^x?a{30,80}b*$", a70), 1);
		CHECK_EQ(simple("a{70}", a69), 0);
	}
	/* not simple: left to the regex engine */
	CHECK_EQ(simple("^(ab)+$", "ab"), -1);
	CHECK_EQ(simple("a|b", "a"), -1);
	CHECK_EQ(simple("^.$", "a"), -1);
	CHECK_EQ(simple("[^a]", "b"), -1);
	CHECK_EQ(simple("\\s", " "), -1);
	CHECK_EQ(simple("a{2", "a"), -1);
	CHECK_EQ(simple("a**", "a"), -1);
	CHECK_EQ(simple("^a{1000}$", "a"), -1);
	CHECK_EQ(simple("[[:alpha:]]", "a"), -1);
	CHECK_EQ(simple("^[\\.-9]+$", "5"), -1);	/* a range from an escape */
	CHECK_EQ(simple("^[\\.-]+$", "-"), 1);	/* '-' last: a literal */
}

/*
 * The "regex" format's check: ECMA-262 with the u flag, cases that V8's
 * new RegExp(s, "u") judges the same way (the check was fuzzed against it:
 * 2 million random strings, no difference but property names).
 */
static void
test_ecma_syntax(void)
{
	static const char *const valid[] = {
		"([abc])+\\s+$",
		"(?<name>x)",
		"(?<n>a)\\k<n>",
		"(?<=a+)b",
		"(?<!a)b",
		"[]",
		"[^]",
		"\\cA",
		"^[A-Z]{3}-[0-9]{4}$",
		"a{2}",
		"a{2,}",
		"a{2,3}?",
		"a{0010,10}",
		"a*?b+?c??",
		"\\u0041\\u{1F600}\\x41",
		"\\uD83D\\uDE00",
		"[\\uD83D\\uDE00-\\uD83D\\uDE01]",
		"[a-z-]",
		"[--a]",
		"[a-b-c]",
		"[\\b\\-\\d]",
		"\\0",
		"[\\0]",
		"\\p{L}\\P{Lu}\\p{Script=Greek}\\p{sc=Latin}\\p{General_Category=Letter}",
		"\\\\\\/\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$",
		"/",
		"a|",
		"|",
		"()",
		"(a)\\1",
		"\\1(a)",
		"(?:a)+",
		"\xc3""\xa9""+",
		"[\\xc3\\xa9-\\xc3\\xbf]",
		"(?<$_a1>x)",
		"[[]",
		"$^",
	};
	static const char *const invalid[] = {
		"^(abc]",
		"\\a",
		"(?P<name>x)",
		"(?P<n>a)(?P=n)",
		"(?#comment)a",
		"(?i)abc",
		"(?ims)abc",
		"]",
		"{",
		"}",
		"a{",
		"a{1",
		"a{,2}",
		"a{2,1}",
		"a**",
		"*a",
		"+",
		"?",
		"^*",
		"\\b+",
		"(?=a)*",
		"(?<=a)?",
		"(",
		")",
		"(?",
		"(?<n>a)(?<n>b)",
		"\\k<n>",
		"(?<n>a)\\k<m>",
		"\\k",
		"\\1",
		"(a)\\2",
		"\\10",
		"(a)\\10",
		"[\\1]",
		"[\\B]",
		"[\\k]",
		"\\_",
		"\\-",
		"\\z",
		"\\c1",
		"\\c",
		"\\x4",
		"\\u004",
		"\\u{}",
		"\\u{110000}",
		"\\00",
		"[z-a]",
		"[\\d-z]",
		"[a-\\d]",
		"[\\p{L}-z]",
		"\\p{}",
		"\\p{L",
		"\\p{foo=bar}",
		"\\p",
		"[abc",
		"[]a]",
		"\\",
		"(?<1>x)",
		"(?<>x)",
		"(?<n",
		"a\\\\\\\\\\",
	};
	char		deep[200001];

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
	{
		if (jsonschema_regex_check(valid[i], strlen(valid[i])) != JS_REGEX_SYNTAX_OK)
			printf("  valid: %s\n", valid[i]);
		CHECK_EQ(jsonschema_regex_check(valid[i], strlen(valid[i])), JS_REGEX_SYNTAX_OK);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
	{
		if (jsonschema_regex_check(invalid[i], strlen(invalid[i])) != JS_REGEX_SYNTAX_INVALID)
			printf("  invalid: %s\n", invalid[i]);
		CHECK_EQ(jsonschema_regex_check(invalid[i], strlen(invalid[i])), JS_REGEX_SYNTAX_INVALID);
	}
	/* nesting costs no stack: 100,000 groups, open and closed */
	memset(deep, '(', 100000);
	memset(deep + 100000, ')', 100000);
	deep[200000] = '\0';
	CHECK_EQ(jsonschema_regex_check(deep, 200000), JS_REGEX_SYNTAX_OK);
	CHECK_EQ(jsonschema_regex_check(deep, 199999), JS_REGEX_SYNTAX_INVALID);
	/* a NUL is a character like any other (length, not terminator) */
	CHECK_EQ(jsonschema_regex_check("a\0b", 3), JS_REGEX_SYNTAX_OK);
}

int
main(void)
{
	RUN(test_unchanged);
	RUN(test_unicode_properties);
	RUN(test_white_space);
	RUN(test_groups_and_classes);
	RUN(test_not_ecma);
	RUN(test_simple_patterns);
	RUN(test_ecma_syntax);
	UNIT_DONE("test_jsonschema_regex");
}
