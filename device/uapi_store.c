// SPDX-License-Identifier: MIT
/*
 * An in-memory configuration store behind the UAPI: the semantics of
 * wireguard-go's set=1 applied to plain data.  The tests use it as the
 * reference, and the daemon serves it until the data plane takes over.
 * A transaction is applied to a copy that replaces the live state only once
 * everything has succeeded, so a failing set changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/uapi.h"

void uapi_store_init(struct uapi_store *st)
{
	memset(st, 0, sizeof(*st));
}

static void free_peers(struct uapi_store_peer *peers, size_t n, size_t cap)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(peers[i].aips);
	if (peers)
		sodium_memzero(peers, cap * sizeof(*peers));
	free(peers);
}

void uapi_store_free(struct uapi_store *st)
{
	free_peers(st->peers, st->n_peers, st->cap_peers);
	sodium_memzero(st, sizeof(*st));
}

static int copy_peers(struct uapi_store *dst, const struct uapi_store *src)
{
	size_t i;

	dst->peers = NULL;
	dst->n_peers = 0;
	dst->cap_peers = src->n_peers ? src->n_peers : 0;
	if (!src->n_peers)
		return 0;
	dst->peers = calloc(dst->cap_peers, sizeof(*dst->peers));
	if (!dst->peers)
		return -ENOMEM;
	for (i = 0; i < src->n_peers; i++) {
		struct uapi_store_peer *p = &dst->peers[i];

		*p = src->peers[i];
		p->aips = NULL;
		p->cap_aips = p->n_aips;
		dst->n_peers++;
		if (!p->n_aips)
			continue;
		p->aips = malloc(p->n_aips * sizeof(*p->aips));
		if (!p->aips) {
			p->n_aips = 0;
			return -ENOMEM;
		}
		memcpy(p->aips, src->peers[i].aips, p->n_aips * sizeof(*p->aips));
	}
	return 0;
}

/*
 * While a transaction is applied, peers keep their index (removal only
 * marks them) and two hash tables find a peer by key and a prefix's owner,
 * so a set with tens of thousands of peers stays linear.
 */
struct apply {
	struct uapi_store *st;
	size_t live_peers;
	size_t peer_cap, aip_cap;
	uint32_t *peer_slots;		/* peer index + 1; 0: empty */
	struct aip_slot {
		struct uapi_prefix prefix;
		uint32_t owner;		/* peer index + 1; 0: nobody */
		bool used;
	} *aip_slots;
};

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

static bool live(const struct apply *a, uint32_t idx1)
{
	return idx1 && !a->st->peers[idx1 - 1].removed;
}

static long find_peer(const struct apply *a, const uint8_t key[UAPI_KEY_LEN])
{
	size_t i = hash_bytes(key, UAPI_KEY_LEN) & (a->peer_cap - 1);
	uint32_t v;

	for (; (v = a->peer_slots[i]); i = (i + 1) & (a->peer_cap - 1))
		if (live(a, v) && !memcmp(a->st->peers[v - 1].public_key, key, UAPI_KEY_LEN))
			return (long)v - 1;
	return -1;
}

static void index_peer(struct apply *a, size_t idx)
{
	size_t i = hash_bytes(a->st->peers[idx].public_key, UAPI_KEY_LEN) &
		   (a->peer_cap - 1);

	while (a->peer_slots[i])
		i = (i + 1) & (a->peer_cap - 1);
	a->peer_slots[i] = (uint32_t)idx + 1;
}

static struct aip_slot *aip_slot(struct apply *a, const struct uapi_prefix *p)
{
	size_t i = hash_bytes(p, sizeof(*p)) & (a->aip_cap - 1);

	for (; a->aip_slots[i].used; i = (i + 1) & (a->aip_cap - 1))
		if (uapi_prefix_equal(&a->aip_slots[i].prefix, p))
			return &a->aip_slots[i];
	a->aip_slots[i].used = true;
	a->aip_slots[i].prefix = *p;
	a->aip_slots[i].owner = 0;
	return &a->aip_slots[i];
}

static int apply_init(struct apply *a, struct uapi_store *st, const struct uapi_txn *txn)
{
	size_t i, j, aips = 0, peers = st->n_peers + txn->n_peers;

	for (i = 0; i < st->n_peers; i++)
		aips += st->peers[i].n_aips;
	for (i = 0; i < txn->n_peers; i++)
		aips += txn->peers[i].n_aips;
	memset(a, 0, sizeof(*a));
	a->st = st;
	a->live_peers = st->n_peers;
	a->peer_cap = table_size(peers);
	a->aip_cap = table_size(aips);
	a->peer_slots = calloc(a->peer_cap, sizeof(*a->peer_slots));
	a->aip_slots = calloc(a->aip_cap, sizeof(*a->aip_slots));
	if (!a->peer_slots || !a->aip_slots)
		return -ENOMEM;
	for (i = 0; i < st->n_peers; i++) {
		index_peer(a, i);
		for (j = 0; j < st->peers[i].n_aips; j++)
			aip_slot(a, &st->peers[i].aips[j])->owner = (uint32_t)i + 1;
	}
	return 0;
}

