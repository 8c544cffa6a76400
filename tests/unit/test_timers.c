// SPDX-License-Identifier: MIT
/* The timer state machine on one peer, driven by a fake clock. */
#include "config.h"

#include <check.h>
#include <errno.h>

#include "device/proto_sim.h"
#include "tests/unit/testutil.h"

#define SEC WG_NSEC_PER_SEC
#define MS 1000000ULL

static struct sim s;
static struct wg_peer *peer;
static struct wg_timers *t;

static void setup(void)
{
	sim_init(&s);
	peer = s.a.peer;
	t = &peer->timers;
}

static void teardown(void)
{
	sim_destroy(&s);
	wg_timers_set_lifetimes(REKEY_AFTER_TIME, REJECT_AFTER_TIME);
}

static unsigned int tick(uint64_t now, struct wg_action *act)
{
	return wg_timers_tick(peer, now, act);
}

/* The protocol's timers_due lets the control thread skip idle scans: a
 * scan with nothing armed leaves it off; arming any deadline (a handshake,
 * a persistent keepalive) brings it down to that deadline. */
START_TEST(timers_due_lower_bound)
{
	struct wg_proto *p = &s.a.p;
	struct wg_action act;

	wg_proto_timers_scan_begin(p);
	wg_proto_timers_scan_end(p, wg_timers_next_deadline(peer));
	ck_assert(!wg_proto_timers_due(p, s.now + 1000 * SEC));
	ck_assert_int_eq(wg_peer_want_handshake(peer, s.now, &act), 0);
	ck_assert(!wg_proto_timers_due(p, s.now));
	ck_assert(wg_proto_timers_due(p, s.now + REKEY_TIMEOUT + WG_NSEC_PER_SEC / 3));
	ck_assert_uint_eq(atomic_load(&p->timers_due), wg_timers_next_deadline(peer));
	/* A scan that finds a later earliest deadline cannot hide one armed
	 * while it ran. */
	wg_proto_timers_scan_begin(p);
	wg_peer_set_persistent_keepalive(peer, 25, s.now + 1);
	wg_proto_timers_scan_end(p, s.now + 60 * SEC);
	ck_assert_uint_eq(atomic_load(&p->timers_due), s.now + 1);
}
END_TEST

START_TEST(all_off_at_start)
{
	struct wg_action act;

	ck_assert_uint_eq(wg_timers_next_deadline(peer), WG_TIMER_OFF);
	ck_assert_uint_eq(tick(s.now + 1000 * SEC, &act), 0);
}
END_TEST

START_TEST(new_handshake_after_data_sent)
{
	uint64_t t0 = s.now, d;

	wg_timers_on_data_sent(peer, t0);
	d = t->new_handshake;
	ck_assert_uint_ge(d, t0 + 15 * SEC);
	ck_assert_uint_lt(d, t0 + 15 * SEC + REKEY_TIMEOUT_JITTER_MAX_MS * MS);
	/* More data does not push it back. */
	wg_timers_on_data_sent(peer, t0 + 3 * SEC);
	ck_assert_uint_eq(t->new_handshake, d);
	ck_assert_uint_eq(wg_timers_next_deadline(peer), d);
	/* Anything authenticated from the peer cancels it. */
	wg_timers_on_any_authenticated_packet_received(peer);
	ck_assert_uint_eq(wg_timers_next_deadline(peer), WG_TIMER_OFF);
}
END_TEST

START_TEST(new_handshake_fires)
{
	struct wg_action act;

	wg_timers_on_data_sent(peer, s.now);
	ck_assert_uint_eq(tick(t->new_handshake - 1, &act), 0);
	ck_assert_uint_eq(tick(t->new_handshake, &act), WG_ACT_SEND_MSG);
	ck_assert_uint_eq(act.msg_len, MESSAGE_INITIATION_LEN);
	ck_assert_ptr_eq(act.peer, peer);
	ck_assert_uint_ne(t->retransmit_handshake, WG_TIMER_OFF);
}
END_TEST

