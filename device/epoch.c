/* SPDX-License-Identifier: MIT */
#include "config.h"

#include "device/epoch.h"

#include <errno.h>
#include <stdlib.h>

int epoch_init(struct epoch *e, unsigned int nslots)
{
	e->slots = aligned_alloc(_Alignof(struct epoch_slot), nslots * sizeof(*e->slots));
	if (!e->slots)
		return -ENOMEM;
	for (unsigned int i = 0; i < nslots; i++)
		atomic_init(&e->slots[i].active, 0);
	e->nslots = nslots;
	atomic_init(&e->now, 1);
	e->retired = NULL;
	e->tail = &e->retired;
	e->pending = 0;
	return 0;
}

static void run_until(struct epoch *e, uint64_t limit)
{
	struct epoch_entry *ent;

	while ((ent = e->retired) && ent->epoch < limit) {
		e->retired = ent->next;
		if (!e->retired)
			e->tail = &e->retired;
		e->pending--;
		ent->free(ent);
	}
}

void epoch_destroy(struct epoch *e)
{
	if (e->tail)
		run_until(e, UINT64_MAX);
	free(e->slots);
	e->slots = NULL;
}

void epoch_retire(struct epoch *e, struct epoch_entry *ent, void (*fn)(struct epoch_entry *))
{
	ent->free = fn;
	ent->next = NULL;
	ent->epoch = atomic_fetch_add(&e->now, 1) + 1;
	*e->tail = ent;
	e->tail = &ent->next;
	e->pending++;
}

/* An entry stamped s is safe once every slot is clear or marked >= s: the
 * oldest mark still held bounds what may be freed. */
size_t epoch_reclaim(struct epoch *e)
{
	uint64_t limit = UINT64_MAX;

	if (!e->pending)
		return 0;
	for (unsigned int i = 0; i < e->nslots; i++) {
		uint64_t a = atomic_load(&e->slots[i].active);

		if (a && a < limit)
			limit = a;
	}
	run_until(e, limit + (limit != UINT64_MAX));
	return e->pending;
}
