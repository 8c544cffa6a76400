// SPDX-License-Identifier: MIT
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "device/crypto.h"
#include "device/peer.h"

static void count(struct wg_proto *p, enum wg_proto_counter c)
{
	atomic_fetch_add_explicit(&p->counters[c], 1, memory_order_relaxed);
}

uint64_t wg_proto_counter(struct wg_proto *p, enum wg_proto_counter c)
{
	return atomic_load(&p->counters[c]);
}

static bool expired(uint64_t birth, uint64_t age, uint64_t now)
{
	return now >= birth + age || now < birth;
}

/* ---- endpoints ---- */

size_t wg_endpoint_key(const struct wg_endpoint *ep, uint8_t out[COOKIE_SRC_MAX])
{
	if (ep->addr.sa.sa_family == AF_INET) {
		memcpy(out, &ep->addr.in4.sin_addr, 4);
		memcpy(out + 4, &ep->addr.in4.sin_port, 2);
		return 6;
	}
	if (ep->addr.sa.sa_family == AF_INET6) {
		memcpy(out, &ep->addr.in6.sin6_addr, 16);
		memcpy(out + 16, &ep->addr.in6.sin6_port, 2);
		return 18;
	}
	return 0;
}

bool wg_endpoint_eq(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
	uint8_t ka[COOKIE_SRC_MAX], kb[COOKIE_SRC_MAX];
	size_t la = wg_endpoint_key(a, ka), lb = wg_endpoint_key(b, kb);

	return a->addr.sa.sa_family == b->addr.sa.sa_family && la == lb &&
	       !memcmp(ka, kb, la);
}

/* ---- the device ---- */

