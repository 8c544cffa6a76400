// SPDX-License-Identifier: MIT
/*
 * An in-memory configuration store behind the UAPI: the semantics of
 * wireguard-go's set=1 applied to plain data.  The tests use it as the
 * reference, and the device keeps its configuration in one.
 *
 * A transaction is applied in place, every change logged first with what
 * it replaces; a failure replays the log backwards, so a failing set
 * changes nothing.  Two hash tables kept with the store find a peer by key
 * and a prefix's owner, so a set costs what it changes: one peer added to
 * tens of thousands costs what one peer costs.  A removed peer leaves a
 * hole in peers[] (its index is what the log and the tables hold) until
 * a commit finds enough holes to compact, which keeps the others' order.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/uapi.h"

#define SLOT_GONE UINT32_MAX	/* a peer_slots entry whose peer was taken back */

struct uapi_store_aip {
	struct uapi_prefix prefix;
	uint32_t owner;			/* peer index + 1; 0: nobody */
	bool used;
};

enum undo_kind {
	UNDO_PEER_ADDED,	/* peers[idx] appended */
	UNDO_PEER_REMOVED,	/* peers[idx] marked removed */
	UNDO_FIELDS,		/* psk, endpoint, keepalive of peers[idx] */
	UNDO_AIPS_CLEARED,	/* peers[idx]'s list replaced by an empty one */
	UNDO_AIP_APPENDED,	/* prefix appended to peers[idx]; owner before */
	UNDO_AIP_DROPPED,	/* prefix taken out of peers[idx] at pos */
};

struct uapi_store_undo {
	enum undo_kind kind;
	uint32_t idx, pos, owner;
	struct uapi_prefix prefix;
	struct uapi_prefix *aips;
	size_t n_aips, cap_aips;
	uint8_t preshared_key[UAPI_KEY_LEN];
	bool has_endpoint;
	struct vg_endpoint endpoint;
	uint16_t persistent_keepalive_interval;
};

void uapi_store_init(struct uapi_store *st)
{
	memset(st, 0, sizeof(*st));
}

void uapi_store_free(struct uapi_store *st)
{
	size_t i;

	for (i = 0; i < st->n_slots; i++)
		free(st->peers[i].aips);
	if (st->peers)
		sodium_memzero(st->peers, st->cap_peers * sizeof(*st->peers));
	free(st->peers);
	free(st->peer_slots);
	free(st->aip_slots);
	free(st->undo);
	sodium_memzero(st, sizeof(*st));
}

static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (n--)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

static size_t table_size(size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 16)
		cap *= 2;
	return cap;
}

/* ---- peers by key ---- */

static void index_peer_in(uint32_t *slots, size_t cap, const struct uapi_store *st, size_t idx)
{
	size_t i = hash_bytes(st->peers[idx].public_key, UAPI_KEY_LEN) & (cap - 1);

	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = (uint32_t)idx + 1;
}

/* Every entry of peers[], removed ones too: an open transaction may
 * still bring them back. */
static int peer_table_rebuild(struct uapi_store *st, size_t want)
{
	size_t cap = table_size(want), i;
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < st->n_slots; i++)
		index_peer_in(slots, cap, st, i);
	free(st->peer_slots);
	st->peer_slots = slots;
	st->peer_cap = cap;
	st->peer_used = st->n_slots;
	return 0;
}

static uint32_t *peer_slot(const struct uapi_store *st, const uint8_t *key)
{
	size_t i;
	uint32_t v;

	if (!st->peer_cap)
		return NULL;
	i = hash_bytes(key, UAPI_KEY_LEN) & (st->peer_cap - 1);
	for (; (v = st->peer_slots[i]); i = (i + 1) & (st->peer_cap - 1))
		if (v != SLOT_GONE && !st->peers[v - 1].removed &&
		    !memcmp(st->peers[v - 1].public_key, key, UAPI_KEY_LEN))
			return &st->peer_slots[i];
	return NULL;
}

static long find_peer(const struct uapi_store *st, const uint8_t key[UAPI_KEY_LEN])
{
	uint32_t *slot = peer_slot(st, key);

	return slot ? (long)*slot - 1 : -1;
}

const struct uapi_store_peer *uapi_store_find(const struct uapi_store *st,
					      const uint8_t key[UAPI_KEY_LEN])
{
	long idx = find_peer(st, key);

	return idx < 0 ? NULL : &st->peers[idx];
}

