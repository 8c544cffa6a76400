/* SPDX-License-Identifier: MIT */
/*
 * Configuration: a UAPI set is applied to the store (device/uapi.h), then
 * the protocol state and the routing table are brought in line with it;
 * get reads both back.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/device_impl.h"

static int hook_bind_port(void *arg, uint16_t *port, uint32_t mark)
{
	struct device *d = arg;
	int ret;

	/* Down: the port is used at the next link up.  Up but without
	 * sockets (the port was taken then): try again now. */
	if (!d->binds_open) {
		if (!d->link_up)
			return 0;
		ret = dev_open_binds(d, *port, mark);
		if (ret)
			return ret;
		d->binds_open = true;
		goto bound;
	}
	/* Same port: nothing to move (wg syncconf repeats it). */
	if (*port && *port == d->port)
		return 0;
	ret = d->opts.memnet ? -EOPNOTSUPP : vg_bind_group_rebind(d->binds, d->nworkers, *port);
	if (ret == -EOPNOTSUPP) {
		/* The in-memory network cannot rebind: reopen instead. */
		struct vg_bind *old[DEVICE_MAX_QUEUES];

		memcpy(old, d->binds, d->nworkers * sizeof(*old));
		ret = dev_open_binds(d, *port, mark);
		if (ret) {
			memcpy(d->binds, old, d->nworkers * sizeof(*old));
			return ret;
		}
		vg_bind_group_close(old, d->nworkers);
	}
	if (ret)
		return ret;
bound:
	d->port = vg_bind_port(d->binds[0]);
	*port = d->port;
	atomic_fetch_add(&d->bind_gen, 1);
	dev_kick_workers(d);
	dev_clear_all_src(d);
	return 0;
}

/* Every queue or none: a queue that refuses the mark puts the ones before
 * it back to the mark they had. */
static int hook_set_mark(void *arg, uint32_t mark)
{
	struct device *d = arg;
	uint32_t old[DEVICE_MAX_QUEUES];
	unsigned int i;
	int ret;

	if (!d->binds_open)
		return 0;
	for (i = 0; i < d->nworkers; i++) {
		old[i] = vg_bind_fwmark(d->binds[i]);
		ret = vg_bind_set_fwmark(d->binds[i], mark);
		if (ret)
			goto undo;
	}
	dev_clear_all_src(d);
	return 0;
undo:
	while (i--)
		vg_bind_set_fwmark(d->binds[i], old[i]);
	return ret;
}

/* An empty store whose port and fwmark changes move the sockets. */
void dev_config_init(struct device *d)
{
	uapi_store_init(&d->store);
	d->store.bind_port = hook_bind_port;
	d->store.set_mark = hook_set_mark;
	d->store.hook_arg = d;
}

