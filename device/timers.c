// SPDX-License-Identifier: MIT
#include "config.h"

#include <errno.h>

#include "device/peer.h"
#include "device/proto_impl.h"
#include "device/timers.h"

/* 0..333 ms, so peers that lost the same packet do not retry in lockstep. */
static uint64_t jitter(void)
{
	return (uint64_t)(crypto_random_u32() % REKEY_TIMEOUT_JITTER_MAX_MS) * 1000000ULL;
}

uint64_t wg_timers_rekey_after_time = REKEY_AFTER_TIME;
uint64_t wg_timers_reject_after_time = REJECT_AFTER_TIME;

int wg_timers_set_lifetimes(uint64_t rekey_after, uint64_t reject_after)
{
	if (!rekey_after || reject_after > REJECT_AFTER_TIME ||
	    reject_after <= rekey_after + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT)
		return -EINVAL;
	wg_timers_rekey_after_time = rekey_after;
	wg_timers_reject_after_time = reject_after;
	return 0;
}

void wg_timers_init(struct wg_timers *t)
{
	t->retransmit_handshake = WG_TIMER_OFF;
	t->send_keepalive = WG_TIMER_OFF;
	t->new_handshake = WG_TIMER_OFF;
	t->zero_key_material = WG_TIMER_OFF;
	t->persistent_keepalive = WG_TIMER_OFF;
	t->have_sent_handshake = false;
	t->need_another_keepalive = false;
	t->sent_lastminute_handshake = false;
	t->handshake_attempts = 0;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Lowers proto->timers_due to when: the control thread skips its scan of
 * every peer until then.  peer->lock held. */
void wg_timers_arm(struct wg_peer *peer, uint64_t *deadline, uint64_t when)
{
	atomic_uint_fast64_t *due = &peer->proto->timers_due;
	uint_fast64_t cur = atomic_load_explicit(due, memory_order_relaxed);

	*deadline = when;
	while (when < cur && !atomic_compare_exchange_weak(due, &cur, when))
		;
}

bool wg_proto_timers_due(struct wg_proto *p, uint64_t now)
{
	return now >= atomic_load(&p->timers_due);
}

void wg_proto_timers_scan_begin(struct wg_proto *p)
{
	atomic_store(&p->timers_due, WG_TIMER_OFF);
}

void wg_proto_timers_scan_end(struct wg_proto *p, uint64_t earliest)
{
	uint_fast64_t cur = atomic_load(&p->timers_due);

	while (earliest < cur && !atomic_compare_exchange_weak(&p->timers_due, &cur, earliest))
		;
}

uint64_t wg_timers_next_deadline(struct wg_peer *peer)
{
	struct wg_timers *t = &peer->timers;
	uint64_t d;

	pthread_mutex_lock(&peer->lock);
	d = min64(min64(t->retransmit_handshake, t->send_keepalive),
		  min64(min64(t->new_handshake, t->zero_key_material),
			t->persistent_keepalive));
	pthread_mutex_unlock(&peer->lock);
	return d;
}

static bool fire(uint64_t *deadline, uint64_t now)
{
	if (*deadline == WG_TIMER_OFF || *deadline > now)
		return false;
	*deadline = WG_TIMER_OFF;
	return true;
}

static void expired_retransmit(struct wg_peer *peer, uint64_t now,
			       struct wg_action *act)
{
	struct wg_timers *t = &peer->timers;

	if (t->handshake_attempts > MAX_TIMER_HANDSHAKES) {
		/* Give up: nothing staged may go out on a session that will
		 * never come, and the keys go once nothing renews them. */
		t->send_keepalive = WG_TIMER_OFF;
		wg_peer_staged_flush_locked(peer);
		if (t->zero_key_material == WG_TIMER_OFF)
			wg_timers_arm(peer, &t->zero_key_material, now + wg_timers_reject_after_time * 3);
		return;
	}
	++t->handshake_attempts;
	/* The sticky source may be why the peer does not answer. */
	wg_peer_clear_src(peer);
	wg_peer_send_initiation_locked(peer, now, true, act);
}

unsigned int wg_timers_tick(struct wg_peer *peer, uint64_t now, struct wg_action *act)
{
	struct wg_timers *t = &peer->timers;

	act->flags = 0;
	act->peer = peer;
	act->msg_len = 0;
	pthread_mutex_lock(&peer->lock);
	if (fire(&t->retransmit_handshake, now))
		expired_retransmit(peer, now, act);
	if (fire(&t->send_keepalive, now)) {
		act->flags |= WG_ACT_SEND_KEEPALIVE;
		if (t->need_another_keepalive) {
			t->need_another_keepalive = false;
			wg_timers_arm(peer, &t->send_keepalive, now + KEEPALIVE_TIMEOUT);
		}
	}
	if (fire(&t->new_handshake, now)) {
		wg_peer_clear_src(peer);
		wg_peer_send_initiation_locked(peer, now, false, act);
	}
	if (fire(&t->zero_key_material, now))
		wg_peer_zero_keys_locked(peer);
	if (fire(&t->persistent_keepalive, now) && atomic_load(&peer->persistent_keepalive))
		act->flags |= WG_ACT_SEND_KEEPALIVE;
	pthread_mutex_unlock(&peer->lock);
	return act->flags;
}

void wg_timers_on_data_sent(struct wg_peer *peer, uint64_t now)
{
	struct wg_timers *t = &peer->timers;

	if (t->new_handshake == WG_TIMER_OFF)
		wg_timers_arm(peer, &t->new_handshake,
			      now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter());
}

void wg_timers_on_data_received(struct wg_peer *peer, uint64_t now)
{
	struct wg_timers *t = &peer->timers;

	if (t->send_keepalive == WG_TIMER_OFF)
		wg_timers_arm(peer, &t->send_keepalive, now + KEEPALIVE_TIMEOUT);
	else
		t->need_another_keepalive = true;
}

void wg_timers_on_any_authenticated_packet_sent(struct wg_peer *peer)
{
	peer->timers.send_keepalive = WG_TIMER_OFF;
}

void wg_timers_on_any_authenticated_packet_received(struct wg_peer *peer)
{
	peer->timers.new_handshake = WG_TIMER_OFF;
}

void wg_timers_on_handshake_initiated(struct wg_peer *peer, uint64_t now)
{
	wg_timers_arm(peer, &peer->timers.retransmit_handshake, now + REKEY_TIMEOUT + jitter());
}

void wg_timers_on_handshake_complete(struct wg_peer *peer)
{
	struct wg_proto *p = peer->proto;

	peer->timers.retransmit_handshake = WG_TIMER_OFF;
	peer->timers.handshake_attempts = 0;
	peer->timers.sent_lastminute_handshake = false;
	atomic_store(&peer->last_handshake_ns, p->wallclock(p->wallclock_ctx));
}

void wg_timers_on_session_derived(struct wg_peer *peer, uint64_t now)
{
	wg_timers_arm(peer, &peer->timers.zero_key_material, now + wg_timers_reject_after_time * 3);
}

void wg_timers_on_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now)
{
	unsigned int secs = atomic_load(&peer->persistent_keepalive);

	if (secs)
		wg_timers_arm(peer, &peer->timers.persistent_keepalive,
			      now + (uint64_t)secs * WG_NSEC_PER_SEC);
}
