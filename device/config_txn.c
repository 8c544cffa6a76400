/* SPDX-License-Identifier: MIT */
/*
 * A UAPI set as a transaction (doc/architecture.md, "Configuration"):
 * prepare does everything that can fail without changing what any other
 * thread sees; commit cannot fail.  Both cost what the set changes: the
 * peers it names (every peer for replace_peers or a new private key) and
 * their allowed IPs, found through the store's and the trie's indexes.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/device_impl.h"

/* A peer the set touches: in the new store (sp), in the runtime (p). */
struct touched {
	const uint8_t *key;
	const struct uapi_store_peer *sp;	/* NULL: gone */
	struct dev_peer *p;			/* existing, or fresh */
	bool fresh;
	unsigned int flags;			/* every section's for this key */
};

struct set_plan {
	bool key_changed, full;
	struct noise_static_identity id;	/* after the set, if it changes */
	struct touched *t;
	size_t n, cap;
	uint32_t *by_key;		/* touched index + 1, open addressing */
	size_t key_cap;
	struct dev_peer **fresh;
	size_t n_fresh, n_total;	/* peers after the set */
	struct uapi_prefix *drop;	/* prefixes leaving a kept peer */
	struct dev_peer **drop_from;
	size_t n_drop, cap_drop;
	struct dev_unlinked *unlinked;
	struct dev_binds *binds;	/* new sockets for a new port */
	bool mark_moved;
};

/* Trie nodes a commit unlinked, freed once no lookup can stand on them. */
struct dev_unlinked {
	struct allowedips *t;
	void *nodes;
	struct epoch_entry retire;
};

static void unlinked_free(struct epoch_entry *e)
{
	struct dev_unlinked *u = (void *)((char *)e - offsetof(struct dev_unlinked, retire));

	allowedips_release(u->t, u->nodes);
	free(u);
}

