// SPDX-License-Identifier: MIT
/*
 * The handshake rate limiter.  Buckets live in a chained hash table keyed
 * with SipHash under a random key, so a flood of chosen source addresses
 * cannot pile up in one chain.
 */
#include "config.h"

#include "device/ratelimiter.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#define NSEC_PER_SEC 1000000000ULL
#define PACKET_COST (NSEC_PER_SEC / RATELIMITER_PACKETS_PER_SECOND)
#define TOKEN_MAX (PACKET_COST * RATELIMITER_BURST)
#define GC_INTERVAL NSEC_PER_SEC
#define IDLE_AFTER NSEC_PER_SEC

struct bucket {
	struct bucket *next;
	uint64_t last_ns;
	uint64_t tokens;
	uint8_t key[9];		/* family tag, then 4 or 8 address bytes */
};

struct ratelimiter {
	pthread_mutex_t lock;
	struct bucket **table;
	size_t nbuckets, count, max_entries;
	uint64_t last_gc;
	uint8_t hash_key[crypto_shorthash_siphash24_KEYBYTES];
	ratelimiter_clock_fn clock;
	void *clock_ctx;
};

static uint64_t monotonic_ns(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

struct ratelimiter *ratelimiter_new(size_t max_entries,
				    ratelimiter_clock_fn clock, void *clock_ctx)
{
	struct ratelimiter *rl = calloc(1, sizeof(*rl));
	size_t n = 16;

	if (!rl)
		return NULL;
	rl->max_entries = max_entries ? max_entries : RATELIMITER_DEFAULT_MAX_ENTRIES;
	/* One bucket per 8 entries at most, like the kernel's sizing. */
	while (n * 8 < rl->max_entries)
		n *= 2;
	rl->nbuckets = n;
	rl->table = calloc(n, sizeof(*rl->table));
	if (!rl->table || pthread_mutex_init(&rl->lock, NULL)) {
		free(rl->table);
		free(rl);
		return NULL;
	}
	rl->clock = clock ? clock : monotonic_ns;
	rl->clock_ctx = clock_ctx;
	randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
	rl->last_gc = rl->clock(rl->clock_ctx);
	return rl;
}

static void gc_locked(struct ratelimiter *rl, uint64_t now)
{
	for (size_t i = 0; i < rl->nbuckets; i++) {
		struct bucket **pp = &rl->table[i], *b;

		while ((b = *pp)) {
			if (now - b->last_ns > IDLE_AFTER) {
				*pp = b->next;
				free(b);
				rl->count--;
			} else {
				pp = &b->next;
			}
		}
	}
	rl->last_gc = now;
}

void ratelimiter_gc(struct ratelimiter *rl)
{
	pthread_mutex_lock(&rl->lock);
	gc_locked(rl, rl->clock(rl->clock_ctx));
	pthread_mutex_unlock(&rl->lock);
}

static int make_key(uint8_t key[9], int family, const uint8_t *addr)
{
	memset(key, 0, 9);
	if (family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, addr, 4);
		return 0;
	}
	if (family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, addr, 8);	/* the /64 */
		return 0;
	}
	return -1;
}

bool ratelimiter_allow(struct ratelimiter *rl, int family, const void *addr)
{
	uint8_t key[9], h[crypto_shorthash_siphash24_BYTES];
	struct bucket *b;
	uint64_t now, tokens;
	size_t idx;
	bool ret = false;

	if (make_key(key, family, addr))
		return false;
	crypto_shorthash_siphash24(h, key, sizeof(key), rl->hash_key);
	memcpy(&idx, h, sizeof(idx));
	idx &= rl->nbuckets - 1;

	pthread_mutex_lock(&rl->lock);
	now = rl->clock(rl->clock_ctx);
	if (now - rl->last_gc >= GC_INTERVAL)
		gc_locked(rl, now);
	for (b = rl->table[idx]; b; b = b->next)
		if (!memcmp(b->key, key, sizeof(key)))
			break;
	if (b) {
		tokens = b->tokens + (now - b->last_ns);
		if (tokens > TOKEN_MAX)
			tokens = TOKEN_MAX;
		b->last_ns = now;
		ret = tokens >= PACKET_COST;
		b->tokens = ret ? tokens - PACKET_COST : tokens;
		goto out;
	}
	if (rl->count >= rl->max_entries)
		goto out;
	b = malloc(sizeof(*b));
	if (!b)
		goto out;
	memcpy(b->key, key, sizeof(key));
	b->last_ns = now;
	b->tokens = TOKEN_MAX - PACKET_COST;
	b->next = rl->table[idx];
	rl->table[idx] = b;
	rl->count++;
	ret = true;
out:
	pthread_mutex_unlock(&rl->lock);
	return ret;
}

size_t ratelimiter_count(struct ratelimiter *rl)
{
	size_t n;

	pthread_mutex_lock(&rl->lock);
	n = rl->count;
	pthread_mutex_unlock(&rl->lock);
	return n;
}

void ratelimiter_free(struct ratelimiter *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < rl->nbuckets; i++) {
		struct bucket *b = rl->table[i], *next;

		for (; b; b = next) {
			next = b->next;
			free(b);
		}
	}
	free(rl->table);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}