static uint64_t default_wallclock(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* TAI64N from the (injectable) wall clock.  Nanoseconds are rounded down
 * to 2^24 ns like the kernel and wireguard-go, so they leak no fine clock. */
static void timestamp_now(struct wg_proto *p, uint8_t out[NOISE_TIMESTAMP_LEN])
{
	uint64_t ns = p->wallclock(p->wallclock_ctx);
	uint64_t secs = 0x400000000000000aULL + ns / WG_NSEC_PER_SEC;
	uint32_t nano = (uint32_t)(ns % WG_NSEC_PER_SEC) & ~(uint32_t)0xffffff;
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nano >> (24 - 8 * i));
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

/* Keeps the load factor at most 1: doubles the table, rehashing every
 * peer (amortised O(1) per insertion).  peers_lock held. */
static int grow_locked(struct wg_proto *p)
{
	size_t n = p->nbuckets ? p->nbuckets * 2 : 64;
	struct wg_peer **old = p->buckets, *peer;

	if (p->npeers < p->nbuckets)
		return 0;
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

struct wg_peer *wg_peer_new(struct wg_proto *p, const uint8_t pub[NOISE_PUBLIC_KEY_LEN],
			    int *err)
{
	struct wg_peer *peer, **b;
	int ret = -EEXIST;

	pthread_mutex_lock(&p->peers_lock);
	pthread_rwlock_rdlock(&p->identity.lock);
	if (find_locked(p, pub) || (p->identity.has_identity &&
	    !memcmp(pub, p->identity.static_public, NOISE_PUBLIC_KEY_LEN)))
		goto fail;
	ret = -ENOSPC;
	if (p->npeers >= MAX_PEERS_PER_DEVICE)
		goto fail;
	ret = -ENOMEM;
	if (grow_locked(p))
		goto fail;
	peer = calloc(1, sizeof(*peer));
	if (!peer)
		goto fail;
	peer->proto = p;
	pthread_mutex_init(&peer->lock, NULL);
	pthread_mutex_init(&peer->keypairs.lock, NULL);
	pthread_mutex_init(&peer->endpoint_lock, NULL);
	noise_handshake_init(&peer->handshake, &p->identity, pub, NULL);
	peer->handshake.entry.peer = peer;
	cookie_generator_init(&peer->cookie, pub);
	wg_timers_init(&peer->timers);
	peer->next = p->peers;
	if (peer->next)
		peer->next->pprev = &peer->next;
	peer->pprev = &p->peers;
	p->peers = peer;
	b = bucket(p, pub);
	peer->hnext = *b;
	*b = peer;
	p->npeers++;
	pthread_rwlock_unlock(&p->identity.lock);
	pthread_mutex_unlock(&p->peers_lock);
	return peer;
fail:
	pthread_rwlock_unlock(&p->identity.lock);
	pthread_mutex_unlock(&p->peers_lock);
	if (err)
		*err = ret;
	return NULL;
}

void wg_peer_remove(struct wg_peer *peer)
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

void wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk)
{
	pthread_mutex_lock(&peer->lock);
	if (psk)
		memcpy(peer->handshake.preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	else
		crypto_wipe(peer->handshake.preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	pthread_mutex_unlock(&peer->lock);
}

void wg_peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep)
{
	/* The sticky source is part of the endpoint, as in the kernel: an
	 * endpoint set by configuration (no source) clears a learnt one. */
	pthread_mutex_lock(&peer->endpoint_lock);
	peer->endpoint = *ep;
	peer->has_endpoint = true;
	pthread_mutex_unlock(&peer->endpoint_lock);
}

bool wg_peer_get_endpoint(struct wg_peer *peer, struct wg_endpoint *ep)
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
	memset(&peer->endpoint.src6, 0, sizeof(peer->endpoint.src6));
	peer->endpoint.src_ifindex = 0;
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

/* ---- staged packets ---- */

int wg_peer_stage(struct wg_peer *peer, const void *pkt, size_t len)
{
	struct wg_staged_packet *sp;
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, pkt, len);
	pthread_mutex_lock(&peer->lock);
	if (peer->staged_count == MAX_STAGED_PACKETS) {
		sp = &peer->staged[peer->staged_head];
		free(sp->data);
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
		atomic_fetch_add(&peer->staged_dropped, 1);
	}
	sp = &peer->staged[(peer->staged_head + peer->staged_count) % MAX_STAGED_PACKETS];
	sp->data = copy;
	sp->len = len;
	peer->staged_count++;
	pthread_mutex_unlock(&peer->lock);
	return 0;
}

ssize_t wg_peer_staged_pop(struct wg_peer *peer, void *buf, size_t cap)
{
	struct wg_staged_packet *sp;
	ssize_t ret = 0;

	pthread_mutex_lock(&peer->lock);
	if (!peer->staged_count)
		goto out;
	sp = &peer->staged[peer->staged_head];
	ret = -ENOSPC;
	if (sp->len > cap)
		goto out;
	memcpy(buf, sp->data, sp->len);
	ret = (ssize_t)sp->len;
	free(sp->data);
	sp->data = NULL;
	peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
	peer->staged_count--;
out:
	pthread_mutex_unlock(&peer->lock);
	return ret;
}

unsigned int wg_peer_staged_count(struct wg_peer *peer)
{
	unsigned int n;

	pthread_mutex_lock(&peer->lock);
	n = peer->staged_count;
	pthread_mutex_unlock(&peer->lock);
	return n;
}

void wg_peer_staged_flush_locked(struct wg_peer *peer)
{
	while (peer->staged_count) {
		free(peer->staged[peer->staged_head].data);
		peer->staged[peer->staged_head].data = NULL;
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
		atomic_fetch_add(&peer->staged_dropped, 1);
	}
}

/* ---- keypair slots ---- */

/* Drop a slot's reference; unindexed first so no new lookup finds it. */
static void retire(struct wg_proto *p, struct noise_keypair *kp)
{
	if (!kp)
		return;
	index_table_remove(&p->index, &kp->entry);
	noise_keypair_put(kp);
}

static void add_new_keypair(struct wg_peer *peer, struct noise_keypair *kp)
{
	struct noise_keypairs *k = &peer->keypairs;
	struct wg_proto *p = peer->proto;
	struct noise_keypair *prev, *next, *cur;

	kp->peer = peer;
	kp->entry.peer = peer;
	index_table_replace(&p->index, &peer->handshake.entry, &kp->entry);
	pthread_mutex_lock(&k->lock);
	prev = k->previous;
	next = k->next;
	cur = k->current;
	if (kp->i_am_the_initiator) {
		/* An unconfirmed next keypair is better than the current one as
		 * the fallback: the responder may already be using it. */
		if (next) {
			k->next = NULL;
			k->previous = next;
			retire(p, cur);
		} else {
			k->previous = cur;
		}
		retire(p, prev);
		k->current = kp;
	} else {
		k->next = kp;
		retire(p, next);
		k->previous = NULL;
		retire(p, prev);
	}
	pthread_mutex_unlock(&k->lock);
}

/* Key confirmation: the first packet on "next" promotes it. */
static bool received_with_keypair(struct wg_peer *peer, struct noise_keypair *kp)
{
	struct noise_keypairs *k = &peer->keypairs;
	bool promoted = false;

	pthread_mutex_lock(&k->lock);
	if (k->next == kp) {
		retire(peer->proto, k->previous);
		k->previous = k->current;
		k->current = kp;
		k->next = NULL;
		promoted = true;
	}
	pthread_mutex_unlock(&k->lock);
	return promoted;
}

void wg_peer_zero_keys_locked(struct wg_peer *peer)
{
	struct noise_keypairs *k = &peer->keypairs;
	struct noise_keypair *slots[3];
	int i;

	pthread_mutex_lock(&k->lock);
	slots[0] = k->previous;
	slots[1] = k->current;
	slots[2] = k->next;
	k->previous = k->current = k->next = NULL;
	pthread_mutex_unlock(&k->lock);
	for (i = 0; i < 3; i++) {
		if (slots[i])
			atomic_store(&slots[i]->valid, false);
		retire(peer->proto, slots[i]);
	}
	index_table_remove(&peer->proto->index, &peer->handshake.entry);
	noise_handshake_clear(&peer->handshake);
}

void wg_peer_zero_keys(struct wg_peer *peer)
{
	pthread_mutex_lock(&peer->lock);
	wg_peer_zero_keys_locked(peer);
	pthread_mutex_unlock(&peer->lock);
}

bool wg_peer_has_current(struct wg_peer *peer)
{
	bool has;

	pthread_mutex_lock(&peer->keypairs.lock);
	has = peer->keypairs.current != NULL;
	pthread_mutex_unlock(&peer->keypairs.lock);
	return has;
}

static struct noise_keypair *current_ref(struct wg_peer *peer)
{
	struct noise_keypair *kp;

	pthread_mutex_lock(&peer->keypairs.lock);
	kp = peer->keypairs.current;
	if (kp)
		noise_keypair_get(kp);
	pthread_mutex_unlock(&peer->keypairs.lock);
	return kp;
}

/* ---- handshakes ---- */

static void act_reset(struct wg_action *act, struct wg_peer *peer)
{
	act->flags = 0;
	act->peer = peer;
	act->msg_len = 0;
}

int wg_peer_send_initiation_locked(struct wg_peer *peer, uint64_t now, bool retry,
				   struct wg_action *act)
{
	struct message_handshake_initiation *m = (void *)act->msg;
	struct wg_proto *p = peer->proto;
	struct wg_timers *t = &peer->timers;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	int ret;

	if (!retry)
		t->handshake_attempts = 0;
	if (t->have_sent_handshake && !expired(t->last_sent_handshake, REKEY_TIMEOUT, now))
		return -EAGAIN;
	timestamp_now(p, ts);
	pthread_rwlock_rdlock(&p->identity.lock);
	ret = noise_create_initiation(&peer->handshake, &p->identity, m, ts);
	pthread_rwlock_unlock(&p->identity.lock);
	if (ret)
		return ret;
	t->last_sent_handshake = now;
	t->have_sent_handshake = true;
	m->sender_index = index_table_insert(&p->index, &peer->handshake.entry);
	cookie_add_macs(&peer->cookie, act->msg, sizeof(*m), now);
	act->flags |= WG_ACT_SEND_MSG;
	act->msg_len = sizeof(*m);
	act->peer = peer;
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	wg_timers_on_any_authenticated_packet_sent(peer);
	wg_timers_on_handshake_initiated(peer, now);
	return 0;
}

int wg_peer_want_handshake(struct wg_peer *peer, uint64_t now, struct wg_action *act)
{
	int ret;

	act_reset(act, peer);
	pthread_mutex_lock(&peer->lock);
	ret = wg_peer_send_initiation_locked(peer, now, false, act);
	pthread_mutex_unlock(&peer->lock);
	return ret;
}

static int handle_initiation(struct wg_proto *p, const uint8_t *msg,
			     const struct wg_endpoint *src, uint64_t now,
			     struct wg_action *act)
{
	/* The ephemeral is hashed in place: work on a copy of the message. */
	struct message_handshake_initiation in;
	struct message_handshake_response *out = (void *)act->msg;
	uint8_t pub[NOISE_PUBLIC_KEY_LEN], hash[NOISE_HASH_LEN], ck[NOISE_HASH_LEN];
	struct noise_keypair *kp;
	struct wg_peer *peer;
	int ret;

	memcpy(&in, msg, sizeof(in));
	pthread_rwlock_rdlock(&p->identity.lock);
	ret = noise_consume_initiation_static(&in, &p->identity, pub, hash, ck);
	pthread_rwlock_unlock(&p->identity.lock);
	peer = ret ? NULL : wg_proto_find_peer(p, pub);
	if (!peer) {
		count(p, WG_CNT_BAD_INITIATION);
		ret = -ENOENT;
		goto out;
	}
	pthread_mutex_lock(&peer->lock);
	ret = noise_consume_initiation_finish(&peer->handshake, &in, hash, ck, now);
	if (ret) {
		count(p, ret == -EALREADY || ret == -EBUSY ?
			 WG_CNT_REPLAYED_INITIATION : WG_CNT_BAD_INITIATION);
		goto unlock;
	}
	wg_timers_on_any_authenticated_packet_received(peer);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	wg_peer_set_endpoint(peer, src);

	peer->timers.last_sent_handshake = now;
	peer->timers.have_sent_handshake = true;
	ret = noise_create_response(&peer->handshake, out);
	if (ret)
		goto unlock;
	out->sender_index = index_table_insert(&p->index, &peer->handshake.entry);
	cookie_add_macs(&peer->cookie, act->msg, sizeof(*out), now);
	kp = noise_derive_keypair(&peer->handshake, now);
	ret = -ENOMEM;
	if (!kp)
		goto unlock;
	add_new_keypair(peer, kp);
	wg_timers_on_session_derived(peer, now);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	wg_timers_on_any_authenticated_packet_sent(peer);
	act->peer = peer;
	act->flags |= WG_ACT_SEND_MSG;
	act->msg_len = sizeof(*out);
	ret = 0;
unlock:
	pthread_mutex_unlock(&peer->lock);
out:
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(ck, sizeof(ck));
	return ret;
}

static int handle_response(struct wg_proto *p, const uint8_t *msg,
			   const struct wg_endpoint *src, uint64_t now,
			   struct wg_action *act)
{
	struct message_handshake_response in;
	struct noise_keypair *kp;
	struct wg_peer *peer;
	int ret = -ENOENT;

	memcpy(&in, msg, sizeof(in));
	peer = index_table_lookup_handshake(&p->index, in.receiver_index);
	if (!peer)
		goto fail;
	pthread_mutex_lock(&peer->lock);
	ret = -ESTALE;
	if (!peer->handshake.entry.hashed ||
	    peer->handshake.entry.index != in.receiver_index)
		goto unlock;
	pthread_rwlock_rdlock(&p->identity.lock);
	ret = noise_consume_response(&peer->handshake, &p->identity, &in);
	pthread_rwlock_unlock(&p->identity.lock);
	if (ret)
		goto unlock;
	kp = noise_derive_keypair(&peer->handshake, now);
	ret = -ENOMEM;
	if (!kp)
		goto unlock;
	add_new_keypair(peer, kp);
	wg_peer_set_endpoint(peer, src);
	wg_timers_on_session_derived(peer, now);
	wg_timers_on_handshake_complete(peer);
	wg_timers_on_any_authenticated_packet_received(peer);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	/* The initiator confirms the session at once: staged data, or a
	 * keepalive when there is none. */
	act->peer = peer;
	act->flags |= WG_ACT_SEND_STAGED;
	if (!peer->staged_count)
		act->flags |= WG_ACT_SEND_KEEPALIVE;
	pthread_mutex_unlock(&peer->lock);
	return 0;
unlock:
	pthread_mutex_unlock(&peer->lock);
fail:
	count(p, WG_CNT_BAD_RESPONSE);
	return ret;
}

static int handle_cookie(struct wg_proto *p, const uint8_t *msg, uint64_t now)
{
	struct message_handshake_cookie in;
	struct wg_peer *peer;
	int ret = -ENOENT;

	memcpy(&in, msg, sizeof(in));
	peer = index_table_lookup_handshake(&p->index, in.receiver_index);
	if (peer)
		ret = cookie_consume_reply(&peer->cookie, &in, now);
	if (ret)
		count(p, WG_CNT_BAD_COOKIE);
	return ret;
}

static size_t expected_len(uint32_t type)
{
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		return MESSAGE_INITIATION_LEN;
	case MESSAGE_HANDSHAKE_RESPONSE:
		return MESSAGE_RESPONSE_LEN;
	case MESSAGE_HANDSHAKE_COOKIE:
		return MESSAGE_COOKIE_LEN;
	default:
		return 0;
	}
}

