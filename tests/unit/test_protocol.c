// SPDX-License-Identifier: MIT
/* Two in-memory protocol cores talking WireGuard to each other. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>

#include <sodium.h>

#include "device/allowedips.h"
#include "device/proto_sim.h"
#include "device/ratelimiter.h"
#include "tests/unit/testutil.h"

static struct sim s;

static void setup(void)
{
	sim_init(&s);
}

static void teardown(void)
{
	sim_destroy(&s);
}

static void check_last(struct sim_dev *d, const char *text)
{
	unsigned int i = (d->inbox_count - 1) % SIM_INBOX;

	ck_assert_uint_gt(d->inbox_count, 0);
	/* Padded to 16: the text then zeros. */
	ck_assert_uint_eq(d->inbox_len[i], (strlen(text) + 15) & ~15UL);
	ck_assert_mem_eq(d->inbox[i], text, strlen(text));
}

static struct noise_keypair *current(struct sim_dev *d)
{
	return d->peer->keypairs.current;
}

START_TEST(handshake_a_initiates)
{
	ck_assert_int_eq(sim_send(&s.a, "hello b", 7), 0);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
	/* The staged packet went out on the new session and confirmed it. */
	ck_assert_uint_eq(s.a.sent[MESSAGE_DATA], 1);
	ck_assert_uint_eq(s.b.data_received, 1);
	check_last(&s.b, "hello b");
	ck_assert_ptr_nonnull(current(&s.a));
	ck_assert_ptr_nonnull(current(&s.b));
	ck_assert(current(&s.a)->i_am_the_initiator);
	ck_assert(!current(&s.b)->i_am_the_initiator);
	ck_assert_uint_eq(wg_peer_staged_count(s.a.peer), 0);
	ck_assert_uint_ne(atomic_load(&s.a.peer->last_handshake_ns), 0);
	ck_assert_uint_eq(sim_send(&s.b, "hello a", 7), 1);
	check_last(&s.a, "hello a");
}
END_TEST

START_TEST(handshake_b_initiates)
{
	ck_assert_int_eq(sim_send(&s.b, "from b", 6), 0);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
	check_last(&s.a, "from b");
	ck_assert_uint_eq(sim_send(&s.a, "from a", 6), 1);
	check_last(&s.b, "from a");
	ck_assert(current(&s.b)->i_am_the_initiator);
}
END_TEST

START_TEST(data_both_ways)
{
	char msg[64];
	int i;

	sim_send(&s.a, "x", 1);
	for (i = 0; i < 200; i++) {
		snprintf(msg, sizeof(msg), "a->b %d", i);
		ck_assert_int_eq(sim_send(&s.a, msg, strlen(msg)), 1);
		check_last(&s.b, msg);
		snprintf(msg, sizeof(msg), "b->a %d", i);
		ck_assert_int_eq(sim_send(&s.b, msg, strlen(msg)), 1);
		check_last(&s.a, msg);
	}
	ck_assert_uint_eq(s.b.data_received, 201);
	ck_assert_uint_eq(s.a.data_received, 200);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	ck_assert_uint_eq(atomic_load(&current(&s.a)->send_counter), 201);
}
END_TEST

START_TEST(key_confirmation)
{
	struct wg_action act;

	/* Handshake without data: the responder must not send until the
	 * initiator has used the keys. */
	ck_assert_int_eq(wg_peer_want_handshake(s.a.peer, s.now, &act), 0);
	s.a.drop_next = 0;
	s.b.drop_all = false;
	/* Deliver the initiation but hold A's keepalive back. */
	s.a.drop_all = false;
	{
		struct wg_action r;
		uint8_t buf[MESSAGE_INITIATION_LEN];

		memcpy(buf, act.msg, act.msg_len);
		ck_assert_int_eq(wg_proto_handle_handshake(&s.b.p, buf, act.msg_len,
							   &s.a.self, false, s.now, &r), 0);
		ck_assert(r.flags & WG_ACT_SEND_MSG);
		ck_assert_uint_eq(r.msg_len, MESSAGE_RESPONSE_LEN);
		ck_assert_ptr_null(current(&s.b));
		ck_assert_ptr_nonnull(s.b.peer->keypairs.next);
		/* B has data: it is staged, not sent on an unconfirmed key. */
		ck_assert_int_eq(sim_send(&s.b, "early", 5), 0);
		ck_assert_uint_eq(s.b.sent[MESSAGE_DATA], 0);
		ck_assert_uint_eq(wg_peer_staged_count(s.b.peer), 1);
		/* Now the response reaches A; A sends a keepalive (nothing
		 * staged), which confirms B's keys and releases B's data. */
		memcpy(buf, r.msg, r.msg_len);
		ck_assert_int_eq(wg_proto_handle_handshake(&s.a.p, buf, r.msg_len,
							   &s.b.self, false, s.now, &act), 0);
		ck_assert(act.flags & WG_ACT_SEND_STAGED);
		sim_act(&s.a, &act);
	}
	ck_assert_uint_eq(s.a.keepalives_sent, 1);
	ck_assert_uint_eq(s.b.keepalives_received, 1);
	ck_assert_ptr_nonnull(current(&s.b));
	ck_assert_ptr_null(s.b.peer->keypairs.next);
	check_last(&s.a, "early");
	ck_assert_uint_eq(wg_peer_staged_count(s.b.peer), 0);
}
END_TEST

