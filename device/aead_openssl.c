// SPDX-License-Identifier: MIT
/*
 * Data-path ChaCha20-Poly1305 on OpenSSL's libcrypto.
 *
 * An EVP_CIPHER_CTX is not safe to share between threads, yet a keypair is
 * used by every queue worker at once.  So each thread owns one encrypting
 * and one decrypting EVP context and remembers which dp_aead (by a serial
 * number that is never reused, unlike a pointer) its key came from: while
 * a worker keeps sending to the same peer only the nonce changes, which is
 * what makes libcrypto cheap per packet.  If libcrypto fails for any
 * reason the packet is handled by libsodium, which gives the same bytes.
 *
 * A cached EVP context holds a copy of the key, and an idle worker may
 * not touch its contexts for hours; freeing a dp_aead must not leave the
 * key there.  So every thread's contexts are in a registry, and the free
 * clears each context still keyed with the dying serial.  That needs no
 * lock on the packet path: a context keyed with a live dp_aead is never
 * touched by another thread (a dp_aead is freed only once nobody uses
 * it), so its owner may use it freely; only re-keying a context, which
 * may race with a free clearing it, takes the thread's lock.
 */
#include "config.h"

#include "device/crypto.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

struct dp_aead {
	uint8_t key[AEAD_KEY_SIZE];
	uint64_t serial;
};

enum { DIR_OPEN, DIR_SEAL };

/*
 * owner[dir] is the serial of the key in ctx[dir], 0 for none.  The
 * owning thread reads it without the lock; everything else about the
 * slots is changed under lock, by the owner re-keying or by a free
 * clearing a slot whose key dies.
 */
struct thread_ctx {
	pthread_mutex_t lock;
	EVP_CIPHER_CTX *ctx[2];
	_Atomic uint64_t owner[2];
	bool registered;
	struct thread_ctx *prev, *next;	/* under registry_lock */
};

static _Atomic uint64_t next_serial = 1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static const EVP_CIPHER *cipher;
static __thread struct thread_ctx tls = { .lock = PTHREAD_MUTEX_INITIALIZER };
/* Taken before a thread_ctx's lock. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_ctx *registry;

static void thread_ctx_destroy(void *p)
{
	struct thread_ctx *t = p;
	int i;

	pthread_mutex_lock(&registry_lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		registry = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	pthread_mutex_unlock(&registry_lock);
	t->registered = false;
	for (i = 0; i < 2; i++) {
		EVP_CIPHER_CTX_free(t->ctx[i]);	/* clears the key material */
		t->ctx[i] = NULL;
		atomic_store_explicit(&t->owner[i], 0, memory_order_relaxed);
	}
}

static void global_init(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	/* Fetch once: an implicit fetch on every init is a measurable cost. */
	cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
#endif
	if (!cipher)
		cipher = EVP_chacha20_poly1305();
	pthread_key_create(&tls_key, thread_ctx_destroy);
}

/* Makes this thread's contexts reachable by frees on other threads (and
 * freed when it exits) before they ever hold a key. */
static bool thread_register(void)
{
	if (tls.registered)
		return true;
	if (pthread_setspecific(tls_key, &tls))
		return false;
	pthread_mutex_lock(&registry_lock);
	tls.prev = NULL;
	tls.next = registry;
	if (registry)
		registry->prev = &tls;
	registry = &tls;
	pthread_mutex_unlock(&registry_lock);
	tls.registered = true;
	return true;
}

/* Keys this thread's context for a; called with tls.lock held. */
static EVP_CIPHER_CTX *thread_ctx_key(struct dp_aead *a, int dir,
				      const uint8_t n[AEAD_NONCE_SIZE])
{
	EVP_CIPHER_CTX *c = tls.ctx[dir];

	if (!c) {
		c = EVP_CIPHER_CTX_new();
		if (!c)
			return NULL;
		if (!EVP_CipherInit_ex(c, cipher, NULL, NULL, NULL, dir)) {
			EVP_CIPHER_CTX_free(c);
			return NULL;
		}
		tls.ctx[dir] = c;
	}
	atomic_store_explicit(&tls.owner[dir], 0, memory_order_relaxed);
	if (!EVP_CipherInit_ex(c, NULL, NULL, a->key, n, dir)) {
		/* It may hold part of the key, which no free would clear. */
		EVP_CIPHER_CTX_free(c);
		tls.ctx[dir] = NULL;
		return NULL;
	}
	atomic_store_explicit(&tls.owner[dir], a->serial, memory_order_relaxed);
	return c;
}

