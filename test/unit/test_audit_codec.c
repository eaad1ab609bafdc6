/*
 * test_audit_codec.c
 *		SHA-256 against FIPS 180-4's examples (both the portable and the
 *		SHA-NI code), and the audit log's encodings and text forms.
 */
#include <string.h>

#include "unit.h"
#include "audit_codec.h"
#include "sha256.h"

static void
hex_of(const uint8_t *h, char *out)
{
	audit_hex(h, 32, out);
}

static void
digest_str(const void *data, size_t len, char out[65])
{
	Sha256		s;
	uint8_t		h[32];

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, h);
	hex_of(h, out);
}

static void
check_vectors(void)
{
	char		out[65];
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	Sha256		s;
	uint8_t		h[32];
	char		chunk[1000];

	digest_str("abc", 3, out);
	CHECK(strcmp(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	digest_str("", 0, out);
	CHECK(strcmp(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
	digest_str(two, strlen(two), out);
	CHECK(strcmp(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);

	/* a million 'a', fed in uneven pieces to exercise the buffering */
	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&s);
	for (int fed = 0, step = 1; fed < 1000000; fed += step, step = step % 997 + 1)
		sha256_update(&s, chunk, fed + step > 1000000 ? (size_t) (1000000 - fed) : (size_t) step);
	sha256_final(&s, h);
	hex_of(h, out);
	CHECK(strcmp(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
}

static void
test_sha256_portable(void)
{
	sha256_use_portable(1);
	check_vectors();
}

static void
test_sha256_hardware(void)
{
	if (!sha256_has_hardware())
	{
		printf("note: no SHA-NI on this CPU; the portable code was tested alone\n");
		return;
	}
	sha256_use_portable(0);
	check_vectors();
}

/* Every length from 0 to 300 bytes: both paths agree. */
static void
test_sha256_paths_agree(void)
{
	uint8_t		data[300];
	int			agree = 0;

	for (int i = 0; i < 300; i++)
		data[i] = (uint8_t) (i * 37 + 11);
	for (size_t len = 0; len <= sizeof(data); len++)
	{
		char		a[65],
					b[65];

		sha256_use_portable(1);
		digest_str(data, len, a);
		sha256_use_portable(0);
		digest_str(data, len, b);
		agree += strcmp(a, b) == 0;
	}
	CHECK_EQ(agree, 301);
}

typedef struct Buf
{
	uint8_t		data[256];
	size_t		len;
} Buf;

static void
buf_write(void *arg, const void *data, size_t len)
{
	Buf		   *b = arg;

	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/*
 * Fields are tagged and length-prefixed: moving a byte from one string to
 * the next changes the stream, so ("ab", "c") and ("a", "bc") differ.
 */
static void
test_encoding_is_unambiguous(void)
{
	Buf			x = {{0}, 0},
				y = {{0}, 0},
				z = {{0}, 0};
	AuditSink	sx = {buf_write, &x},
				sy = {buf_write, &y},
				sz = {buf_write, &z};

	audit_put_str(&sx, "ab");
	audit_put_str(&sx, "c");
	audit_put_str(&sy, "a");
	audit_put_str(&sy, "bc");
	CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) != 0);

	/* null, empty string and zero are three different things */
	audit_put_null(&sz);
	audit_put_str(&sz, "");
	audit_put_u64(&sz, 0);
	CHECK_EQ(z.len, 1 + 9 + 9);
	CHECK_EQ(z.data[0], AUDIT_TAG_NULL);
	CHECK_EQ(z.data[1], AUDIT_TAG_BYTES);
	CHECK_EQ(z.data[10], AUDIT_TAG_U64);

	/* numbers are big-endian, whatever the machine */
	z.len = 0;
	audit_put_u64(&sz, 0x0102030405060708ULL);
	CHECK_EQ(z.data[1], 0x01);
	CHECK_EQ(z.data[8], 0x08);
}

static void
test_hex_and_markers(void)
{
	uint8_t		h[32],
				back[32];
	char		hex[65];
	char		marker[100];
	char		digest[AUDIT_DIGEST_TEXT_MAX];
	int64_t		block;

	for (int i = 0; i < 32; i++)
		h[i] = (uint8_t) (255 - i * 7);
	audit_hex(h, 32, hex);
	CHECK_EQ(strlen(hex), 64);
	CHECK(audit_unhex(hex, 64, back, 32) && memcmp(h, back, 32) == 0);
	CHECK(!audit_unhex(hex, 63, back, 32));
	hex[10] = 'g';
	CHECK(!audit_unhex(hex, 64, back, 32));
	audit_hex(h, 32, hex);

	snprintf(marker, sizeof(marker), "%s%s", AUDIT_REDACTED_PREFIX, hex);
	memset(back, 0, 32);
	CHECK(audit_redacted_text_parse(marker, strlen(marker), back) && memcmp(h, back, 32) == 0);
	CHECK(!audit_redacted_text_parse(marker, strlen(marker) - 1, back));
	CHECK(!audit_redacted_text_parse(hex, 64, back));

	audit_digest_format(42, h, digest);
	CHECK(strncmp(digest, "42:", 3) == 0);
	memset(back, 0, 32);
	CHECK(audit_digest_parse(digest, &block, back) && block == 42 && memcmp(h, back, 32) == 0);
	CHECK(!audit_digest_parse("0:00", &block, back));
	CHECK(!audit_digest_parse(":abc", &block, back));
	CHECK(!audit_digest_parse("99999999999999999999:00", &block, back));
	CHECK(!audit_digest_parse(hex, &block, back));
}

int
main(void)
{
	RUN(test_sha256_portable);
	RUN(test_sha256_hardware);
	RUN(test_sha256_paths_agree);
	RUN(test_encoding_is_unambiguous);
	RUN(test_hex_and_markers);
	UNIT_DONE("audit_codec");
}
