/* SPDX-License-Identifier: MIT */
/*
 * A peer's keypair slots: previous, current and next (a responder's
 * keypair until the initiator's first data packet confirms it), the
 * keypair to send with, and wiping them all.
 */
#include "config.h"

#include "device/peer.h"
#include "device/proto_impl.h"

/* Drop a slot's reference; unindexed first so no new lookup finds it. */
static void retire(struct wg_proto *p, struct noise_keypair *kp)
{
	if (!kp)
		return;
	index_table_remove(&p->index, &kp->entry);
	noise_keypair_put(kp);
}

void wg_peer_add_keypair(struct wg_peer *peer, struct noise_keypair *kp)
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
bool wg_peer_confirm_keypair(struct wg_peer *peer, struct noise_keypair *kp)
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

struct noise_keypair *wg_peer_current_keypair(struct wg_peer *peer)
{
	struct noise_keypair *kp;

	pthread_mutex_lock(&peer->keypairs.lock);
	kp = peer->keypairs.current;
	if (kp)
		noise_keypair_get(kp);
	pthread_mutex_unlock(&peer->keypairs.lock);
	return kp;
}

struct noise_keypair *wg_peer_send_keypair(struct wg_peer *peer, uint64_t now,
					   unsigned int n, uint64_t *first_nonce)
{
	struct noise_keypair *kp = wg_peer_current_keypair(peer);

	if (!kp)
		return NULL;
	if (noise_keypair_reserve(kp, now, n, first_nonce)) {
		noise_keypair_put(kp);
		return NULL;
	}
	return kp;
}