START_TEST(rekey_on_time)
{
	struct noise_keypair *first;
	unsigned int i;

	sim_send(&s.a, "x", 1);
	first = current(&s.a);
	/* Traffic every 10 s both ways for 119 s: no new handshake. */
	for (i = 0; i < 11; i++) {
		sim_advance(&s, sim_secs(10));
		sim_send(&s.a, "ping", 4);
		sim_send(&s.b, "pong", 4);
	}
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	ck_assert_ptr_eq(current(&s.a), first);
	sim_advance(&s, sim_secs(11));	/* 121 s */
	/* The responder does not rekey on time; the initiator does, on send. */
	sim_send(&s.b, "pong", 4);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_INITIATION], 0);
	sim_send(&s.a, "ping", 4);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
	ck_assert_ptr_ne(current(&s.a), first);
	ck_assert_ptr_eq(s.a.peer->keypairs.previous, first);
	sim_send(&s.a, "after", 5);
	check_last(&s.b, "after");
	sim_send(&s.b, "back", 4);
	check_last(&s.a, "back");
}
END_TEST

START_TEST(rekey_on_count)
{
	struct noise_keypair *first;

	sim_send(&s.a, "x", 1);
	first = current(&s.a);
	/* Not within REKEY_TIMEOUT of the last initiation. */
	sim_advance(&s, sim_secs(6));
	atomic_store(&first->send_counter, REKEY_AFTER_MESSAGES);
	/* Counter REKEY_AFTER_MESSAGES is still sent; past it, a rekey. */
	ck_assert_int_eq(sim_send(&s.a, "last", 4), 1);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
	ck_assert_ptr_ne(current(&s.a), first);
	check_last(&s.b, "last");
	/* The responder rekeys on count too. */
	sim_advance(&s, sim_secs(6));
	atomic_store(&current(&s.b)->send_counter, REKEY_AFTER_MESSAGES + 1);
	sim_send(&s.b, "b", 1);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
}
END_TEST

START_TEST(reject_after_messages)
{
	uint64_t nonce;

	sim_send(&s.a, "x", 1);
	atomic_store(&current(&s.a)->send_counter, REJECT_AFTER_MESSAGES - 1);
	ck_assert_ptr_nonnull(wg_peer_send_keypair(s.a.peer, s.now, 1, &nonce));
	noise_keypair_put(current(&s.a));
	ck_assert_uint_eq(nonce, REJECT_AFTER_MESSAGES - 1);
	ck_assert_ptr_null(wg_peer_send_keypair(s.a.peer, s.now, 1, &nonce));
	ck_assert_ptr_null(wg_peer_send_keypair(s.a.peer, s.now, 1, &nonce));
}
END_TEST

START_TEST(reject_after_time)
{
	uint8_t pkt[SIM_MAX_PKT];
	size_t len;

	sim_send(&s.a, "x", 1);
	sim_send(&s.a, "y", 1);
	memcpy(pkt, s.a.last_msg, s.a.last_len);
	len = s.a.last_len;
	s.now += REJECT_AFTER_TIME;
	sim_deliver(&s.b, pkt, len, &s.a.self);
	ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_EXPIRED_DATA), 1);
	/* B cannot send on it either: it stages and asks for a handshake. */
	ck_assert_int_eq(sim_send(&s.b, "z", 1), 0);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	check_last(&s.a, "z");
}
END_TEST

START_TEST(retransmit_after_lost_response)
{
	s.b.drop_next = 1;
	ck_assert_int_eq(sim_send(&s.a, "lost", 4), 0);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
	ck_assert_uint_eq(s.b.data_received, 0);
	/* Nothing before 5 s. */
	sim_advance(&s, sim_secs(4.9));
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	/* 5 s + jitter (< 334 ms). */
	sim_advance(&s, sim_secs(0.5));
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_RESPONSE], 2);
	check_last(&s.b, "lost");
	/* No further retransmits once complete. */
	sim_advance(&s, sim_secs(30));
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
}
END_TEST

START_TEST(give_up_and_recover)
{
	s.a.drop_all = true;
	sim_send(&s.a, "one", 3);
	sim_send(&s.a, "two", 3);
	ck_assert_uint_eq(wg_peer_staged_count(s.a.peer), 2);
	sim_advance(&s, sim_secs(200));
	/* One initiation and MAX_TIMER_HANDSHAKES + 1 retries, then silence. */
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], MAX_TIMER_HANDSHAKES + 2);
	ck_assert_uint_eq(wg_peer_staged_count(s.a.peer), 0);
	ck_assert_uint_eq(atomic_load(&s.a.peer->staged_dropped), 2);
	sim_advance(&s, sim_secs(1000));
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], MAX_TIMER_HANDSHAKES + 2);
	/* The path is back: new data starts a new handshake. */
	s.a.drop_all = false;
	ck_assert_int_eq(sim_send(&s.a, "back", 4), 0);
	check_last(&s.b, "back");
	ck_assert_uint_eq(s.b.data_received, 1);
}
END_TEST