int wg_proto_handle_handshake(struct wg_proto *p, const uint8_t *msg, size_t len,
			      const struct wg_endpoint *src, bool under_load,
			      uint64_t now, struct wg_action *act)
{
	uint8_t key[COOKIE_SRC_MAX];
	enum cookie_mac_state mac;
	uint32_t type, sender;
	size_t keylen;

	act_reset(act, NULL);
	if (len < sizeof(struct message_header)) {
		count(p, WG_CNT_BAD_LENGTH);
		return -EINVAL;
	}
	memcpy(&type, msg, sizeof(type));
	type = le32toh(type);
	if (!expected_len(type)) {
		count(p, WG_CNT_BAD_TYPE);
		return -EINVAL;
	}
	if (len != expected_len(type)) {
		count(p, WG_CNT_BAD_LENGTH);
		return -EINVAL;
	}
	if (type == MESSAGE_HANDSHAKE_COOKIE)
		return handle_cookie(p, msg, now);

	keylen = wg_endpoint_key(src, key);
	mac = cookie_validate(&p->cookie, msg, len, key, keylen, under_load, now);
	if (mac == COOKIE_INVALID_MAC) {
		count(p, WG_CNT_BAD_MAC1);
		return -EBADMSG;
	}
	if (under_load && mac == COOKIE_VALID_MAC_BUT_NO_COOKIE) {
		memcpy(&sender, msg + 4, sizeof(sender));
		cookie_create_reply(&p->cookie, (void *)act->msg, msg, len, sender,
				    key, keylen, now);
		act->flags |= WG_ACT_SEND_MSG;
		act->msg_len = MESSAGE_COOKIE_LEN;
		count(p, WG_CNT_COOKIE_SENT);
		return 0;
	}
	if (under_load && p->ratelimit && !p->ratelimit(p->ratelimit_ctx, src, now)) {
		count(p, WG_CNT_RATELIMITED);
		return -EBUSY;
	}
	if (type == MESSAGE_HANDSHAKE_INITIATION)
		return handle_initiation(p, msg, src, now, act);
	return handle_response(p, msg, src, now, act);
}