void dev_remove_peer(struct device *d, struct wg_peer *wp)
{
	struct dev_peer *p = dev_peer_of(wp);

	dev_mbox_purge_peer(d, p);
	wg_peer_remove(wp);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

/* The transaction's peer sections by public key, so each store peer finds
 * its section in O(1): open addressing over indices + 1 (0 is empty). */
struct op_index {
	const struct uapi_txn *txn;
	const struct wg_proto *proto;
	size_t mask;
	uint32_t *slots;
};

static size_t op_slot(const struct op_index *x, const uint8_t *pub)
{
	size_t i = wg_proto_key_hash(x->proto, pub) & x->mask;
	uint32_t v;

	for (; (v = x->slots[i]); i = (i + 1) & x->mask)
		if (!memcmp(x->txn->peers[v - 1].public_key, pub, UAPI_KEY_LEN))
			break;
	return i;
}

static int op_index_build(struct op_index *x, const struct uapi_txn *txn,
			  const struct wg_proto *proto)
{
	size_t cap = 16, i;

	while (cap < 2 * txn->n_peers)
		cap *= 2;
	x->txn = txn;
	x->proto = proto;
	x->mask = cap - 1;
	x->slots = calloc(cap, sizeof(*x->slots));
	if (!x->slots)
		return -ENOMEM;
	/* The last section for a key wins, as the store applied them in order. */
	for (i = 0; i < txn->n_peers; i++)
		x->slots[op_slot(x, txn->peers[i].public_key)] = (uint32_t)i + 1;
	return 0;
}

static const struct uapi_peer_op *txn_op_for(const struct op_index *x, const uint8_t *pub)
{
	uint32_t v = x->slots[op_slot(x, pub)];

	return v ? &x->txn->peers[v - 1] : NULL;
}

static struct dev_peer *sync_peer(struct device *d, const struct uapi_store_peer *sp,
				  const struct op_index *ops, uint64_t now, int *err)
{
	const struct uapi_txn *txn = ops->txn;
	const struct uapi_peer_op *op = txn_op_for(ops, sp->public_key);
	struct wg_peer *wp = wg_proto_find_peer(&d->proto, sp->public_key);
	struct dev_peer *p;
	bool fresh = false;

	if (!wp) {
		/* One counter set per slot, each on its own cache lines. */
		size_t size = sizeof(*p) + DEV_SLOTS(d) * sizeof(p->cnt[0]);

		p = aligned_alloc(_Alignof(struct dev_peer), size);
		if (!p) {
			*err = -ENOMEM;
			return NULL;
		}
		memset(p, 0, size);
		p->nslots = DEV_SLOTS(d);
		wp = wg_peer_new(&d->proto, sp->public_key, err);
		if (!wp) {
			free(p);
			return NULL;
		}
		p->wp = wp;
		memcpy(p->pub, sp->public_key, sizeof(p->pub));
		wp->user = p;
		fresh = true;
	}
	p = dev_peer_of(wp);
	/* replace_peers: every field comes from this transaction, but a peer
	 * listed again keeps its session (unlike wireguard-go, which drops
	 * it), so `wg setconf` with an unchanged peer does not stall. */
	if (txn->flags & UAPI_DEV_REPLACE_PEERS)
		fresh = true;
	if (fresh || (op && (op->flags & UAPI_PEER_PRESHARED_KEY)))
		wg_peer_set_psk(wp, sodium_is_zero(sp->preshared_key, UAPI_KEY_LEN) ?
				NULL : sp->preshared_key);
	if (sp->has_endpoint && (fresh || (op && (op->flags & UAPI_PEER_ENDPOINT)))) {
		wg_peer_set_endpoint(wp, &sp->endpoint);
	}
	if (fresh || (op && (op->flags & UAPI_PEER_KEEPALIVE))) {
		uint16_t old = (uint16_t)atomic_load(&wp->persistent_keepalive);

		if (old != sp->persistent_keepalive_interval)
			wg_peer_set_persistent_keepalive(wp, sp->persistent_keepalive_interval,
							 now);
	}
	return p;
}

/* Brings the protocol state and the routing table in line with the store;
 * cfg_lock held for writing. */
static int sync_runtime(struct device *d, const struct uapi_txn *txn, bool key_changed)
{
	struct allowedips *rt = allowedips_new();
	struct wg_peer *wp, *next;
	uint64_t now = dev_now(d);
	struct op_index ops;
	size_t i, j;
	int ret = 0;

	if (!rt)
		return -ENOMEM;
	ret = op_index_build(&ops, txn, &d->proto);
	if (ret) {
		allowedips_free(rt);
		return ret;
	}
	if (key_changed) {
		bool none = sodium_is_zero(d->store.private_key, UAPI_KEY_LEN);

		ret = wg_proto_set_private_key(&d->proto, none ? NULL : d->store.private_key);
		if (ret)
			goto out;
		for (wp = d->proto.peers; wp; wp = wp->next)
			wg_peer_zero_keys(wp);
	}
	/* Peers gone from the store (removed, replaced, or our own key):
	 * mark those still there, then sweep the rest. */
	d->sync_gen++;
	for (i = 0; i < d->store.n_peers; i++) {
		wp = wg_proto_find_peer(&d->proto, d->store.peers[i].public_key);
		if (wp)
			dev_peer_of(wp)->sync_gen = d->sync_gen;
	}
	for (wp = d->proto.peers; wp; wp = next) {
		next = wp->next;
		if (dev_peer_of(wp)->sync_gen != d->sync_gen)
			dev_remove_peer(d, wp);
	}
	for (i = 0; i < d->store.n_peers; i++) {
		const struct uapi_store_peer *sp = &d->store.peers[i];
		struct dev_peer *p = sync_peer(d, sp, &ops, now, &ret);

		if (!p)
			goto out;
		for (j = 0; j < sp->n_aips; j++) {
			const struct uapi_prefix *a = &sp->aips[j];

			ret = allowedips_insert(rt, a->family, a->addr, a->cidr, p);
			if (ret)
				goto out;
		}
	}
	allowedips_free(d->rt);
	d->rt = rt;
	free(ops.slots);
	return 0;
out:
	allowedips_free(rt);
	free(ops.slots);
	return ret;
}

static int dev_set(void *ctx, const struct uapi_txn *txn)
{
	struct device *d = ctx;
	uint8_t old_key[UAPI_KEY_LEN];
	bool key_changed;
	int ret;

	pthread_rwlock_wrlock(&d->cfg_lock);
	memcpy(old_key, d->store.private_key, UAPI_KEY_LEN);
	ret = uapi_store_apply(&d->store, txn);
	if (ret)
		goto out;
	key_changed = sodium_memcmp(old_key, d->store.private_key, UAPI_KEY_LEN) != 0;
	ret = sync_runtime(d, txn, key_changed);
	if (ret)
		dev_log(d, DEVICE_LOG_ERROR, "applying the configuration: %s", strerror(-ret));
out:
	sodium_memzero(old_key, sizeof(old_key));
	pthread_rwlock_unlock(&d->cfg_lock);
	return ret;
}

/* ---- get ---- */

static int dev_get(void *ctx, struct uapi_snapshot *snap)
{
	struct device *d = ctx;
	struct vg_endpoint ep;
	size_t i;
	int ret;

	pthread_rwlock_rdlock(&d->cfg_lock);
	ret = uapi_store_snapshot(&d->store, snap);
	if (!ret)
		snap->listen_port = d->binds_open ? d->port : d->store.listen_port;
	for (i = 0; !ret && i < snap->n_peers; i++) {
		struct uapi_peer_info *pi = &snap->peers[i];
		struct wg_peer *wp = wg_proto_find_peer(&d->proto, pi->public_key);
		uint64_t hs;

		if (!wp)
			continue;
		if (wg_peer_get_endpoint(wp, &ep) && ep.dst.sa.sa_family) {
			pi->has_endpoint = true;
			pi->endpoint = ep;
		}
		hs = atomic_load(&wp->last_handshake_ns);
		pi->last_handshake_sec = (int64_t)(hs / WG_NSEC_PER_SEC);
		pi->last_handshake_nsec = (int64_t)(hs % WG_NSEC_PER_SEC);
		dev_peer_bytes(dev_peer_of(wp), &pi->rx_bytes, &pi->tx_bytes);
	}
	pthread_rwlock_unlock(&d->cfg_lock);
	return ret;
}

const struct uapi_ops device_uapi_ops = {
	.set = dev_set,
	.get = dev_get,
	.stats = dev_stats,
};