START_TEST(passive_keepalive)
{
	sim_send(&s.a, "x", 1);
	ck_assert_uint_eq(s.b.keepalives_sent, 0);
	sim_advance(&s, sim_secs(9.9));
	ck_assert_uint_eq(s.b.keepalives_sent, 0);
	sim_advance(&s, sim_secs(0.2));
	ck_assert_uint_eq(s.b.keepalives_sent, 1);
	ck_assert_uint_eq(s.a.keepalives_received, 1);
	/* A keepalive is not data: nobody answers it. */
	sim_advance(&s, sim_secs(60));
	ck_assert_uint_eq(s.b.keepalives_sent, 1);
	ck_assert_uint_eq(s.a.keepalives_sent, 0);
	/* B replying with data in time means no keepalive. */
	sim_send(&s.a, "y", 1);
	sim_advance(&s, sim_secs(5));
	sim_send(&s.b, "reply", 5);
	sim_advance(&s, sim_secs(20));
	ck_assert_uint_eq(s.b.keepalives_sent, 1);
}
END_TEST

START_TEST(new_handshake_after_unanswered_data)
{
	sim_send(&s.a, "x", 1);
	sim_send(&s.b, "y", 1);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	s.b.drop_all = true;
	sim_send(&s.a, "anyone?", 7);
	sim_advance(&s, sim_secs(14.9));
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	sim_advance(&s, sim_secs(0.5));
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
}
END_TEST

START_TEST(persistent_keepalive)
{
	sim_send(&s.a, "x", 1);
	wg_peer_set_persistent_keepalive(s.a.peer, 25, s.now);
	sim_advance(&s, 1);
	ck_assert_uint_eq(s.a.keepalives_sent, 1);
	sim_advance(&s, sim_secs(100));
	/* B's passive keepalive at +10 s (for "x") re-arms A's timer: any
	 * authenticated packet does.  So +35, +60 and +85 s. */
	ck_assert_uint_eq(s.b.keepalives_sent, 1);
	ck_assert_uint_eq(s.a.keepalives_sent, 4);
	wg_peer_set_persistent_keepalive(s.a.peer, 0, s.now);
	sim_advance(&s, sim_secs(100));
	ck_assert_uint_eq(s.a.keepalives_sent, 4);
}
END_TEST

START_TEST(zero_keys_after_540s)
{
	sim_send(&s.a, "x", 1);
	ck_assert_ptr_nonnull(current(&s.a));
	sim_advance(&s, sim_secs(539));
	ck_assert_ptr_nonnull(current(&s.a));
	sim_advance(&s, sim_secs(2));
	ck_assert_ptr_null(current(&s.a));
	ck_assert_ptr_null(current(&s.b));
	ck_assert_uint_eq(s.a.p.index.count, 0);
	ck_assert_uint_eq(s.b.p.index.count, 0);
}
END_TEST

static void capture_data(struct sim_dev *d, const char *text, uint8_t *pkt, size_t *len)
{
	sim_send(d, text, strlen(text));
	memcpy(pkt, d->last_msg, d->last_len);
	*len = d->last_len;
}

/* wg_peer_reset (link down): no keypair, handshake or staged packet is
 * left and no timer runs but the persistent keepalive, due at once; the
 * configuration, the last handshake time and the guard against replayed
 * initiations stay.  The keepalive then goes on a new session. */
START_TEST(reset_starts_afresh)
{
	uint8_t init[SIM_MAX_PKT], old[SIM_MAX_PKT], *plain;
	size_t init_len, old_len, plain_len;
	struct noise_keypair *kp;
	struct vg_endpoint ep;
	uint64_t last, replayed;

	/* B initiates; its initiation is kept to be replayed. */
	s.b.drop_all = true;
	sim_send(&s.b, "y", 1);
	memcpy(init, s.b.last_msg, s.b.last_len);
	init_len = s.b.last_len;
	s.b.drop_all = false;
	sim_deliver(&s.a, init, init_len, &s.b.self);
	check_last(&s.a, "y");
	capture_data(&s.b, "old", old, &old_len);
	wg_peer_set_persistent_keepalive(s.a.peer, 25, s.now);
	sim_advance(&s, 1);
	ck_assert_uint_eq(s.a.keepalives_sent, 1);
	ck_assert_int_eq(wg_peer_stage(s.a.peer, "z", 1), 0);
	sim_advance(&s, sim_secs(1));
	last = atomic_load(&s.a.peer->last_handshake_ns);

	wg_peer_reset(s.a.peer, s.now);
	ck_assert_ptr_null(s.a.peer->keypairs.previous);
	ck_assert_ptr_null(current(&s.a));
	ck_assert_ptr_null(s.a.peer->keypairs.next);
	ck_assert_uint_eq(s.a.p.index.count, 0);
	ck_assert_uint_eq(wg_peer_staged_count(s.a.peer), 0);
	ck_assert_uint_eq(atomic_load(&s.a.peer->staged_dropped), 1);
	ck_assert_uint_eq(wg_timers_next_deadline(s.a.peer), s.now);
	ck_assert_uint_eq(atomic_load(&s.a.peer->persistent_keepalive), 25);
	ck_assert_uint_eq(atomic_load(&s.a.peer->last_handshake_ns), last);
	ck_assert(wg_peer_get_endpoint(s.a.peer, &ep));
	ck_assert_uint_eq(ep.dst.in4.sin_addr.s_addr, s.b.self.dst.in4.sin_addr.s_addr);
	ck_assert_uint_eq(ep.dst.in4.sin_port, s.b.self.dst.in4.sin_port);
	ck_assert_int_eq(wg_data_open(&s.a.p, old, old_len, s.now, &kp, &plain, &plain_len),
			 -ENOENT);
	replayed = wg_proto_counter(&s.a.p, WG_CNT_REPLAYED_INITIATION);
	sim_deliver(&s.a, init, init_len, &s.b.self);
	ck_assert_uint_eq(wg_proto_counter(&s.a.p, WG_CNT_REPLAYED_INITIATION), replayed + 1);
	ck_assert_ptr_null(s.a.peer->keypairs.next);

	sim_advance(&s, 1);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	ck_assert_ptr_nonnull(current(&s.a));
	ck_assert_uint_eq(s.b.keepalives_received, 2);
	ck_assert_int_eq(sim_send(&s.a, "after", 5), 1);
	check_last(&s.b, "after");
	ck_assert_int_eq(sim_send(&s.b, "back", 4), 1);
	check_last(&s.a, "back");
}
END_TEST