/* ---- prefixes by owner ---- */

static struct uapi_store_aip *aip_probe(struct uapi_store_aip *slots, size_t cap,
					const struct uapi_prefix *p)
{
	size_t i = hash_bytes(p, sizeof(*p)) & (cap - 1);

	for (; slots[i].used; i = (i + 1) & (cap - 1))
		if (uapi_prefix_equal(&slots[i].prefix, p))
			break;
	return &slots[i];
}

/* keep_free: drop the entries nobody owns (no transaction open). */
static int aip_table_rebuild(struct uapi_store *st, size_t want, bool keep_free)
{
	size_t cap = table_size(want), i, used = 0;
	struct uapi_store_aip *slots = calloc(cap, sizeof(*slots)), *a;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < st->aip_cap; i++) {
		if (!st->aip_slots[i].used || (!keep_free && !st->aip_slots[i].owner))
			continue;
		a = aip_probe(slots, cap, &st->aip_slots[i].prefix);
		*a = st->aip_slots[i];
		used++;
	}
	free(st->aip_slots);
	st->aip_slots = slots;
	st->aip_cap = cap;
	st->aip_used = used;
	return 0;
}

static struct uapi_store_aip *aip_find(const struct uapi_store *st, const struct uapi_prefix *p)
{
	struct uapi_store_aip *a;

	if (!st->aip_cap)
		return NULL;
	a = aip_probe(st->aip_slots, st->aip_cap, p);
	return a->used ? a : NULL;
}

static int aip_get(struct uapi_store *st, const struct uapi_prefix *p, struct uapi_store_aip **out)
{
	struct uapi_store_aip *a = aip_find(st, p);
	int ret;

	if (!a) {
		if (2 * (st->aip_used + 1) > st->aip_cap) {
			ret = aip_table_rebuild(st, st->aip_used + 1, true);
			if (ret)
				return ret;
		}
		a = aip_probe(st->aip_slots, st->aip_cap, p);
		a->used = true;
		a->prefix = *p;
		a->owner = 0;
		st->aip_used++;
	}
	*out = a;
	return 0;
}

/* Every owner change goes through here, so the store knows how many
 * entries are owned and when the others are worth dropping. */
static void owner_set(struct uapi_store *st, struct uapi_store_aip *a, uint32_t owner)
{
	st->aip_owned += (owner != 0) - (a->owner != 0);
	a->owner = owner;
}

static void set_owner(struct uapi_store *st, const struct uapi_prefix *p, uint32_t owner)
{
	struct uapi_store_aip *a = aip_find(st, p);

	if (a)
		owner_set(st, a, owner);
}

const struct uapi_store_peer *uapi_store_owner(const struct uapi_store *st,
					       const struct uapi_prefix *p)
{
	struct uapi_store_aip *a = aip_find(st, p);

	return a && a->owner && !st->peers[a->owner - 1].removed ? &st->peers[a->owner - 1] : NULL;
}

/* ---- the undo log ---- */

static struct uapi_store_undo *log_push(struct uapi_store *st, enum undo_kind kind, size_t idx)
{
	struct uapi_store_undo *u;

	if (st->n_undo == st->cap_undo) {
		size_t ncap = st->cap_undo ? st->cap_undo * 2 : 16;

		u = realloc(st->undo, ncap * sizeof(*u));
		if (!u)
			return NULL;
		st->undo = u;
		st->cap_undo = ncap;
	}
	u = &st->undo[st->n_undo++];
	memset(u, 0, sizeof(*u));
	u->kind = kind;
	u->idx = (uint32_t)idx;
	return u;
}

static void aip_insert_at(struct uapi_store_peer *p, size_t pos, const struct uapi_prefix *pfx)
{
	memmove(&p->aips[pos + 1], &p->aips[pos], (p->n_aips - pos) * sizeof(*p->aips));
	p->aips[pos] = *pfx;
	p->n_aips++;
}

static void aip_take_at(struct uapi_store_peer *p, size_t pos)
{
	memmove(&p->aips[pos], &p->aips[pos + 1], (p->n_aips - pos - 1) * sizeof(*p->aips));
	p->n_aips--;
}

