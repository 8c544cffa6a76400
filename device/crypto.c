// SPDX-License-Identifier: MIT
/*
 * WireGuard's primitives: BLAKE2s, HMAC-BLAKE2s and its HKDF, TAI64N, plus
 * thin wrappers over libsodium for X25519, the AEADs and randomness.
 */
#include "config.h"

#include "device/crypto.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

/* Until crypto_init() knows better, assume the worst. */
bool crypto_sodium_leaves_stack = true;

int crypto_init(void)
{
	if (sodium_init() < 0)
		return -ENOSYS;
	/* Relaxed: workers may read it while another caller initialises. */
	__atomic_store_n(&crypto_sodium_leaves_stack, !sodium_runtime_has_avx2(),
			 __ATOMIC_RELAXED);
	return 0;
}

/* ---- BLAKE2s (RFC 7693) ---- */

static const uint32_t blake2s_iv[8] = {
	0x6A09E667UL, 0xBB67AE85UL, 0x3C6EF372UL, 0xA54FF53AUL,
	0x510E527FUL, 0x9B05688CUL, 0x1F83D9ABUL, 0x5BE0CD19UL,
};

static const uint8_t blake2s_sigma[10][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
	{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
	{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
	{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
	{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
	{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
	{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
	{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

static inline uint32_t ror32(uint32_t w, unsigned int c)
{
	return (w >> c) | (w << (32 - c));
}

static inline uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void blake2s_compress(struct blake2s_state *s, const uint8_t *block,
			     size_t nblocks, uint32_t inc)
{
	uint32_t m[16], v[16];
	int i, r;

	while (nblocks--) {
		s->t[0] += inc;
		s->t[1] += (s->t[0] < inc);
		for (i = 0; i < 16; i++)
			m[i] = load_le32(block + 4 * i);
		memcpy(v, s->h, sizeof(s->h));
		memcpy(v + 8, blake2s_iv, sizeof(blake2s_iv));
		v[12] ^= s->t[0];
		v[13] ^= s->t[1];
		v[14] ^= s->f[0];
		v[15] ^= s->f[1];
#define G(r, i, a, b, c, d) do { \
		a += b + m[blake2s_sigma[r][2 * i]]; \
		d = ror32(d ^ a, 16); \
		c += d; \
		b = ror32(b ^ c, 12); \
		a += b + m[blake2s_sigma[r][2 * i + 1]]; \
		d = ror32(d ^ a, 8); \
		c += d; \
		b = ror32(b ^ c, 7); \
	} while (0)
		for (r = 0; r < 10; r++) {
			G(r, 0, v[0], v[4], v[8], v[12]);
			G(r, 1, v[1], v[5], v[9], v[13]);
			G(r, 2, v[2], v[6], v[10], v[14]);
			G(r, 3, v[3], v[7], v[11], v[15]);
			G(r, 4, v[0], v[5], v[10], v[15]);
			G(r, 5, v[1], v[6], v[11], v[12]);
			G(r, 6, v[2], v[7], v[8], v[13]);
			G(r, 7, v[3], v[4], v[9], v[14]);
		}
#undef G
		for (i = 0; i < 8; i++)
			s->h[i] ^= v[i] ^ v[i + 8];
		block += BLAKE2S_BLOCK_SIZE;
	}
	sodium_memzero(m, sizeof(m));
	sodium_memzero(v, sizeof(v));
}

static void blake2s_init_param(struct blake2s_state *s, uint32_t param)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->h, blake2s_iv, sizeof(s->h));
	s->h[0] ^= param;
}

void blake2s_init(struct blake2s_state *s, size_t outlen)
{
	if (outlen == 0 || outlen > BLAKE2S_HASH_SIZE)
		outlen = BLAKE2S_HASH_SIZE;
	blake2s_init_param(s, 0x01010000 | outlen);
	s->outlen = outlen;
}

void blake2s_init_key(struct blake2s_state *s, size_t outlen, const uint8_t *key,
		      size_t keylen)
{
	uint8_t block[BLAKE2S_BLOCK_SIZE] = { 0 };

	if (!key || keylen == 0) {
		blake2s_init(s, outlen);
		return;
	}
	if (outlen == 0 || outlen > BLAKE2S_HASH_SIZE)
		outlen = BLAKE2S_HASH_SIZE;
	if (keylen > BLAKE2S_KEY_SIZE)
		keylen = BLAKE2S_KEY_SIZE;
	blake2s_init_param(s, 0x01010000 | keylen << 8 | outlen);
	s->outlen = outlen;
	memcpy(block, key, keylen);
	blake2s_update(s, block, BLAKE2S_BLOCK_SIZE);
	sodium_memzero(block, sizeof(block));
}

void blake2s_update(struct blake2s_state *s, const uint8_t *in, size_t inlen)
{
	const size_t fill = BLAKE2S_BLOCK_SIZE - s->buflen;

	if (!inlen)
		return;
	/* The last block is held back: final() must compress it with f[0] set. */
	if (inlen > fill) {
		memcpy(s->buf + s->buflen, in, fill);
		blake2s_compress(s, s->buf, 1, BLAKE2S_BLOCK_SIZE);
		s->buflen = 0;
		in += fill;
		inlen -= fill;
	}
	if (inlen > BLAKE2S_BLOCK_SIZE) {
		const size_t nblocks = (inlen - 1) / BLAKE2S_BLOCK_SIZE;

		blake2s_compress(s, in, nblocks, BLAKE2S_BLOCK_SIZE);
		in += BLAKE2S_BLOCK_SIZE * nblocks;
		inlen -= BLAKE2S_BLOCK_SIZE * nblocks;
	}
	memcpy(s->buf + s->buflen, in, inlen);
	s->buflen += inlen;
}

void blake2s_final(struct blake2s_state *s, uint8_t *out)
{
	uint8_t digest[BLAKE2S_HASH_SIZE];
	int i;

	s->f[0] = (uint32_t)-1;
	memset(s->buf + s->buflen, 0, BLAKE2S_BLOCK_SIZE - s->buflen);
	blake2s_compress(s, s->buf, 1, s->buflen);
	for (i = 0; i < 8; i++)
		store_le32(digest + 4 * i, s->h[i]);
	memcpy(out, digest, s->outlen);
	sodium_memzero(digest, sizeof(digest));
	sodium_memzero(s, sizeof(*s));
}

void blake2s(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen,
	     const uint8_t *key, size_t keylen)
{
	struct blake2s_state s;

	blake2s_init_key(&s, outlen, key, keylen);
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, out);
}

/* ---- HMAC-BLAKE2s (RFC 2104) and WireGuard's HKDF ---- */

void hmac_blake2s(uint8_t out[BLAKE2S_HASH_SIZE], const uint8_t *key,
		  size_t keylen, const uint8_t *in, size_t inlen)
{
	struct blake2s_state s;
	uint8_t x_key[BLAKE2S_BLOCK_SIZE] = { 0 };
	uint8_t i_hash[BLAKE2S_HASH_SIZE];
	int i;

	if (keylen > BLAKE2S_BLOCK_SIZE)
		blake2s(x_key, BLAKE2S_HASH_SIZE, key, keylen, NULL, 0);
	else if (keylen)
		memcpy(x_key, key, keylen);

	for (i = 0; i < BLAKE2S_BLOCK_SIZE; i++)
		x_key[i] ^= 0x36;
	blake2s_init(&s, BLAKE2S_HASH_SIZE);
	blake2s_update(&s, x_key, BLAKE2S_BLOCK_SIZE);
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, i_hash);

	for (i = 0; i < BLAKE2S_BLOCK_SIZE; i++)
		x_key[i] ^= 0x5c ^ 0x36;
	blake2s_init(&s, BLAKE2S_HASH_SIZE);
	blake2s_update(&s, x_key, BLAKE2S_BLOCK_SIZE);
	blake2s_update(&s, i_hash, BLAKE2S_HASH_SIZE);
	blake2s_final(&s, out);

	sodium_memzero(x_key, sizeof(x_key));
	sodium_memzero(i_hash, sizeof(i_hash));
}

void wg_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const uint8_t *data,
	    size_t datalen, const uint8_t chaining_key[BLAKE2S_HASH_SIZE])
{
	uint8_t secret[BLAKE2S_HASH_SIZE];
	uint8_t output[BLAKE2S_HASH_SIZE + 1];

	hmac_blake2s(secret, chaining_key, BLAKE2S_HASH_SIZE, data, datalen);

	output[0] = 1;
	hmac_blake2s(output, secret, BLAKE2S_HASH_SIZE, output, 1);
	if (out1)
		memcpy(out1, output, BLAKE2S_HASH_SIZE);
	if (!out2)
		goto out;

	output[BLAKE2S_HASH_SIZE] = 2;
	hmac_blake2s(output, secret, BLAKE2S_HASH_SIZE, output,
		     BLAKE2S_HASH_SIZE + 1);
	memcpy(out2, output, BLAKE2S_HASH_SIZE);
	if (!out3)
		goto out;

	output[BLAKE2S_HASH_SIZE] = 3;
	hmac_blake2s(output, secret, BLAKE2S_HASH_SIZE, output,
		     BLAKE2S_HASH_SIZE + 1);
	memcpy(out3, output, BLAKE2S_HASH_SIZE);
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(output, sizeof(output));
}

/* ---- TAI64N ---- */

void tai64n_now(uint8_t out[TAI64N_SIZE])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	tai64n_from(out, ts.tv_sec, ts.tv_nsec);
}

void tai64n_from(uint8_t out[TAI64N_SIZE], int64_t unix_sec, long nsec)
{
	uint64_t secs = 0x400000000000000aULL + (uint64_t)unix_sec;
	/*
	 * Like the kernel and wireguard-go, round nanoseconds down to 2^24 ns
	 * (~16.8 ms) so the timestamp does not leak fine-grained clock state.
	 */
	uint32_t nano = (uint32_t)nsec & ~(uint32_t)0xffffff;
	int i;

	for (i = 0; i < 8; i++)
		out[i] = secs >> (56 - 8 * i);
	for (i = 0; i < 4; i++)
		out[8 + i] = nano >> (24 - 8 * i);
}

/* ---- X25519 ---- */

void x25519_clamp(uint8_t key[X25519_KEY_SIZE])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

void x25519_generate(uint8_t priv[X25519_KEY_SIZE], uint8_t pub[X25519_KEY_SIZE])
{
	do {
		randombytes_buf(priv, X25519_KEY_SIZE);
		x25519_clamp(priv);
	} while (x25519_public(pub, priv) < 0);
}

int x25519_public(uint8_t pub[X25519_KEY_SIZE], const uint8_t priv[X25519_KEY_SIZE])
{
	uint8_t k[X25519_KEY_SIZE];
	int ret;

	memcpy(k, priv, sizeof(k));
	x25519_clamp(k);
	ret = crypto_scalarmult_curve25519_base(pub, k);
	sodium_memzero(k, sizeof(k));
	return ret ? -EINVAL : 0;
}

int x25519(uint8_t out[X25519_KEY_SIZE], const uint8_t priv[X25519_KEY_SIZE],
	   const uint8_t pub[X25519_KEY_SIZE])
{
	uint8_t k[X25519_KEY_SIZE];
	int ret;

	memcpy(k, priv, sizeof(k));
	x25519_clamp(k);
	/* libsodium fails (and zeroes out) on an all-zero shared secret. */
	ret = crypto_scalarmult_curve25519(out, k, pub);
	sodium_memzero(k, sizeof(k));
	if (ret) {
		sodium_memzero(out, X25519_KEY_SIZE);
		return -EINVAL;
	}
	return 0;
}

/* ---- AEADs for the handshake and cookies ---- */

void aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
		  const uint8_t *ad, size_t adlen, uint64_t nonce,
		  const uint8_t key[AEAD_KEY_SIZE])
{
	uint8_t n[AEAD_NONCE_SIZE];

	aead_nonce(n, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, adlen,
						  NULL, n, key);
}

int aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
		 const uint8_t *ad, size_t adlen, uint64_t nonce,
		 const uint8_t key[AEAD_KEY_SIZE])
{
	uint8_t n[AEAD_NONCE_SIZE];

	if (len < AEAD_TAG_SIZE)
		return -EBADMSG;
	aead_nonce(n, nonce);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len,
						      ad, adlen, n, key))
		return -EBADMSG;
	return 0;
}

void xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
		   const uint8_t *ad, size_t adlen,
		   const uint8_t nonce[XAEAD_NONCE_SIZE],
		   const uint8_t key[AEAD_KEY_SIZE])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad,
						   adlen, NULL, nonce, key);
}

int xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[XAEAD_NONCE_SIZE],
		  const uint8_t key[AEAD_KEY_SIZE])
{
	if (len < AEAD_TAG_SIZE)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len,
						       ad, adlen, nonce, key))
		return -EBADMSG;
	return 0;
}

/* ---- Randomness and secret hygiene ---- */

void crypto_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

uint32_t crypto_random_u32(void)
{
	return randombytes_random();
}

void crypto_wipe(void *buf, size_t len)
{
	sodium_memzero(buf, len);
}

/*
 * How deep the stack below the caller is cleared.  libsodium 1.0.18's
 * SSSE3 ChaCha20 leaves key words up to about 1.5 KiB below the caller of
 * crypto_aead_chacha20poly1305_ietf_*, its portable code less.
 */