static size_t key_hash(const uint8_t *key, size_t cap)
{
	uint64_t h;

	/* Keys come from root through the UAPI: any bytes spread well. */
	memcpy(&h, key, sizeof(h));
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static struct touched *touch(struct set_plan *pl, const uint8_t *key)
{
	size_t i = key_hash(key, pl->key_cap);
	uint32_t v;

	for (; (v = pl->by_key[i]); i = (i + 1) & (pl->key_cap - 1))
		if (!memcmp(pl->t[v - 1].key, key, UAPI_KEY_LEN))
			return &pl->t[v - 1];
	if (pl->n == pl->cap)
		return NULL;	/* sized for every key the set can name */
	pl->by_key[i] = (uint32_t)++pl->n;
	memset(&pl->t[pl->n - 1], 0, sizeof(pl->t[0]));
	pl->t[pl->n - 1].key = key;
	return &pl->t[pl->n - 1];
}

static int plan_alloc(struct device *d, const struct uapi_txn *txn, struct set_plan *pl)
{
	size_t n = txn->n_peers;

	if (pl->full)
		n += d->store.n_peers + d->proto.npeers;
	pl->cap = n;
	for (pl->key_cap = 16; pl->key_cap < 2 * n; pl->key_cap *= 2)
		;
	pl->t = calloc(n ? n : 1, sizeof(*pl->t));
	pl->fresh = calloc(n ? n : 1, sizeof(*pl->fresh));
	pl->by_key = calloc(pl->key_cap, sizeof(*pl->by_key));
	pl->unlinked = calloc(1, sizeof(*pl->unlinked));
	return pl->t && pl->fresh && pl->by_key && pl->unlinked ? 0 : -ENOMEM;
}

static int plan_identity(struct set_plan *pl, const uint8_t *priv)
{
	if (sodium_is_zero(priv, UAPI_KEY_LEN))
		return 0;
	memcpy(pl->id.static_private, priv, UAPI_KEY_LEN);
	x25519_clamp(pl->id.static_private);
	if (x25519_public(pl->id.static_public, pl->id.static_private))
		return -EINVAL;
	pl->id.has_identity = true;
	return 0;
}

/* Which peers the set touches, and what each becomes. */
static int plan_touch(struct device *d, const struct uapi_txn *txn, struct set_plan *pl)
{
	struct touched *t;
	struct wg_peer *wp;
	size_t i;

	for (i = 0; i < txn->n_peers; i++) {
		t = touch(pl, txn->peers[i].public_key);
		if (!t)
			return -ENOMEM;
		t->flags |= txn->peers[i].flags;
	}
	if (pl->full) {
		for (i = 0; i < d->store.n_slots; i++)
			if (!d->store.peers[i].removed && !touch(pl, d->store.peers[i].public_key))
				return -ENOMEM;
		for (wp = d->proto.peers; wp; wp = wp->next)
			if (!touch(pl, dev_peer_of(wp)->pub))
				return -ENOMEM;
	}
	for (i = 0; i < pl->n; i++) {
		t = &pl->t[i];
		t->sp = uapi_store_find(&d->store, t->key);
		wp = wg_proto_find_peer(&d->proto, t->key);
		t->p = dev_peer_of(wp);
	}
	return 0;
}

static int plan_fresh(struct device *d, struct set_plan *pl)
{
	const struct noise_static_identity *id = pl->key_changed ? &pl->id : NULL;
	size_t i, gone = 0;

	for (i = 0; i < pl->n; i++) {
		struct touched *t = &pl->t[i];

		if (t->p && !t->sp)
			gone++;
		if (t->p || !t->sp)
			continue;
		t->p = dev_peer_alloc(d, t->key, id);
		if (!t->p)
			return -ENOMEM;
		t->fresh = true;
		pl->fresh[pl->n_fresh++] = t->p;
	}
	pl->n_total = d->proto.npeers - gone + pl->n_fresh;
	return wg_proto_reserve(&d->proto, pl->n_total);
}

static int drop_add(struct set_plan *pl, struct dev_peer *p, const struct uapi_prefix *pfx)
{
	if (pl->n_drop == pl->cap_drop) {
		size_t ncap = pl->cap_drop ? 2 * pl->cap_drop : 16;
		struct uapi_prefix *np = realloc(pl->drop, ncap * sizeof(*np));
		struct dev_peer **nf;

		if (!np)
			return -ENOMEM;
		pl->drop = np;
		nf = realloc(pl->drop_from, ncap * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		pl->drop_from = nf;
		pl->cap_drop = ncap;
	}
	pl->drop[pl->n_drop] = *pfx;
	pl->drop_from[pl->n_drop++] = p;
	return 0;
}

struct drop_ctx {
	struct device *d;
	struct set_plan *pl;
	struct touched *t;
};

/* A prefix of a kept peer that the new store gives to nobody or to
 * another peer leaves it (moves are done by that peer's insert). */
static int check_old(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct drop_ctx *c = ctx;
	struct uapi_prefix pfx = { .family = (uint8_t)family, .cidr = cidr };

	memcpy(pfx.addr, addr, family == AF_INET ? 4 : 16);
	if (uapi_store_owner(&c->d->store, &pfx) == c->t->sp)
		return 0;
	return drop_add(c->pl, c->t->p, &pfx);
}

/* What the trie must learn and forget; room for it is reserved now. */
static int plan_routes(struct device *d, struct set_plan *pl)
{
	size_t i, j, inserts = 0;
	int ret;

	for (i = 0; i < pl->n; i++) {
		struct touched *t = &pl->t[i];

		if (!t->p)
			continue;
		if (t->sp) {
			for (j = 0; j < t->sp->n_aips; j++) {
				const struct uapi_prefix *a = &t->sp->aips[j];

				if (allowedips_owner(d->rt, a->family, a->addr, a->cidr) != t->p)
					inserts++;
			}
		}
		if (!t->fresh && t->sp) {
			struct drop_ctx c = { d, pl, t };

			ret = allowedips_walk_peer(d->rt, t->p, check_old, &c);
			if (ret)
				return ret;
		}
	}
	return allowedips_reserve(d->rt, 2 * inserts, pl->n);
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
	struct uapi_store *st = &d->store;
	uint32_t old_mark = st->saved_fwmark;
	unsigned int i;
	int ret;

	if (!d->link_up)
		return 0;
	/* The same fixed port again (wg syncconf repeats it) moves nothing;
	 * up without sockets (the port was taken then), try again now. */
	if ((txn->flags & UAPI_DEV_LISTEN_PORT) &&
	    (!cur || !(st->listen_port && st->listen_port == cur->port))) {
		ret = dev_binds_open(d, st->listen_port, st->fwmark, &pl->binds);
		if (ret)
			return ret;
		st->listen_port = pl->binds->port;
		return 0;
	}
	if (!cur || !(txn->flags & UAPI_DEV_FWMARK) || st->fwmark == old_mark)
		return 0;
	for (i = 0; i < cur->n; i++) {
		ret = vg_bind_set_fwmark(cur->b[i], st->fwmark);
		if (ret) {
			while (i--)
				vg_bind_set_fwmark(cur->b[i], old_mark);
			return ret;
		}
	}
	pl->mark_moved = true;
	return 0;
}

static void plan_free(struct set_plan *pl)
{
	size_t i;

	for (i = 0; i < pl->n_fresh; i++)
		dev_peer_free(pl->fresh[i]);
	if (pl->binds) {
		vg_bind_group_close(pl->binds->b, pl->binds->n);
		free(pl->binds);
	}
	free(pl->t);
	free(pl->by_key);
	free(pl->fresh);
	free(pl->drop);
	free(pl->drop_from);
	free(pl->unlinked);
	sodium_memzero(&pl->id, sizeof(pl->id));
}

/* The store's own refusals (bad input) are the client's business; what
 * fails after them is logged.  The store's transaction is left open. */
static int plan_prepare(struct device *d, const struct uapi_txn *txn, struct set_plan *pl)
{
	uint8_t old_key[UAPI_KEY_LEN];
	int ret;

	memcpy(old_key, d->store.private_key, UAPI_KEY_LEN);
	ret = uapi_store_begin(&d->store, txn);
	if (ret) {
		sodium_memzero(old_key, sizeof(old_key));
		return ret;
	}
	pl->key_changed = sodium_memcmp(old_key, d->store.private_key, UAPI_KEY_LEN) != 0;
	sodium_memzero(old_key, sizeof(old_key));
	pl->full = pl->key_changed || (txn->flags & UAPI_DEV_REPLACE_PEERS);
	ret = plan_alloc(d, txn, pl);
	if (!ret && pl->key_changed)
		ret = plan_identity(pl, d->store.private_key);
	if (!ret)
		ret = plan_touch(d, txn, pl);
	if (!ret)
		ret = plan_fresh(d, pl);
	if (!ret)
		ret = plan_routes(d, pl);
	if (ret) {
		dev_log(d, DEVICE_LOG_ERROR, "configuration refused: %s", strerror(-ret));
		return ret;
	}
	ret = plan_sockets(d, txn, pl);
	if (ret) {
		dev_log(d, DEVICE_LOG_ERROR, "configuration refused: UDP port %u, fwmark %u: %s",
			d->store.listen_port, d->store.fwmark, strerror(-ret));
		return UAPI_ERR_PORT_IN_USE;	/* as wireguard-go reports either */
	}
	return 0;
}

/* The store's settings for one peer, where this set named them (or all
 * of them for a new peer, and for every peer under replace_peers). */
static void configure_peer(struct wg_peer *wp, const struct uapi_store_peer *sp,
			   unsigned int flags, bool all, uint64_t now)
{
	if (all || (flags & UAPI_PEER_PRESHARED_KEY))
		wg_peer_set_psk(wp, sodium_is_zero(sp->preshared_key, UAPI_KEY_LEN) ?
				NULL : sp->preshared_key);
	if (sp->has_endpoint && (all || (flags & UAPI_PEER_ENDPOINT)))
		wg_peer_set_endpoint(wp, &sp->endpoint);
	if (all || (flags & UAPI_PEER_KEEPALIVE)) {
		uint16_t old = (uint16_t)atomic_load(&wp->persistent_keepalive);

		if (old != sp->persistent_keepalive_interval)
			wg_peer_set_persistent_keepalive(wp, sp->persistent_keepalive_interval,
							 now);
	}
}

/*
 * Nothing here can fail.  Routes are added before any are taken away, so
 * a prefix moving between peers is never missing from the trie, and a
 * removed peer leaves the trie before it is unlinked.
 */
static void plan_commit(struct device *d, const struct uapi_txn *txn, struct set_plan *pl)
{
	bool replace = txn->flags & UAPI_DEV_REPLACE_PEERS;
	uint64_t now = dev_now(d);
	size_t i, j;

	if (pl->key_changed)
		wg_proto_set_private_key(&d->proto, pl->id.has_identity ?
					 d->store.private_key : NULL);
	for (i = 0; i < pl->n; i++) {
		struct touched *t = &pl->t[i];

		if (!t->p || !t->sp)
			continue;
		if (t->fresh) {
			configure_peer(t->p->wp, t->sp, t->flags, true, now);
			wg_peer_link(t->p->wp);	/* room reserved, identity checked */
		} else {
			configure_peer(t->p->wp, t->sp, t->flags, replace, now);
		}
		for (j = 0; j < t->sp->n_aips; j++) {
			const struct uapi_prefix *a = &t->sp->aips[j];

			allowedips_insert(d->rt, a->family, a->addr, a->cidr, t->p);
		}
	}
	pl->n_fresh = 0;
	for (i = 0; i < pl->n_drop; i++)
		allowedips_remove(d->rt, pl->drop[i].family, pl->drop[i].addr, pl->drop[i].cidr,
				  pl->drop_from[i]);
	for (i = 0; i < pl->n; i++) {
		struct touched *t = &pl->t[i];

		if (t->p && !t->sp) {
			allowedips_remove_peer(d->rt, t->p);
			dev_peer_retire(d, t->p);
		}
	}
	pl->unlinked->t = d->rt;
	pl->unlinked->nodes = allowedips_take_unlinked(d->rt);
	epoch_retire(&d->epoch, &pl->unlinked->retire, unlinked_free);
	pl->unlinked = NULL;
	if (pl->binds)
		dev_binds_publish(d, pl->binds);
	else if (pl->mark_moved)
		dev_clear_all_src(d);
	pl->binds = NULL;
	uapi_store_commit(&d->store);
}

int dev_set(void *ctx, const struct uapi_txn *txn)
{
	struct device *d = ctx;
	struct set_plan pl;
	int ret;

	memset(&pl, 0, sizeof(pl));
	pthread_mutex_lock(&d->cfg_mutex);
	ret = plan_prepare(d, txn, &pl);
	if (!ret)
		plan_commit(d, txn, &pl);
	else
		uapi_store_abort(&d->store);	/* if begin left it open */
	plan_free(&pl);
	epoch_reclaim(&d->epoch);
	pthread_mutex_unlock(&d->cfg_mutex);
	return ret;
}