/* ---- data ---- */

struct noise_keypair *wg_peer_send_keypair(struct wg_peer *peer, uint64_t now,
					   unsigned int n, uint64_t *first_nonce)
{
	struct noise_keypair *kp = current_ref(peer);

	if (!kp)
		return NULL;
	if (noise_keypair_reserve(kp, now, n, first_nonce)) {
		noise_keypair_put(kp);
		return NULL;
	}
	return kp;
}

void wg_peer_sent_data(struct wg_peer *peer, struct noise_keypair *kp, bool keepalive,
		       uint64_t now, struct wg_action *act)
{
	struct noise_keypair *cur;
	bool rekey;

	act_reset(act, peer);
	pthread_mutex_lock(&peer->lock);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	wg_timers_on_any_authenticated_packet_sent(peer);
	if (!keepalive)
		wg_timers_on_data_sent(peer, now);
	cur = current_ref(peer);
	rekey = cur && atomic_load(&cur->valid) &&
		(atomic_load(&cur->send_counter) > REKEY_AFTER_MESSAGES ||
		 (cur->i_am_the_initiator &&
		  expired(cur->birthdate, REKEY_AFTER_TIME, now)));
	noise_keypair_put(cur);
	if (rekey)
		wg_peer_send_initiation_locked(peer, now, false, act);
	pthread_mutex_unlock(&peer->lock);
}

