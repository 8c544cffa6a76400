/* SPDX-License-Identifier: MIT */
/*
 * The whole-device fuzz harness (device_fuzz.h).  D is a real device
 * (device_new, configured through its UAPI operations, link events) whose
 * worker, handshake and mailbox steps are called here in turn instead of
 * from its threads.  H is a bare protocol core on its own in-memory bind:
 * it answers D as a peer would, and seals what the input asks for so that
 * arbitrary inner packets get past authentication.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/bind.h"
#include "device/device_impl.h"
#include "tests/fuzz/device_fuzz.h"
#include "tun/ip.h"
#include "tun/offload.h"
#include "tun/offload_pkt.h"
#include "tun/virtio.h"

#define D_PORT 51820
#define MAX_DGRAMS 1024
#define ARENA (512 * 1024)
#define MAX_RECS 512
#define H_SLOT 65600
/* D's session is renewed before it gets old enough for a timer to care. */
#define SESSION_MAX_AGE (100 * WG_NSEC_PER_SEC)

struct dgram {
	const uint8_t *data;
	uint16_t len;
	uint8_t src;	/* how H sends it: enum src_kind */
};

enum src_kind { SRC_V4, SRC_V4_SPOOF, SRC_V6, SRC_V6_SPOOF, SRC_KINDS };

/* An inner packet H sealed for D in this input. */
struct rec {
	uint32_t idx;	/* D's keypair index the message carried */
	uint64_t nonce;
	uint32_t off, len;	/* the padded plaintext in the arena */
	bool delivered;
};

struct dfz {
	struct vg_memnet *net;
	struct tun *tun;
	struct device *dev;
	struct worker *w;
	struct wg_peer *dwp;	/* D's peer for H */
	uint64_t now;		/* D's clock */
	uint64_t born;		/* when the session in use came up */
	uint32_t d_idx, h_idx;	/* the keypairs the input started with */
	bool dirty;

	struct wg_proto hp;
	struct wg_peer *hpeer;	/* H's peer: D */
	uint64_t h_now;
	struct vg_bind *hb;
	uint16_t h_port;

	struct dgram q[MAX_DGRAMS];
	unsigned int nq;
	uint8_t arena[ARENA];
	size_t used;
	struct rec recs[MAX_RECS];
	unsigned int nrecs;
	bool rec_lost;		/* a sealed packet went unrecorded */
	uint32_t seqs[8];	/* DFZ_FLOW: next sequence number per flow */

	/* DFZ_DINIT: alter H's next response before it goes out */
	uint8_t alter[8];
	unsigned int nalter;
	bool alter_macs;
	unsigned int depth;
};

static struct dfz Z;
static uint8_t h_slots[VG_BIND_BATCH][H_SLOT];
static uint8_t frame[VNET_HDR_LEN + TUN_MAX_PACKET];
static uint8_t *segs[OFFLOAD_MAX_SEGMENTS];

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct in *in)
{
	return (uint16_t)(u8(in) << 8 | u8(in));
}

static uint64_t d_clock(void *ctx)
{
	return ((struct dfz *)ctx)->now;
}

static uint64_t h_wall(void *ctx)
{
	return 1700000000ULL * WG_NSEC_PER_SEC + ((struct dfz *)ctx)->h_now;
}

static uint64_t d_wall(void *ctx)
{
	return 1700000000ULL * WG_NSEC_PER_SEC + ((struct dfz *)ctx)->now;
}

static void die(const char *what)
{
	fprintf(stderr, "device_fuzz: %s\n", what);
	abort();
}

static uint8_t *arena_take(struct dfz *z, size_t len)
{
	uint8_t *p;

	if (z->used + len > ARENA)
		return NULL;
	p = z->arena + z->used;
	z->used += (len + 15) & ~(size_t)15;
	if (z->used > ARENA)
		z->used = ARENA;
	return p;
}

static void queue(struct dfz *z, const uint8_t *data, size_t len, unsigned int src)
{
	uint8_t *p;

	if (z->nq == MAX_DGRAMS || len > 65000)
		return;
	p = arena_take(z, len ? len : 1);
	if (!p)
		return;
	memcpy(p, data, len);
	z->q[z->nq++] = (struct dgram){ p, (uint16_t)len, (uint8_t)(src % SRC_KINDS) };
}

/* ---- H: the peer ---- */

static void h_act(struct dfz *z, const struct wg_action *act);

