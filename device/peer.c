// SPDX-License-Identifier: MIT
/*
 * The device (identity, counters, endpoints) and its peer table: peers by
 * public key, a peer's lifetime and configuration (pre-shared key,
 * endpoint, keepalive).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "device/crypto.h"
#include "device/peer.h"
#include "device/proto_impl.h"

uint64_t wg_proto_counter(struct wg_proto *p, enum wg_proto_counter c)
{
	return atomic_load(&p->counters[c]);
}

/* ---- endpoints ---- */

size_t wg_endpoint_key(const struct vg_endpoint *ep, uint8_t out[COOKIE_SRC_MAX])
{
	if (ep->dst.sa.sa_family == AF_INET) {
		memcpy(out, &ep->dst.in4.sin_addr, 4);
		memcpy(out + 4, &ep->dst.in4.sin_port, 2);
		return 6;
	}
	if (ep->dst.sa.sa_family == AF_INET6) {
		memcpy(out, &ep->dst.in6.sin6_addr, 16);
		memcpy(out + 16, &ep->dst.in6.sin6_port, 2);
		return 18;
	}
	return 0;
}

/* ---- the device ---- */

static uint64_t default_wallclock(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int wg_proto_init(struct wg_proto *p)
{
	memset(p, 0, sizeof(*p));
	pthread_rwlock_init(&p->identity.lock, NULL);
	index_table_init(&p->index);
	cookie_checker_init(&p->cookie);
	pthread_mutex_init(&p->peers_lock, NULL);
	crypto_random(p->hash_key, sizeof(p->hash_key));
	p->wallclock = default_wallclock;
	return 0;
}

void wg_proto_destroy(struct wg_proto *p)
{
	while (p->peers)
		wg_peer_remove(p->peers);
	cookie_checker_destroy(&p->cookie);
	index_table_destroy(&p->index);
	crypto_wipe(&p->identity.static_private, sizeof(p->identity.static_private));
	pthread_rwlock_destroy(&p->identity.lock);
	pthread_mutex_destroy(&p->peers_lock);
	free(p->buckets);
	p->buckets = NULL;
	p->nbuckets = 0;
}

int wg_proto_set_private_key(struct wg_proto *p, const uint8_t *priv)
{
	struct noise_static_identity *id = &p->identity;
	struct wg_peer *peer;
	int ret = 0;

	pthread_mutex_lock(&p->peers_lock);
	pthread_rwlock_wrlock(&id->lock);
	if (priv) {
		memcpy(id->static_private, priv, NOISE_PUBLIC_KEY_LEN);
		x25519_clamp(id->static_private);
		ret = x25519_public(id->static_public, id->static_private);
		id->has_identity = !ret;
	} else {
		id->has_identity = false;
	}
	if (!id->has_identity) {
		crypto_wipe(id->static_private, sizeof(id->static_private));
		memset(id->static_public, 0, sizeof(id->static_public));
	}
	cookie_checker_set_key(&p->cookie, id->has_identity ? id->static_public : NULL);
	pthread_rwlock_unlock(&id->lock);
	/* Lock order is peer->lock, then identity.  Sessions made under the
	 * old identity are dropped so the next packet starts a handshake. */
	for (peer = p->peers; peer; peer = peer->next) {
		pthread_mutex_lock(&peer->lock);
		pthread_rwlock_rdlock(&id->lock);
		noise_handshake_precompute(&peer->handshake, id);
		pthread_rwlock_unlock(&id->lock);
		wg_peer_zero_keys_locked(peer);
		pthread_mutex_unlock(&peer->lock);
	}
	pthread_mutex_unlock(&p->peers_lock);
	return ret;
}

uint64_t wg_proto_key_hash(const struct wg_proto *p, const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t h[crypto_shorthash_siphash24_BYTES];
	uint64_t v;

	crypto_shorthash_siphash24(h, pub, NOISE_PUBLIC_KEY_LEN, p->hash_key);
	memcpy(&v, h, sizeof(v));
	return v;
}

static struct wg_peer **bucket(struct wg_proto *p, const uint8_t *pub)
{
	return &p->buckets[wg_proto_key_hash(p, pub) & (p->nbuckets - 1)];
}

static struct wg_peer *find_locked(struct wg_proto *p, const uint8_t *pub)
{
	struct wg_peer *peer;

	if (!p->nbuckets)
		return NULL;
	for (peer = *bucket(p, pub); peer; peer = peer->hnext)
		if (!memcmp(peer->handshake.remote_static, pub, NOISE_PUBLIC_KEY_LEN))
			return peer;
	return NULL;
}

/* Rehashes every peer into n buckets; peers_lock held. */
static int grow(struct wg_proto *p, size_t n)
{
	struct wg_peer **old = p->buckets, *peer;

	p->buckets = calloc(n, sizeof(*p->buckets));
	if (!p->buckets) {
		p->buckets = old;
		return -ENOMEM;
	}
	p->nbuckets = n;
	for (peer = p->peers; peer; peer = peer->next) {
		struct wg_peer **b = bucket(p, peer->handshake.remote_static);

		peer->hnext = *b;
		*b = peer;
	}
	free(old);
	return 0;
}

struct wg_peer *wg_proto_find_peer(struct wg_proto *p,
				   const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	struct wg_peer *peer;

	pthread_mutex_lock(&p->peers_lock);
	peer = find_locked(p, pub);
	pthread_mutex_unlock(&p->peers_lock);
	return peer;
}

int wg_proto_reserve(struct wg_proto *p, size_t total)
{
	int ret = 0;

	if (total > MAX_PEERS_PER_DEVICE)
		return -ENOSPC;
	pthread_mutex_lock(&p->peers_lock);
	while (!ret && total > p->nbuckets)
		ret = grow(p, p->nbuckets ? p->nbuckets * 2 : 64);
	pthread_mutex_unlock(&p->peers_lock);
	return ret;
}

struct wg_peer *wg_peer_alloc(struct wg_proto *p, const uint8_t pub[NOISE_PUBLIC_KEY_LEN],
			      const struct noise_static_identity *id)
{
	struct wg_peer *peer = calloc(1, sizeof(*peer));

	if (!peer)
		return NULL;
	peer->proto = p;
	pthread_mutex_init(&peer->lock, NULL);
	pthread_mutex_init(&peer->keypairs.lock, NULL);
	pthread_mutex_init(&peer->endpoint_lock, NULL);
	if (id) {
		noise_handshake_init(&peer->handshake, id, pub, NULL);
	} else {
		pthread_rwlock_rdlock(&p->identity.lock);
		noise_handshake_init(&peer->handshake, &p->identity, pub, NULL);
		pthread_rwlock_unlock(&p->identity.lock);
	}
	peer->handshake.entry.peer = peer;
	cookie_generator_init(&peer->cookie, pub);
	wg_timers_init(&peer->timers);
	return peer;
}

int wg_peer_link(struct wg_peer *peer)
{
	struct wg_proto *p = peer->proto;
	const uint8_t *pub = peer->handshake.remote_static;
	struct wg_peer **b;
	int ret = -EEXIST;

	pthread_mutex_lock(&p->peers_lock);
	pthread_rwlock_rdlock(&p->identity.lock);
	if (find_locked(p, pub) || (p->identity.has_identity &&
	    !memcmp(pub, p->identity.static_public, NOISE_PUBLIC_KEY_LEN)))
		goto out;
	ret = -ENOSPC;
	if (p->npeers >= MAX_PEERS_PER_DEVICE)
		goto out;
	ret = -ENOMEM;
	if (p->npeers >= p->nbuckets && grow(p, p->nbuckets ? p->nbuckets * 2 : 64))
		goto out;
	peer->next = p->peers;
	if (peer->next)
		peer->next->pprev = &peer->next;
	peer->pprev = &p->peers;
	p->peers = peer;
	b = bucket(p, pub);
	peer->hnext = *b;
	*b = peer;
	p->npeers++;
	ret = 0;
out:
	pthread_rwlock_unlock(&p->identity.lock);
	pthread_mutex_unlock(&p->peers_lock);
	return ret;
}

struct wg_peer *wg_peer_new(struct wg_proto *p, const uint8_t pub[NOISE_PUBLIC_KEY_LEN],
			    int *err)
{
	struct wg_peer *peer = wg_peer_alloc(p, pub, NULL);
	int ret = -ENOMEM;

	if (peer) {
		ret = wg_peer_link(peer);
		if (!ret)
			return peer;
		wg_peer_free(peer);
	}
	if (err)
		*err = ret;
	return NULL;
}

void wg_peer_unlink(struct wg_peer *peer)
{
	struct wg_proto *p = peer->proto;
	struct wg_peer **pp;

	pthread_mutex_lock(&p->peers_lock);
	*peer->pprev = peer->next;
	if (peer->next)
		peer->next->pprev = peer->pprev;
	for (pp = bucket(p, peer->handshake.remote_static); *pp; pp = &(*pp)->hnext) {
		if (*pp == peer) {
			*pp = peer->hnext;
			break;
		}
	}
	p->npeers--;
	pthread_mutex_unlock(&p->peers_lock);
	pthread_mutex_lock(&peer->lock);
	peer->unlinked = true;
	wg_peer_zero_keys_locked(peer);
	wg_peer_staged_flush_locked(peer);
	pthread_mutex_unlock(&peer->lock);
}

void wg_peer_free(struct wg_peer *peer)
{
	pthread_mutex_lock(&peer->lock);
	wg_peer_zero_keys_locked(peer);
	wg_peer_staged_flush_locked(peer);
	pthread_mutex_unlock(&peer->lock);
	cookie_generator_destroy(&peer->cookie);
	crypto_wipe(&peer->handshake, sizeof(peer->handshake));
	pthread_mutex_destroy(&peer->lock);
	pthread_mutex_destroy(&peer->keypairs.lock);
	pthread_mutex_destroy(&peer->endpoint_lock);
	free(peer);
}

void wg_peer_remove(struct wg_peer *peer)
{
	wg_peer_unlink(peer);
	wg_peer_free(peer);
}

void wg_peer_reset(struct wg_peer *peer, uint64_t now)
{
	pthread_mutex_lock(&peer->lock);
	wg_peer_zero_keys_locked(peer);
	wg_peer_staged_flush_locked(peer);
	wg_timers_init(&peer->timers);
	if (atomic_load(&peer->persistent_keepalive))
		wg_timers_arm(peer, &peer->timers.persistent_keepalive, now);
	pthread_mutex_unlock(&peer->lock);
}

void wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk)
{
	pthread_mutex_lock(&peer->lock);
	if (psk)
		memcpy(peer->handshake.preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	else
		crypto_wipe(peer->handshake.preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	pthread_mutex_unlock(&peer->lock);
}

void wg_peer_set_endpoint(struct wg_peer *peer, const struct vg_endpoint *ep)
{
	/* The sticky source is part of the endpoint, as in the kernel: an
	 * endpoint set by configuration (no source) clears a learnt one. */
	pthread_mutex_lock(&peer->endpoint_lock);
	peer->endpoint = *ep;
	peer->has_endpoint = true;
	pthread_mutex_unlock(&peer->endpoint_lock);
}

bool wg_peer_get_endpoint(struct wg_peer *peer, struct vg_endpoint *ep)
{
	bool has;

	pthread_mutex_lock(&peer->endpoint_lock);
	has = peer->has_endpoint;
	if (has)
		*ep = peer->endpoint;
	pthread_mutex_unlock(&peer->endpoint_lock);
	return has;
}

void wg_peer_clear_src(struct wg_peer *peer)
{
	pthread_mutex_lock(&peer->endpoint_lock);
	vg_endpoint_clear_src(&peer->endpoint);
	pthread_mutex_unlock(&peer->endpoint_lock);
}

void wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint16_t secs, uint64_t now)
{
	pthread_mutex_lock(&peer->lock);
	atomic_store(&peer->persistent_keepalive, secs);
	if (secs)
		wg_timers_arm(peer, &peer->timers.persistent_keepalive, now);
	else
		peer->timers.persistent_keepalive = WG_TIMER_OFF;
	pthread_mutex_unlock(&peer->lock);
}
