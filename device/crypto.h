/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_DEVICE_CRYPTO_H
#define VGUARD_DEVICE_CRYPTO_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Call once before anything else (initialises libsodium); 0 or -errno. */
int crypto_init(void);

/* BLAKE2s (RFC 7693), keyed and unkeyed, 1..32-byte digests. */
#define BLAKE2S_BLOCK_SIZE 64
#define BLAKE2S_HASH_SIZE 32
#define BLAKE2S_KEY_SIZE 32

struct blake2s_state {
	uint32_t h[8];
	uint32_t t[2];
	uint32_t f[2];
	uint8_t buf[BLAKE2S_BLOCK_SIZE];
	size_t buflen;
	size_t outlen;
};

void blake2s_init(struct blake2s_state *s, size_t outlen);
void blake2s_init_key(struct blake2s_state *s, size_t outlen, const uint8_t *key,
		      size_t keylen);
void blake2s_update(struct blake2s_state *s, const uint8_t *in, size_t inlen);
void blake2s_final(struct blake2s_state *s, uint8_t *out);
void blake2s(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen,
	     const uint8_t *key, size_t keylen);

/* HMAC-BLAKE2s (32-byte output) and WireGuard's HKDF: out1..out3 may be
 * NULL from the right; each output is 32 bytes. */
void hmac_blake2s(uint8_t out[BLAKE2S_HASH_SIZE], const uint8_t *key,
		  size_t keylen, const uint8_t *in, size_t inlen);
void wg_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const uint8_t *data,
	    size_t datalen, const uint8_t chaining_key[BLAKE2S_HASH_SIZE]);

/* TAI64N: 8 bytes of TAI seconds (big endian, 2^62 + 10 + unix seconds),
 * 4 bytes of nanoseconds. */
#define TAI64N_SIZE 12
void tai64n_now(uint8_t out[TAI64N_SIZE]);
/* The same for a given time; like the kernel and wireguard-go, the
 * nanoseconds are rounded down to a multiple of 2^24 (~16.8 ms). */
void tai64n_from(uint8_t out[TAI64N_SIZE], int64_t unix_sec, long nsec);

/* X25519.  Private keys are clamped on generation and before use;
 * x25519() returns -EINVAL when the shared secret is all zeros. */
#define X25519_KEY_SIZE 32
void x25519_clamp(uint8_t key[X25519_KEY_SIZE]);
void x25519_generate(uint8_t priv[X25519_KEY_SIZE], uint8_t pub[X25519_KEY_SIZE]);
int x25519_public(uint8_t pub[X25519_KEY_SIZE], const uint8_t priv[X25519_KEY_SIZE]);
int x25519(uint8_t out[X25519_KEY_SIZE], const uint8_t priv[X25519_KEY_SIZE],
	   const uint8_t pub[X25519_KEY_SIZE]);

/* ChaCha20-Poly1305 (RFC 8439) for the handshake: 64-bit little-endian
 * counter in the last 8 nonce bytes.  dst may equal src.  open returns 0 or
 * -EBADMSG. */
#define AEAD_KEY_SIZE 32
#define AEAD_TAG_SIZE 16
#define AEAD_NONCE_SIZE 12

/* The one nonce layout for every ChaCha20-Poly1305 call (handshake and
 * data): 4 zero bytes, then the 64-bit counter little-endian. */
static inline void aead_nonce(uint8_t n[AEAD_NONCE_SIZE], uint64_t counter)
{
	uint64_t le = htole64(counter);

	memset(n, 0, 4);
	memcpy(n + 4, &le, sizeof(le));
}

void aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
		  const uint8_t *ad, size_t adlen, uint64_t nonce,
		  const uint8_t key[AEAD_KEY_SIZE]);
int aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len /* incl. tag */,
		 const uint8_t *ad, size_t adlen, uint64_t nonce,
		 const uint8_t key[AEAD_KEY_SIZE]);

/* XChaCha20-Poly1305 for cookie replies (24-byte nonce). */
#define XAEAD_NONCE_SIZE 24
void xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
		   const uint8_t *ad, size_t adlen,
		   const uint8_t nonce[XAEAD_NONCE_SIZE],
		   const uint8_t key[AEAD_KEY_SIZE]);
int xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len /* incl. tag */,
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[XAEAD_NONCE_SIZE],
		  const uint8_t key[AEAD_KEY_SIZE]);

/*
 * The data-path seam: a keyed context, reused for every packet of a
 * keypair, sealing and opening in place with no associated data.  The
 * backend (libsodium or OpenSSL libcrypto) is fixed at configure time.
 * seal: buf holds len plaintext bytes and room for AEAD_TAG_SIZE more.
 * open: buf holds len bytes of ciphertext + tag; 0 or -EBADMSG.
 * open_to: the same, but the plaintext goes to dst (len - AEAD_TAG_SIZE
 * bytes; dst == src or not overlapping it) and src is only read: a
 * datagram that lies in someone else's buffer is opened where its
 * plaintext has to go, without a copy first.  On failure dst holds no
 * plaintext.
 */
struct dp_aead;
struct dp_aead *dp_aead_new(const uint8_t key[AEAD_KEY_SIZE]);
/* Wipes the key, also from every thread's cached state; only once no
 * thread seals or opens with a any more. */
void dp_aead_free(struct dp_aead *a);
/* The key a was made with (a live upgrade hands sessions over). */
void dp_aead_key(const struct dp_aead *a, uint8_t key[AEAD_KEY_SIZE]);
void dp_aead_seal(struct dp_aead *a, uint64_t nonce, uint8_t *buf, size_t len);
int dp_aead_open(struct dp_aead *a, uint64_t nonce, uint8_t *buf, size_t len);
int dp_aead_open_to(struct dp_aead *a, uint64_t nonce, uint8_t *dst, const uint8_t *src,
		    size_t len);
const char *dp_aead_backend(void);

/*
 * Both backends, for the tests and the benchmark (which compare them on
 * the same bytes); the data path uses only the dp_aead_* calls above.  A
 * context may be used by several threads at once, and freed once none
 * uses it any more.
 */
struct dp_aead_ops {
	const char *name;
	struct dp_aead *(*new)(const uint8_t key[AEAD_KEY_SIZE]);
	void (*free)(struct dp_aead *a);
	void (*key)(const struct dp_aead *a, uint8_t key[AEAD_KEY_SIZE]);
	void (*seal)(struct dp_aead *a, uint64_t nonce, uint8_t *buf, size_t len);
	int (*open)(struct dp_aead *a, uint64_t nonce, uint8_t *buf, size_t len);
	int (*open_to)(struct dp_aead *a, uint64_t nonce, uint8_t *dst, const uint8_t *src,
		       size_t len);
};
extern const struct dp_aead_ops dp_aead_sodium;
#ifdef HAVE_OPENSSL
extern const struct dp_aead_ops dp_aead_openssl;
/* What dp_aead_* use with OpenSSL: libcrypto for long packets, libsodium
 * for short ones, where its lower per-call cost wins. */
extern const struct dp_aead_ops dp_aead_hybrid;
#endif

/*
 * libsodium's ChaCha20 code other than its AVX2 one (so on every 32-bit
 * target and on x86 CPUs without AVX2) spills key words to the stack and
 * leaves them below its caller.  The data-path backends call this after
 * each libsodium AEAD call, so a worker that sits idle once a keypair is
 * gone keeps no copy of its key (tests/unit/test_aead_wipe); where nothing
 * is left behind it costs one predictable branch.
 */
extern bool crypto_sodium_leaves_stack;
void crypto_wipe_stack(void);
static inline void crypto_sodium_stack_done(void)
{
	if (__atomic_load_n(&crypto_sodium_leaves_stack, __ATOMIC_RELAXED))
		crypto_wipe_stack();
}

/* Randomness and secret hygiene. */
void crypto_random(void *buf, size_t len);
uint32_t crypto_random_u32(void);
void crypto_wipe(void *buf, size_t len);
bool crypto_equal(const void *a, const void *b, size_t len);	/* constant time */

#endif
