/* SPDX-License-Identifier: MIT */
/*
 * The protocol core of a device, with no I/O: identity, peers, index
 * table, cookie checker, and per-peer keypairs, endpoint, staged packets,
 * counters and timers.  The data plane feeds it bytes and a clock, and
 * sends what it is told to send.
 *
 * Clock: every "now" is the caller's monotonic clock in nanoseconds (any
 * origin, never going back).  Wall-clock time (TAI64N timestamps, the last
 * handshake time shown by `wg`) comes from proto->wallclock, which tests
 * replace so hours of protocol time run in milliseconds.
 *
 * What the data plane does:
 *   set-up:    wg_proto_init(); wg_proto_set_private_key(); wg_peer_new()
 *              per peer (+ wg_peer_set_endpoint, _psk, _keepalive).
 *   handshake thread, per received message of type 1, 2 or 3:
 *              under_load = cookie_checker_under_load(&p->cookie, qlen, now);
 *              wg_proto_handle_handshake(p, msg, len, &src, under_load, now, &act);
 *              (or wg_proto_precheck_handshake() on the receiving thread
 *              and wg_proto_handle_checked() for what it passes on);
 *              if (act.flags & WG_ACT_SEND_MSG) send act.msg back to src
 *                      (a response or a cookie reply);
 *              if (act.flags & WG_ACT_SEND_STAGED) send act.peer's staged
 *                      packets (popped with wg_peer_staged_pop());
 *                      then WG_ACT_SEND_KEEPALIVE: a keepalive
 *                      (the initiator confirming the new session).
 *   send path: kp = wg_peer_send_keypair(peer, now, n, &nonce);
 *              NULL -> wg_peer_stage() the packets and
 *                      wg_peer_want_handshake(peer, now, &act);
 *              else seal with wg_data_seal() (nonces nonce..nonce+n-1),
 *                   send, then wg_peer_sent_data(peer, keepalive, now, &act)
 *                   (once per batch is fine), then noise_keypair_put(kp).
 *   receive path, per data message:
 *              wg_data_open(p, buf, len, now, &kp, &plain, &plain_len);
 *              (check allowed IPs of kp->peer), then
 *              wg_peer_received_data(kp->peer, kp, &src, keepalive, now, &act);
 *              noise_keypair_put(kp).  Once per batch per peer is fine
 *              (as wireguard-go does since 7c20311): the last keypair and
 *              source, keepalive only if the whole batch was keepalives.
 *   control thread: wg_timers_tick(peer, now, &act) at or after
 *              wg_timers_next_deadline(peer); send act.msg to the peer's
 *              endpoint, a keepalive for WG_ACT_SEND_KEEPALIVE.
 * Every act.msg with WG_ACT_SEND_MSG from a timer / want_handshake /
 * sent/received_data call is an initiation for the peer's endpoint.
 * Several flags can be set at once; handle them in the order MSG, STAGED,
 * KEEPALIVE.  A received keepalive is a data message whose plaintext is
 * empty (plain_len == 0); pass keepalive=true for it.
 *
 * Timers: deadlines move only inside calls into this API (sending or
 * receiving arms them), so the control thread either recomputes
 * wg_timers_next_deadline() after being poked, or simply ticks every
 * peer at a coarse granularity (e.g. every 100 ms): all WireGuard timers
 * tolerate that.
 *
 * Byte counters: the protocol core counts none.  A message it creates may
 * never leave (no socket, link down), so only the caller knows what was
 * sent; it counts wire bytes, handshakes included, where it really sends
 * and where a message authenticates (`wg show transfer`).
 *
 * Load: the handshake thread computes
 * under_load = cookie_checker_under_load(&p->cookie, queue_depth, now)
 * per message; under load p->ratelimit is asked per source (a message over
 * the limit is dropped, cookie reply or not) and MAC2 is required (else a
 * cookie reply is the action).
 *
 * Locking: proto->peers_lock guards the peer list; peer->lock guards the
 * handshake, timers and staged queue; peer->keypairs.lock the slots (held
 * only to swap or take a reference); peer->endpoint_lock the endpoint.
 * Lock order: proto->peers_lock, peer->lock, identity.lock (read), then
 * keypairs.lock / endpoint_lock, then the index table's lock.  Removing a
 * peer (wg_peer_remove) requires that no other thread is inside a call for
 * that peer (the device stops or quiesces its workers first).
 *
 * Where it lives: peer.c (the device, endpoints, the peer table),
 * keypair.c (keypair slots, key confirmation, zeroing), staging.c,
 * handshake_msg.c (initiations sent, handshake messages received), data.c
 * (data messages) and timers.c; what they share is in proto_impl.h.
 */