static void apply_free(struct apply *a)
{
	free(a->peer_slots);
	free(a->aip_slots);
}

/* Drops the removed peers, keeping the order of the others. */
static void compact(struct uapi_store *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->n_peers; i++) {
		if (st->peers[i].removed) {
			free(st->peers[i].aips);
			continue;
		}
		if (n != i)
			st->peers[n] = st->peers[i];
		n++;
	}
	if (n < st->n_peers)
		sodium_memzero(&st->peers[n], (st->n_peers - n) * sizeof(*st->peers));
	st->n_peers = n;
}

static int add_peer(struct apply *a, const uint8_t key[UAPI_KEY_LEN])
{
	struct uapi_store *st = a->st;
	struct uapi_store_peer *np;
	size_t ncap;

	if (a->live_peers >= UAPI_MAX_PEERS)
		return -EINVAL;
	if (st->n_peers == st->cap_peers) {
		ncap = st->cap_peers ? st->cap_peers * 2 : 4;
		np = calloc(ncap, sizeof(*np));
		if (!np)
			return -ENOMEM;
		if (st->peers)
			memcpy(np, st->peers, st->n_peers * sizeof(*np));
		free_peers(st->peers, 0, st->cap_peers);
		st->peers = np;
		st->cap_peers = ncap;
	}
	np = &st->peers[st->n_peers];
	memset(np, 0, sizeof(*np));
	memcpy(np->public_key, key, UAPI_KEY_LEN);
	index_peer(a, st->n_peers++);
	a->live_peers++;
	return 0;
}

static void drop_aip(struct uapi_store_peer *p, const struct uapi_prefix *pfx)
{
	size_t i;

	for (i = p->n_aips; i > 0; i--) {
		if (!uapi_prefix_equal(&p->aips[i - 1], pfx))
			continue;
		memmove(&p->aips[i - 1], &p->aips[i], (p->n_aips - i) * sizeof(*p->aips));
		p->n_aips--;
		return;
	}
}

/* Allowed IPs belong to the device: adding one takes it from its owner. */
static int add_aip(struct apply *a, size_t idx, const struct uapi_prefix *pfx)
{
	struct uapi_store_peer *p = &a->st->peers[idx];
	struct aip_slot *slot = aip_slot(a, pfx);
	struct uapi_prefix *na;

	if (slot->owner == idx + 1)
		return 0;
	if (live(a, slot->owner))
		drop_aip(&a->st->peers[slot->owner - 1], pfx);
	if (p->n_aips == p->cap_aips) {
		size_t ncap = p->cap_aips ? p->cap_aips * 2 : 4;

		na = realloc(p->aips, ncap * sizeof(*na));
		if (!na)
			return -ENOMEM;
		p->aips = na;
		p->cap_aips = ncap;
	}
	p->aips[p->n_aips++] = *pfx;
	slot->owner = (uint32_t)idx + 1;
	return 0;
}

static void remove_aip(struct apply *a, size_t idx, const struct uapi_prefix *pfx)
{
	struct aip_slot *slot = aip_slot(a, pfx);

	if (slot->owner != idx + 1)
		return;
	drop_aip(&a->st->peers[idx], pfx);
	slot->owner = 0;
}

static void clear_aips(struct apply *a, size_t idx)
{
	struct uapi_store_peer *p = &a->st->peers[idx];
	size_t i;

	for (i = 0; i < p->n_aips; i++)
		aip_slot(a, &p->aips[i])->owner = 0;
	p->n_aips = 0;
}

static void remove_peer(struct apply *a, size_t idx)
{
	if (a->st->peers[idx].removed)
		return;
	clear_aips(a, idx);
	a->st->peers[idx].removed = true;
	a->live_peers--;
}