void wg_peer_received_data(struct wg_peer *peer, struct noise_keypair *kp,
			   const struct wg_endpoint *src, bool keepalive, uint64_t now,
			   struct wg_action *act)
{
	struct noise_keypair *cur;
	bool rekey;

	act_reset(act, peer);
	pthread_mutex_lock(&peer->lock);
	if (received_with_keypair(peer, kp)) {
		wg_timers_on_handshake_complete(peer);
		act->flags |= WG_ACT_SEND_STAGED;
	}
	/* The initiator starts one last handshake before the session runs
	 * out, so a quiet responder does not have to. */
	cur = current_ref(peer);
	rekey = cur && atomic_load(&cur->valid) && cur->i_am_the_initiator &&
		!peer->timers.sent_lastminute_handshake &&
		expired(cur->birthdate,
			REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT, now);
	noise_keypair_put(cur);
	if (rekey) {
		peer->timers.sent_lastminute_handshake = true;
		wg_peer_send_initiation_locked(peer, now, false, act);
	}
	wg_timers_on_any_authenticated_packet_received(peer);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	if (src)
		wg_peer_set_endpoint(peer, src);
	if (!keepalive)
		wg_timers_on_data_received(peer, now);
	pthread_mutex_unlock(&peer->lock);
}

size_t wg_data_seal(struct noise_keypair *kp, uint64_t nonce, uint8_t *buf,
		    size_t plain_len)
{
	struct message_data *hdr = (void *)(buf - MESSAGE_DATA_HEADER_LEN);

	hdr->header.type = htole32(MESSAGE_DATA);
	hdr->key_idx = kp->remote_index;
	hdr->counter = htole64(nonce);
	dp_aead_seal(kp->send, nonce, buf, plain_len);
	return MESSAGE_DATA_HEADER_LEN + plain_len + NOISE_AUTHTAG_LEN;
}