static void undo_one(struct uapi_store *st, struct uapi_store_undo *u)
{
	struct uapi_store_peer *p = &st->peers[u->idx];
	uint32_t *slot;
	size_t i;

	switch (u->kind) {
	case UNDO_PEER_ADDED:
		slot = peer_slot(st, p->public_key);
		if (slot)
			*slot = SLOT_GONE;
		free(p->aips);
		sodium_memzero(p, sizeof(*p));
		st->n_slots--;
		st->n_peers--;
		break;
	case UNDO_PEER_REMOVED:
		p->removed = false;
		st->n_peers++;
		break;
	case UNDO_FIELDS:
		memcpy(p->preshared_key, u->preshared_key, UAPI_KEY_LEN);
		p->has_endpoint = u->has_endpoint;
		p->endpoint = u->endpoint;
		p->persistent_keepalive_interval = u->persistent_keepalive_interval;
		break;
	case UNDO_AIPS_CLEARED:
		free(p->aips);
		p->aips = u->aips;
		p->n_aips = u->n_aips;
		p->cap_aips = u->cap_aips;
		for (i = 0; i < p->n_aips; i++)
			set_owner(st, &p->aips[i], u->idx + 1);
		break;
	case UNDO_AIP_APPENDED:
		p->n_aips--;
		set_owner(st, &u->prefix, u->owner);
		break;
	case UNDO_AIP_DROPPED:
		aip_insert_at(p, u->pos, &u->prefix);
		set_owner(st, &u->prefix, u->idx + 1);
		break;
	}
}

/* ---- the changes ---- */

static int add_peer(struct uapi_store *st, const uint8_t key[UAPI_KEY_LEN], size_t *idx)
{
	struct uapi_store_peer *np;
	int ret;

	if (st->n_peers >= UAPI_MAX_PEERS)
		return -EINVAL;
	if (st->n_slots == st->cap_peers) {
		size_t ncap = st->cap_peers ? st->cap_peers * 2 : 4;

		np = calloc(ncap, sizeof(*np));
		if (!np)
			return -ENOMEM;
		if (st->peers) {
			memcpy(np, st->peers, st->n_slots * sizeof(*np));
			sodium_memzero(st->peers, st->cap_peers * sizeof(*np));
		}
		free(st->peers);
		st->peers = np;
		st->cap_peers = ncap;
	}
	if (2 * (st->peer_used + 1) > st->peer_cap) {
		ret = peer_table_rebuild(st, st->n_slots + 1);
		if (ret)
			return ret;
	}
	if (!log_push(st, UNDO_PEER_ADDED, st->n_slots))
		return -ENOMEM;
	np = &st->peers[st->n_slots];
	memset(np, 0, sizeof(*np));
	memcpy(np->public_key, key, UAPI_KEY_LEN);
	index_peer_in(st->peer_slots, st->peer_cap, st, st->n_slots);
	st->peer_used++;
	*idx = st->n_slots++;
	st->n_peers++;
	return 0;
}

static int clear_aips(struct uapi_store *st, size_t idx)
{
	struct uapi_store_peer *p = &st->peers[idx];
	struct uapi_store_undo *u;
	size_t i;

	if (!p->aips)
		return 0;
	u = log_push(st, UNDO_AIPS_CLEARED, idx);
	if (!u)
		return -ENOMEM;
	u->aips = p->aips;
	u->n_aips = p->n_aips;
	u->cap_aips = p->cap_aips;
	for (i = 0; i < p->n_aips; i++)
		set_owner(st, &p->aips[i], 0);
	p->aips = NULL;
	p->n_aips = p->cap_aips = 0;
	return 0;
}

static int remove_peer(struct uapi_store *st, size_t idx)
{
	int ret;

	if (st->peers[idx].removed)
		return 0;
	ret = clear_aips(st, idx);
	if (ret)
		return ret;
	if (!log_push(st, UNDO_PEER_REMOVED, idx))
		return -ENOMEM;
	st->peers[idx].removed = true;
	st->n_peers--;
	return 0;
}

static long aip_pos(const struct uapi_store_peer *p, const struct uapi_prefix *pfx)
{
	size_t i;

	for (i = p->n_aips; i > 0; i--)
		if (uapi_prefix_equal(&p->aips[i - 1], pfx))
			return (long)i - 1;
	return -1;
}

