/*
 * test_jsonschema_format.c
 *		Unit tests for the JSON Schema format checkers
 *		(src/json/jsonschema_format.c).
 *
 * One table per format, valid and invalid strings side by side.  Each case
 * is there because a plausible implementation gets it wrong: a regular
 * expression that forgets the day of the month, a leap second checked
 * without its offset, "::" counted as no group at all, a Punycode decoder
 * that accepts non-canonical input, and so on.  Most come from the official
 * JSON-Schema-Test-Suite; the lengths are explicit, so strings with an
 * embedded NUL are checked whole.
 */
#include <string.h>

#include "jsonschema_format.h"
#include "unit.h"

typedef struct Case
{
	const char *text;
	size_t		len;
	bool		valid;
} Case;

#define T(s)	{s, sizeof(s) - 1, true}
#define F(s)	{s, sizeof(s) - 1, false}
#define NCASES(a) ((int) (sizeof(a) / sizeof(a[0])))

/* Print a case readably: the non-printable bytes as \xNN. */
static void
print_case(JsonSchemaFormat f, const Case *c, bool got)
{
	printf("  %s \"", jsonschema_format_name(f));
	for (size_t i = 0; i < c->len; i++)
	{
		unsigned char b = (unsigned char) c->text[i];

		if (b >= 0x20 && b < 0x7F && b != '\\')
			putchar(b);
		else
			printf("\\x%02x", b);
	}
	printf("\": got %s, expected %s\n", got ? "valid" : "invalid",
		   c->valid ? "valid" : "invalid");
}

static void
run_cases(JsonSchemaFormat f, const Case *cases, int n)
{
	for (int i = 0; i < n; i++)
	{
		bool		got = jsonschema_format_check(f, cases[i].text, cases[i].len);

		if (got != cases[i].valid)
			print_case(f, &cases[i], got);
		CHECK_EQ(got, cases[i].valid);
	}
}

#define RUN_CASES(f, cases) run_cases(f, cases, NCASES(cases))

static void
test_lookup(void)
{
	static const char *const names[] = {
		"date-time", "date", "time", "duration", "email", "idn-email",
		"hostname", "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference",
		"iri", "iri-reference", "uri-template", "uuid", "json-pointer",
		"relative-json-pointer", "regex",
	};

	for (int i = 0; i < NCASES(names); i++)
	{
		JsonSchemaFormat f = jsonschema_format_lookup(names[i], strlen(names[i]));

		CHECK_EQ(f, i);
		CHECK(strcmp(jsonschema_format_name(f), names[i]) == 0);
	}
	/* the name is length-delimited: a prefix is another name, or none */
	CHECK_EQ(jsonschema_format_lookup("date-time", 4), JSF_DATE);
	CHECK_EQ(jsonschema_format_lookup("uri-reference", 3), JSF_URI);
	CHECK_EQ(jsonschema_format_lookup("ipv4", 3), JSF_UNKNOWN);
	CHECK_EQ(jsonschema_format_lookup("date\0", 5), JSF_UNKNOWN);
	CHECK_EQ(jsonschema_format_lookup("", 0), JSF_UNKNOWN);
	CHECK_EQ(jsonschema_format_lookup("Date", 4), JSF_UNKNOWN);
	CHECK_EQ(jsonschema_format_lookup("ecmascript-regex", 16), JSF_UNKNOWN);
	CHECK(strcmp(jsonschema_format_name(JSF_UNKNOWN), "unknown") == 0);
	/* unknown formats and regex (checked by the caller) always pass */
	CHECK(jsonschema_format_check(JSF_UNKNOWN, "\xff", 1));
	CHECK(jsonschema_format_check(JSF_REGEX, "^(abc]", 6));
}

