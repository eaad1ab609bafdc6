/*
 * sha256.h
 *		SHA-256 (FIPS 180-4), plain C with an SHA-NI path chosen at run time.
 *
 * The audit log hashes a dozen short values per audited row.  PostgreSQL's
 * pg_cryptohash goes through OpenSSL 3's EVP layer, which looks the
 * algorithm up (under a lock) on every init: that lookup cost more than the
 * hashing.  This one keeps its state on the stack and needs no library, so
 * the digests are the same whichever way PostgreSQL was built.
 */
#ifndef APIKIT_SHA256_H
#define APIKIT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

typedef struct Sha256
{
	uint32_t	h[8];
	uint64_t	total;			/* bytes hashed so far */
	uint8_t		buf[64];
	size_t		buflen;
} Sha256;

extern void sha256_init(Sha256 *s);
extern void sha256_update(Sha256 *s, const void *data, size_t len);
extern void sha256_final(Sha256 *s, uint8_t out[SHA256_LEN]);

/* For tests: force the portable code even where SHA-NI exists. */
extern void sha256_use_portable(int on);
extern int	sha256_has_hardware(void);

#endif							/* APIKIT_SHA256_H */