/* Seals plain for D under H's current keypair.  counter: 0 the next one,
 * 1 an earlier one (back), 2 an explicit one; alter: flip a byte or change
 * the index after sealing. */
static void h_seal(struct dfz *z, const uint8_t *plain, size_t len, unsigned int counter,
		   uint64_t arg, unsigned int alter, unsigned int src)
{
	size_t padded = (len + 15) & ~(size_t)15, n;
	uint8_t buf[MESSAGE_DATA_HEADER_LEN + 4096 + NOISE_AUTHTAG_LEN];
	struct noise_keypair *kp;
	struct wg_action act;
	uint64_t nonce, use;
	uint8_t *rec;
	uint32_t idx;

	if (padded > 4096)
		return;
	kp = wg_peer_send_keypair(z->hpeer, z->h_now, 1, &nonce);
	if (!kp)
		return;
	use = counter == 0 ? nonce : counter == 1 ? (arg <= nonce ? nonce - arg : 0) : arg;
	memset(buf + MESSAGE_DATA_HEADER_LEN, 0, padded);
	if (len)
		memcpy(buf + MESSAGE_DATA_HEADER_LEN, plain, len);
	rec = alter || !len || z->nrecs == MAX_RECS ? NULL : arena_take(z, padded);
	if (!rec && !alter && len)
		z->rec_lost = true;
	if (rec) {
		memcpy(rec, buf + MESSAGE_DATA_HEADER_LEN, padded);
		z->recs[z->nrecs++] = (struct rec){ kp->remote_index, use,
						    (uint32_t)(rec - z->arena), (uint32_t)padded,
						    false };
	}
	n = wg_data_seal(kp, use, buf + MESSAGE_DATA_HEADER_LEN, padded);
	if (alter == 1) {
		buf[(arg >> 8) % n] ^= (uint8_t)(arg | 1);
	} else if (alter == 2) {
		idx = (uint32_t)arg;
		memcpy(buf + 4, &idx, 4);
	}
	queue(z, buf, n, src);
	noise_keypair_put(kp);
	if (z->depth < 4) {
		z->depth++;
		wg_peer_sent_data(z->hpeer, !len, z->h_now, &act);
		h_act(z, &act);
		z->depth--;
	}
}

static void h_act(struct dfz *z, const struct wg_action *act)
{
	struct wg_action copy = *act;

	if (copy.flags & WG_ACT_SEND_MSG)
		queue(z, copy.msg, copy.msg_len, SRC_V4);
	if (copy.flags & WG_ACT_SEND_KEEPALIVE)
		h_seal(z, NULL, 0, 0, 0, 0, SRC_V4);
}

static bool in_h_range(int fam, const uint8_t *a)
{
	static const uint8_t v6[15] = { 0x20, 0x01, 0x0d, 0xb8 };

	if (fam == AF_INET)
		return a[0] == 192 && a[1] == 0 && a[2] == 2 && a[3] < 128;
	return !memcmp(a, v6, 15) && a[15] < 128;
}

/* A data message from D: it must be for one of H's allowed IPs. */
static void h_data(struct dfz *z, struct vg_rx_pkt *pk)
{
	struct noise_keypair *kp;
	struct wg_action act;
	uint8_t *plain;
	size_t len;
	int fam;

	if (wg_data_open(&z->hp, pk->data, pk->len, z->h_now, &kp, &plain, &len))
		return;
	if (len) {
		fam = ip_family(plain, len);
		if (!fam || !in_h_range(fam, ip_dst_addr(plain, fam)))
			die("D sealed a packet that is not for H's allowed IPs");
	}
	wg_peer_received_data(kp->peer, kp, &pk->ep, !len, z->h_now, &act);
	noise_keypair_put(kp);
	h_act(z, &act);
}

static void h_handshake(struct dfz *z, struct vg_rx_pkt *pk)
{
	struct wg_action act;
	unsigned int i;

	if (wg_proto_handle_handshake(&z->hp, pk->data, pk->len, &pk->ep, false, z->h_now, &act))
		return;
	if (z->nalter && (act.flags & WG_ACT_SEND_MSG) && act.msg[0] == MESSAGE_HANDSHAKE_RESPONSE) {
		for (i = 0; i + 1 < z->nalter; i += 2)
			act.msg[z->alter[i] % act.msg_len] ^= z->alter[i + 1];
		if (z->alter_macs)
			cookie_add_macs(&z->hpeer->cookie, act.msg, act.msg_len, z->h_now);
		z->nalter = 0;
	}
	h_act(z, &act);
}

