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

/* An empty store; the sockets follow it through dev_set(), not its hooks. */
void dev_config_init(struct device *d)
{
	uapi_store_init(&d->store);
}

static void peer_free(struct epoch_entry *e)
{
	struct dev_peer *p = (struct dev_peer *)((char *)e - offsetof(struct dev_peer, retire));
	size_t size = sizeof(*p) + p->nslots * sizeof(p->cnt[0]);

	wg_peer_free(p->wp);
	sodium_memzero(p, size);
	free(p);
}

/* Nothing new may refer to p: its queued work is dropped, and what a
 * thread already holds stays valid until the epoch has moved on. */
static void unlink_peer(struct device *d, struct dev_peer *p)
{
	atomic_store(&p->removed, true);
	dev_mbox_purge_peer(d, p);
	wg_peer_unlink(p->wp);
}

/* Every thread has stopped, or p was never linked. */
void dev_remove_peer(struct device *d, struct wg_peer *wp)
{
	struct dev_peer *p = dev_peer_of(wp);

	unlink_peer(d, p);
	peer_free(&p->retire);
}

static void rt_free(struct epoch_entry *e)
{
	struct dev_rt *rt = (struct dev_rt *)((char *)e - offsetof(struct dev_rt, retire));

	allowedips_free(rt->t);
	free(rt);
}

