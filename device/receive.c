/* SPDX-License-Identifier: MIT */
/*
 * The receive path of a queue worker: a bind batch (GRO pieces already
 * split) -> classify -> decrypt into the worker's slot -> replay check
 * (wg_data_open_to) -> allowed-IPs source check -> one TUN write batch (GRO
 * inside the TUN).  A GRO piece is lent by the bind where it lies and
 * decrypted from there: the decryption is its only copy in user space.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "device/device_impl.h"
#include "tun/ip.h"

/* Length from the IP header (the rest is padding) and the source address;
 * 0 when the packet is not a well-formed IPv4/IPv6 packet. */
static size_t ip_check(const uint8_t *pkt, size_t len, int *fam, const uint8_t **src)
{
	struct ip_pkt ip;

	if (!ip_parse(pkt, len, &ip))
		return 0;
	*fam = ip.family;
	*src = ip.src;
	return ip.len;
}

/* A run of packets authenticated with the same keypair: the protocol layer
 * hears about it once (timers, key confirmation, roaming). */
struct rx_run {
	struct noise_keypair *kp;
	struct vg_endpoint src;
	bool keepalive;
};

static void run_end(struct worker *w, struct rx_run *r, uint64_t now)
{
	struct wg_action act;

	if (!r->kp)
		return;
	wg_peer_received_data(r->kp->peer, r->kp, &r->src, r->keepalive, now, &act);
	noise_keypair_put(r->kp);
	r->kp = NULL;
	dev_act(w->dev, w, &act, NULL, 0);
}

static void rx_data(struct worker *w, unsigned int k, struct rx_run *run, uint64_t now)
{
	struct device *d = w->dev;
	struct vg_rx_pkt *pk = &w->rx_pkts[k];
	struct noise_keypair *kp;
	struct dev_peer *p;
	uint8_t *plain;
	size_t plain_len, len;
	const uint8_t *src;
	int fam;

	if (wg_data_open_to(&d->proto, pk->data, pk->len,
			    w->rx_bufs[k] + RX_HEAD + MESSAGE_DATA_HEADER_LEN, now, &kp, &plain,
			    &plain_len))
		return;
	p = dev_peer_of(kp->peer);
	if (run->kp != kp || run->keepalive != !plain_len) {
		run_end(w, run, now);
		run->kp = kp;
		run->keepalive = !plain_len;
	} else {
		noise_keypair_put(kp);
	}
	run->src = pk->ep;
	cnt_add(&p->cnt[w->id].v[PC_rx_bytes], pk->len);
	cnt_add(&w->cnt.p[PC_rx_bytes], pk->len);
	if (!plain_len) {
		cnt_add(&p->cnt[w->id].v[PC_keepalives_received], 1);
		cnt_add(&w->cnt.p[PC_keepalives_received], 1);
		return;
	}
	len = ip_check(plain, plain_len, &fam, &src);
	if (!len) {
		cnt_add(&w->cnt.d[DC_drop_malformed], 1);
		return;
	}
	/* A GRO batch is one flow: one lookup for the source it repeats. */
	if (fam != w->rx_last_fam || memcmp(src, w->rx_last_src, fam == AF_INET ? 4 : 16)) {
		w->rx_last_fam = fam;
		memcpy(w->rx_last_src, src, fam == AF_INET ? 4 : 16);
		w->rx_last_peer = route_lookup(w->rt, fam, src);
		if (fam == AF_INET && w->rx_last_peer && dev_local_source(d, src))
			w->rx_last_peer = NULL;	/* addrs.c */
	}
	if (w->rx_last_peer != p) {
		cnt_add(&p->cnt[w->id].v[PC_drop_not_allowed_ip], 1);
		cnt_add(&w->cnt.p[PC_drop_not_allowed_ip], 1);
		return;
	}
	cnt_add(&p->cnt[w->id].v[PC_rx_packets], 1);
	cnt_add(&w->cnt.p[PC_rx_packets], 1);
	w->w_bufs[w->w_n] = w->rx_bufs[k];
	w->w_lens[w->w_n] = len;
	w->w_n++;
}

static void rx_flush_tun(struct worker *w)
{
	if (!w->w_n)
		return;
	tun_write(w->dev->tun, w->id, w->w_bufs, w->w_lens, w->w_n,
		  RX_HEAD + MESSAGE_DATA_HEADER_LEN);
	w->w_n = 0;
}

int dev_recv_batch(struct worker *w, int family, uint64_t now)
{
	struct rx_run run = { 0 };
	unsigned int k;
	uint32_t type;
	int n;

	if (!w->bind)
		return 0;
	for (k = 0; k < VG_BIND_BATCH; k++) {
		w->rx_pkts[k].data = w->rx_bufs[k] + RX_HEAD;
		w->rx_pkts[k].cap = TUN_MAX_PACKET;
	}
	n = vg_bind_recv_lent(w->bind, family, w->rx_pkts, VG_BIND_BATCH);
	if (n <= 0)
		return n;
	w->w_n = 0;
	w->rx_last_fam = 0;	/* the routing table may have changed since */
	for (k = 0; k < (unsigned int)n; k++) {
		struct vg_rx_pkt *pk = &w->rx_pkts[k];

		if (pk->len < sizeof(type)) {
			cnt_add(&w->cnt.d[DC_drop_malformed], 1);
			continue;
		}
		memcpy(&type, pk->data, sizeof(type));
		switch (le32toh(type)) {
		case MESSAGE_DATA:
			rx_data(w, k, &run, now);
			break;
		case MESSAGE_HANDSHAKE_INITIATION:
		case MESSAGE_HANDSHAKE_RESPONSE:
		case MESSAGE_HANDSHAKE_COOKIE:
			dev_hs_receive(w, &w->rx_pkts[k], now);
			break;
		default:
			cnt_add(&w->cnt.d[DC_drop_malformed], 1);
			break;
		}
	}
	run_end(w, &run, now);
	rx_flush_tun(w);
	return n;
}