static void
test_date_time(void)
{
	static const Case cases[] = {
		T("1963-06-19T08:30:06.283185Z"),
		T("1963-06-19t08:30:06z"),	/* RFC 3339 allows lower case */
		T("1937-01-01T12:00:27.87+00:20"),
		T("1985-04-12T00:59:59.999999999999999Z"),	/* any fraction length */
		T("1998-12-31T23:59:60Z"),
		T("1998-12-31T15:59:60.123-08:00"), /* 23:59:60 in UTC */
		F("1998-12-31T23:59:60+01:00"), /* 22:59:60 in UTC */
		F("1998-12-31T23:58:60Z"),
		F("1998-12-31T23:59:61Z"),
		F("1990-02-31T15:59:59.123-08:00"), /* no 31 February */
		F("1963-06-19 08:30:06Z"),	/* a space is ISO 8601, not RFC 3339 */
		F("1985-04-12T23:20:50+01"),	/* offset without minutes */
		F("1963-06-19T08:30:06.28123+01:00Z"),
		F("1963-06-19T08:30:06.Z"), /* empty fraction */
		F("1963-06-19T08:30:06"),	/* no offset */
		F("1990-12-31T15:59:59-24:00"),
		F("2016-12-31T24:59:60+01:00"),
		F("1985-04-12T23:20:50Z\n"),
		F("1963-06-1\xe0\xa7\xaaT00:00:00Z"),	/* a Bengali 4 */
		F("2013-350T01:01:01"),
	};

	RUN_CASES(JSF_DATE_TIME, cases);
}

static void
test_date(void)
{
	static const Case cases[] = {
		T("2020-02-29"),
		T("2000-02-29"),		/* divisible by 400 */
		T("0400-02-29"),
		T("0001-01-01"),
		T("2020-12-31"),
		F("2021-02-29"),
		F("2100-02-29"),		/* divisible by 100 only */
		F("2020-04-31"),
		F("2020-01-32"),
		F("2020-13-01"),
		F("2020-00-10"),
		F("2020-01-00"),
		F("2020-01-0:"),		/* ':' is the byte after '9' */
		F("20230328"),
		F("+2020-01-01"),
		F("12020-01-01"),
		F("2020-01-01\0"),		/* NUL after a valid date */
		F("2020-0\xe0\xa7\xaa-01"),
		F(""),
	};

	RUN_CASES(JSF_DATE, cases);
}

static void
test_time(void)
{
	static const Case cases[] = {
		T("08:30:06Z"),
		T("23:20:50.52Z"),
		T("12:34:56-00:00"),
		T("23:59:60Z"),
		T("23:59:60+00:00"),
		T("01:29:60+01:30"),	/* 23:59 the day before in UTC */
		T("00:29:60-23:30"),
		T("15:59:60-08:00"),
		F("22:59:60Z"),
		F("23:59:60+01:00"),
		F("23:59:60-00:30"),
		F("24:00:00Z"),
		F("00:60:00Z"),
		F("00:00:61Z"),
		F("01:02:03+24:00"),
		F("01:02:03+00:60"),
		F("12:00:00"),			/* the offset is mandatory */
		F("12:00:00.52"),
		F("08:30:06-8:000"),
		F("01:01:01,1111"),
		F("8:3:6Z"),
		F("1\xe0\xa7\xa8:00:00Z"),	/* a Bengali 2 */
	};

	RUN_CASES(JSF_TIME, cases);
}

static void
test_duration(void)
{
	static const Case cases[] = {
		T("P4DT12H30M5S"),
		T("P4Y"),
		T("P1M"),				/* month */
		T("PT1M"),				/* minute */
		T("PT36H"),
		T("P2W"),
		T("P1Y2M"),
		T("P1M2D"),
		T("PT1M2S"),
		T("P01D"),
		T("P99999999999999999999999999999D"),	/* no overflow to care about */
		F("P"),
		F("PT"),
		F("P1YT"),				/* "T" needs a time element */
		F("P1Y2D"),				/* a year, then a day without months */
		F("PT1H2S"),
		F("P2D1Y"),
		F("P1D2H"),				/* no "T" */
		F("PT1D"),
		F("P2S"),
		F("P1Y2W"),				/* weeks stand alone */
		F("P1WT1H"),
		F("PT0.5S"),
		F("P1"),
		F("-P1D"),
		F("P1D\n"),
		F("P\xe0\xa7\xa8Y"),
	};

	RUN_CASES(JSF_DURATION, cases);
}