#ifndef VGUARD_DEVICE_PEER_H
#define VGUARD_DEVICE_PEER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conn/endpoint.h"
#include "device/cookie.h"
#include "device/messages.h"
#include "device/noise.h"
#include "device/timers.h"

/* Bytes naming an endpoint for MAC2 and rate limiting: addr then port. */
size_t wg_endpoint_key(const struct vg_endpoint *ep, uint8_t out[COOKIE_SRC_MAX]);

struct wg_staged_packet {
	uint8_t *data;
	size_t len;
};

struct wg_peer {
	struct wg_proto *proto;
	struct wg_peer *next;		/* proto's list */
	struct wg_peer **pprev;		/* what points at us in it */
	struct wg_peer *hnext;		/* proto's hash chain */
	void *user;			/* the data plane's own pointer */

	pthread_mutex_t lock;
	bool unlinked;			/* removed: starts no handshake */
	struct noise_handshake handshake;
	struct wg_timers timers;
	struct wg_staged_packet staged[MAX_STAGED_PACKETS];
	unsigned int staged_head, staged_count;
	atomic_uint_fast64_t staged_dropped;

	struct noise_keypairs keypairs;
	struct cookie_generator cookie;

	pthread_mutex_t endpoint_lock;
	struct vg_endpoint endpoint;
	bool has_endpoint;

	atomic_uint_fast64_t last_handshake_ns;	/* wall clock; 0 = never */
	atomic_uint persistent_keepalive;	/* seconds; 0 = off */
};

enum wg_proto_counter {
	WG_CNT_BAD_LENGTH,	/* wrong size for its type */
	WG_CNT_BAD_TYPE,
	WG_CNT_BAD_MAC1,
	WG_CNT_COOKIE_SENT,
	WG_CNT_RATELIMITED,
	WG_CNT_BAD_INITIATION,	/* failed to decrypt / unknown peer */
	WG_CNT_REPLAYED_INITIATION,	/* old timestamp or 20 ms flood guard */
	WG_CNT_BAD_RESPONSE,
	WG_CNT_BAD_COOKIE,
	WG_CNT_UNKNOWN_INDEX,	/* data for no keypair */
	WG_CNT_BAD_DATA,	/* failed to authenticate */
	WG_CNT_EXPIRED_DATA,	/* keypair too old / counter past the limit */
	WG_CNT_REPLAYED_DATA,
	WG_CNT_MAX,
};

struct wg_proto {
	struct noise_static_identity identity;
	struct index_table index;
	struct cookie_checker cookie;

	pthread_mutex_t peers_lock;
	struct wg_peer *peers;
	size_t npeers;
	/* Peers by public key.  The keys are chosen by whoever sends us an
	 * initiation, so the hash is keyed with a random secret (SipHash). */
	struct wg_peer **buckets;
	size_t nbuckets;		/* a power of two, or 0 */
	uint8_t hash_key[16];

	/* Wall clock in ns since the Unix epoch (default CLOCK_REALTIME). */
	uint64_t (*wallclock)(void *ctx);
	void *wallclock_ctx;
	/* Under load: may src send a handshake now?  NULL: always. */
	bool (*ratelimit)(void *ctx, const struct vg_endpoint *src, uint64_t now);
	void *ratelimit_ctx;