START_TEST(replay_and_reorder)
{
	uint8_t p1[SIM_MAX_PKT], p2[SIM_MAX_PKT], p3[SIM_MAX_PKT];
	size_t l1, l2, l3;
	unsigned int i;

	sim_send(&s.a, "x", 1);
	s.a.drop_all = true;
	capture_data(&s.a, "one", p1, &l1);
	capture_data(&s.a, "two", p2, &l2);
	capture_data(&s.a, "three", p3, &l3);
	s.a.drop_all = false;
	/* Reordered within the window: all accepted once. */
	sim_deliver(&s.b, p3, l3, &s.a.self);
	check_last(&s.b, "three");
	sim_deliver(&s.b, p1, l1, &s.a.self);
	check_last(&s.b, "one");
	sim_deliver(&s.b, p2, l2, &s.a.self);
	check_last(&s.b, "two");
	ck_assert_uint_eq(s.b.data_received, 4);
	/* Replayed: rejected and counted. */
	sim_deliver(&s.b, p2, l2, &s.a.self);
	sim_deliver(&s.b, p3, l3, &s.a.self);
	ck_assert_uint_eq(s.b.data_received, 4);
	ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_REPLAYED_DATA), 2);
	/* Beyond the window: p1 (counter 1) after counter 1 + 8128 + 1. */
	capture_data(&s.a, "keep", p1, &l1);	/* counter 4 */
	s.a.drop_all = true;
	for (i = 0; i < REPLAY_WINDOW_SIZE + 1; i++)
		sim_send(&s.a, "", 0);
	s.a.drop_all = false;
	sim_send(&s.a, "far", 3);
	check_last(&s.b, "far");
	sim_deliver(&s.b, p1, l1, &s.a.self);
	ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_REPLAYED_DATA), 3);
	check_last(&s.b, "far");
}
END_TEST

START_TEST(roaming)
{
	struct vg_endpoint ep, moved;

	sim_send(&s.a, "x", 1);
	sim_endpoint(&moved, "198.51.100.7", 40000);
	s.a.self = moved;
	sim_send(&s.a, "roamed", 6);
	check_last(&s.b, "roamed");
	ck_assert(wg_peer_get_endpoint(s.b.peer, &ep));
	ck_assert(vg_endpoint_dst_equal(&ep, &moved));
	/* A forged packet does not move the endpoint. */
	sim_endpoint(&moved, "203.0.113.9", 1);
	{
		uint8_t junk[64] = { 4 };
		struct noise_keypair *kp;
		uint8_t *plain;
		size_t pl;

		memcpy(junk + 4, &current(&s.b)->entry.index, 4);
		ck_assert_int_eq(wg_data_open(&s.b.p, junk, sizeof(junk), s.now, &kp,
					      &plain, &pl), -EBADMSG);
	}
	ck_assert(wg_peer_get_endpoint(s.b.peer, &ep));
	ck_assert(!vg_endpoint_dst_equal(&ep, &moved));
}
END_TEST

START_TEST(psk)
{
	uint8_t psk1[32], psk2[32];

	memset(psk1, 0x11, sizeof(psk1));
	memset(psk2, 0x22, sizeof(psk2));
	wg_peer_set_psk(s.a.peer, psk1);
	wg_peer_set_psk(s.b.peer, psk2);
	sim_send(&s.a, "x", 1);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
	ck_assert_uint_eq(wg_proto_counter(&s.a.p, WG_CNT_BAD_RESPONSE), 1);
	ck_assert_ptr_null(current(&s.a));
	ck_assert_uint_eq(s.b.data_received, 0);
	/* Matching keys work. */
	wg_peer_set_psk(s.b.peer, psk1);
	sim_advance(&s, sim_secs(6));
	check_last(&s.b, "x");
}
END_TEST

START_TEST(cookie_under_load)
{
	s.a.under_load = true;
	sim_send(&s.a, "x", 1);
	/* B answers with a cookie reply instead of a response. */
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_COOKIE], 1);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_RESPONSE], 0);
	ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_COOKIE_SENT), 1);
	ck_assert_uint_eq(wg_proto_counter(&s.a.p, WG_CNT_BAD_COOKIE), 0);
	/* The retransmit carries MAC2 and goes through while still loaded. */
	sim_advance(&s, sim_secs(5.4));
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_COOKIE], 1);
	check_last(&s.b, "x");
	/* A cookie is good for 120 s only: past that, no MAC2 and a new
	 * cookie reply. */
	wg_peer_zero_keys(s.a.peer);
	wg_peer_zero_keys(s.b.peer);
	s.now += sim_secs(121);
	sim_send(&s.a, "y", 1);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_COOKIE], 2);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
}
END_TEST