int wg_data_open(struct wg_proto *p, uint8_t *msg, size_t len, uint64_t now,
		 struct noise_keypair **kpp, uint8_t **plain, size_t *plain_len)
{
	struct message_data *hdr = (void *)msg;
	struct noise_keypair *kp;
	uint64_t counter;
	int ret;

	*kpp = NULL;
	if (len < MESSAGE_DATA_MIN_LEN || le32toh(hdr->header.type) != MESSAGE_DATA) {
		count(p, WG_CNT_BAD_LENGTH);
		return -EINVAL;
	}
	kp = index_table_get_keypair(&p->index, hdr->key_idx);
	if (!kp) {
		count(p, WG_CNT_UNKNOWN_INDEX);
		return -ENOENT;
	}
	counter = le64toh(hdr->counter);
	ret = -EKEYEXPIRED;
	if (!noise_keypair_receive_ok(kp, counter, now)) {
		count(p, WG_CNT_EXPIRED_DATA);
		goto fail;
	}
	ret = dp_aead_open(kp->recv, counter, msg + MESSAGE_DATA_HEADER_LEN,
			   len - MESSAGE_DATA_HEADER_LEN);
	if (ret) {
		count(p, WG_CNT_BAD_DATA);
		goto fail;
	}
	ret = noise_keypair_replay(kp, counter);
	if (ret) {
		count(p, WG_CNT_REPLAYED_DATA);
		goto fail;
	}
	*kpp = kp;
	*plain = msg + MESSAGE_DATA_HEADER_LEN;
	*plain_len = len - MESSAGE_DATA_MIN_LEN;
	return 0;
fail:
	noise_keypair_put(kp);
	return ret;
}