/* The calling thread's context for a, keyed and with the nonce set. */
static EVP_CIPHER_CTX *thread_ctx(struct dp_aead *a, int dir, const uint8_t n[AEAD_NONCE_SIZE])
{
	EVP_CIPHER_CTX *c;

	if (atomic_load_explicit(&tls.owner[dir], memory_order_relaxed) == a->serial &&
	    EVP_CipherInit_ex(tls.ctx[dir], NULL, NULL, NULL, n, dir))
		return tls.ctx[dir];
	pthread_once(&once, global_init);
	if (!cipher || !thread_register())
		return NULL;
	pthread_mutex_lock(&tls.lock);
	c = thread_ctx_key(a, dir, n);
	pthread_mutex_unlock(&tls.lock);
	return c;
}

/* Clears every context, on any thread, keyed with serial: no thread is
 * using that key any more, and its owner re-keys it under t->lock. */
static void forget_key(uint64_t serial)
{
	struct thread_ctx *t;
	EVP_CIPHER_CTX *c;
	int i;

	pthread_mutex_lock(&registry_lock);
	for (t = registry; t; t = t->next) {
		pthread_mutex_lock(&t->lock);
		for (i = 0; i < 2; i++) {
			if (atomic_load_explicit(&t->owner[i], memory_order_relaxed) != serial)
				continue;
			atomic_store_explicit(&t->owner[i], 0, memory_order_relaxed);
			c = t->ctx[i];
			/* The reset frees the cipher state, clearing the key. */
			EVP_CIPHER_CTX_reset(c);
			if (!EVP_CipherInit_ex(c, cipher, NULL, NULL, NULL, i)) {
				EVP_CIPHER_CTX_free(c);
				t->ctx[i] = NULL;
			}
		}
		pthread_mutex_unlock(&t->lock);
	}
	pthread_mutex_unlock(&registry_lock);
}

static struct dp_aead *openssl_new(const uint8_t key[AEAD_KEY_SIZE])
{
	struct dp_aead *a = malloc(sizeof(*a));

	if (!a)
		return NULL;
	memcpy(a->key, key, AEAD_KEY_SIZE);
	a->serial = atomic_fetch_add_explicit(&next_serial, 1,
					      memory_order_relaxed);
	return a;
}

static void openssl_free(struct dp_aead *a)
{
	if (!a)
		return;
	forget_key(a->serial);
	sodium_memzero(a, sizeof(*a));
	free(a);
}

static void openssl_key(const struct dp_aead *a, uint8_t key[AEAD_KEY_SIZE])
{
	memcpy(key, a->key, AEAD_KEY_SIZE);
}

static void fallback_seal(struct dp_aead *a, const uint8_t n[AEAD_NONCE_SIZE], uint8_t *buf,
			  size_t len)
{
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, buf + len, NULL,
							   buf, len, NULL, 0,
							   NULL, n, a->key);
	crypto_sodium_stack_done();
}

static int fallback_open(struct dp_aead *a, const uint8_t n[AEAD_NONCE_SIZE], uint8_t *dst,
			 const uint8_t *src, size_t len)
{
	int ret = crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len,
								     src + len, NULL, 0,
								     n, a->key);

	crypto_sodium_stack_done();
	return ret ? -EBADMSG : 0;
}

