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
#include "tests/fuzz/device_fuzz_impl.h"
#include "tun/ip.h"
#include "tun/offload.h"
#include "tun/offload_pkt.h"
#include "tun/virtio.h"

static struct dfz Z;
static uint8_t h_slots[VG_BIND_BATCH][H_SLOT];
static uint8_t frame[VNET_HDR_LEN + TUN_MAX_PACKET];
static uint8_t *segs[OFFLOAD_MAX_SEGMENTS];

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

void dfz_queue(struct dfz *z, const uint8_t *data, size_t len, unsigned int src)
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

void dfz_h_seal(struct dfz *z, const uint8_t *plain, size_t len, unsigned int counter,
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
		struct rec *r = &z->recs[z->nrecs++];
		unsigned int i;

		memcpy(rec, buf + MESSAGE_DATA_HEADER_LEN, padded);
		*r = (struct rec){ kp->remote_index, use, (uint32_t)(rec - z->arena),
				   (uint32_t)padded, false };
		for (i = 0; i + 1 < z->nrecs && !r->spent; i++)
			r->spent = z->recs[i].spent && z->recs[i].idx == r->idx &&
				   z->recs[i].nonce == r->nonce;
	}
	n = wg_data_seal(kp, use, buf + MESSAGE_DATA_HEADER_LEN, padded);
	if (alter == 1) {
		buf[(arg >> 8) % n] ^= (uint8_t)(arg | 1);
	} else if (alter == 2) {
		idx = (uint32_t)arg;
		memcpy(buf + 4, &idx, 4);
	}
	dfz_queue(z, buf, n, src);
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
		dfz_queue(z, copy.msg, copy.msg_len, SRC_V4);
	if (copy.flags & WG_ACT_SEND_KEEPALIVE)
		dfz_h_seal(z, NULL, 0, 0, 0, 0, SRC_V4);
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

/* The first record of pkt whose key and counter have not reached D's TUN
 * yet; *seen: whether any record holds pkt. */
static struct rec *rec_match(struct dfz *z, const uint8_t *pkt, size_t len, bool *seen)
{
	unsigned int i;

	*seen = false;
	for (i = 0; i < z->nrecs; i++) {
		struct rec *r = &z->recs[i];

		if (r->len < len || memcmp(z->arena + r->off, pkt, len))
			continue;
		*seen = true;
		if (!r->spent)
			return r;
	}
	return NULL;
}

/* r reached D's TUN: no packet under its key and counter may follow. */
static void rec_spend(struct dfz *z, const struct rec *r)
{
	unsigned int i;

	for (i = 0; i < z->nrecs; i++)
		if (z->recs[i].idx == r->idx && z->recs[i].nonce == r->nonce)
			z->recs[i].spent = true;
}

static bool is_icmp(const uint8_t *pkt, size_t len)
{
	int fam = ip_family(pkt, len);

	return (fam == AF_INET && pkt[9] == 1) || (fam == AF_INET6 && pkt[6] == 58);
}

/* A packet from H's allowed IPs; icmp: or an ICMP error D made itself. */
static void check_src(const uint8_t *pkt, size_t len, bool icmp)
{
	int fam = ip_family(pkt, len);

	if (!fam)
		die("D wrote a packet that is not IP to its TUN");
	if (!in_h_range(fam, ip_src_addr(pkt, fam)) && !(icmp && is_icmp(pkt, len)))
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
			check_src(segs[i], sizes[i], false);
		return;
	}
	r = rec_match(z, pkt, len, &seen);
	check_src(pkt, len, !seen);
	if (r) {
		rec_spend(z, r);
		return;
	}
	/* Past MAX_RECS sealed packets the record is incomplete: no verdict. */
	if (z->rec_lost)
		return;
	if (seen)
		die("D delivered a packet twice under one key and counter");
	if (!is_icmp(pkt, len))
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

	dev_worker_enter(z->w);
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
	dev_worker_exit(z->w);
	drain_tun(z);
}

void dfz_pump(struct dfz *z)
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

void dfz_link_event(struct dfz *z, enum tun_event_type type)
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
	dfz_link_event(z, TUN_EVENT_UP);
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
}

static uint32_t cur_index(struct wg_peer *p)
{
	struct noise_keypair *kp = p->keypairs.current;

	return kp ? kp->entry.index : 0;
}

/* Both sides hold the same session as current, young enough that no
 * timer of D's cares, and D's link is up. */
static bool session_ok(struct dfz *z)
{
	struct noise_keypair *d = z->dwp->keypairs.current, *h = z->hpeer->keypairs.current;

	return d && h && atomic_load(&z->dev->binds) && d->remote_index == h->entry.index &&
	       h->remote_index == d->entry.index && z->now - z->born <= SESSION_MAX_AGE;
}

/* A fresh session, H the initiator, confirmed on both sides. */
static void establish(struct dfz *z)
{
	struct wg_action act;

	if (!atomic_load(&z->dev->binds))
		dfz_link_event(z, TUN_EVENT_UP);
	z->h_now += REKEY_TIMEOUT + WG_NSEC_PER_SEC;
	if (!wg_peer_want_handshake(z->hpeer, z->h_now, &act))
		h_act(z, &act);
	dfz_pump(z);
	z->born = z->now;
	if (!session_ok(z))
		die("harness: the session did not come up");
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
	/* Each input starts from a live session (the one the last input left,
	 * if both sides agree on it and it is young), D's under-load and
	 * handshake flood windows closed, the default MTU. */
	z->now += 2 * WG_NSEC_PER_SEC;
	atomic_store(&z->dev->mtu, TUN_DEFAULT_MTU);
	z->nq = 0;
	z->used = 0;
	z->nrecs = 0;
	if (cur_index(z->dwp) != z->d_idx) {
		z->d_idx = cur_index(z->dwp);
		z->born = z->now;
	}
	if (!session_ok(z))
		establish(z);
	z->d_idx = cur_index(z->dwp);
	z->nq = 0;
	z->used = 0;
	z->nrecs = 0;
	z->rec_lost = false;
	z->hs_budget = HS_BUDGET;
	while (in.n) {
		b = u8(&in);
		dfz_run_op(z, ops[b % nops], u8(&in), &in);
	}
	dfz_pump(z);
}