/* Takes what D sent H; true if there was anything. */
static bool h_recv(struct dfz *z)
{
	static struct vg_rx_pkt pk[VG_BIND_BATCH];
	static const int fams[2] = { AF_INET, AF_INET6 };
	bool any = false;
	int f, n, k;
	uint32_t type;

	for (f = 0; f < 2; f++) {
		for (;;) {
			for (k = 0; k < VG_BIND_BATCH; k++) {
				pk[k].data = h_slots[k];
				pk[k].cap = H_SLOT;
			}
			n = vg_bind_recv(z->hb, fams[f], pk, VG_BIND_BATCH);
			if (n <= 0)
				break;
			any = true;
			for (k = 0; k < n; k++) {
				if (pk[k].len < 4)
					continue;
				memcpy(&type, pk[k].data, 4);
				if (le32toh(type) == MESSAGE_DATA)
					h_data(z, &pk[k]);
				else
					h_handshake(z, &pk[k]);
			}
		}
	}
	return any;
}

/* Sends the queue to D: runs of one source kind go out together, so equal
 * sizes reach D as one UDP GRO batch. */
static bool h_flush(struct dfz *z)
{
	static struct iovec iov[MAX_DGRAMS];
	struct vg_endpoint ep;
	unsigned int i = 0, j, k;
	bool v6;

	if (!z->nq)
		return false;
	while (i < z->nq) {
		for (j = i + 1; j < z->nq && z->q[j].src == z->q[i].src; j++)
			;
		memset(&ep, 0, sizeof(ep));
		v6 = z->q[i].src >= SRC_V6;
		if (v6) {
			ep.dst.in6.sin6_family = AF_INET6;
			ep.dst.in6.sin6_port = htons(D_PORT);
			ep.dst.in6.sin6_addr = in6addr_loopback;
			inet_pton(AF_INET6, "2001:db8:1::7", &ep.src.in6);
		} else {
			ep.dst.in4.sin_family = AF_INET;
			ep.dst.in4.sin_port = htons(D_PORT);
			ep.dst.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			inet_pton(AF_INET, "198.51.100.7", &ep.src.in4);
		}
		/* The in-memory network shows D our "sticky source" as the
		 * sender's address: a spoofed one. */
		ep.has_src = z->q[i].src == SRC_V4_SPOOF || z->q[i].src == SRC_V6_SPOOF;
		for (k = i; k < j; k++) {
			iov[k - i].iov_base = (void *)z->q[k].data;
			iov[k - i].iov_len = z->q[k].len;
		}
		vg_bind_send(z->hb, &ep, iov, j - i, NULL);
		i = j;
	}
	z->nq = 0;
	return true;
}

/* ---- D's TUN: what it writes ---- */

static struct rec *rec_match(struct dfz *z, const uint8_t *pkt, size_t len, bool *seen)
{
	struct rec *hit = NULL;
	unsigned int i, j;
	bool dup;

	*seen = false;
	for (i = 0; i < z->nrecs; i++) {
		struct rec *r = &z->recs[i];

		if (r->len < len || memcmp(z->arena + r->off, pkt, len))
			continue;
		*seen = true;
		for (dup = false, j = 0; j < z->nrecs && !dup; j++)
			dup = z->recs[j].delivered && z->recs[j].idx == r->idx &&
			      z->recs[j].nonce == r->nonce;
		if (!dup) {
			hit = r;
			break;
		}
	}
	return hit;
}

static bool is_icmp(const uint8_t *pkt, size_t len)
{
	int fam = ip_family(pkt, len);

	return (fam == AF_INET && pkt[9] == 1) || (fam == AF_INET6 && pkt[6] == 58);
}

static void check_src(const uint8_t *pkt, size_t len)
{
	int fam = ip_family(pkt, len);

	if (!fam)
		die("D wrote a packet that is not IP to its TUN");
	if (!in_h_range(fam, ip_src_addr(pkt, fam)) && !is_icmp(pkt, len))
		die("D wrote a packet from outside H's allowed IPs to its TUN");
}