static int apply_aips(struct apply *a, size_t idx, const struct uapi_peer_op *op)
{
	size_t i;
	int ret;

	for (i = 0; i < op->n_aips; i++) {
		const struct uapi_aip_op *ao = &op->aips[i];

		if (ao->action == UAPI_AIP_CLEAR) {
			clear_aips(a, idx);
		} else if (ao->action == UAPI_AIP_REMOVE) {
			remove_aip(a, idx, &ao->prefix);
		} else {
			ret = add_aip(a, idx, &ao->prefix);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int apply_peer(struct apply *a, const struct uapi_peer_op *op)
{
	struct uapi_store *st = a->st;
	struct uapi_store_peer *p;
	long idx;
	int ret;

	if (!sodium_is_zero(st->private_key, UAPI_KEY_LEN) &&
	    !sodium_memcmp(op->public_key, st->public_key, UAPI_KEY_LEN))
		return 0;
	idx = find_peer(a, op->public_key);
	if (op->flags & UAPI_PEER_REMOVE) {
		if (idx >= 0)
			remove_peer(a, (size_t)idx);
		return 0;
	}
	if (idx < 0) {
		if (op->flags & UAPI_PEER_UPDATE_ONLY)
			return 0;
		ret = add_peer(a, op->public_key);
		if (ret)
			return ret;
		idx = (long)st->n_peers - 1;
	}
	p = &st->peers[idx];
	if (op->flags & UAPI_PEER_PRESHARED_KEY)
		memcpy(p->preshared_key, op->preshared_key, UAPI_KEY_LEN);
	if (op->flags & UAPI_PEER_ENDPOINT) {
		p->endpoint = op->endpoint;
		p->has_endpoint = true;
	}
	if (op->flags & UAPI_PEER_KEEPALIVE)
		p->persistent_keepalive_interval = op->persistent_keepalive_interval;
	return apply_aips(a, (size_t)idx, op);
}

static int apply_device(struct apply *a, const struct uapi_txn *txn)
{
	struct uapi_store *st = a->st;
	size_t i;

	if (txn->flags & UAPI_DEV_PRIVATE_KEY) {
		memcpy(st->private_key, txn->private_key, UAPI_KEY_LEN);
		memset(st->public_key, 0, UAPI_KEY_LEN);
		if (!sodium_is_zero(st->private_key, UAPI_KEY_LEN) &&
		    crypto_scalarmult_base(st->public_key, st->private_key))
			return -EINVAL;
		/* A peer with our own public key makes no sense: drop it. */
		if (!sodium_is_zero(st->private_key, UAPI_KEY_LEN)) {
			long idx = find_peer(a, st->public_key);

			if (idx >= 0)
				remove_peer(a, (size_t)idx);
		}
	}
	if (txn->flags & UAPI_DEV_REPLACE_PEERS)
		for (i = 0; i < st->n_peers; i++)
			remove_peer(a, i);
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
static int run_hooks(struct uapi_store *next, const struct uapi_store *cur,
		     const struct uapi_txn *txn)
{
	bool mark = (txn->flags & UAPI_DEV_FWMARK) && next->set_mark;
	uint16_t port = next->listen_port;

	if (mark && next->set_mark(next->hook_arg, next->fwmark))
		return UAPI_ERR_PORT_IN_USE;
	if ((txn->flags & UAPI_DEV_LISTEN_PORT) && next->bind_port) {
		if (next->bind_port(next->hook_arg, &port, next->fwmark)) {
			if (mark)
				next->set_mark(next->hook_arg, cur->fwmark);
			return UAPI_ERR_PORT_IN_USE;
		}
		next->listen_port = port;
	}
	return 0;
}

int uapi_store_apply(struct uapi_store *st, const struct uapi_txn *txn)
{
	struct uapi_store next = *st;
	struct apply a;
	size_t i;
	int ret;

	memset(&a, 0, sizeof(a));
	ret = copy_peers(&next, st);
	if (!ret)
		ret = apply_init(&a, &next, txn);
	if (!ret)
		ret = apply_device(&a, txn);
	for (i = 0; !ret && i < txn->n_peers; i++)
		ret = apply_peer(&a, &txn->peers[i]);
	if (!ret)
		ret = run_hooks(&next, st, txn);
	apply_free(&a);
	if (ret) {
		free_peers(next.peers, next.n_peers, next.cap_peers);
		sodium_memzero(&next, sizeof(next));
		return ret;
	}
	compact(&next);
	free_peers(st->peers, st->n_peers, st->cap_peers);
	*st = next;
	sodium_memzero(&next, sizeof(next));
	return 0;
}

int uapi_store_snapshot(struct uapi_store *st, struct uapi_snapshot *snap)
{
	struct uapi_peer_info *pi;
	size_t i, j;

	memcpy(snap->private_key, st->private_key, UAPI_KEY_LEN);
	snap->listen_port = st->listen_port;
	snap->fwmark = st->fwmark;
	for (i = 0; i < st->n_peers; i++) {
		const struct uapi_store_peer *p = &st->peers[i];

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
	for (i = 0; !ret && i < st->n_peers; i++) {
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