	atomic_uint_fast64_t counters[WG_CNT_MAX];
	/* No peer's timer is due before this (a lower bound; timers.h). */
	atomic_uint_fast64_t timers_due;
};

enum wg_action_flags {
	WG_ACT_SEND_MSG = 1 << 0,	/* send msg[0..msg_len) */
	WG_ACT_SEND_KEEPALIVE = 1 << 1,	/* send an empty data packet */
	WG_ACT_SEND_STAGED = 1 << 2,	/* a session is up: send the staged
					 * packets (before any keepalive) */
};

struct wg_action {
	unsigned int flags;
	struct wg_peer *peer;
	size_t msg_len;
	uint8_t msg[MESSAGE_INITIATION_LEN];
};

int wg_proto_init(struct wg_proto *p);
void wg_proto_destroy(struct wg_proto *p);	/* frees every peer */
/* NULL clears it.  Stored clamped; every peer's static-static DH is redone. */
int wg_proto_set_private_key(struct wg_proto *p, const uint8_t *priv);
uint64_t wg_proto_counter(struct wg_proto *p, enum wg_proto_counter c);

/* NULL on error (-EEXIST: our own key or a duplicate, -ENOMEM). */
struct wg_peer *wg_peer_new(struct wg_proto *p, const uint8_t pub[NOISE_PUBLIC_KEY_LEN],
			    int *err);
void wg_peer_remove(struct wg_peer *peer);
/*
 * wg_peer_new and wg_peer_remove in two steps each, for a configuration
 * that prepares everything that can fail before anything changes:
 * wg_proto_reserve() makes room for a total of n peers (-ENOSPC, -ENOMEM), after
 * which linking up to that many cannot fail; wg_peer_alloc() makes a peer no
 * other thread can see yet, its static-static DH done under id (NULL:
 * the device's identity now); wg_peer_unlink() makes it unreachable and
 * starts nothing new, and wg_peer_free() releases it once no other
 * thread can still be inside a call for it.
 */
int wg_proto_reserve(struct wg_proto *p, size_t total);
struct wg_peer *wg_peer_alloc(struct wg_proto *p, const uint8_t pub[NOISE_PUBLIC_KEY_LEN],
			      const struct noise_static_identity *id);
/* 0, or -EEXIST (our own key or a duplicate), -ENOSPC, -ENOMEM. */
int wg_peer_link(struct wg_peer *peer);
void wg_peer_unlink(struct wg_peer *peer);
void wg_peer_free(struct wg_peer *peer);
/* O(1) on average. */
struct wg_peer *wg_proto_find_peer(struct wg_proto *p,
				   const uint8_t pub[NOISE_PUBLIC_KEY_LEN]);
/* The keyed hash of a public key the peer table uses: for callers that
 * index peers by key themselves. */
uint64_t wg_proto_key_hash(const struct wg_proto *p, const uint8_t pub[NOISE_PUBLIC_KEY_LEN]);
void wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk /* NULL: none */);
void wg_peer_set_endpoint(struct wg_peer *peer, const struct vg_endpoint *ep);
bool wg_peer_get_endpoint(struct wg_peer *peer, struct vg_endpoint *ep);
void wg_peer_clear_src(struct wg_peer *peer);
/* seconds; turning it on sends a keepalive at the next tick. */
void wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint16_t secs, uint64_t now);

/* Staged packets while no session exists: bounded, drop-oldest (counted). */
int wg_peer_stage(struct wg_peer *peer, const void *pkt, size_t len);
/* Pops the oldest into buf; its length, 0 when none, -ENOSPC if cap is too small. */
ssize_t wg_peer_staged_pop(struct wg_peer *peer, void *buf, size_t cap);
unsigned int wg_peer_staged_count(struct wg_peer *peer);

/* Handshake messages (types 1, 2, 3) as received from src. 0 or -errno. */
int wg_proto_handle_handshake(struct wg_proto *p, const uint8_t *msg, size_t len,
			      const struct vg_endpoint *src, bool under_load,
			      uint64_t now, struct wg_action *act);