static void check_frame(struct dfz *z, size_t n)
{
	static size_t sizes[OFFLOAD_MAX_SEGMENTS];
	const uint8_t *pkt = frame + VNET_HDR_LEN;
	size_t len = n - VNET_HDR_LEN;
	struct vnet_hdr h;
	struct rec *r;
	bool seen;
	int i, k;

	if (n < VNET_HDR_LEN)
		die("D wrote a frame without a virtio header");
	vnet_hdr_decode(&h, frame);
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		k = offload_split(frame, n, segs, sizes, OFFLOAD_MAX_SEGMENTS, 0, 65536);
		if (k <= 0)
			die("D wrote a coalesced frame that does not split");
		for (i = 0; i < k; i++)
			check_src(segs[i], sizes[i]);
		return;
	}
	check_src(pkt, len);
	r = rec_match(z, pkt, len, &seen);
	if (r) {
		r->delivered = true;
		return;
	}
	if (seen)
		die("D delivered a packet twice under one key and counter");
	if (!is_icmp(pkt, len) && !z->rec_lost)
		die("D wrote a packet H never sealed to its TUN");
}

static void drain_tun(struct dfz *z)
{
	ssize_t n;

	while ((n = tun_mem_take(z->tun, 0, frame, sizeof(frame))) != -EAGAIN) {
		if (n < 0)
			die("tun_mem_take failed");
		check_frame(z, (size_t)n);
	}
}

/* ---- D: one turn of its worker, handshake and mailbox steps ---- */

static void d_step(struct dfz *z)
{
	struct device *d = z->dev;
	int i, r;

	pthread_rwlock_rdlock(&d->cfg_lock);
	while (dev_recv_batch(z->w, AF_INET, z->now) > 0)
		drain_tun(z);
	while (dev_recv_batch(z->w, AF_INET6, z->now) > 0)
		drain_tun(z);
	dev_hs_run_queued(d);
	dev_worker_run_mbox(z->w, z->now);
	for (i = 0; i < 256; i++) {
		r = dev_send_tun_batch(z->w, z->now);
		drain_tun(z);
		if (r < 0)
			break;
	}
	dev_worker_run_mbox(z->w, z->now);
	pthread_rwlock_unlock(&d->cfg_lock);
	drain_tun(z);
}

static void pump(struct dfz *z)
{
	int round;
	bool busy;

	for (round = 0; round < 32; round++) {
		busy = h_flush(z);
		d_step(z);
		busy |= h_recv(z);
		if (!busy)
			return;
	}
}

/* ---- set-up and the session ---- */

static void hex(char *out, const uint8_t *k)
{
	static const char h[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = h[k[i] >> 4];
		out[2 * i + 1] = h[k[i] & 15];
	}
	out[64] = 0;
}

static void link_event(struct dfz *z, enum tun_event_type type)
{
	struct tun_event ev = { .type = type };

	device_link_event(z->dev, &ev);
}

static void setup(struct dfz *z)
{
	uint8_t d_priv[32], d_pub[32], h_priv[32], h_pub[32], x_priv[32], x_pub[32];
	char dk[65], hk[65], xk[65], conf[1024];
	struct tun_mem_options mo;
	struct device_options o;
	struct vg_bind_config bc;
	struct uapi_txn txn;
	struct vg_endpoint ep;
	int i;

	if (crypto_init())
		die("crypto_init");
	z->net = vg_memnet_new();
	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.queues = 1;
	mo.tso = mo.uso = true;
	if (!z->net || tun_mem_open(&z->tun, "vgfuzz", &mo))
		die("set-up: network or TUN");
	device_options_init(&o);
	o.queues = 1;
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = z->net;
	o.clock = d_clock;
	o.clock_ctx = z;
	if (device_new(&z->dev, z->tun, &o))
		die("set-up: device_new");
	z->w = &z->dev->workers[0];
	z->dev->proto.wallclock = d_wall;
	z->dev->proto.wallclock_ctx = z;
	z->now = 1000 * WG_NSEC_PER_SEC;
	z->h_now = 1000 * WG_NSEC_PER_SEC;

	memset(&bc, 0, sizeof(bc));
	if (vg_bind_open_mem(&z->hb, z->net, &bc))
		die("set-up: H's bind");
	z->h_port = vg_bind_port(z->hb);
	x25519_generate(d_priv, d_pub);
	x25519_generate(h_priv, h_pub);
	x25519_generate(x_priv, x_pub);
	hex(dk, d_priv);
	hex(hk, h_pub);
	hex(xk, x_pub);
	/* H owns 192.0.2.0/25 and 2001:db8::/121, a silent X the next /26
	 * and /122; the rest routes nowhere. */
	snprintf(conf, sizeof(conf),
		 "private_key=%s\nlisten_port=%u\n"
		 "public_key=%s\nendpoint=127.0.0.1:%u\n"
		 "allowed_ip=192.0.2.0/25\nallowed_ip=2001:db8::/121\n"
		 "public_key=%s\nendpoint=127.0.0.1:9\n"
		 "allowed_ip=192.0.2.128/26\nallowed_ip=2001:db8::80/122\n",
		 dk, D_PORT, hk, z->h_port, xk);
	if (uapi_parse_set(&txn, conf, strlen(conf)))
		die("set-up: configuration");
	if (device_uapi_ops.set(z->dev, &txn))
		die("set-up: set");
	uapi_txn_clear(&txn);
	link_event(z, TUN_EVENT_UP);
	z->dwp = wg_proto_find_peer(&z->dev->proto, h_pub);

	wg_proto_init(&z->hp);
	z->hp.wallclock = h_wall;
	z->hp.wallclock_ctx = z;
	wg_proto_set_private_key(&z->hp, h_priv);
	z->hpeer = wg_peer_new(&z->hp, d_pub, NULL);
	memset(&ep, 0, sizeof(ep));
	ep.dst.in4.sin_family = AF_INET;
	ep.dst.in4.sin_port = htons(D_PORT);
	ep.dst.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	wg_peer_set_endpoint(z->hpeer, &ep);
	if (!z->dwp || !z->hpeer)
		die("set-up: peers");
	for (i = 0; i < OFFLOAD_MAX_SEGMENTS; i++)
		segs[i] = malloc(65536);
	z->dirty = true;
}

