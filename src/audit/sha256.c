/*
 * sha256.c
 *		SHA-256 as FIPS 180-4 specifies it, and the same compression with the
 *		x86 SHA extensions where the CPU has them.  See sha256.h.
 */
#include <string.h>

#include "sha256.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
compress_portable(uint32_t h[8], const uint8_t *block, size_t nblocks)
{
	for (; nblocks > 0; nblocks--, block += 64)
	{
		uint32_t	w[64];
		uint32_t	a = h[0], b = h[1], c = h[2], d = h[3];
		uint32_t	e = h[4], f = h[5], g = h[6], hh = h[7];

		for (int t = 0; t < 16; t++)
			w[t] = (uint32_t) block[4 * t] << 24 | (uint32_t) block[4 * t + 1] << 16 |
				(uint32_t) block[4 * t + 2] << 8 | block[4 * t + 3];
		for (int t = 16; t < 64; t++)
		{
			uint32_t	s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
			uint32_t	s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);

			w[t] = w[t - 16] + s0 + w[t - 7] + s1;
		}
		for (int t = 0; t < 64; t++)
		{
			uint32_t	S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
			uint32_t	ch = (e & f) ^ (~e & g);
			uint32_t	t1 = hh + S1 + ch + K[t] + w[t];
			uint32_t	S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
			uint32_t	maj = (a & b) ^ (a & c) ^ (b & c);
			uint32_t	t2 = S0 + maj;

			hh = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
		h[5] += f;
		h[6] += g;
		h[7] += hh;
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

/*
 * The SHA extensions keep the state as two vectors, ABEF and CDGH, and do
 * two rounds per sha256rnds2; sha256msg1/msg2 compute the message schedule
 * four words at a time.
 */
__attribute__((target("sha,sse4.1")))
static void
compress_shani(uint32_t h[8], const uint8_t *block, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i		abef,
				cdgh,
				tmp;

	/* h[0..3] = ABCD, h[4..7] = EFGH  ->  ABEF, CDGH (high to low words) */
	tmp = _mm_loadu_si128((const __m128i *) &h[0]);		/* D C B A */
	cdgh = _mm_loadu_si128((const __m128i *) &h[4]);	/* H G F E */
	tmp = _mm_shuffle_epi32(tmp, 0xB1);		/* C D A B */
	cdgh = _mm_shuffle_epi32(cdgh, 0x1B);	/* E F G H */
	abef = _mm_alignr_epi8(tmp, cdgh, 8);	/* A B E F */
	cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);	/* C D G H */

	for (; nblocks > 0; nblocks--, block += 64)
	{
		__m128i		save_abef = abef,
					save_cdgh = cdgh;
		__m128i		m[4];
		__m128i		msg;

		for (int i = 0; i < 4; i++)
			m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (block + 16 * i)), bswap);

		for (int r = 0; r < 16; r++)
		{
			__m128i		cur = m[r & 3];

			if (r >= 4)
			{
				/* w[t..t+3] from w[t-16..t-1]: msg1, add w[t-7..t-4], msg2 */
				__m128i		w16 = m[r & 3];
				__m128i		w12 = m[(r + 1) & 3];
				__m128i		w8 = m[(r + 2) & 3];
				__m128i		w4 = m[(r + 3) & 3];

				cur = _mm_sha256msg1_epu32(w16, w12);
				cur = _mm_add_epi32(cur, _mm_alignr_epi8(w4, w8, 4));
				cur = _mm_sha256msg2_epu32(cur, w4);
				m[r & 3] = cur;
			}
			/*
			 * Two rounds per rnds2, which returns the new ABEF; after two
			 * rounds the new CDGH is the ABEF of two rounds back.  So the
			 * second call writes ABEF where the first read it, and the
			 * variables hold ABEF and CDGH again.
			 */
			msg = _mm_add_epi32(cur, _mm_loadu_si128((const __m128i *) &K[4 * r]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
			msg = _mm_shuffle_epi32(msg, 0x0E);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, msg);
		}
		abef = _mm_add_epi32(abef, save_abef);
		cdgh = _mm_add_epi32(cdgh, save_cdgh);
	}

	/* ABEF, CDGH  ->  ABCD, EFGH */
	tmp = _mm_shuffle_epi32(abef, 0x1B);	/* F E B A */
	cdgh = _mm_shuffle_epi32(cdgh, 0xB1);	/* D C H G */
	abef = _mm_blend_epi16(tmp, cdgh, 0xF0);	/* D C B A */
	cdgh = _mm_alignr_epi8(cdgh, tmp, 8);	/* H G F E */
	_mm_storeu_si128((__m128i *) &h[0], abef);
	_mm_storeu_si128((__m128i *) &h[4], cdgh);
}

static int
cpu_has_shani(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29)))
		return 0;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)))	/* SSE4.1 */
		return 0;
	return 1;
}
#else
static void
compress_shani(uint32_t h[8], const uint8_t *block, size_t nblocks)
{
	compress_portable(h, block, nblocks);
}

static int
cpu_has_shani(void)
{
	return 0;
}
#endif

static void (*compress) (uint32_t h[8], const uint8_t *block, size_t nblocks) = NULL;
static int	force_portable = 0;

static void
choose(void)
{
	compress = (!force_portable && cpu_has_shani()) ? compress_shani : compress_portable;
}

void
sha256_use_portable(int on)
{
	force_portable = on;
	choose();
}

int
sha256_has_hardware(void)
{
	return cpu_has_shani();
}

void
sha256_init(Sha256 *s)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	if (compress == NULL)
		choose();
	memcpy(s->h, iv, sizeof(iv));
	s->total = 0;
	s->buflen = 0;
}

void
sha256_update(Sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->total += len;
	if (s->buflen > 0)
	{
		size_t		take = 64 - s->buflen < len ? 64 - s->buflen : len;

		memcpy(s->buf + s->buflen, p, take);
		s->buflen += take;
		p += take;
		len -= take;
		if (s->buflen < 64)
			return;
		compress(s->h, s->buf, 1);
		s->buflen = 0;
	}
	if (len >= 64)
	{
		compress(s->h, p, len / 64);
		p += len & ~(size_t) 63;
		len &= 63;
	}
	memcpy(s->buf, p, len);
	s->buflen = len;
}

void
sha256_final(Sha256 *s, uint8_t out[SHA256_LEN])
{
	uint64_t	bits = s->total * 8;

	s->buf[s->buflen++] = 0x80;
	if (s->buflen > 56)
	{
		memset(s->buf + s->buflen, 0, 64 - s->buflen);
		compress(s->h, s->buf, 1);
		s->buflen = 0;
	}
	memset(s->buf + s->buflen, 0, 56 - s->buflen);
	for (int i = 0; i < 8; i++)
		s->buf[56 + i] = (uint8_t) (bits >> (56 - 8 * i));
	compress(s->h, s->buf, 1);
	for (int i = 0; i < 8; i++)
	{
		out[4 * i] = (uint8_t) (s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t) (s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t) (s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t) s->h[i];
	}
}
