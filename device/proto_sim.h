/* SPDX-License-Identifier: MIT */
/*
 * Two in-memory vguard protocol cores ("a" and "b") wired back to back, for
 * the protocol tests, the fuzzer and the handshake benchmark.  It plays the
 * data plane of peer.h: messages are delivered synchronously, one simulated
 * clock drives both sides, and every message on the wire is counted per
 * direction and type (and can be dropped).  Header-only, everything static;
 * not part of any library.  It lives here so that tools/bench need not
 * reach into tests/.
 */
#ifndef VGUARD_DEVICE_PROTO_SIM_H
#define VGUARD_DEVICE_PROTO_SIM_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device/peer.h"

#define SIM_MAX_PKT 2048
#define SIM_INBOX 64

struct sim;

struct sim_dev {
	struct sim *sim;
	struct wg_proto p;
	struct wg_peer *peer;		/* the other device */
	struct sim_dev *other;
	uint8_t priv[32], pub[32];
	struct vg_endpoint self;	/* where our packets come from */
	/* Counted on send, before any drop: [type] */
	unsigned int sent[5];
	unsigned int keepalives_sent;
	unsigned int data_received;
	unsigned int keepalives_received;
	unsigned int drop_next;		/* drop this many of our next messages */
	bool drop_all;
	bool under_load;		/* the receiver claims load for our messages */
	/* Last data plaintexts received. */
	uint8_t inbox[SIM_INBOX][SIM_MAX_PKT];
	size_t inbox_len[SIM_INBOX];
	unsigned int inbox_count;
	/* Last message we sent, as on the wire. */
	uint8_t last_msg[SIM_MAX_PKT];
	size_t last_len;
};

struct sim {
	struct sim_dev a, b;
	uint64_t now;
	uint64_t wall_base;
	unsigned int depth;
};

static inline uint64_t sim_wallclock(void *ctx)
{
	struct sim *s = ctx;

	/* Atomic: a test may move the clock while other threads read it. */
	return s->wall_base + __atomic_load_n(&s->now, __ATOMIC_RELAXED);
}

static inline void sim_endpoint(struct vg_endpoint *ep, const char *ip, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->dst.in4.sin_family = AF_INET;
	ep->dst.in4.sin_port = htons(port);
	inet_pton(AF_INET, ip, &ep->dst.in4.sin_addr);
}

static inline void sim_dev_init(struct sim *s, struct sim_dev *d, const char *ip)
{
	d->sim = s;
	wg_proto_init(&d->p);
	d->p.wallclock = sim_wallclock;
	d->p.wallclock_ctx = s;
	x25519_generate(d->priv, d->pub);
	wg_proto_set_private_key(&d->p, d->priv);
	sim_endpoint(&d->self, ip, 51820);
}

static inline void sim_init(struct sim *s)
{
	memset(s, 0, sizeof(*s));
	crypto_init();
	s->now = 1000 * WG_NSEC_PER_SEC;
	s->wall_base = 1700000000ULL * WG_NSEC_PER_SEC;
	sim_dev_init(s, &s->a, "192.0.2.1");
	sim_dev_init(s, &s->b, "192.0.2.2");
	s->a.other = &s->b;
	s->b.other = &s->a;
	s->a.peer = wg_peer_new(&s->a.p, s->b.pub, NULL);
	s->b.peer = wg_peer_new(&s->b.p, s->a.pub, NULL);
	wg_peer_set_endpoint(s->a.peer, &s->b.self);
	wg_peer_set_endpoint(s->b.peer, &s->a.self);
}

static inline void sim_destroy(struct sim *s)
{
	wg_proto_destroy(&s->a.p);
	wg_proto_destroy(&s->b.p);
}

static inline void sim_act(struct sim_dev *d, const struct wg_action *act);