static uint32_t cur_index(struct wg_peer *p)
{
	struct noise_keypair *kp = p->keypairs.current;

	return kp ? kp->entry.index : 0;
}

/* A fresh session, H the initiator, confirmed on both sides. */
static void establish(struct dfz *z)
{
	struct wg_action act;

	if (!z->dev->binds_open)
		link_event(z, TUN_EVENT_UP);
	z->h_now += REKEY_TIMEOUT + WG_NSEC_PER_SEC;
	if (!wg_peer_want_handshake(z->hpeer, z->h_now, &act))
		h_act(z, &act);
	pump(z);
	if (!cur_index(z->hpeer) || !cur_index(z->dwp))
		die("harness: the session did not come up");
	z->born = z->now;
}

/* ---- the operations ---- */

static void op_raw(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t buf[2048];
	size_t len = (flags & 0x80) ? u16(in) % sizeof(buf) : u8(in), i;

	for (i = 0; i < len; i++)
		buf[i] = u8(in);
	queue(z, buf, len, flags);
}

static const uint16_t hs_len[4] = { 0, MESSAGE_INITIATION_LEN, MESSAGE_RESPONSE_LEN,
				    MESSAGE_COOKIE_LEN };

static void op_hs(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t buf[MESSAGE_INITIATION_LEN];
	unsigned int type = 1 + (flags >> 2) % 3, i;
	size_t len = hs_len[type];
	struct noise_handshake *hs = &z->dwp->handshake;
	uint32_t idx;

	memset(buf, 0, sizeof(buf));
	buf[0] = (uint8_t)type;
	for (i = 4; i < len - (type == 3 ? 0 : 32); i++)
		buf[i] = u8(in);
	/* Aim at D's pending handshake, so that a response or cookie reply
	 * gets as far as its keys. */
	if ((flags & 0x20) && type != 1) {
		idx = hs->entry.index;
		memcpy(buf + (type == 2 ? 8 : 4), &idx, 4);
	}
	if (type != 3)
		cookie_add_macs(&z->hpeer->cookie, buf, len, z->h_now);
	queue(z, buf, len, flags >> 6);
}

static void op_init(struct dfz *z, struct in *in, uint8_t flags)
{
	struct wg_action act;
	unsigned int n = flags >> 5, i;
	uint8_t pos, x;

	z->h_now += REKEY_TIMEOUT + WG_NSEC_PER_SEC;
	if (wg_peer_want_handshake(z->hpeer, z->h_now, &act))
		return;
	for (i = 0; i < n; i++) {
		pos = u8(in);
		x = u8(in);
		act.msg[pos % act.msg_len] ^= x;
	}
	if (n && (flags & 0x10))
		cookie_add_macs(&z->hpeer->cookie, act.msg, act.msg_len, z->h_now);
	queue(z, act.msg, act.msg_len, flags);
}

