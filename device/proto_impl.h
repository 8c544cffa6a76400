/* SPDX-License-Identifier: MIT */
/* Internal to the protocol core (peer.c, keypair.c, staging.c,
 * handshake_msg.c, data.c, timers.c): not part of peer.h's surface. */
#ifndef VGUARD_DEVICE_PROTO_IMPL_H
#define VGUARD_DEVICE_PROTO_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "device/peer.h"

static inline void wg_proto_count(struct wg_proto *p, enum wg_proto_counter c)
{
	atomic_fetch_add_explicit(&p->counters[c], 1, memory_order_relaxed);
}

static inline bool wg_expired(uint64_t birth, uint64_t age, uint64_t now)
{
	return now >= birth + age || now < birth;
}

static inline void wg_act_reset(struct wg_action *act, struct wg_peer *peer)
{
	act->flags = 0;
	act->peer = peer;
	act->msg_len = 0;
}

/* The keypair slots (keypair.c).  add: a keypair fresh from a handshake
 * takes its slot (peer->lock held).  confirm: the first packet received
 * on "next" promotes it to current; true when it did.  current: the
 * current keypair with a reference, or NULL. */
void wg_peer_add_keypair(struct wg_peer *peer, struct noise_keypair *kp);
bool wg_peer_confirm_keypair(struct wg_peer *peer, struct noise_keypair *kp);
struct noise_keypair *wg_peer_current_keypair(struct wg_peer *peer);

/* peer->lock held.  An initiation into act unless one went out less than
 * REKEY_TIMEOUT ago; retry keeps counting the timer's attempts. */
int wg_peer_send_initiation_locked(struct wg_peer *peer, uint64_t now, bool retry,
				   struct wg_action *act);
void wg_peer_zero_keys_locked(struct wg_peer *peer);
/* Drops every staged packet (counted as dropped). */
void wg_peer_staged_flush_locked(struct wg_peer *peer);

#endif