#define STACK_WIPE_BYTES 2048

/* Not inlined, so its frame lies where the callee's frames were. */
__attribute__((noinline)) void crypto_wipe_stack(void)
{
	uint8_t pad[STACK_WIPE_BYTES];

	sodium_memzero(pad, sizeof(pad));
	__asm__ volatile("" : : "r"(pad) : "memory");
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

/* ---- The data-path seam ---- */

/*
 * With OpenSSL, libcrypto for long packets and libsodium for short ones;
 * the aead-bench figures in README.md explain why.
 */
#ifdef HAVE_OPENSSL
#define DP_BACKEND dp_aead_hybrid
#else
#define DP_BACKEND dp_aead_sodium
#endif

struct dp_aead *dp_aead_new(const uint8_t key[AEAD_KEY_SIZE])
{
	return DP_BACKEND.new(key);
}

void dp_aead_free(struct dp_aead *a)
{
	DP_BACKEND.free(a);
}

void dp_aead_key(const struct dp_aead *a, uint8_t key[AEAD_KEY_SIZE])
{
	DP_BACKEND.key(a, key);
}

void dp_aead_seal(struct dp_aead *a, uint64_t nonce, uint8_t *buf, size_t len)
{
	DP_BACKEND.seal(a, nonce, buf, len);
}

int dp_aead_open(struct dp_aead *a, uint64_t nonce, uint8_t *buf, size_t len)
{
	return DP_BACKEND.open(a, nonce, buf, len);
}

int dp_aead_open_to(struct dp_aead *a, uint64_t nonce, uint8_t *dst, const uint8_t *src,
		    size_t len)
{
	return DP_BACKEND.open_to(a, nonce, dst, src, len);
}

const char *dp_aead_backend(void)
{
	return DP_BACKEND.name;
}