static void
test_email(void)
{
	static const Case cases[] = {
		T("joe.bloggs@example.com"),
		T("te~st@example.com"),
		T("a@b"),
		T("\"joe bloggs\"@example.com"),
		T("\"joe..bloggs\"@example.com"),
		T("\"joe@bloggs\"@example.com"),	/* the first "@" is quoted */
		T("\"a\\\"b\"@example.com"),	/* a quoted-pair */
		T("\"\"@example.com"),
		T("joe.bloggs@[127.0.0.1]"),
		T("joe.bloggs@[IPv6:::1]"),
		T("joe.bloggs@[ipv6:2001:db8::1]"),
		T("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com"),
		F("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com"),
		F("2962"),
		F(".test@example.com"),
		F("test.@example.com"),
		F("te..st@example.com"),
		F("joe bloggs@example.com"),
		F("\"unterminated@example.com"),
		F("\"a\\\x01\"@example.com"),	/* a quoted-pair of a control */
		F("joe.bloggs@invalid=domain.com"),
		F("joe.bloggs@[127.0.0.300]"),
		F("joe.bloggs@[::1]"),	/* IPv6 needs its tag */
		F("joe.bloggs@[127.0.0.1"),
		F("joe.bloggs@example.com."),
		F("@example.com"),
		F("joe.bloggs@"),
		F("user1@oceania.org, user2@oceania.org"),
		F(u8"\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@example.com"), /* idn-email only */
	};

	RUN_CASES(JSF_EMAIL, cases);
}

static void
test_idn_email(void)
{
	static const Case cases[] = {
		T(u8"\uc2e4\ub840@\uc2e4\ub840.\ud14c\uc2a4\ud2b8"),
		T(u8"\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@example.com"),
		T(u8"\"\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae\"@example.com"),
		T(u8"user@cafe\u0301.com"),	/* not NFC, still valid */
		T("\xc2\x85@example.com"),	/* U+0085, a C1 control */
		T("joe.bloggs@example.com"),
		F(u8"user\uff20example.com"),	/* a fullwidth "@" is not "@" */
		F("\xc3@example.com"),	/* truncated UTF-8 */
		F("\xc0\xae@example.com"),	/* overlong "." */
		F("2962"),
	};

	RUN_CASES(JSF_IDN_EMAIL, cases);
}