START_TEST(initiation_replay_and_flood)
{
	uint8_t init[MESSAGE_INITIATION_LEN];
	struct wg_action act;

	ck_assert_int_eq(wg_peer_want_handshake(s.a.peer, s.now, &act), 0);
	memcpy(init, act.msg, sizeof(init));
	ck_assert_int_eq(wg_proto_handle_handshake(&s.b.p, act.msg, act.msg_len,
						   &s.a.self, false, s.now, &act), 0);
	/* The same initiation again, even much later: old timestamp. */
	s.now += sim_secs(1);
	ck_assert_int_eq(wg_proto_handle_handshake(&s.b.p, init, sizeof(init),
						   &s.a.self, false, s.now, &act), -EALREADY);
	/* A fresh one 10 ms after the last accepted one: flood guard. */
	s.now += sim_secs(5);
	ck_assert_int_eq(wg_peer_want_handshake(s.a.peer, s.now, &act), 0);
	ck_assert_int_eq(wg_proto_handle_handshake(&s.b.p, act.msg, act.msg_len,
						   &s.a.self, false, s.now, &act), 0);
	s.now += sim_secs(5);
	ck_assert_int_eq(wg_peer_want_handshake(s.a.peer, s.now, &act), 0);
	ck_assert_int_eq(wg_proto_handle_handshake(&s.b.p, act.msg, act.msg_len,
						   &s.a.self, false,
						   s.now - sim_secs(5) + sim_secs(0.01), &act),
			 -EBUSY);
	ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_REPLAYED_INITIATION), 2);
}
END_TEST

START_TEST(handshake_rate_limited_locally)
{
	struct wg_action act;

	ck_assert_int_eq(wg_peer_want_handshake(s.a.peer, s.now, &act), 0);
	ck_assert_int_eq(wg_peer_want_handshake(s.a.peer, s.now + sim_secs(4.9), &act),
			 -EAGAIN);
	ck_assert_int_eq(wg_peer_want_handshake(s.a.peer, s.now + sim_secs(5), &act), 0);
}
END_TEST

START_TEST(low_order_peer_key)
{
	/* A point of order 8: the static-static DH is all zeros. */
	static const uint8_t low[32] = {
		0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
		0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
		0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
	};
	struct wg_peer *bad = wg_peer_new(&s.a.p, low, NULL);
	struct wg_action act;

	ck_assert_ptr_nonnull(bad);
	ck_assert_int_eq(wg_peer_want_handshake(bad, s.now, &act), -ENOKEY);
	ck_assert_uint_eq(act.flags, 0);
}
END_TEST

START_TEST(duplicate_and_self_peers)
{
	int err = 0;

	ck_assert_ptr_null(wg_peer_new(&s.a.p, s.b.pub, &err));
	ck_assert_int_eq(err, -EEXIST);
	ck_assert_ptr_null(wg_peer_new(&s.a.p, s.a.pub, &err));
	ck_assert_int_eq(err, -EEXIST);
	ck_assert_ptr_eq(wg_proto_find_peer(&s.a.p, s.b.pub), s.a.peer);
}
END_TEST

/* The peer table by public key: thousands of peers (past several table
 * growths) are each found, removal in any order unlinks exactly one, and
 * the list still walks every remaining peer once.  The handshake still
 * finds its initiator among them. */
START_TEST(many_peers_table)
{
	enum { N = 3000 };
	static uint8_t keys[N][32];
	static struct wg_peer *peers[N];
	struct wg_peer *wp;
	size_t i, walked = 0;

	for (i = 0; i < N; i++) {
		randombytes_buf(keys[i], 32);
		peers[i] = wg_peer_new(&s.b.p, keys[i], NULL);
		ck_assert_ptr_nonnull(peers[i]);
	}
	ck_assert_uint_eq(s.b.p.npeers, N + 1);
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(wg_proto_find_peer(&s.b.p, keys[i]), peers[i]);
	ck_assert_ptr_eq(wg_proto_find_peer(&s.b.p, s.a.pub), s.b.peer);
	/* Every other peer, from the middle outwards. */
	for (i = 0; i < N; i += 2)
		wg_peer_remove(peers[(i + N / 2) % N]);
	for (i = 0; i < N; i++) {
		wp = wg_proto_find_peer(&s.b.p, keys[(i + N / 2) % N]);
		ck_assert_ptr_eq(wp, i % 2 ? peers[(i + N / 2) % N] : NULL);
	}
	for (wp = s.b.p.peers; wp; wp = wp->next) {
		ck_assert_ptr_eq(*wp->pprev, wp);
		walked++;
	}
	ck_assert_uint_eq(walked, N / 2 + 1);
	ck_assert_uint_eq(s.b.p.npeers, N / 2 + 1);
	ck_assert_int_eq(sim_send(&s.a, "hello b", 7), 0);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
	check_last(&s.b, "hello b");
}
END_TEST

START_TEST(private_key_change)
{
	uint8_t priv[32], pub[32];

	sim_send(&s.a, "x", 1);
	/* B takes a new identity; A learns the new key as a new peer. */
	x25519_generate(priv, pub);
	wg_proto_set_private_key(&s.b.p, priv);
	ck_assert_ptr_null(current(&s.b));
	wg_peer_remove(s.a.peer);
	s.a.peer = wg_peer_new(&s.a.p, pub, NULL);
	wg_peer_set_endpoint(s.a.peer, &s.b.self);
	/* B still remembers A's last timestamp: time must move on. */
	s.now += sim_secs(1);
	ck_assert_int_eq(sim_send(&s.a, "new id", 6), 0);
	check_last(&s.b, "new id");
}
END_TEST