static inline void sim_deliver(struct sim_dev *to, const uint8_t *msg, size_t len,
			const struct vg_endpoint *src)
{
	struct sim *s = to->sim;
	struct sim_dev *from = to->other;
	uint8_t buf[SIM_MAX_PKT];
	struct noise_keypair *kp;
	struct wg_action act;
	uint8_t *plain;
	size_t plain_len;
	uint32_t type;

	memcpy(buf, msg, len);
	memcpy(&type, buf, 4);
	if (le32toh(type) != MESSAGE_DATA) {
		if (wg_proto_handle_handshake(&to->p, buf, len, src, from->under_load,
					      s->now, &act) == 0)
			sim_act(to, &act);
		return;
	}
	if (wg_data_open(&to->p, buf, len, s->now, &kp, &plain, &plain_len))
		return;
	if (plain_len) {
		to->data_received++;
		memcpy(to->inbox[to->inbox_count % SIM_INBOX], plain, plain_len);
		to->inbox_len[to->inbox_count % SIM_INBOX] = plain_len;
		to->inbox_count++;
	} else {
		to->keepalives_received++;
	}
	wg_peer_received_data(kp->peer, kp, src, plain_len == 0, s->now, &act);
	noise_keypair_put(kp);
	sim_act(to, &act);
}

/* Puts a message on the wire from d to the other device. */
static inline void sim_wire(struct sim_dev *d, const uint8_t *msg, size_t len)
{
	uint32_t type;

	memcpy(&type, msg, 4);
	type = le32toh(type);
	if (type < 5)
		d->sent[type]++;
	memcpy(d->last_msg, msg, len);
	d->last_len = len;
	if (d->drop_all)
		return;
	if (d->drop_next) {
		d->drop_next--;
		return;
	}
	if (d->sim->depth > 16)
		return;
	d->sim->depth++;
	sim_deliver(d->other, msg, len, &d->self);
	d->sim->depth--;
}

/* Sends one plaintext (len 0: a keepalive); 1 sent, 0 staged. */
static inline int sim_send(struct sim_dev *d, const void *data, size_t len)
{
	struct sim *s = d->sim;
	uint8_t buf[SIM_MAX_PKT];
	struct noise_keypair *kp;
	struct wg_action act;
	uint64_t nonce;
	size_t padded = (len + 15) & ~(size_t)15, n;

	kp = wg_peer_send_keypair(d->peer, s->now, 1, &nonce);
	if (!kp) {
		if (len)
			wg_peer_stage(d->peer, data, len);
		if (wg_peer_want_handshake(d->peer, s->now, &act) == 0)
			sim_act(d, &act);
		return 0;
	}
	memset(buf + MESSAGE_DATA_HEADER_LEN, 0, padded);
	if (len)
		memcpy(buf + MESSAGE_DATA_HEADER_LEN, data, len);
	n = wg_data_seal(kp, nonce, buf + MESSAGE_DATA_HEADER_LEN, padded);
	if (!len)
		d->keepalives_sent++;
	sim_wire(d, buf, n);
	wg_peer_sent_data(d->peer, len == 0, s->now, &act);
	noise_keypair_put(kp);
	sim_act(d, &act);
	return 1;
}

static inline void sim_send_staged(struct sim_dev *d)
{
	uint8_t buf[SIM_MAX_PKT];
	ssize_t n;

	while ((n = wg_peer_staged_pop(d->peer, buf, sizeof(buf))) > 0)
		if (!sim_send(d, buf, (size_t)n))
			return;
}

static inline void sim_act(struct sim_dev *d, const struct wg_action *act)
{
	struct wg_action copy = *act;

	if (copy.flags & WG_ACT_SEND_MSG)
		sim_wire(d, copy.msg, copy.msg_len);
	if (copy.flags & WG_ACT_SEND_STAGED)
		sim_send_staged(d);
	if (copy.flags & WG_ACT_SEND_KEEPALIVE)
		sim_send(d, NULL, 0);
}

static inline void sim_tick(struct sim_dev *d)
{
	struct wg_action act;

	if (wg_timers_tick(d->peer, d->sim->now, &act))
		sim_act(d, &act);
}

/* Runs both devices' timers up to now + dt. */
static inline void sim_advance(struct sim *s, uint64_t dt)
{
	uint64_t end = s->now + dt, da, db, next;

	for (;;) {
		da = wg_timers_next_deadline(s->a.peer);
		db = wg_timers_next_deadline(s->b.peer);
		next = da < db ? da : db;
		if (next > end)
			break;
		if (next > s->now)
			s->now = next;
		sim_tick(&s->a);
		sim_tick(&s->b);
	}
	s->now = end;
}

static inline uint64_t sim_secs(double secs)
{
	return (uint64_t)(secs * (double)WG_NSEC_PER_SEC);
}

#endif
