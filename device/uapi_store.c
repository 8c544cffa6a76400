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

static long find_peer(const struct uapi_store *st, const uint8_t key[UAPI_KEY_LEN])
{
	size_t i;

	for (i = 0; i < st->n_peers; i++)
		if (!memcmp(st->peers[i].public_key, key, UAPI_KEY_LEN))
			return (long)i;
	return -1;
}

static void remove_peer(struct uapi_store *st, size_t i)
{
	free(st->peers[i].aips);
	memmove(&st->peers[i], &st->peers[i + 1],
		(st->n_peers - i - 1) * sizeof(*st->peers));
	st->n_peers--;
	sodium_memzero(&st->peers[st->n_peers], sizeof(*st->peers));
}

static int add_peer(struct uapi_store *st, const uint8_t key[UAPI_KEY_LEN])
{
	struct uapi_store_peer *np;
	size_t ncap;

	if (st->n_peers >= UAPI_MAX_PEERS)
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
	np = &st->peers[st->n_peers++];
	memset(np, 0, sizeof(*np));
	memcpy(np->public_key, key, UAPI_KEY_LEN);
	return 0;
}

static bool drop_aip(struct uapi_store_peer *p, const struct uapi_prefix *pfx)
{
	size_t i;

	for (i = 0; i < p->n_aips; i++) {
		if (!uapi_prefix_equal(&p->aips[i], pfx))
			continue;
		memmove(&p->aips[i], &p->aips[i + 1],
			(p->n_aips - i - 1) * sizeof(*p->aips));
		p->n_aips--;
		return true;
	}
	return false;
}

/* Allowed IPs belong to the device: adding one takes it from its owner. */
static int add_aip(struct uapi_store *st, size_t owner, const struct uapi_prefix *pfx)
{
	struct uapi_store_peer *p = &st->peers[owner];
	struct uapi_prefix *na;
	size_t i;

	for (i = 0; i < p->n_aips; i++)
		if (uapi_prefix_equal(&p->aips[i], pfx))
			return 0;
	for (i = 0; i < st->n_peers; i++)
		if (i != owner && drop_aip(&st->peers[i], pfx))
			break;
	if (p->n_aips == p->cap_aips) {
		size_t ncap = p->cap_aips ? p->cap_aips * 2 : 4;

		na = realloc(p->aips, ncap * sizeof(*na));
		if (!na)
			return -ENOMEM;
		p->aips = na;
		p->cap_aips = ncap;
	}
	p->aips[p->n_aips++] = *pfx;
	return 0;
}

static int apply_peer(struct uapi_store *st, const struct uapi_peer_op *op)
{
	struct uapi_store_peer *p;
	long idx;
	size_t i;
	int ret;

	if (!sodium_is_zero(st->private_key, UAPI_KEY_LEN) &&
	    !sodium_memcmp(op->public_key, st->public_key, UAPI_KEY_LEN))
		return 0;
	idx = find_peer(st, op->public_key);
	if (op->flags & UAPI_PEER_REMOVE) {
		if (idx >= 0)
			remove_peer(st, (size_t)idx);
		return 0;
	}
	if (idx < 0) {
		if (op->flags & UAPI_PEER_UPDATE_ONLY)
			return 0;
		ret = add_peer(st, op->public_key);
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
	for (i = 0; i < op->n_aips; i++) {
		const struct uapi_aip_op *a = &op->aips[i];

		if (a->action == UAPI_AIP_CLEAR) {
			st->peers[idx].n_aips = 0;
		} else if (a->action == UAPI_AIP_REMOVE) {
			drop_aip(&st->peers[idx], &a->prefix);
		} else {
			ret = add_aip(st, (size_t)idx, &a->prefix);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int apply_device(struct uapi_store *st, const struct uapi_txn *txn)
{
	size_t i;

	if (txn->flags & UAPI_DEV_PRIVATE_KEY) {
		memcpy(st->private_key, txn->private_key, UAPI_KEY_LEN);
		memset(st->public_key, 0, UAPI_KEY_LEN);
		if (!sodium_is_zero(st->private_key, UAPI_KEY_LEN) &&
		    crypto_scalarmult_base(st->public_key, st->private_key))
			return -EINVAL;
		/* A peer with our own public key makes no sense: drop it. */
		for (i = 0; i < st->n_peers;) {
			if (!sodium_is_zero(st->private_key, UAPI_KEY_LEN) &&
			    !sodium_memcmp(st->peers[i].public_key, st->public_key,
					   UAPI_KEY_LEN))
				remove_peer(st, i);
			else
				i++;
		}
	}
	if (txn->flags & UAPI_DEV_REPLACE_PEERS) {
		while (st->n_peers)
			remove_peer(st, st->n_peers - 1);
	}
	if (txn->flags & UAPI_DEV_LISTEN_PORT)
		st->listen_port = txn->listen_port;
	if (txn->flags & UAPI_DEV_FWMARK)
		st->fwmark = txn->fwmark;
	return 0;
}

/* The hooks touch the outside world, so they run last, once the rest of
 * the transaction is known to succeed. */
static int run_hooks(struct uapi_store *next, const struct uapi_txn *txn)
{
	uint16_t port = next->listen_port;

	if ((txn->flags & UAPI_DEV_LISTEN_PORT) && next->bind_port) {
		if (next->bind_port(next->hook_arg, &port))
			return UAPI_ERR_PORT_IN_USE;
		next->listen_port = port;
	}
	if ((txn->flags & UAPI_DEV_FWMARK) && next->set_mark &&
	    next->set_mark(next->hook_arg, next->fwmark))
		return UAPI_ERR_PORT_IN_USE;
	return 0;
}

int uapi_store_apply(struct uapi_store *st, const struct uapi_txn *txn)
{
	struct uapi_store next = *st;
	size_t i;
	int ret;

	ret = copy_peers(&next, st);
	if (ret)
		goto fail;
	ret = apply_device(&next, txn);
	if (ret)
		goto fail;
	for (i = 0; i < txn->n_peers; i++) {
		ret = apply_peer(&next, &txn->peers[i]);
		if (ret)
			goto fail;
	}
	ret = run_hooks(&next, txn);
	if (ret)
		goto fail;
	free_peers(st->peers, st->n_peers, st->cap_peers);
	*st = next;
	sodium_memzero(&next, sizeof(next));
	return 0;
fail:
	free_peers(next.peers, next.n_peers, next.cap_peers);
	sodium_memzero(&next, sizeof(next));
	return ret;
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
