/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_DEVICE_REPLAY_H
#define VGUARD_DEVICE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The receive-side replay window of one keypair (RFC 6479 style): a ring
 * of 128 64-bit blocks.  Counters more than REPLAY_WINDOW_SIZE behind the
 * highest one accepted are rejected, as is every counter at or above
 * REPLAY_REJECT_AFTER_MESSAGES (2^64 - 2^13 - 1, WireGuard's
 * RejectAfterMessages).  Call replay_check only after the packet has been
 * authenticated, or a forger could move the window.  Not thread-safe: the
 * caller holds the keypair's receive lock.
 */
#define REPLAY_BLOCK_BITS 64
#define REPLAY_RING_BLOCKS 128
#define REPLAY_WINDOW_SIZE ((REPLAY_RING_BLOCKS - 1) * REPLAY_BLOCK_BITS)
#define REPLAY_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))

struct replay {
	uint64_t last;
	uint64_t ring[REPLAY_RING_BLOCKS];
};

void replay_init(struct replay *r);
/* true when counter is new (and now recorded), false for a replay, a
 * counter too old for the window or one at or past the limit. */
bool replay_check(struct replay *r, uint64_t counter);

#endif