START_TEST(malformed_messages)
{
	uint8_t buf[256];
	struct wg_action act;
	struct noise_keypair *kp;
	uint8_t *plain;
	size_t len, pl;
	uint32_t type;
	uint64_t before;

	sim_send(&s.a, "x", 1);
	for (type = 0; type < 6; type++) {
		for (len = 0; len < sizeof(buf); len++) {
			crypto_random(buf, sizeof(buf));
			buf[0] = (uint8_t)type;
			buf[1] = buf[2] = buf[3] = 0;
			if (type == MESSAGE_DATA || type == 0 || type == 5) {
				ck_assert_int_ne(wg_data_open(&s.b.p, buf, len, s.now, &kp,
							      &plain, &pl), 0);
				continue;
			}
			before = wg_proto_counter(&s.b.p, WG_CNT_BAD_LENGTH) +
				 wg_proto_counter(&s.b.p, WG_CNT_BAD_MAC1) +
				 wg_proto_counter(&s.b.p, WG_CNT_BAD_COOKIE);
			ck_assert_int_ne(wg_proto_handle_handshake(&s.b.p, buf, len,
								   &s.a.self, false,
								   s.now, &act), 0);
			ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_BAD_LENGTH) +
					  wg_proto_counter(&s.b.p, WG_CNT_BAD_MAC1) +
					  wg_proto_counter(&s.b.p, WG_CNT_BAD_COOKIE),
					  before + 1);
		}
	}
	/* A valid MAC1 over garbage: passes the MAC, fails the handshake. */
	crypto_random(buf, MESSAGE_INITIATION_LEN);
	memcpy(buf, "\x01\0\0\0", 4);
	cookie_add_macs(&s.a.peer->cookie, buf, MESSAGE_INITIATION_LEN, s.now);
	ck_assert_int_ne(wg_proto_handle_handshake(&s.b.p, buf, MESSAGE_INITIATION_LEN,
						   &s.a.self, false, s.now, &act), 0);
	ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_BAD_INITIATION), 1);
	crypto_random(buf, MESSAGE_RESPONSE_LEN);
	memcpy(buf, "\x02\0\0\0", 4);
	memcpy(buf + 8, &s.b.peer->handshake.entry.index, 4);
	cookie_add_macs(&s.a.peer->cookie, buf, MESSAGE_RESPONSE_LEN, s.now);
	ck_assert_int_ne(wg_proto_handle_handshake(&s.b.p, buf, MESSAGE_RESPONSE_LEN,
						   &s.a.self, false, s.now, &act), 0);
	ck_assert_uint_ge(wg_proto_counter(&s.b.p, WG_CNT_BAD_RESPONSE), 1);
	/* The session survives all of it. */
	sim_send(&s.a, "still here", 10);
	check_last(&s.b, "still here");
}
END_TEST


/* A 20-byte IPv4 header (no payload) from src to dst. */
static void ipv4(uint8_t pkt[32], const char *src, const char *dst)
{
	memset(pkt, 0, 32);
	pkt[0] = 0x45;
	pkt[3] = 20;
	pkt[8] = 64;
	pkt[9] = 17;
	inet_pton(AF_INET, src, pkt + 12);
	inet_pton(AF_INET, dst, pkt + 16);
}

/* What the receive path does after decrypting: the inner source must
 * belong to the peer whose key decrypted it (cryptokey routing). */
static int receive_checked(struct allowedips *t, const uint8_t *pkt, size_t len)
{
	uint8_t buf[SIM_MAX_PKT];
	struct noise_keypair *kp;
	struct wg_action act;
	uint8_t *plain;
	size_t pl;
	int ret;

	memcpy(buf, pkt, len);
	ret = wg_data_open(&s.b.p, buf, len, s.now, &kp, &plain, &pl);
	if (ret)
		return ret;
	if (allowedips_lookup_src(t, plain, pl) != kp->peer) {
		noise_keypair_put(kp);
		return -EPERM;
	}
	wg_peer_received_data(kp->peer, kp, &s.a.self, false, s.now, &act);
	noise_keypair_put(kp);
	return 0;
}

START_TEST(allowed_ips_source_check)
{
	struct allowedips *t = allowedips_new();
	uint8_t other_pub[32], other_priv[32], inner[32], addr[4];
	struct wg_peer *other;

	x25519_generate(other_priv, other_pub);
	other = wg_peer_new(&s.b.p, other_pub, NULL);
	inet_pton(AF_INET, "10.0.0.0", addr);
	allowedips_insert(t, AF_INET, addr, 24, s.b.peer);
	inet_pton(AF_INET, "10.0.0.2", addr);
	allowedips_insert(t, AF_INET, addr, 32, other);
	sim_send(&s.a, "x", 1);

	s.a.drop_all = true;
	ipv4(inner, "10.0.0.1", "10.9.9.9");
	sim_send(&s.a, inner, 20);
	ck_assert_int_eq(receive_checked(t, s.a.last_msg, s.a.last_len), 0);
	/* Inside A's /24 but owned by another peer: dropped. */
	ipv4(inner, "10.0.0.2", "10.9.9.9");
	sim_send(&s.a, inner, 20);
	ck_assert_int_eq(receive_checked(t, s.a.last_msg, s.a.last_len), -EPERM);
	/* Outside every prefix: dropped. */
	ipv4(inner, "192.168.1.1", "10.9.9.9");
	sim_send(&s.a, inner, 20);
	ck_assert_int_eq(receive_checked(t, s.a.last_msg, s.a.last_len), -EPERM);
	allowedips_free(t);
}
END_TEST


