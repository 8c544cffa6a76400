// SPDX-License-Identifier: MIT
/*
 * Data-path ChaCha20-Poly1305 on libsodium.  libsodium has no keyed
 * state for this AEAD, so the context is just the key; the calls are
 * stateless and therefore safe from any number of threads.
 */
#include "config.h"

#include "device/crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct dp_aead {
	uint8_t key[AEAD_KEY_SIZE];
};

static struct dp_aead *sodium_new(const uint8_t key[AEAD_KEY_SIZE])
{
	struct dp_aead *a = malloc(sizeof(*a));

	if (!a)
		return NULL;
	memcpy(a->key, key, AEAD_KEY_SIZE);
	return a;
}

static void sodium_free_ctx(struct dp_aead *a)
{
	if (!a)
		return;
	sodium_memzero(a, sizeof(*a));
	free(a);
}

static void sodium_key(const struct dp_aead *a, uint8_t key[AEAD_KEY_SIZE])
{
	memcpy(key, a->key, AEAD_KEY_SIZE);
}

static void sodium_seal(struct dp_aead *a, uint64_t nonce, uint8_t *buf,
			size_t len)
{
	uint8_t n[AEAD_NONCE_SIZE];

	aead_nonce(n, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, buf + len, NULL,
							   buf, len, NULL, 0,
							   NULL, n, a->key);
	crypto_sodium_stack_done();
}

static int sodium_open_to(struct dp_aead *a, uint64_t nonce, uint8_t *dst,
			  const uint8_t *src, size_t len)
{
	uint8_t n[AEAD_NONCE_SIZE];
	int ret;

	if (len < AEAD_TAG_SIZE)
		return -EBADMSG;
	aead_nonce(n, nonce);
	len -= AEAD_TAG_SIZE;
	/* libsodium verifies before it decrypts: no plaintext on failure. */
	ret = crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len,
								 src + len, NULL, 0,
								 n, a->key);
	crypto_sodium_stack_done();
	return ret ? -EBADMSG : 0;
}

static int sodium_open(struct dp_aead *a, uint64_t nonce, uint8_t *buf,
		       size_t len)
{
	return sodium_open_to(a, nonce, buf, buf, len);
}

const struct dp_aead_ops dp_aead_sodium = {
	.name = "libsodium",
	.new = sodium_new,
	.free = sodium_free_ctx,
	.key = sodium_key,
	.seal = sodium_seal,
	.open = sodium_open,
	.open_to = sodium_open_to,
};