static void openssl_seal(struct dp_aead *a, uint64_t nonce, uint8_t *buf,
			 size_t len)
{
	EVP_CIPHER_CTX *c;
	uint8_t n[AEAD_NONCE_SIZE];
	int outl;

	aead_nonce(n, nonce);
	if (len > INT_MAX - 64)
		goto fallback;
	c = thread_ctx(a, DIR_SEAL, n);
	if (!c)
		goto fallback;
	/*
	 * With the context keyed and the nonce set, an in-memory stream
	 * cipher cannot fail halfway; if it ever did, buf would be neither
	 * plaintext nor ciphertext, and sending it would be worse than dying.
	 */
	if (!EVP_EncryptUpdate(c, buf, &outl, buf, (int)len) ||
	    !EVP_EncryptFinal_ex(c, buf + outl, &outl) ||
	    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_SIZE,
				 buf + len))
		abort();
	return;
fallback:
	fallback_seal(a, n, buf, len);
}

static int openssl_open_to(struct dp_aead *a, uint64_t nonce, uint8_t *dst,
			   const uint8_t *src, size_t len)
{
	EVP_CIPHER_CTX *c;
	uint8_t n[AEAD_NONCE_SIZE];
	int outl;

	if (len < AEAD_TAG_SIZE)
		return -EBADMSG;
	aead_nonce(n, nonce);
	len -= AEAD_TAG_SIZE;
	if (len > INT_MAX - 64)
		goto fallback;
	c = thread_ctx(a, DIR_OPEN, n);
	if (!c)
		goto fallback;
	/* The tag is copied into the context before dst is written. */
	if (!EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_SIZE,
				 (void *)(src + len)) ||
	    !EVP_DecryptUpdate(c, dst, &outl, src, (int)len))
		goto fail;
	if (EVP_DecryptFinal_ex(c, dst + outl, &outl) <= 0)
		goto fail;
	return 0;
fail:
	/* Don't leave unauthenticated plaintext behind. */
	sodium_memzero(dst, len);
	return -EBADMSG;
fallback:
	return fallback_open(a, n, dst, src, len);
}

static int openssl_open(struct dp_aead *a, uint64_t nonce, uint8_t *buf,
			size_t len)
{
	return openssl_open_to(a, nonce, buf, buf, len);
}

const struct dp_aead_ops dp_aead_openssl = {
	.name = "OpenSSL libcrypto",
	.new = openssl_new,
	.free = openssl_free,
	.key = openssl_key,
	.seal = openssl_seal,
	.open = openssl_open,
	.open_to = openssl_open_to,
};

/*
 * libcrypto costs some 400 ns per call before the first byte (EVP
 * re-initialisation, OSSL_PARAM lookups for the tag) but then runs about
 * twice as fast per byte as libsodium 1.0.18; libsodium has almost no
 * per-call cost.  `aead-bench -x` puts the crossover between 192 and 256
 * bytes, so short packets (TCP ACKs, keepalives) go to libsodium.
 */
#define OPENSSL_MIN_LEN 256

static void hybrid_seal(struct dp_aead *a, uint64_t nonce, uint8_t *buf,
			size_t len)
{
	uint8_t n[AEAD_NONCE_SIZE];

	if (len >= OPENSSL_MIN_LEN) {
		openssl_seal(a, nonce, buf, len);
		return;
	}
	aead_nonce(n, nonce);
	fallback_seal(a, n, buf, len);
}

static int hybrid_open_to(struct dp_aead *a, uint64_t nonce, uint8_t *dst,
			  const uint8_t *src, size_t len)
{
	uint8_t n[AEAD_NONCE_SIZE];

	if (len >= OPENSSL_MIN_LEN + AEAD_TAG_SIZE)
		return openssl_open_to(a, nonce, dst, src, len);
	if (len < AEAD_TAG_SIZE)
		return -EBADMSG;
	aead_nonce(n, nonce);
	return fallback_open(a, n, dst, src, len - AEAD_TAG_SIZE);
}

static int hybrid_open(struct dp_aead *a, uint64_t nonce, uint8_t *buf,
		       size_t len)
{
	return hybrid_open_to(a, nonce, buf, buf, len);
}

const struct dp_aead_ops dp_aead_hybrid = {
	.name = "OpenSSL libcrypto (libsodium below 256 bytes)",
	.new = openssl_new,
	.free = openssl_free,
	.key = openssl_key,
	.seal = hybrid_seal,
	.open = hybrid_open,
	.open_to = hybrid_open_to,
};