static uint64_t rl_clock(void *ctx)
{
	return ((struct sim *)ctx)->now;
}

static bool rl_allow(void *ctx, const struct vg_endpoint *src, uint64_t now)
{
	if (src->dst.sa.sa_family == AF_INET)
		return ratelimiter_allow(ctx, AF_INET, &src->dst.in4.sin_addr);
	return ratelimiter_allow(ctx, AF_INET6, &src->dst.in6.sin6_addr);
}

/* A handshake message from c to b's proto; returns b's reply. */
static int to_b(const uint8_t *msg, size_t len, const struct vg_endpoint *src,
		struct wg_action *reply)
{
	uint8_t buf[MESSAGE_INITIATION_LEN];

	memcpy(buf, msg, len);
	return wg_proto_handle_handshake(&s.b.p, buf, len, src, true, s.now, reply);
}

START_TEST(ratelimited_flood_vs_other_source)
{
	struct ratelimiter *rl = ratelimiter_new(0, rl_clock, &s);
	uint8_t flood[MESSAGE_INITIATION_LEN], c_priv[32];
	struct wg_action act, reply, done;
	struct vg_endpoint c_ep;
	struct wg_peer *c_peer, *b_of_c;
	struct wg_proto c;
	unsigned int i;

	s.b.p.ratelimit = rl_allow;
	s.b.p.ratelimit_ctx = rl;
	/* A third device C, a peer of B, at another address. */
	wg_proto_init(&c);
	c.wallclock = sim_wallclock;
	c.wallclock_ctx = &s;
	crypto_random(c_priv, 32);
	wg_proto_set_private_key(&c, c_priv);
	b_of_c = wg_peer_new(&c, s.b.pub, NULL);
	c_peer = wg_peer_new(&s.b.p, c.identity.static_public, NULL);
	ck_assert_ptr_nonnull(c_peer);
	sim_endpoint(&c_ep, "192.0.2.3", 51820);

	/* A gets a cookie, then floods B with one MAC2-valid initiation. */
	s.a.under_load = true;
	sim_send(&s.a, "x", 1);
	ck_assert_uint_eq(s.b.sent[MESSAGE_HANDSHAKE_COOKIE], 1);
	s.now += sim_secs(6);
	ck_assert_int_eq(wg_peer_want_handshake(s.a.peer, s.now, &act), 0);
	memcpy(flood, act.msg, sizeof(flood));
	for (i = 0; i < 100; i++)
		to_b(flood, sizeof(flood), &s.a.self, &reply);
	/* Burst of 5 past the limiter (one handshake, four replays). */
	ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_RATELIMITED), 95);
	ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_REPLAYED_INITIATION), 4);

	/* Meanwhile C, from its own address, gets its cookie and completes. */
	ck_assert_int_eq(wg_peer_want_handshake(b_of_c, s.now, &act), 0);
	ck_assert_int_eq(to_b(act.msg, act.msg_len, &c_ep, &reply), 0);
	ck_assert_uint_eq(reply.msg_len, MESSAGE_COOKIE_LEN);
	ck_assert_int_eq(wg_proto_handle_handshake(&c, reply.msg, reply.msg_len, &s.b.self,
						   false, s.now, &done), 0);
	s.now += sim_secs(5.5);
	ck_assert_uint_eq(wg_timers_tick(b_of_c, s.now, &act), WG_ACT_SEND_MSG);
	ck_assert_int_eq(to_b(act.msg, act.msg_len, &c_ep, &reply), 0);
	ck_assert_uint_eq(reply.msg_len, MESSAGE_RESPONSE_LEN);
	ck_assert_int_eq(wg_proto_handle_handshake(&c, reply.msg, reply.msg_len, &s.b.self,
						   false, s.now, &done), 0);
	ck_assert(wg_peer_has_current(b_of_c));
	ck_assert_uint_eq(wg_proto_counter(&s.b.p, WG_CNT_RATELIMITED), 95);

	/* 5.5 s later A's bucket is full again: a burst of 5, then refused. */
	for (i = 0; i < 5; i++)
		ck_assert_int_ne(to_b(flood, sizeof(flood), &s.a.self, &reply), -EBUSY);
	ck_assert_int_eq(to_b(flood, sizeof(flood), &s.a.self, &reply), -EBUSY);
	wg_proto_destroy(&c);
	ratelimiter_free(rl);
}
END_TEST


/* Workers sending and receiving on whatever keypair is current while the
 * handshake thread keeps rotating keys: no worker may touch a freed
 * keypair (run under the sanitizers), and traffic keeps flowing. */
static atomic_uint_fast64_t shared_now;
static atomic_bool stop;
static atomic_uint delivered, rotations;