/* Puts rt (NULL: none) in use; cfg_mutex held. */
void dev_rt_publish(struct device *d, struct dev_rt *rt)
{
	struct dev_rt *old = atomic_load(&d->rt);

	atomic_store(&d->rt, rt);
	if (old)
		epoch_retire(&d->epoch, &old->retire, rt_free);
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

static struct dev_peer *peer_alloc(struct device *d, const uint8_t *pub,
				   const struct noise_static_identity *id)
{
	/* One counter set per slot, each on its own cache lines. */
	size_t size = sizeof(struct dev_peer) + DEV_SLOTS(d) * sizeof(struct pcounters);
	struct dev_peer *p = aligned_alloc(_Alignof(struct dev_peer), size);

	if (!p)
		return NULL;
	memset(p, 0, size);
	p->nslots = DEV_SLOTS(d);
	p->wp = wg_peer_alloc(&d->proto, pub, id);
	if (!p->wp) {
		free(p);
		return NULL;
	}
	memcpy(p->pub, pub, sizeof(p->pub));
	p->wp->user = p;
	return p;
}

/* The store's settings for one peer, where this transaction set them (or
 * all of them for a new peer). */
static void configure_peer(struct wg_peer *wp, const struct uapi_store_peer *sp,
			   const struct uapi_peer_op *op, bool fresh, uint64_t now)
{
	if (fresh || (op && (op->flags & UAPI_PEER_PRESHARED_KEY)))
		wg_peer_set_psk(wp, sodium_is_zero(sp->preshared_key, UAPI_KEY_LEN) ?
				NULL : sp->preshared_key);
	if (sp->has_endpoint && (fresh || (op && (op->flags & UAPI_PEER_ENDPOINT))))
		wg_peer_set_endpoint(wp, &sp->endpoint);
	if (fresh || (op && (op->flags & UAPI_PEER_KEEPALIVE))) {
		uint16_t old = (uint16_t)atomic_load(&wp->persistent_keepalive);

		if (old != sp->persistent_keepalive_interval)
			wg_peer_set_persistent_keepalive(wp, sp->persistent_keepalive_interval,
							 now);
	}
}

/*
 * A set, prepared: everything that can fail is done here, on objects no
 * other thread can see, and commit() only swaps them in.  Peers of the
 * new store that exist already are marked with d->sync_gen; the others
 * are allocated (fresh), configured, and linked at commit.
 */
struct set_plan {
	struct uapi_store next;
	struct op_index ops;
	bool key_changed;
	struct noise_static_identity id;	/* the identity after it, if it changes */
	struct dev_peer **fresh;
	size_t n_fresh, n_kept;
	struct dev_peer **peer_of;	/* by index in the new store */
	size_t *touched, n_touched;	/* kept peers this set configures */
	struct dev_rt *rt;
	struct dev_binds *binds;	/* new sockets for a new port */
	bool mark_moved;		/* the sockets' fwmark changed */
};

static void plan_abort(struct device *d, struct set_plan *pl)
{
	size_t i;

	for (i = 0; i < pl->n_fresh; i++)
		peer_free(&pl->fresh[i]->retire);
	free(pl->fresh);
	free(pl->peer_of);
	free(pl->touched);
	if (pl->rt) {
		allowedips_free(pl->rt->t);
		free(pl->rt);
	}
	if (pl->binds) {
		vg_bind_group_close(pl->binds->b, pl->binds->n);
		free(pl->binds);
	}
	free(pl->ops.slots);
	sodium_memzero(&pl->id, sizeof(pl->id));
	uapi_store_abort(&pl->next);
}

static int plan_identity(struct set_plan *pl)
{
	if (sodium_is_zero(pl->next.private_key, UAPI_KEY_LEN))
		return 0;
	memcpy(pl->id.static_private, pl->next.private_key, UAPI_KEY_LEN);
	x25519_clamp(pl->id.static_private);
	if (x25519_public(pl->id.static_public, pl->id.static_private))
		return -EINVAL;
	pl->id.has_identity = true;
	return 0;
}

static int plan_peers(struct device *d, const struct uapi_txn *txn, struct set_plan *pl)
{
	const struct noise_static_identity *id = pl->key_changed ? &pl->id : NULL;
	bool replace = txn->flags & UAPI_DEV_REPLACE_PEERS;
	size_t i, n = pl->next.n_peers ? pl->next.n_peers : 1;
	uint64_t now = dev_now(d);

	pl->fresh = calloc(n, sizeof(*pl->fresh));
	pl->peer_of = calloc(n, sizeof(*pl->peer_of));
	pl->touched = calloc(n, sizeof(*pl->touched));
	if (!pl->fresh || !pl->peer_of || !pl->touched)
		return -ENOMEM;
	d->sync_gen++;
	for (i = 0; i < pl->next.n_peers; i++) {
		const struct uapi_store_peer *sp = &pl->next.peers[i];
		const struct uapi_peer_op *op = txn_op_for(&pl->ops, sp->public_key);
		struct wg_peer *wp = wg_proto_find_peer(&d->proto, sp->public_key);
		struct dev_peer *p;

		if (wp) {
			p = dev_peer_of(wp);
			pl->n_kept++;
			if (op || replace)
				pl->touched[pl->n_touched++] = i;
		} else {
			p = peer_alloc(d, sp->public_key, id);
			if (!p)
				return -ENOMEM;
			pl->fresh[pl->n_fresh++] = p;
			configure_peer(p->wp, sp, op, true, now);
		}
		p->sync_gen = d->sync_gen;
		pl->peer_of[i] = p;
	}
	return wg_proto_reserve(&d->proto, pl->n_kept + pl->n_fresh);
}

/* The new routing table, from the new store. */
static int plan_routes(struct set_plan *pl)
{
	size_t i, j;
	int ret;

	pl->rt = calloc(1, sizeof(*pl->rt));
	if (!pl->rt)
		return -ENOMEM;
	pl->rt->t = allowedips_new();
	if (!pl->rt->t)
		return -ENOMEM;
	for (i = 0; i < pl->next.n_peers; i++) {
		const struct uapi_store_peer *sp = &pl->next.peers[i];

		for (j = 0; j < sp->n_aips; j++) {
			const struct uapi_prefix *a = &sp->aips[j];

			ret = allowedips_insert(pl->rt->t, a->family, a->addr, a->cidr,
						pl->peer_of[i]);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * The sockets, last, because a failure here must undo what it did: a new
 * port gets a new set of sockets (published at commit); a new fwmark on
 * the sockets in use is set on each, and put back on all if one refuses.
 * Down, the port and mark wait for the next link up.
 */
static int plan_sockets(struct device *d, const struct uapi_txn *txn, struct set_plan *pl)
{
	struct dev_binds *cur = atomic_load(&d->binds);
	uint32_t old_mark = d->store.fwmark;
	unsigned int i;
	int ret;

	if (!d->link_up)
		return 0;
	/* The same fixed port again (wg syncconf repeats it) moves nothing;
	 * up without sockets (the port was taken then), try again now. */
	if ((txn->flags & UAPI_DEV_LISTEN_PORT) &&
	    (!cur || !(pl->next.listen_port && pl->next.listen_port == cur->port))) {
		ret = dev_binds_open(d, pl->next.listen_port, pl->next.fwmark, &pl->binds);
		if (ret)
			return ret;
		pl->next.listen_port = pl->binds->port;
		return 0;
	}
	if (!cur || !(txn->flags & UAPI_DEV_FWMARK) || pl->next.fwmark == old_mark)
		return 0;
	for (i = 0; i < cur->n; i++) {
		ret = vg_bind_set_fwmark(cur->b[i], pl->next.fwmark);
		if (ret) {
			while (i--)
				vg_bind_set_fwmark(cur->b[i], old_mark);
			return ret;
		}
	}
	pl->mark_moved = true;
	return 0;
}

/* The store's own refusals (bad input) are the client's business; what
 * fails after them is logged. */
static int plan_prepare(struct device *d, const struct uapi_txn *txn, struct set_plan *pl)
{
	int ret = uapi_store_prepare(&d->store, txn, &pl->next);

	if (ret)
		return ret;
	pl->key_changed = sodium_memcmp(d->store.private_key, pl->next.private_key,
					UAPI_KEY_LEN) != 0;
	if (pl->key_changed)
		ret = plan_identity(pl);
	if (!ret)
		ret = op_index_build(&pl->ops, txn, &d->proto);
	if (!ret)
		ret = plan_peers(d, txn, pl);
	if (!ret)
		ret = plan_routes(pl);
	if (ret) {
		dev_log(d, DEVICE_LOG_ERROR, "configuration refused: %s", strerror(-ret));
		return ret;
	}
	ret = plan_sockets(d, txn, pl);
	if (ret) {
		dev_log(d, DEVICE_LOG_ERROR, "configuration refused: UDP port %u, fwmark %u: %s",
			pl->next.listen_port, pl->next.fwmark, strerror(-ret));
		return UAPI_ERR_PORT_IN_USE;	/* as wireguard-go reports either */
	}
	return 0;
}

/* Nothing here can fail. */
static void plan_commit(struct device *d, const struct uapi_txn *txn, struct set_plan *pl)
{
	bool replace = txn->flags & UAPI_DEV_REPLACE_PEERS;
	uint64_t now = dev_now(d);
	struct wg_peer *wp, *next;
	size_t i;

	if (pl->key_changed)
		wg_proto_set_private_key(&d->proto, pl->id.has_identity ?
					 pl->next.private_key : NULL);
	for (wp = d->proto.peers; wp; wp = next) {
		struct dev_peer *p = dev_peer_of(wp);

		next = wp->next;
		if (p->sync_gen == d->sync_gen)
			continue;
		unlink_peer(d, p);
		epoch_retire(&d->epoch, &p->retire, peer_free);
	}
	/* replace_peers: every field comes from this transaction, but a peer
	 * listed again keeps its session (unlike wireguard-go, which drops
	 * it), so `wg setconf` with an unchanged peer does not stall. */
	for (i = 0; i < pl->n_touched; i++) {
		size_t k = pl->touched[i];
		const struct uapi_store_peer *sp = &pl->next.peers[k];

		configure_peer(pl->peer_of[k]->wp, sp, txn_op_for(&pl->ops, sp->public_key),
			       replace, now);
	}
	for (i = 0; i < pl->n_fresh; i++)
		if (wg_peer_link(pl->fresh[i]->wp))
			peer_free(&pl->fresh[i]->retire);	/* prepared against */
	pl->n_fresh = 0;
	dev_rt_publish(d, pl->rt);
	pl->rt = NULL;
	if (pl->binds)
		dev_binds_publish(d, pl->binds);
	else if (pl->mark_moved)
		dev_clear_all_src(d);
	pl->binds = NULL;
	uapi_store_commit(&d->store, &pl->next);
}

static int dev_set(void *ctx, const struct uapi_txn *txn)
{
	struct device *d = ctx;
	struct set_plan pl;
	int ret;

	memset(&pl, 0, sizeof(pl));
	pthread_mutex_lock(&d->cfg_mutex);
	ret = plan_prepare(d, txn, &pl);
	if (!ret)
		plan_commit(d, txn, &pl);
	plan_abort(d, &pl);	/* what commit did not take */
	epoch_reclaim(&d->epoch);
	pthread_mutex_unlock(&d->cfg_mutex);
	return ret;
}

/* ---- get ---- */

static int dev_get(void *ctx, struct uapi_snapshot *snap)
{
	struct device *d = ctx;
	struct vg_endpoint ep;
	size_t i;
	int ret;

	pthread_mutex_lock(&d->cfg_mutex);
	ret = uapi_store_snapshot(&d->store, snap);
	if (!ret)
		snap->listen_port = atomic_load(&d->binds) ? d->port : d->store.listen_port;
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
	pthread_mutex_unlock(&d->cfg_mutex);
	return ret;
}

const struct uapi_ops device_uapi_ops = {
	.set = dev_set,
	.get = dev_get,
	.stats = dev_stats,
};