static void op_data(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t buf[2048];
	size_t len = u16(in) % sizeof(buf), i;
	unsigned int counter = (flags >> 2) & 3, alter = (flags >> 4) & 3;
	uint64_t arg = 0;

	if (counter == 3)
		counter = 0;
	if (counter || alter)
		for (i = 0; i < (counter == 2 ? 8 : 2); i++)
			arg = arg << 8 | u8(in);
	for (i = 0; i < len; i++)
		buf[i] = u8(in);
	if (alter == 3) {
		/* To D's other index: the previous keypair, if any. */
		struct noise_keypair *prev = z->dwp->keypairs.previous;

		alter = 2;
		arg = prev ? prev->entry.index : 0;
	}
	h_seal(z, buf, len, counter, arg, alter, flags & 3);
}

/* A segment of one of eight flows from H (or, with bit 5, from outside
 * H's allowed IPs), consecutive unless told otherwise: runs of them are
 * what D's TUN write coalesces. */
static void op_flow(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t a = u8(in), b = u8(in), buf[2048];
	unsigned int flow = a & 7;
	struct pkt_spec s;
	size_t len;

	s = pkt_default(flags & 1, (flags & 2) ? PKT_UDP : PKT_TCP, 1 + b % 200, z->seqs[flow]);
	s.sport = (uint16_t)(1 + flow);
	s.src = (flags & 0x20) ? 130 : 1;
	s.dst = 2 + ((a >> 3) & 1);
	if (a & 0x10)
		s.seq -= (uint32_t)s.payload;
	s.pay_off = s.seq;
	if (a & 0x20)
		s.flags |= TH_PSH;
	if (a & 0x40)
		s.payload = 100;
	len = pkt_build(buf, &s);
	if (a & 0x80)
		buf[len - 1] ^= 1;	/* a bad checksum */
	z->seqs[flow] = s.seq + (uint32_t)s.payload;
	h_seal(z, buf, len, 0, 0, 0, (flags >> 2) & 3);
}

static void op_repeat(struct dfz *z, struct in *in, uint8_t flags)
{
	unsigned int n = u8(in), i;
	struct dgram last;

	if (!z->nq)
		return;
	last = z->q[z->nq - 1];
	/* A few, or enough to put D under load (fewer handshakes than that
	 * cost a Diffie-Hellman each and find nothing new). */
	n = (flags & 0x80) ? UNDER_LOAD_QUEUE_LEN + n % 32 : 1 + n % 8;
	for (i = 0; i < n && z->nq < MAX_DGRAMS; i++)
		z->q[z->nq++] = last;
}

static void op_time(struct dfz *z, struct in *in, uint8_t flags)
{
	uint64_t step = (flags & 0x80) ? 10 * WG_NSEC_PER_SEC : WG_NSEC_PER_SEC / 20;

	z->now += (1 + (uint64_t)u8(in)) * step;
}

static void op_dinit(struct dfz *z, struct in *in, uint8_t flags)
{
	struct wg_action act;
	unsigned int i;

	z->nalter = 2 * ((flags >> 5) & 3);
	for (i = 0; i < z->nalter; i++)
		z->alter[i] = u8(in);
	z->alter_macs = flags & 0x10;
	z->now += REKEY_TIMEOUT + WG_NSEC_PER_SEC;
	pthread_rwlock_rdlock(&z->dev->cfg_lock);
	if (!wg_peer_want_handshake(z->dwp, z->now, &act))
		dev_act(z->dev, z->w, &act, NULL, 0);
	pthread_rwlock_unlock(&z->dev->cfg_lock);
	pump(z);
	z->nalter = 0;
}

static void op_tun_raw(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t buf[4096];
	size_t len = u16(in) % sizeof(buf), i;

	for (i = 0; i < len; i++)
		buf[i] = u8(in);
	tun_mem_inject(z->tun, 0, buf, len);
}

/* A valid TSO/USO super-packet (maybe with one byte changed) to a peer's
 * range: bits 2-3 pick H's, X's (no session: staged) or nobody's. */