static void
test_hostname(void)
{
	static const Case cases[] = {
		T("www.example.com"),
		T("WWW.EXAMPLE.COM"),
		T("1host"),
		T("a--b.com"),
		T("db--primary.example"),	/* reserved by RFC 5890, valid by RFC 1123 */
		T("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk.com"),
		/* 253 octets */
		T("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		F("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		F("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl.com"),
		F(""),
		F("."),
		F("example."),
		F(".example"),
		F("a..b"),
		F("-hostname"),
		F("hostname-"),
		F("host_name"),
		F("example.com\n"),
		F("exa\0mple.com"),
		F(u8"\u212aelvin.example.com"),
		F(u8"\u00e9t\u00e9.fr"),	/* a U-label: idn-hostname only */
		F("\xe9t\xe9.fr"),		/* Latin-1 */
		F(u8"example\uff0ecom"),	/* only "." separates plain labels */
		/* A-labels: the Punycode must decode to a valid U-label */
		T("xn--9n2bp8q.xn--9t4b11yi5a"),
		T("XN--9N2BP8Q.xn--9t4b11yi5a"),
		T("xn--ll-0ea"),		/* l·l */
		T("xn--ihqwcrb4cv8a8dqg056pqjye"),
		F("xn--X"),
		F("xn--"),
		F("xn--example-"),		/* decodes to ASCII only */
		F("xn---9uc"),			/* not how U+0CF1 encodes */
		F("XN--aa---o47jg78q"), /* "--" in the 3rd and 4th positions */
		F("xn--al-0ea"),		/* a·l */
		F("xn--hello-zed"),		/* begins with a combining mark */
		F("xn--07jt112bpxg.xn--9t4b11yi5a"),	/* U+302E is DISALLOWED */
		F("xn--ngb6iyr"),		/* mixed Arabic-Indic digits */
		F("xn--0ca24w"),		/* fails the Bidi rule */
		F("xn--7a"),			/* decodes to U+0080 */
	};

	RUN_CASES(JSF_HOSTNAME, cases);
}

/* ten ü: 20 octets of UTF-8, 10 code points */
#define U10 u8"\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc"

static void
test_idn_hostname(void)
{
	static const Case cases[] = {
		T(u8"\uc2e4\ub840.\ud14c\uc2a4\ud2b8"),
		T("hostname"),
		T("db--primary.example"),
		T("xn--ihqwcrb4cv8a8dqg056pqjye"),
		T(u8"a\u3002b"),		/* the other full stops separate labels */
		T(u8"a\uff0eb"),
		T(u8"a\uff61b"),
		F(u8"example\u3002"),
		F(u8"\u3002"),
		F(u8"\u302e\uc2e4\ub840.\ud14c\uc2a4\ud2b8"),
		/* exceptions: PVALID and DISALLOWED whatever their category */
		T(u8"\u00df\u03c2\u0f0b\u3007"),
		F(u8"\u0640\u07fa"),
		F(u8"\u00c4"),			/* capitals other than ASCII fold */
		F(u8"a\u200bb"),		/* ZERO WIDTH SPACE is default-ignorable */
		F(u8"\u0300hello"),		/* combining mark first */
		F("-hello"),
		/* CONTEXTO */
		T(u8"l\u00b7l"),
		F(u8"a\u00b7l"),
		F(u8"l\u00b7"),
		T(u8"\u03b1\u0375\u03b2"),
		F(u8"\u03b1\u0375S"),
		T(u8"\u05d0\u05f3\u05d1"),
		F(u8"\u05f3\u05d1"),
		T(u8"\u30fb\u3041"),
		T(u8"\u30fb\u4e08"),
		F(u8"\u30fb"),
		F(u8"def\u30fbabc"),
		T(u8"\u0628\u0660\u0628"),
		F(u8"\u0628\u0660\u06f0"),
		/* CONTEXTJ */
		T(u8"\u0915\u094d\u200d\u0937"),	/* ZWJ after a virama */
		F(u8"\u0915\u200d\u0937"),
		T(u8"\u0915\u094d\u200c\u0937"),	/* ZWNJ after a virama */
		T(u8"\u0628\u064a\u200c\u0628\u064a"),	/* ZWNJ between joiners */
		F(u8"\u0915\u094d\u200c\u0937x\u200cy"),	/* checked at every one */
		/* the Bidi rule, for every label of a name with an RTL label */
		T(u8"a.\u05d0"),
		F(u8"0a.\u05d0"),		/* a digit first */
		F(u8"0\u0627"),
		F(u8"a\u05d0"),			/* RTL in an LTR label */
		F(u8"\u05d00\u0660"),	/* both kinds of digits */
		T(u8"\u06f00"),			/* no RTL label: no Bidi rule */
		/* lengths count the A-label form, "xn--tda" and an "a" per further ü */
		T(U10 U10 U10 U10 U10 u8"\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc"),
		F(U10 U10 U10 U10 U10 u8"\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc"),
		T(U10 U10 U10 U10 U10 u8"\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc.com"),
		/* malformed UTF-8 */
		F("\xff"),
		F("\xc0\xae"),
		F("\xed\xa0\x80"),		/* a surrogate */
		F("\xe4\xb8"),
	};

	RUN_CASES(JSF_IDN_HOSTNAME, cases);
}

static void
test_ipv4(void)
{
	static const Case cases[] = {
		T("192.168.0.1"),
		T("0.0.0.0"),
		T("255.255.255.255"),
		F("256.256.256.256"),
		F("192.168.0.256"),
		F("192.168.0.01"),		/* inet_aton would read octal */
		F("1234.1.1.1"),
		F("127.0.1"),
		F("127.0.0.0.1"),
		F("2130706433"),
		F("0x7f.0.0.1"),
		F("192.168.0.1."),
		F("192.168.0.1\0.evil.com"),
		F("192.168.0.1/24"),
		F("1\xe0\xa7\xa8" "7.0.0.1"),
		F(""),
	};

	RUN_CASES(JSF_IPV4, cases);
}

static void
test_ipv6(void)
{
	static const Case cases[] = {
		T("::"),
		T("::1"),
		T("d6::"),
		T("1:d6::42"),
		T("1:2:3:4:5:6:7:8"),
		T("1:2:3:4:5:6:7::"),	/* "::" for a single group */
		T("::2:3:4:5:6:7:8"),
		T("::ffff:192.168.0.1"),
		T("1:2:3:4:5:6:255.255.255.255"),
		T("ABCD:ef01::"),
		F("1:2:3:4:5:6:7:8::"), /* nine groups */
		F("::1:2:3:4:5:6:7:8"),
		F("1:2:3:4:5:6:7:1.2.3.4"),
		F("1:2:3:4:5:6:7"),
		F("1::d6::42"),
		F("1:2:3:4:5:::8"),
		F(":2:3:4:5:6:7:8"),
		F("1:2:3:4:5:6:7:"),
		F("12345::"),
		F("::laptop"),
		F("1.2.3.4::"),			/* the dotted quad comes last */
		F("::ffff:192.168.0.01"),
		F("1:2:3:4:1.2.3"),
		F("fe80::a%eth1"),
		F("fe80::/64"),
		F("[::1]"),
		F(""),
	};

	RUN_CASES(JSF_IPV6, cases);
}

static void
test_uri(void)
{
	static const Case cases[] = {
		T("http://foo.bar/?baz=qux#quux"),
		T("http://foo.com/blah_(wikipedia)_blah#cite-1"),
		T("http://-.~_!$&'()*+,;=:%40:80%2f::::::@example.com"),
		T("ldap://[2001:db8::7]/c=GB?objectClass?one"),
		T("http://[v1.fe]/"),
		T("http://[V1.fe:x]/"),
		F("http://[v1.]/"),
		F("http://[v.fe]/"),
		T("http://999.999.999.999/"),	/* a reg-name */
		T("urn:oasis:names:specification:docbook:dtd:xml:4.1.2"),
		T("file:///etc/hosts"),
		T("http://"),
		F("//foo.bar/"),		/* relative */
		F("abc"),
		F("1http://example.com"),
		F("bar,baz:foo"),
		F("http:// shouldfail.com"),
		F("http://example.com:abc/"),
		F("http://a@b@example.com/"),
		F("https://[@example.org/"),
		F("http://[::ffff:01.2.3.4]"),
		F("http://[1.2.3.4]/"),
		F("http://example.com/%6G"),
		F("http://example.com/%A"),
		F("http:/[::1]"),		/* brackets only in a host */
		F("https://example.org/foobar\\.txt"),
		F("https://example.org/foo{}.txt"),
		F("https://example.org/foobar\xc2\xae.txt"),	/* iri only */
	};
	static const Case refs[] = {
		T(""),
		T("#fragment"),
		T("?query=1"),
		T("//"),
		T("/abc"),
		T("./this:that"),
		T("//foo.bar/?baz=qux#quux"),
		F("1:b"),				/* would read as a scheme */
		F("\\\\WINDOWS\\fileshare"),
		F("#frag\\ment"),
		F("/[::1]"),
		F("//[::ffff:192.168.0.01]/p"),
		F("/foobar\xc2\xae.txt"),
	};

	RUN_CASES(JSF_URI, cases);
	RUN_CASES(JSF_URI_REFERENCE, refs);
}

static void
test_iri(void)
{
	static const Case cases[] = {
		T(u8"http://\u0192\u00f8\u00f8.\u00df\u00e5r/?\u2202\u00e9\u0153=\u03c0\u00eex#\u03c0\u00ee\u00fcx"),
		T("https://example.org/foobar\xc2\xae.txt"),
		T("http://[2001:db8::1]"),
		T(u8"http://example.org/\U00010300"),
		T(u8"http://example.org/?q=\U000f0000"),	/* iprivate in a query */
		F(u8"http://example.org/\U000f0000"),	/* but not in a path */
		F(u8"http://example.org/#\ue000"),	/* nor a fragment */
		F("http://example.org/\xc2\x85"),	/* a C1 control is not ucschar */
		F("http://example.org/\xef\xbf\xbe"),	/* nor a noncharacter */
		F("http://example.org/\xe2\x82"),	/* truncated UTF-8 */
		F("http://2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
		F(u8"\u00e2\u03c0\u03c0"),
	};
	static const Case refs[] = {
		T(u8"\u00e2\u03c0\u03c0"),
		T(u8"//\u0192\u00f8\u00f8.\u00df\u00e5r/"),
		F(u8"#\u0192r\u00e4g\\m\u00eant"),
	};

	RUN_CASES(JSF_IRI, cases);
	RUN_CASES(JSF_IRI_REFERENCE, refs);
}

static void
test_uri_template(void)
{
	static const Case cases[] = {
		T(""),
		T("http://example.com/dictionary/{term:1}/{term}"),
		T("{+var}{#var}{.var}{/var}{;var}{?var}{&var}"),
		T("{var*}"),
		T("{x,y:3,z*}"),
		T("{a.b}"),
		T("{%41}"),
		T("{v:9999}"),
		T("a%41b"),
		T("a'b"),
		T(u8"a\U0001f600b"),
		F("{}"),
		F("{term"),
		F("foo}bar"),
		F("{a,,b}"),
		F("{a,}"),
		F("{a..b}"),
		F("{a.}"),
		F("{v:0}"),
		F("{v:01}"),
		F("{v:10000}"),
		F("{var:1*}"),			/* a prefix or an explode, not both */
		F("{var=def}"),
		F("{=var}"),			/* a reserved operator */
		F("{,+var}"),
		F("{%4}"),
		F("a b"),
		F("a\x7f" "b"),
		F("a%zzb"),
	};

	RUN_CASES(JSF_URI_TEMPLATE, cases);
}

static void
test_uuid(void)
{
	static const Case cases[] = {
		T("2eb8aa08-aa98-11ea-b4aa-73b441d16380"),
		T("2EB8AA08-AA98-11EA-B4AA-73B441D16380"),
		T("00000000-0000-0000-0000-000000000000"),
		T("99c17cbb-656f-f64a-940f-1a4568f03487"),	/* any version */
		F("2eb8aa08-aa98-11ea-b4aa-73b441d1638"),
		F("2eb8aa08-aa98-11ea-b4aa-73b441d16380-"),
		F("2eb8aa08-aa98-11ea-b4aa-73b441d163800"),
		F("2eb8aa0-8aa98-11e-ab4aa7-3b441d16380"),
		F("2eb8aa08aa9811eab4aa73b441d16380----"),
		F("2eb8aa08-aa98-11ea-b4ga-73b441d16380"),
		F("{2eb8aa08-aa98-11ea-b4aa-73b441d16380}"),
	};

	RUN_CASES(JSF_UUID, cases);
}

static void
test_json_pointer(void)
{
	static const Case cases[] = {
		T(""),
		T("/"),
		T("/foo//bar/"),
		T("/a~1b/m~0n"),
		T("/~1.1"),
		T("/c%d/e^f/ /i\\j"),
		T("/foo\0bar"),			/* any character at all */
		T(u8"/foo/\U0001f60e"),
		F("a"),
		F("#/a"),
		F("/foo/bar~"),
		F("/~2"),
		F("/~-1"),
		F("/~~"),
		F("/~0~"),
		/* but it must be UTF-8 */
		F("/\xe0\x80\xaf"),		/* an overlong "/" */
		F("/\xed\xa0\x80"),		/* a surrogate */
		F("/\xf4\x90\x80\x80"),	/* past U+10FFFF */
		F("/\x80"),
	};
	static const Case relative[] = {
		T("0"),
		T("1"),
		T("120/foo/bar"),
		T("0#"),
		T("0//"),
		T("1+2/foo"),			/* index manipulation (2020-12) */
		T("0-1#"),
		F(""),
		F("/foo"),
		F("-1/foo"),
		F("+1/foo"),
		F("01/a"),
		F("01#"),
		F("0##"),
		F("1#/foo"),
		F("0/~2"),
		F("1+"),
		F("1+01"),
		F("1\n"),
		F("\xd9\xa1/foo"),		/* an Arabic-Indic 1 */
	};

	RUN_CASES(JSF_JSON_POINTER, cases);
	RUN_CASES(JSF_RELATIVE_JSON_POINTER, relative);
}

/* Checkers read exactly len bytes: what follows must make no difference. */
static void
test_length_delimited(void)
{
	CHECK(jsonschema_format_check(JSF_DATE, "2020-01-01X", 10));
	CHECK(jsonschema_format_check(JSF_IPV4, "1.2.3.45", 7));
	CHECK(!jsonschema_format_check(JSF_IPV4, "1.2.3.4", 6));
	CHECK(jsonschema_format_check(JSF_HOSTNAME, "example.com.", 11));
	CHECK(!jsonschema_format_check(JSF_UUID, "2eb8aa08-aa98-11ea-b4aa-73b441d16380", 35));
	CHECK(!jsonschema_format_check(JSF_TIME, "12:00:00Z", 8));
	CHECK(!jsonschema_format_check(JSF_EMAIL, "\"ab\"@x", 3));
	CHECK(!jsonschema_format_check(JSF_IDN_HOSTNAME, "\xc3\xbc", 1));
	CHECK(!jsonschema_format_check(JSF_URI_TEMPLATE, "{a}", 2));
	CHECK(!jsonschema_format_check(JSF_URI, "http://x/%41", 11));
	CHECK(!jsonschema_format_check(JSF_JSON_POINTER, "/~0", 2));
	for (int f = JSF_DATE_TIME; f <= JSF_RELATIVE_JSON_POINTER; f++)
	{
		bool		empty_ok = (f == JSF_URI_REFERENCE || f == JSF_IRI_REFERENCE ||
								f == JSF_URI_TEMPLATE || f == JSF_JSON_POINTER);

		CHECK_EQ(jsonschema_format_check((JsonSchemaFormat) f, "", 0), empty_ok);
	}
}

static void
test_base64(void)
{
	unsigned char out[64];
	size_t		n = 0;

	CHECK(jsonschema_base64_decode("eyJmb28iOiAiYmFyIn0K", 20, out, &n));
	CHECK_EQ(n, 15);
	CHECK(memcmp(out, "{\"foo\": \"bar\"}\n", 15) == 0);
	CHECK(jsonschema_base64_decode("ezp9Cg==", 8, out, &n));
	CHECK_EQ(n, 4);
	CHECK(memcmp(out, "{:}\n", 4) == 0);
	CHECK(jsonschema_base64_decode("YWI=", 4, out, &n));
	CHECK_EQ(n, 2);
	CHECK(jsonschema_base64_decode("", 0, out, &n));
	CHECK_EQ(n, 0);
	CHECK(!jsonschema_base64_decode("eyJmb28iOi%iYmFyIn0K", 20, NULL, NULL));	/* '%' */
	CHECK(!jsonschema_base64_decode("{}", 2, NULL, NULL));	/* length */
	CHECK(!jsonschema_base64_decode("YQ=a", 4, NULL, NULL));	/* data after '=' */
	CHECK(!jsonschema_base64_decode("Y===", 4, NULL, NULL));	/* too much padding */
	CHECK(!jsonschema_base64_decode("YQ==YWI=", 8, NULL, NULL));	/* '=' mid-string */
}

int
main(void)
{
	RUN(test_lookup);
	RUN(test_date_time);
	RUN(test_date);
	RUN(test_time);
	RUN(test_duration);
	RUN(test_email);
	RUN(test_idn_email);
	RUN(test_hostname);
	RUN(test_idn_hostname);
	RUN(test_ipv4);
	RUN(test_ipv6);
	RUN(test_uri);
	RUN(test_iri);
	RUN(test_uri_template);
	RUN(test_uuid);
	RUN(test_json_pointer);
	RUN(test_length_delimited);
	RUN(test_base64);
	UNIT_DONE("jsonschema_format");
}
