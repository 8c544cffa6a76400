/* SPDX-License-Identifier: MIT */
/*
 * Deferred reclamation for what the data path reads without a lock: the
 * routing table, the UDP sockets and removed peers (doc/architecture.md,
 * "Configuration").
 *
 * Each reader thread (a queue worker, the handshake thread) owns a slot.
 * It marks the slot with the current epoch while it may hold pointers to
 * shared state (one batch, one message) and clears it afterwards.  A
 * writer unpublishes an object, then retires it: the object is stamped
 * with a new epoch and freed only once every slot is clear or marked with
 * that epoch or a later one, i.e. once every reader that could have seen
 * it has moved on.  Nobody waits for anybody: a reader stuck in a
 * blocking write delays only the freeing.
 *
 * Writers (retire, reclaim) are serialised by the caller's lock.
 */
#ifndef VGUARD_DEVICE_EPOCH_H
#define VGUARD_DEVICE_EPOCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in what is retired, so retiring cannot fail. */
struct epoch_entry {
	struct epoch_entry *next;
	uint64_t epoch;
	void (*free)(struct epoch_entry *e);
};

struct epoch_slot {
	atomic_uint_fast64_t active;	/* 0: holds nothing */
} __attribute__((aligned(64)));

struct epoch {
	atomic_uint_fast64_t now;
	unsigned int nslots;
	struct epoch_slot *slots;
	struct epoch_entry *retired, **tail;	/* oldest first */
	size_t pending;
};

int epoch_init(struct epoch *e, unsigned int nslots);
/* Frees everything still retired: no reader may be running. */
void epoch_destroy(struct epoch *e);

/* The mark is a sequentially consistent read-modify-write, a full barrier
 * where it matters: no load of a shared pointer may pass it (a plain store
 * could be passed by a later load). */
static inline void epoch_enter(struct epoch *e, unsigned int slot)
{
	atomic_exchange(&e->slots[slot].active, atomic_load(&e->now));
}

static inline void epoch_exit(struct epoch *e, unsigned int slot)
{
	atomic_store_explicit(&e->slots[slot].active, 0, memory_order_release);
}

/* After the object is unreachable for new readers. */
void epoch_retire(struct epoch *e, struct epoch_entry *ent, void (*fn)(struct epoch_entry *));
/* Frees what no reader can hold any more; returns how many remain. */
size_t epoch_reclaim(struct epoch *e);

#endif