static void *worker(void *arg)
{
	uint8_t buf[128];
	struct noise_keypair *kp, *rkp;
	struct wg_action act;
	uint64_t nonce, now;
	uint8_t *plain;
	size_t pl, n;

	while (!atomic_load(&stop)) {
		now = atomic_load(&shared_now);
		kp = wg_peer_send_keypair(s.a.peer, now, 1, &nonce);
		if (!kp)
			continue;
		memset(buf + 16, 0xab, 32);
		n = wg_data_seal(kp, nonce, buf + 16, 32);
		noise_keypair_put(kp);
		if (wg_data_open(&s.b.p, buf, n, now, &rkp, &plain, &pl) == 0) {
			wg_peer_received_data(rkp->peer, rkp, &s.a.self, false, now, &act);
			noise_keypair_put(rkp);
			atomic_fetch_add(&delivered, 1);
		}
	}
	return arg;
}

START_TEST(concurrent_rotation)
{
	struct wg_action act, reply, done;
	pthread_t th[2];
	unsigned int i;

	atomic_store(&stop, false);
	atomic_store(&delivered, 0);
	atomic_store(&shared_now, s.now);
	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (i = 0; i < 200 || atomic_load(&delivered) < 100; i++) {
		__atomic_store_n(&s.now, s.now + sim_secs(6), __ATOMIC_RELAXED);
		atomic_store(&shared_now, s.now);
		if (wg_peer_want_handshake(s.a.peer, s.now, &act))
			continue;
		if (wg_proto_handle_handshake(&s.b.p, act.msg, act.msg_len, &s.a.self, false,
					      s.now, &reply))
			continue;
		if (!wg_proto_handle_handshake(&s.a.p, reply.msg, reply.msg_len, &s.b.self,
					       false, s.now, &done))
			atomic_fetch_add(&rotations, 1);
		if (i > 100000)
			break;
	}
	atomic_store(&stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_ge(atomic_load(&rotations), 200);
	ck_assert_uint_ge(atomic_load(&delivered), 100);
	/* Only the three slots' keypairs are indexed on each side. */
	ck_assert_uint_le(s.a.p.index.count, 3);
	ck_assert_uint_le(s.b.p.index.count, 3);
}
END_TEST


START_TEST(simultaneous_initiation)
{
	uint8_t ia[MESSAGE_INITIATION_LEN], ib[MESSAGE_INITIATION_LEN];
	struct wg_action act;

	/* Both sides initiate before either hears from the other. */
	ck_assert_int_eq(wg_peer_want_handshake(s.a.peer, s.now, &act), 0);
	memcpy(ia, act.msg, sizeof(ia));
	ck_assert_int_eq(wg_peer_want_handshake(s.b.peer, s.now, &act), 0);
	memcpy(ib, act.msg, sizeof(ib));
	s.now += sim_secs(0.001);
	/* Both initiations cross; each side answers, each response lands. */
	sim_deliver(&s.b, ia, sizeof(ia), &s.a.self);
	sim_deliver(&s.a, ib, sizeof(ib), &s.b.self);
	/* Whatever the interleaving did, data flows both ways right away
	 * or after the retransmit, and both end on the same session. */
	sim_advance(&s, sim_secs(6));
	sim_send(&s.a, "from a", 6);
	sim_send(&s.b, "from b", 6);
	sim_advance(&s, sim_secs(6));
	sim_send(&s.a, "again a", 7);
	check_last(&s.b, "again a");
	sim_send(&s.b, "again b", 7);
	check_last(&s.a, "again b");
	ck_assert_uint_eq(current(&s.a)->remote_index, current(&s.b)->entry.index);
	ck_assert_uint_eq(current(&s.b)->remote_index, current(&s.a)->entry.index);
}
END_TEST

static Suite *protocol_suite(void)
{
	Suite *su = suite_create("protocol");
	TCase *tc = tcase_create("two devices");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, handshake_a_initiates);
	tcase_add_test(tc, handshake_b_initiates);
	tcase_add_test(tc, data_both_ways);
	tcase_add_test(tc, key_confirmation);
	tcase_add_test(tc, rekey_on_time);
	tcase_add_test(tc, rekey_on_count);
	tcase_add_test(tc, reject_after_messages);
	tcase_add_test(tc, reject_after_time);
	tcase_add_test(tc, retransmit_after_lost_response);
	tcase_add_test(tc, give_up_and_recover);
	tcase_add_test(tc, passive_keepalive);
	tcase_add_test(tc, new_handshake_after_unanswered_data);
	tcase_add_test(tc, persistent_keepalive);
	tcase_add_test(tc, zero_keys_after_540s);
	tcase_add_test(tc, reset_starts_afresh);
	tcase_add_test(tc, replay_and_reorder);
	tcase_add_test(tc, roaming);
	tcase_add_test(tc, psk);
	tcase_add_test(tc, cookie_under_load);
	tcase_add_test(tc, initiation_replay_and_flood);
	tcase_add_test(tc, handshake_rate_limited_locally);
	tcase_add_test(tc, low_order_peer_key);
	tcase_add_test(tc, duplicate_and_self_peers);
	tcase_add_test(tc, many_peers_table);
	tcase_add_test(tc, private_key_change);
	tcase_add_test(tc, malformed_messages);
	tcase_add_test(tc, allowed_ips_source_check);
	tcase_add_test(tc, ratelimited_flood_vs_other_source);
	tcase_add_test(tc, concurrent_rotation);
	tcase_add_test(tc, simultaneous_initiation);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	return vg_test_run(protocol_suite(), false);
}