static int drop_aip(struct uapi_store *st, size_t idx, const struct uapi_prefix *pfx)
{
	struct uapi_store_peer *p = &st->peers[idx];
	long pos = aip_pos(p, pfx);
	struct uapi_store_undo *u;

	if (pos < 0)
		return 0;
	u = log_push(st, UNDO_AIP_DROPPED, idx);
	if (!u)
		return -ENOMEM;
	u->pos = (uint32_t)pos;
	u->prefix = *pfx;
	aip_take_at(p, (size_t)pos);
	return 0;
}

static bool live(const struct uapi_store *st, uint32_t idx1)
{
	return idx1 && !st->peers[idx1 - 1].removed;
}

/* Allowed IPs belong to the device: adding one takes it from its owner. */
static int add_aip(struct uapi_store *st, size_t idx, const struct uapi_prefix *pfx)
{
	struct uapi_store_peer *p = &st->peers[idx];
	struct uapi_store_undo *u;
	struct uapi_store_aip *a;
	uint32_t prev;
	int ret;

	ret = aip_get(st, pfx, &a);
	if (ret)
		return ret;
	if (a->owner == idx + 1)
		return 0;
	if (p->n_aips == p->cap_aips) {
		size_t ncap = p->cap_aips ? p->cap_aips * 2 : 4;
		struct uapi_prefix *na = realloc(p->aips, ncap * sizeof(*na));

		if (!na)
			return -ENOMEM;
		p->aips = na;
		p->cap_aips = ncap;
	}
	prev = a->owner;
	if (live(st, prev)) {
		ret = drop_aip(st, prev - 1, pfx);
		if (ret)
			return ret;
	}
	u = log_push(st, UNDO_AIP_APPENDED, idx);
	if (!u)
		return -ENOMEM;
	u->prefix = *pfx;
	u->owner = prev;
	p->aips[p->n_aips++] = *pfx;
	owner_set(st, a, (uint32_t)idx + 1);
	return 0;
}

static int remove_aip(struct uapi_store *st, size_t idx, const struct uapi_prefix *pfx)
{
	struct uapi_store_aip *a = aip_find(st, pfx);
	int ret;

	if (!a || a->owner != idx + 1)
		return 0;
	ret = drop_aip(st, idx, pfx);
	if (!ret)
		owner_set(st, a, 0);
	return ret;
}

static int apply_aips(struct uapi_store *st, size_t idx, const struct uapi_peer_op *op)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < op->n_aips; i++) {
		const struct uapi_aip_op *ao = &op->aips[i];

		if (ao->action == UAPI_AIP_CLEAR)
			ret = clear_aips(st, idx);
		else if (ao->action == UAPI_AIP_REMOVE)
			ret = remove_aip(st, idx, &ao->prefix);
		else
			ret = add_aip(st, idx, &ao->prefix);
	}
	return ret;
}

static int apply_peer(struct uapi_store *st, const struct uapi_peer_op *op)
{
	struct uapi_store_undo *u;
	struct uapi_store_peer *p;
	long idx;
	size_t nidx;
	int ret;

	if (!sodium_is_zero(st->private_key, UAPI_KEY_LEN) &&
	    !sodium_memcmp(op->public_key, st->public_key, UAPI_KEY_LEN))
		return 0;
	idx = find_peer(st, op->public_key);
	if (op->flags & UAPI_PEER_REMOVE)
		return idx >= 0 ? remove_peer(st, (size_t)idx) : 0;
	if (idx < 0) {
		if (op->flags & UAPI_PEER_UPDATE_ONLY)
			return 0;
		ret = add_peer(st, op->public_key, &nidx);
		if (ret)
			return ret;
		idx = (long)nidx;
	}
	p = &st->peers[idx];
	if (op->flags & (UAPI_PEER_PRESHARED_KEY | UAPI_PEER_ENDPOINT | UAPI_PEER_KEEPALIVE)) {
		u = log_push(st, UNDO_FIELDS, (size_t)idx);
		if (!u)
			return -ENOMEM;
		memcpy(u->preshared_key, p->preshared_key, UAPI_KEY_LEN);
		u->has_endpoint = p->has_endpoint;
		u->endpoint = p->endpoint;
		u->persistent_keepalive_interval = p->persistent_keepalive_interval;
	}
	if (op->flags & UAPI_PEER_PRESHARED_KEY)
		memcpy(p->preshared_key, op->preshared_key, UAPI_KEY_LEN);
	if (op->flags & UAPI_PEER_ENDPOINT) {
		p->endpoint = op->endpoint;
		p->has_endpoint = true;
	}
	if (op->flags & UAPI_PEER_KEEPALIVE)
		p->persistent_keepalive_interval = op->persistent_keepalive_interval;
	return apply_aips(st, (size_t)idx, op);
}