/*
 * The same in two steps, for a receiving thread that hands the expensive
 * part to another.  precheck does everything that costs no Diffie-Hellman
 * (length, type, MACs, cookie replies received, and under load a cookie
 * reply into act or the per-source rate limit): 0 when it dealt with the
 * message, 1 when the message must go on to wg_proto_handle_checked(),
 * -errno when it was dropped.  Each message is counted once, by the step
 * that decides its fate.
 */
int wg_proto_precheck_handshake(struct wg_proto *p, const uint8_t *msg, size_t len,
				const struct vg_endpoint *src, bool under_load,
				uint64_t now, struct wg_action *act);
int wg_proto_handle_checked(struct wg_proto *p, const uint8_t *msg, size_t len,
			    const struct vg_endpoint *src, uint64_t now, struct wg_action *act);
/* Ask for a handshake (no session, or data waiting): an initiation unless
 * one was sent less than REKEY_TIMEOUT ago.  0 or -errno. */
int wg_peer_want_handshake(struct wg_peer *peer, uint64_t now, struct wg_action *act);

/* The keypair to send n packets with, nonces reserved, with a reference;
 * NULL: stage and call wg_peer_want_handshake. */
struct noise_keypair *wg_peer_send_keypair(struct wg_peer *peer, uint64_t now,
					   unsigned int n, uint64_t *first_nonce);
/* After sending data: timers, and a rekey when the current session is
 * old or has sent too many messages (as the kernel, it looks at the
 * current keypair, whichever one the batch went out under). */
void wg_peer_sent_data(struct wg_peer *peer, bool keepalive, uint64_t now,
		       struct wg_action *act);
/* After an authenticated data packet: key confirmation, roaming, timers. */
void wg_peer_received_data(struct wg_peer *peer, struct noise_keypair *kp,
			   const struct vg_endpoint *src, bool keepalive, uint64_t now,
			   struct wg_action *act);
/* Wipe every keypair and the handshake (zero-key timer, key change). */
void wg_peer_zero_keys(struct wg_peer *peer);
/*
 * Link down: the peer starts afresh, as the kernel and wireguard-go stop a
 * peer.  The handshake and every keypair are wiped, staged packets dropped
 * (counted, like any other that entered the tunnel and never left) and the
 * timers set as a new peer's: none armed but a persistent keepalive, due
 * at now so that one goes out as soon as timers run again.  Configuration
 * (keys, endpoint, keepalive interval), the replay guard against old
 * initiations and the last handshake time stay.  Meant for when no data
 * path is inside a call for this peer.
 */
void wg_peer_reset(struct wg_peer *peer, uint64_t now);
bool wg_peer_has_current(struct wg_peer *peer);

/*
 * Data messages.  seal: buf has MESSAGE_DATA_HEADER_LEN bytes of room in
 * front of plain (at buf), plain_len bytes (already padded) and
 * NOISE_AUTHTAG_LEN bytes of room after it; writes header+ciphertext
 * starting at buf - MESSAGE_DATA_HEADER_LEN and returns the total length.
 * open: msg/len is a whole type-4 message; on success *kp holds a reference
 * and the plaintext is decrypted in place at msg + 16.  0 or -errno
 * (counted: -ENOENT unknown index, -EKEYEXPIRED, -EBADMSG, -EALREADY).
 * open_to: the same, but msg is only read and the plaintext goes to dst
 * (room for len - 16 bytes), which *plain then points at.
 */
size_t wg_data_seal(struct noise_keypair *kp, uint64_t nonce, uint8_t *buf,
		    size_t plain_len);
int wg_data_open(struct wg_proto *p, uint8_t *msg, size_t len, uint64_t now,
		 struct noise_keypair **kp, uint8_t **plain, size_t *plain_len);
int wg_data_open_to(struct wg_proto *p, const uint8_t *msg, size_t len, uint8_t *dst,
		    uint64_t now, struct noise_keypair **kp, uint8_t **plain, size_t *plain_len);

#endif
