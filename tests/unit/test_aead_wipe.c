// SPDX-License-Identifier: MIT
/*
 * Once a data-path AEAD context is freed its key must be gone from the
 * whole process: also from the per-thread state of threads that sealed
 * and opened with it and now sit idle (what a queue worker does after a
 * keypair is zeroed, retired by a rekey or dropped with its peer).
 *
 * The test never holds the key in memory itself: it keeps the key as two
 * random halves whose XOR is the key (mask ^ masked), builds the key only
 * for the moment of keying and wipes that copy, and searches memory by
 * comparing each byte XOR mask against masked.  Memory is read through
 * /proc/self/mem, which neither faults on nor upsets AddressSanitizer
 * about memory the program does not own.
 */
#include "config.h"

#include "device/crypto.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct dp_aead_ops *const backends[] = {
	&dp_aead_sodium,
#ifdef HAVE_OPENSSL
	&dp_aead_openssl,
	&dp_aead_hybrid,
#endif
};
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* Either half of the key counts as a copy: SIMD code holds it so. */
#define PIECE 16
#define CHUNK (1 << 20)
/* Larger mappings are sanitizer shadow memory, not the program's data. */
#define MAX_REGION (64 << 20)

static uint8_t mask[AEAD_KEY_SIZE], masked[AEAD_KEY_SIZE];
static uint8_t chunk[CHUNK];

static void setup(void)
{
	ck_assert_int_eq(crypto_init(), 0);
	crypto_random(mask, sizeof(mask));
	crypto_random(masked, sizeof(masked));
}

static struct dp_aead *new_keyed(const struct dp_aead_ops *ops)
{
	uint8_t key[AEAD_KEY_SIZE];
	struct dp_aead *a;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = mask[i] ^ masked[i];
	a = ops->new(key);
	crypto_wipe(key, sizeof(key));
	return a;
}

/* Does buf start with key piece p (0 or 1)? */
static bool piece_at(const uint8_t *buf, int p)
{
	for (int i = 0; i < PIECE; i++)
		if ((buf[i] ^ mask[p * PIECE + i]) != masked[p * PIECE + i])
			return false;
	return true;
}

/* Where in buf[0..len) either key piece starts, or NULL. */
static const uint8_t *find_key(const uint8_t *buf, size_t len)
{
	const uint8_t *q;

	if (len < PIECE)
		return NULL;
	for (int p = 0; p < 2; p++) {
		const uint8_t *end = buf + len - PIECE + 1;
		int first = mask[p * PIECE] ^ masked[p * PIECE];

		for (q = buf; (q = memchr(q, first, end - q)); q++)
			if (piece_at(q, p))
				return q;
	}
	return NULL;
}

/* Searches [start, end) for either half of the key; its address or 0. */
static uintptr_t scan_region(int mem, uintptr_t start, uintptr_t end)
{
	for (uintptr_t at = start; at < end; at += CHUNK - PIECE) {
		size_t want = end - at < CHUNK ? end - at : CHUNK;
		ssize_t n = pread(mem, chunk, want, (off_t)at);
		const uint8_t *q = n > 0 ? find_key(chunk, n) : NULL;

		if (q)
			return at + (q - chunk);
		if (n < 0 || (size_t)n < want || at + CHUNK >= end)
			break;
	}
	return 0;
}

/* Every private writable mapping: heap, stacks, anonymous memory, data. */
static uintptr_t scan_process(char *where, size_t wherelen)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	char line[512];
	uintptr_t hit = 0;

	ck_assert_ptr_nonnull(maps);
	ck_assert_int_ge(mem, 0);
	while (!hit && fgets(line, sizeof(line), maps)) {
		uintptr_t start, end;
		char perms[8];

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s",
			   &start, &end, perms) < 3)
			continue;
		if (strncmp(perms, "rw", 2) || end - start > MAX_REGION)
			continue;
		hit = scan_region(mem, start, end);
		if (hit)
			snprintf(where, wherelen, "%#" PRIxPTR " in %s", hit, line);
	}
	close(mem);
	fclose(maps);
	/* What it read may hold the key; the next search must not find it. */
	crypto_wipe(chunk, sizeof(chunk));
	return hit;
}

enum step { IDLE, USE, USED, EXIT };

struct helper {
	const struct dp_aead_ops *ops;
	struct dp_aead *a;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum step step;
	int bad;
};

static void helper_wait(struct helper *h, enum step s)
{
	pthread_mutex_lock(&h->lock);
	while (h->step != s)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

static void helper_set(struct helper *h, enum step s)
{
	pthread_mutex_lock(&h->lock);
	h->step = s;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static int use_context(const struct dp_aead_ops *ops, struct dp_aead *a)
{
	static const size_t lens[] = { 1420, 64 };
	uint8_t buf[1420 + AEAD_TAG_SIZE];
	int bad = 0;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(buf, 0x5a, lens[i]);
		ops->seal(a, 7, buf, lens[i]);
		if (ops->open(a, 7, buf, lens[i] + AEAD_TAG_SIZE))
			bad++;
	}
	return bad;
}

/*
 * Seals and opens long and short packets (both paths of the hybrid) with
 * the context under test, then stays alive and idle until told to exit.
 *
 * It first does the same with a throwaway context, as any worker has by
 * the time a key dies: the first call through each lazily bound PLT
 * entry saves every vector register on the stack, and libcrypto's
 * ChaCha20 returns with key rows still in them.  That happens once per
 * function and process, to whatever key the registers hold then; this
 * test is about what a free leaves behind.
 */
static void *helper_main(void *p)
{
	struct helper *h = p;
	uint8_t key[AEAD_KEY_SIZE];
	struct dp_aead *w;

	crypto_random(key, sizeof(key));
	w = h->ops->new(key);
	crypto_wipe(key, sizeof(key));
	if (!w || use_context(h->ops, w))
		h->bad++;
	h->ops->free(w);
	helper_wait(h, USE);
	h->bad += use_context(h->ops, h->a);
	helper_set(h, USED);
	helper_wait(h, EXIT);
	return NULL;
}

START_TEST(freed_key_leaves_no_trace)
{
	struct helper h = { .ops = backends[_i], .step = IDLE };
	char where[600];
	uintptr_t hit;
	pthread_t th;

	h.a = new_keyed(h.ops);
	ck_assert_ptr_nonnull(h.a);
	/* The search finds a live key: the test can see what it looks for. */
	ck_assert_uint_ne(scan_process(where, sizeof(where)), 0);

	pthread_mutex_init(&h.lock, NULL);
	pthread_cond_init(&h.cond, NULL);
	ck_assert_int_eq(pthread_create(&th, NULL, helper_main, &h), 0);
	helper_set(&h, USE);
	helper_wait(&h, USED);
	h.ops->free(h.a);
	hit = scan_process(where, sizeof(where));
	helper_set(&h, EXIT);
	pthread_join(th, NULL);
	pthread_cond_destroy(&h.cond);
	pthread_mutex_destroy(&h.lock);

	ck_assert_int_eq(h.bad, 0);
	ck_assert_msg(!hit, "%s: freed key still at %s", h.ops->name, where);
}
END_TEST

static Suite *aead_wipe_suite(void)
{
	Suite *s = suite_create("aead-wipe");
	TCase *tc = tcase_create("freed-key");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, freed_key_leaves_no_trace, 0, N_BACKENDS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(aead_wipe_suite(), false);
}
