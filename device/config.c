/* SPDX-License-Identifier: MIT */
/*
 * Configuration: the device's peers as objects (their lifetime), and get,
 * which reads the store (device/uapi.h) and the live peers back.  A set is
 * config_txn.c.
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

struct dev_peer *dev_peer_alloc(struct device *d, const uint8_t *pub,
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

void dev_peer_free(struct dev_peer *p)
{
	size_t size = sizeof(*p) + p->nslots * sizeof(p->cnt[0]);

	wg_peer_free(p->wp);
	sodium_memzero(p, size);
	free(p);
}

static void peer_retired(struct epoch_entry *e)
{
	dev_peer_free((struct dev_peer *)((char *)e - offsetof(struct dev_peer, retire)));
}

/* Nothing new may refer to p: its queued work is dropped, and what a
 * thread already holds stays valid until the epoch has moved on. */
static void unlink_peer(struct device *d, struct dev_peer *p)
{
	atomic_store(&p->removed, true);
	dev_mbox_purge_peer(d, p);
	wg_peer_unlink(p->wp);
}

void dev_peer_retire(struct device *d, struct dev_peer *p)
{
	unlink_peer(d, p);
	epoch_retire(&d->epoch, &p->retire, peer_retired);
}

/* Every thread has stopped. */
void dev_remove_peer(struct device *d, struct wg_peer *wp)
{
	struct dev_peer *p = dev_peer_of(wp);

	unlink_peer(d, p);
	dev_peer_free(p);
}

/* ---- get ---- */

static int dev_get(void *ctx, struct uapi_snapshot *snap)
{
	struct device *d = ctx;
	const struct dev_binds *nb;
	struct vg_endpoint ep;
	size_t i;
	int ret;

	pthread_mutex_lock(&d->cfg_mutex);
	nb = atomic_load(&d->binds);
	ret = uapi_store_snapshot(&d->store, snap);
	if (!ret)
		snap->listen_port = nb ? nb->port : d->store.listen_port;
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
	.upgrade = dev_upgrade_uapi,
};