START_TEST(passive_keepalive_and_another)
{
	struct wg_action act;
	uint64_t t0 = s.now;

	wg_timers_on_data_received(peer, t0);
	ck_assert_uint_eq(t->send_keepalive, t0 + 10 * SEC);
	wg_timers_on_data_received(peer, t0 + 2 * SEC);
	ck_assert(t->need_another_keepalive);
	ck_assert_uint_eq(tick(t0 + 10 * SEC, &act), WG_ACT_SEND_KEEPALIVE);
	ck_assert_uint_eq(t->send_keepalive, t0 + 20 * SEC);
	ck_assert_uint_eq(tick(t0 + 20 * SEC, &act), WG_ACT_SEND_KEEPALIVE);
	ck_assert_uint_eq(t->send_keepalive, WG_TIMER_OFF);
	/* Sending anything authenticated cancels it. */
	wg_timers_on_data_received(peer, t0 + 30 * SEC);
	wg_timers_on_any_authenticated_packet_sent(peer);
	ck_assert_uint_eq(tick(t0 + 100 * SEC, &act), 0);
}
END_TEST

START_TEST(retransmit_and_give_up)
{
	struct wg_action act;
	unsigned int sent = 0, i;
	uint64_t now = s.now, last = 0, gap;

	wg_peer_stage(peer, "queued", 6);
	ck_assert_int_eq(wg_peer_want_handshake(peer, now, &act), 0);
	sent++;
	last = now;
	for (i = 0; i < 100 && t->retransmit_handshake != WG_TIMER_OFF; i++) {
		now = t->retransmit_handshake;
		if (tick(now, &act) & WG_ACT_SEND_MSG) {
			gap = now - last;
			ck_assert_uint_ge(gap, REKEY_TIMEOUT);
			ck_assert_uint_lt(gap, REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX_MS * MS);
			last = now;
			sent++;
		}
	}
	ck_assert_uint_eq(sent, MAX_TIMER_HANDSHAKES + 2);
	/* Gave up about 100 s in: staged data is gone, keys go in 540 s. */
	ck_assert_uint_eq(wg_peer_staged_count(peer), 0);
	ck_assert_uint_eq(atomic_load(&peer->staged_dropped), 1);
	ck_assert_uint_eq(t->retransmit_handshake, WG_TIMER_OFF);
	ck_assert_uint_eq(t->zero_key_material, now + 540 * SEC);
	ck_assert_uint_ge(now - s.now, 95 * SEC);
	ck_assert_uint_lt(now - s.now, 107 * SEC);
}
END_TEST

START_TEST(zero_key_material)
{
	struct wg_action act;
	uint64_t t0 = s.now;

	sim_send(&s.a, "x", 1);
	ck_assert(wg_peer_has_current(peer));
	ck_assert_uint_eq(t->zero_key_material, t0 + 540 * SEC);
	/* (The unanswered "x" also starts a new handshake at ~15 s.) */
	tick(t0 + 540 * SEC - 1, &act);
	ck_assert(wg_peer_has_current(peer));
	tick(t0 + 540 * SEC, &act);
	ck_assert(!wg_peer_has_current(peer));
	ck_assert_uint_eq(peer->handshake.state, HANDSHAKE_ZEROED);
}
END_TEST

START_TEST(persistent_keepalive_rearms)
{
	struct wg_action act;
	uint64_t t0 = s.now;

	wg_timers_on_any_authenticated_packet_traversal(peer, t0);
	ck_assert_uint_eq(t->persistent_keepalive, WG_TIMER_OFF);
	wg_peer_set_persistent_keepalive(peer, 15, t0);
	ck_assert_uint_eq(tick(t0, &act), WG_ACT_SEND_KEEPALIVE);
	wg_timers_on_any_authenticated_packet_traversal(peer, t0 + 3 * SEC);
	ck_assert_uint_eq(t->persistent_keepalive, t0 + 18 * SEC);
	ck_assert_uint_eq(tick(t0 + 18 * SEC, &act), WG_ACT_SEND_KEEPALIVE);
}
END_TEST

