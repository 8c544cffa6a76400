/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_DEVICE_RATELIMITER_H
#define VGUARD_DEVICE_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Per-source token buckets for handshake messages under load, as in the
 * kernel: 20 packets per second with a burst of 5.  IPv4 sources are keyed
 * by address, IPv6 sources by their /64 (one host can own a whole /64).
 * Entries idle for more than a second are collected, at most once a
 * second, from within ratelimiter_allow (or by ratelimiter_gc).  The table
 * is bounded: when it is full, sources not already in it are refused.
 * Thread-safe.
 */
#define RATELIMITER_PACKETS_PER_SECOND 20
#define RATELIMITER_BURST 5
#define RATELIMITER_DEFAULT_MAX_ENTRIES 65536

struct ratelimiter;

/* Nanoseconds on a monotonic clock; injectable so tests run in no time. */
typedef uint64_t (*ratelimiter_clock_fn)(void *ctx);

/* max_entries 0: the default; clock NULL: CLOCK_MONOTONIC. */
struct ratelimiter *ratelimiter_new(size_t max_entries,
				    ratelimiter_clock_fn clock, void *clock_ctx);
void ratelimiter_free(struct ratelimiter *rl);

/* family AF_INET (4 bytes) or AF_INET6 (16 bytes, network order); false
 * for an unknown family. */
bool ratelimiter_allow(struct ratelimiter *rl, int family, const void *addr);
void ratelimiter_gc(struct ratelimiter *rl);
size_t ratelimiter_count(struct ratelimiter *rl);

#endif
