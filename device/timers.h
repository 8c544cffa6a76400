/* SPDX-License-Identifier: MIT */
/*
 * The per-peer timer state machine of WireGuard (the kernel's timers.c),
 * as deadlines on the caller's monotonic clock instead of kernel timers:
 *
 *   retransmit_handshake  5 s + jitter after an initiation; gives up after
 *                         MAX_TIMER_HANDSHAKES retries (flushes staged
 *                         packets, arms zero_key_material)
 *   send_keepalive        10 s after data is received and nothing sent
 *   new_handshake         15 s + jitter after data is sent and nothing
 *                         authenticated received
 *   zero_key_material     540 s after a session is derived
 *   persistent_keepalive  the peer's interval after any authenticated packet
 *
 * The wg_timers_on_*() hooks are called by the rest of the protocol core
 * (handshake_msg.c, data.c) with peer->lock held.
 * The control thread calls wg_timers_tick(peer, now, &act) (it takes the
 * lock) whenever now >= wg_timers_next_deadline(peer); the action tells it
 * what to send.  Nothing here sleeps or does I/O.
 */
#ifndef VGUARD_DEVICE_TIMERS_H
#define VGUARD_DEVICE_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#define WG_TIMER_OFF UINT64_MAX

struct wg_peer;
struct wg_action;

struct wg_timers {
	uint64_t retransmit_handshake;
	uint64_t send_keepalive;
	uint64_t new_handshake;
	uint64_t zero_key_material;
	uint64_t persistent_keepalive;
	uint64_t last_sent_handshake;
	bool have_sent_handshake;
	bool need_another_keepalive;
	bool sent_lastminute_handshake;
	unsigned int handshake_attempts;
};

/*
 * The session lifetimes: REKEY_AFTER_TIME and REJECT_AFTER_TIME (ns), the
 * same for every device of the process.  Only a test shortens them
 * (vguard's hidden --test-timers option, README "Soak"), before any device
 * exists; production never writes them.
 */
extern uint64_t wg_timers_rekey_after_time;
extern uint64_t wg_timers_reject_after_time;
/* 0, or -EINVAL unless 0 < rekey_after, rekey_after + 15 s < reject_after
 * (the last-minute handshake comes after the rekey, as with the defaults)
 * and reject_after <= REJECT_AFTER_TIME. */
int wg_timers_set_lifetimes(uint64_t rekey_after, uint64_t reject_after);

void wg_timers_init(struct wg_timers *t);
/* Earliest armed deadline, or WG_TIMER_OFF. */
uint64_t wg_timers_next_deadline(struct wg_peer *peer);
/* Runs every expired timer; fills act.  Returns act->flags. */
unsigned int wg_timers_tick(struct wg_peer *peer, uint64_t now, struct wg_action *act);

/*
 * Skipping idle scans: every armed deadline also lowers the protocol's
 * timers_due, so a control thread need not visit every peer at each tick:
 *   if (wg_proto_timers_due(p, now)) {
 *           wg_proto_timers_scan_begin(p);
 *           for each peer: tick it if due; earliest = min(earliest,
 *                   wg_timers_next_deadline(peer));
 *           wg_proto_timers_scan_end(p, earliest);
 *   }
 * A deadline armed during the scan lowers timers_due itself.
 */
struct wg_proto;
bool wg_proto_timers_due(struct wg_proto *p, uint64_t now);
void wg_proto_timers_scan_begin(struct wg_proto *p);
void wg_proto_timers_scan_end(struct wg_proto *p, uint64_t earliest);
/* Sets *deadline (a field of peer->timers) to when; peer->lock held. */
void wg_timers_arm(struct wg_peer *peer, uint64_t *deadline, uint64_t when);

/* Events (peer->lock held). */
void wg_timers_on_data_sent(struct wg_peer *peer, uint64_t now);
void wg_timers_on_data_received(struct wg_peer *peer, uint64_t now);
void wg_timers_on_any_authenticated_packet_sent(struct wg_peer *peer);
void wg_timers_on_any_authenticated_packet_received(struct wg_peer *peer);
void wg_timers_on_handshake_initiated(struct wg_peer *peer, uint64_t now);
void wg_timers_on_handshake_complete(struct wg_peer *peer);
void wg_timers_on_session_derived(struct wg_peer *peer, uint64_t now);
void wg_timers_on_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now);

#endif
