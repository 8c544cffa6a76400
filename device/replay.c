// SPDX-License-Identifier: MIT
#include "config.h"

#include "device/replay.h"

#include <string.h>

#define BLOCK_SHIFT 6
#define BLOCK_MASK (REPLAY_RING_BLOCKS - 1)
#define BIT_MASK (REPLAY_BLOCK_BITS - 1)

_Static_assert((1 << BLOCK_SHIFT) == REPLAY_BLOCK_BITS, "block size");
_Static_assert((REPLAY_RING_BLOCKS & BLOCK_MASK) == 0, "ring is a power of 2");

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool replay_check(struct replay *r, uint64_t counter)
{
	uint64_t block = counter >> BLOCK_SHIFT, old;

	if (counter >= REPLAY_REJECT_AFTER_MESSAGES)
		return false;
	if (counter > r->last) {
		/*
		 * Moving forward: clear the blocks between the old and the new
		 * head, which still hold bits from a full ring ago.  One lap
		 * clears everything, so a far jump costs no more than that.
		 */
		uint64_t cur = r->last >> BLOCK_SHIFT;
		uint64_t diff = block - cur;

		if (diff > REPLAY_RING_BLOCKS)
			diff = REPLAY_RING_BLOCKS;
		for (uint64_t i = cur + 1; i <= cur + diff; i++)
			r->ring[i & BLOCK_MASK] = 0;
		r->last = counter;
	} else if (r->last - counter > REPLAY_WINDOW_SIZE) {
		return false;
	}
	block &= BLOCK_MASK;
	old = r->ring[block];
	r->ring[block] = old | 1ULL << (counter & BIT_MASK);
	return r->ring[block] != old;
}