static void op_tun_gso(struct dfz *z, struct in *in, uint8_t flags)
{
	static const uint8_t dsts[4] = { 2, 130, 200, 2 };
	uint8_t a = u8(in);
	uint16_t payload = 1 + u16(in) % 4000, gso = 1 + u16(in) % 1500;
	uint8_t pos = u8(in), x = u8(in), buf[VNET_HDR_LEN + 4200];
	bool v6 = flags & 1, udp = flags & 2;
	struct vnet_hdr h = { 0 };
	struct pkt_spec s;
	size_t len;

	s = pkt_default(v6, udp ? PKT_UDP : PKT_TCP, payload, 1000);
	s.dst = ((flags >> 2) & 3) == 3 ? a : dsts[(flags >> 2) & 3];
	len = pkt_build(buf + VNET_HDR_LEN, &s);
	pkt_partial_csum(buf + VNET_HDR_LEN, &s);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = udp ? VIRTIO_NET_HDR_GSO_UDP_L4 :
		     v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	if (flags & 0x10)
		h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h.hdr_len = (uint16_t)(pkt_iph(&s) + pkt_l4h(&s));
	h.gso_size = gso;
	h.csum_start = (uint16_t)pkt_iph(&s);
	h.csum_offset = udp ? 6 : 16;
	vnet_hdr_encode(buf, &h);
	if (flags & 0x20)
		buf[pos % (VNET_HDR_LEN + 60)] ^= x;
	tun_mem_inject(z->tun, 0, buf, VNET_HDR_LEN + len);
}

static void op_reset(struct dfz *z)
{
	pthread_rwlock_wrlock(&z->dev->cfg_lock);
	dev_mbox_purge_peer(z->dev, dev_peer_of(z->dwp));
	wg_peer_reset(z->dwp, z->now);
	pthread_rwlock_unlock(&z->dev->cfg_lock);
}

static void op_mtu(struct dfz *z, struct in *in)
{
	struct tun_event ev = { .type = TUN_EVENT_MTU, .mtu = 68 + u16(in) % 9000 };

	device_link_event(z->dev, &ev);
}

static void run_op(struct dfz *z, enum dfz_op op, uint8_t flags, struct in *in)
{
	switch (op) {
	case DFZ_RAW: op_raw(z, in, flags); break;
	case DFZ_HS: op_hs(z, in, flags); break;
	case DFZ_INIT: op_init(z, in, flags); break;
	case DFZ_DATA: op_data(z, in, flags); break;
	case DFZ_FLOW: op_flow(z, in, flags); break;
	case DFZ_REPEAT: op_repeat(z, in, flags); break;
	case DFZ_FLUSH: pump(z); break;
	case DFZ_TIME: op_time(z, in, flags); break;
	case DFZ_DINIT: op_dinit(z, in, flags); break;
	case DFZ_LINK:
		link_event(z, TUN_EVENT_DOWN);
		if (!(flags & 0x80))
			link_event(z, TUN_EVENT_UP);
		break;
	case DFZ_TUN_RAW: op_tun_raw(z, in, flags); break;
	case DFZ_TUN_GSO: op_tun_gso(z, in, flags); break;
	case DFZ_RESET: op_reset(z); break;
	case DFZ_MTU: op_mtu(z, in); break;
	default: break;
	}
}

void dfz_run(const uint8_t *data, size_t size, const enum dfz_op *ops, size_t nops)
{
	static bool ready;
	struct dfz *z = &Z;
	struct in in = { data, size };
	uint8_t b;

	if (!ready) {
		setup(z);
		ready = true;
	}
	/* Each input starts from a live session, D's under-load and
	 * handshake flood windows closed, the default MTU. */
	z->now += 2 * WG_NSEC_PER_SEC;
	atomic_store(&z->dev->mtu, TUN_DEFAULT_MTU);
	z->nq = 0;
	z->used = 0;
	z->nrecs = 0;
	if (z->dirty || !z->dev->binds_open || z->now - z->born > SESSION_MAX_AGE ||
	    cur_index(z->dwp) != z->d_idx || cur_index(z->hpeer) != z->h_idx ||
	    !z->d_idx || !z->h_idx)
		establish(z);
	z->d_idx = cur_index(z->dwp);
	z->h_idx = cur_index(z->hpeer);
	z->dirty = false;
	z->nq = 0;
	z->used = 0;
	z->nrecs = 0;
	z->rec_lost = false;
	while (in.n) {
		b = u8(&in);
		run_op(z, ops[b % nops], u8(&in), &in);
	}
	pump(z);
	if (cur_index(z->dwp) != z->d_idx || cur_index(z->hpeer) != z->h_idx ||
	    !z->dev->binds_open)
		z->dirty = true;
}