static int apply_device(struct uapi_store *st, const struct uapi_txn *txn)
{
	size_t i;
	int ret;

	if (txn->flags & UAPI_DEV_PRIVATE_KEY) {
		memcpy(st->private_key, txn->private_key, UAPI_KEY_LEN);
		memset(st->public_key, 0, UAPI_KEY_LEN);
		if (!sodium_is_zero(st->private_key, UAPI_KEY_LEN) &&
		    crypto_scalarmult_base(st->public_key, st->private_key))
			return -EINVAL;
		/* A peer with our own public key makes no sense: drop it. */
		if (!sodium_is_zero(st->private_key, UAPI_KEY_LEN)) {
			long idx = find_peer(st, st->public_key);

			if (idx >= 0 && (ret = remove_peer(st, (size_t)idx)))
				return ret;
		}
	}
	if (txn->flags & UAPI_DEV_REPLACE_PEERS)
		for (i = 0; i < st->n_slots; i++)
			if ((ret = remove_peer(st, i)))
				return ret;
	if (txn->flags & UAPI_DEV_LISTEN_PORT)
		st->listen_port = txn->listen_port;
	if (txn->flags & UAPI_DEV_FWMARK)
		st->fwmark = txn->fwmark;
	return 0;
}

/* The hooks touch the outside world, so they run last, once the rest of
 * the transaction is known to succeed.  The mark goes first, so sockets
 * opened for a new port are born with it; if the port cannot move, the
 * old mark goes back (the sockets took it before, so they take it again). */
static int run_hooks(struct uapi_store *st, const struct uapi_txn *txn)
{
	bool mark = (txn->flags & UAPI_DEV_FWMARK) && st->set_mark;
	uint16_t port = st->listen_port;

	if (mark && st->set_mark(st->hook_arg, st->fwmark))
		return UAPI_ERR_PORT_IN_USE;
	if ((txn->flags & UAPI_DEV_LISTEN_PORT) && st->bind_port) {
		if (st->bind_port(st->hook_arg, &port, st->fwmark)) {
			if (mark)
				st->set_mark(st->hook_arg, st->saved_fwmark);
			return UAPI_ERR_PORT_IN_USE;
		}
		st->listen_port = port;
	}
	return 0;
}

/* ---- transactions ---- */

int uapi_store_begin(struct uapi_store *st, const struct uapi_txn *txn)
{
	size_t i;
	int ret;

	st->n_undo = 0;
	st->open = true;
	memcpy(st->saved_private_key, st->private_key, UAPI_KEY_LEN);
	memcpy(st->saved_public_key, st->public_key, UAPI_KEY_LEN);
	st->saved_listen_port = st->listen_port;
	st->saved_fwmark = st->fwmark;
	ret = apply_device(st, txn);
	for (i = 0; !ret && i < txn->n_peers; i++)
		ret = apply_peer(st, &txn->peers[i]);
	if (ret)
		uapi_store_abort(st);
	return ret;
}

static void log_clear(struct uapi_store *st)
{
	if (st->undo)
		sodium_memzero(st->undo, st->n_undo * sizeof(*st->undo));
	st->n_undo = 0;
	sodium_memzero(st->saved_private_key, UAPI_KEY_LEN);
}

void uapi_store_abort(struct uapi_store *st)
{
	if (!st->open)
		return;
	while (st->n_undo) {
		st->n_undo--;
		undo_one(st, &st->undo[st->n_undo]);
	}
	memcpy(st->private_key, st->saved_private_key, UAPI_KEY_LEN);
	memcpy(st->public_key, st->saved_public_key, UAPI_KEY_LEN);
	st->listen_port = st->saved_listen_port;
	st->fwmark = st->saved_fwmark;
	log_clear(st);
	st->open = false;
}

/* Drops the holes, keeping the order of the others; the tables follow.
 * Best effort: without memory the holes simply stay. */