START_TEST(handshake_complete_resets)
{
	t->handshake_attempts = 7;
	t->sent_lastminute_handshake = true;
	wg_timers_on_handshake_initiated(peer, s.now);
	ck_assert_uint_ne(t->retransmit_handshake, WG_TIMER_OFF);
	wg_timers_on_handshake_complete(peer);
	ck_assert_uint_eq(t->retransmit_handshake, WG_TIMER_OFF);
	ck_assert_uint_eq(t->handshake_attempts, 0);
	ck_assert(!t->sent_lastminute_handshake);
	ck_assert_uint_eq(atomic_load(&peer->last_handshake_ns), s.wall_base + s.now);
}
END_TEST

START_TEST(jitter_spread)
{
	uint64_t min = UINT64_MAX, max = 0, d;
	int i;

	for (i = 0; i < 500; i++) {
		t->new_handshake = WG_TIMER_OFF;
		wg_timers_on_data_sent(peer, 0);
		d = t->new_handshake - 15 * SEC;
		min = d < min ? d : min;
		max = d > max ? d : max;
	}
	ck_assert_uint_lt(max, REKEY_TIMEOUT_JITTER_MAX_MS * MS);
	ck_assert_uint_gt(max - min, 200 * MS);
}
END_TEST

START_TEST(receive_side_lastminute_rekey)
{
	sim_send(&s.a, "x", 1);
	sim_send(&s.b, "y", 1);
	s.now += 164 * SEC;
	sim_send(&s.b, "y", 1);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	s.now += 2 * SEC;	/* 166 s: one last-minute initiation */
	s.b.drop_all = true;
	s.a.drop_all = true;
	sim_send(&s.b, "y", 1);
	s.b.drop_all = false;
	{
		/* Deliver B's packet by hand with A's replies dropped. */
		sim_deliver(&s.a, s.b.last_msg, s.b.last_len, &s.b.self);
	}
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
	ck_assert(t->sent_lastminute_handshake);
	s.now += 6 * SEC;
	sim_send(&s.b, "y", 1);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
}
END_TEST

/* A test may shorten the session lifetimes (vguard --test-timers): the
 * initiator rekeys on its first send past the shorter REKEY_AFTER_TIME.
 * Nonsense is refused and changes nothing. */
START_TEST(shortened_lifetimes)
{
	ck_assert_int_eq(wg_timers_set_lifetimes(0, 80 * SEC), -EINVAL);
	ck_assert_int_eq(wg_timers_set_lifetimes(10 * SEC, 25 * SEC), -EINVAL);
	ck_assert_int_eq(wg_timers_set_lifetimes(10 * SEC, REJECT_AFTER_TIME + 1), -EINVAL);
	ck_assert_uint_eq(wg_timers_rekey_after_time, REKEY_AFTER_TIME);
	ck_assert_uint_eq(wg_timers_reject_after_time, REJECT_AFTER_TIME);
	ck_assert_int_eq(wg_timers_set_lifetimes(10 * SEC, 70 * SEC), 0);
	sim_send(&s.a, "x", 1);
	sim_send(&s.b, "y", 1);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	s.now += 9 * SEC;
	sim_send(&s.a, "x", 1);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	s.now += 2 * SEC;
	sim_send(&s.a, "x", 1);
	ck_assert_uint_eq(s.a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
}
END_TEST

static Suite *timers_suite(void)
{
	Suite *su = suite_create("timers");
	TCase *tc = tcase_create("timers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, all_off_at_start);
	tcase_add_test(tc, new_handshake_after_data_sent);
	tcase_add_test(tc, new_handshake_fires);
	tcase_add_test(tc, passive_keepalive_and_another);
	tcase_add_test(tc, retransmit_and_give_up);
	tcase_add_test(tc, zero_key_material);
	tcase_add_test(tc, persistent_keepalive_rearms);
	tcase_add_test(tc, handshake_complete_resets);
	tcase_add_test(tc, jitter_spread);
	tcase_add_test(tc, receive_side_lastminute_rekey);
	tcase_add_test(tc, timers_due_lower_bound);
	tcase_add_test(tc, shortened_lifetimes);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	return vg_test_run(timers_suite(), false);
}