static void compact(struct uapi_store *st)
{
	struct uapi_store_peer *np;
	size_t i, n = 0;

	np = calloc(st->n_peers ? st->n_peers : 1, sizeof(*np));
	if (!np)
		return;
	for (i = 0; i < st->n_slots; i++)
		if (!st->peers[i].removed)
			np[n++] = st->peers[i];
	sodium_memzero(st->peers, st->cap_peers * sizeof(*st->peers));
	free(st->peers);
	st->peers = np;
	st->cap_peers = st->n_peers ? st->n_peers : 1;
	st->n_slots = n;
	/* Owners are indices: every table is rebuilt from the peers. */
	if (st->aip_slots)
		memset(st->aip_slots, 0, st->aip_cap * sizeof(*st->aip_slots));
	st->aip_used = 0;
	st->aip_owned = 0;
	for (i = 0; i < n; i++) {
		for (size_t j = 0; j < np[i].n_aips; j++) {
			struct uapi_store_aip *a = aip_probe(st->aip_slots, st->aip_cap,
							     &np[i].aips[j]);

			a->used = true;
			a->prefix = np[i].aips[j];
			a->owner = (uint32_t)i + 1;
			st->aip_used++;
			st->aip_owned++;
		}
	}
	if (st->peer_slots)
		memset(st->peer_slots, 0, st->peer_cap * sizeof(*st->peer_slots));
	for (i = 0; i < n; i++)
		index_peer_in(st->peer_slots, st->peer_cap, st, i);
	st->peer_used = n;
}

void uapi_store_commit(struct uapi_store *st)
{
	size_t i;

	for (i = 0; i < st->n_undo; i++)
		if (st->undo[i].kind == UNDO_AIPS_CLEARED)
			free(st->undo[i].aips);
	log_clear(st);
	st->open = false;
	if (st->n_slots - st->n_peers > st->n_peers / 2 + 16)
		compact(st);
	else if (st->aip_used > 2 * st->aip_owned + 16)
		aip_table_rebuild(st, st->aip_owned, false);
}

int uapi_store_apply(struct uapi_store *st, const struct uapi_txn *txn)
{
	int ret = uapi_store_begin(st, txn);

	if (ret)
		return ret;
	ret = run_hooks(st, txn);
	if (ret) {
		uapi_store_abort(st);
		return ret;
	}
	uapi_store_commit(st);
	return 0;
}

int uapi_store_snapshot(struct uapi_store *st, struct uapi_snapshot *snap)
{
	struct uapi_peer_info *pi;
	size_t i, j;

	memcpy(snap->private_key, st->private_key, UAPI_KEY_LEN);
	snap->listen_port = st->listen_port;
	snap->fwmark = st->fwmark;
	for (i = 0; i < st->n_slots; i++) {
		const struct uapi_store_peer *p = &st->peers[i];

		if (p->removed)
			continue;
		pi = uapi_snapshot_add_peer(snap);
		if (!pi)
			return -ENOMEM;
		memcpy(pi->public_key, p->public_key, UAPI_KEY_LEN);
		memcpy(pi->preshared_key, p->preshared_key, UAPI_KEY_LEN);
		pi->has_endpoint = p->has_endpoint;
		pi->endpoint = p->endpoint;
		pi->persistent_keepalive_interval = p->persistent_keepalive_interval;
		for (j = 0; j < p->n_aips; j++)
			if (uapi_peer_info_add_aip(pi, &p->aips[j]))
				return -ENOMEM;
	}
	return 0;
}

static int store_set(void *ctx, const struct uapi_txn *txn)
{
	return uapi_store_apply(ctx, txn);
}

static int store_get(void *ctx, struct uapi_snapshot *snap)
{
	return uapi_store_snapshot(ctx, snap);
}

static int store_stats(void *ctx, struct uapi_emitter *em)
{
	struct uapi_store *st = ctx;
	struct uapi_peer_stats ps;
	size_t i;
	int ret;

	ret = uapi_emit_device_stats(em, &st->stats);
	for (i = 0; !ret && i < st->n_slots; i++) {
		if (st->peers[i].removed)
			continue;
		memset(&ps, 0, sizeof(ps));
		memcpy(ps.public_key, st->peers[i].public_key, UAPI_KEY_LEN);
		ret = uapi_emit_peer_stats(em, &ps);
	}
	return ret;
}

const struct uapi_ops uapi_store_ops = {
	.set = store_set,
	.get = store_get,
	.stats = store_stats,
};
