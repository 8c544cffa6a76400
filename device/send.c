/* SPDX-License-Identifier: MIT */
/*
 * The send path of a queue worker: TUN batch -> route by allowed IPs ->
 * encrypt in place in the head room -> one bind send per run of packets
 * for the same peer (UDP_SEGMENT inside the bind).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "device/device_impl.h"
#include "tun/ip.h"

static bool peer_endpoint(struct dev_peer *p, struct vg_endpoint *ep)
{
	return wg_peer_get_endpoint(p->wp, ep) && vg_endpoint_family(ep);
}

/* The bind refused the sticky source and sent without it: the peer forgets
 * it too, and learns a new one from its next packet. */
static void src_refused(struct dev_peer *p, int ret, unsigned int result)
{
	if (p && ret >= 0 && (result & VG_SEND_SRC_REFUSED))
		wg_peer_clear_src(p->wp);
}

/* Sends a handshake message to ep (p: its peer, NULL for a cookie reply to
 * no known peer); it is counted only once sent. */
static void send_handshake(struct worker *w, struct dev_peer *p, const struct vg_endpoint *ep,
			   const uint8_t *msg, size_t len)
{
	struct vg_bind *b = w->bind;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	unsigned int result;
	int ret;

	if (!b || !vg_endpoint_family(ep))
		return;
	ret = vg_bind_send(b, ep, &iov, 1, &result);
	src_refused(p, ret, result);
	if (ret >= 0)
		dev_count_handshake(&w->cnt, p ? p->cnt[w->id].v : NULL, msg[0], len, true);
}

enum outer_kind { OUTER_NO, OUTER_DATAGRAM, OUTER_FRAGMENT };

/*
 * Is pkt, routed to a peer whose endpoint is ep, one of our own outer
 * datagrams that routing sent back into the tunnel: UDP from our port to
 * that endpoint (or a later fragment of a UDP datagram to its address)?
 */
static enum outer_kind outer_kind(const uint8_t *pkt, size_t len, const struct vg_endpoint *ep,
				  uint16_t port)
{
	int fam = ip_family(pkt, len);
	bool v6 = fam == AF_INET6, later;
	const void *addr = v6 ? (const void *)&ep->dst.in6.sin6_addr
			      : (const void *)&ep->dst.in4.sin_addr;
	size_t l4;
	uint8_t proto;

	if (!fam || fam != vg_endpoint_family(ep) ||
	    memcmp(ip_dst_addr(pkt, fam), addr, ip_addr_len(v6)))
		return OUTER_NO;
	if (!v6) {
		proto = pkt[IP4_PROTO_OFF];
		l4 = ipv4_hdr_len(pkt);
		later = ipv4_frag(pkt) & IP_OFFMASK;
	} else {
		proto = pkt[IP6_NXT_OFF];
		l4 = IP6_HDR_LEN;
		later = false;
		if (proto == IPPROTO_FRAGMENT && len >= l4 + sizeof(struct ip6_frag)) {
			proto = pkt[l4];
			later = ip_get16(pkt + l4 + offsetof(struct ip6_frag, ip6f_offlg)) &
				ntohs(IP6F_OFF_MASK);
			l4 += sizeof(struct ip6_frag);
		}
	}
	if (proto != IPPROTO_UDP)
		return OUTER_NO;
	if (later)
		return OUTER_FRAGMENT;
	if (len < l4 + UDP_HDR_LEN || ip_get16(pkt + l4) != port ||
	    ip_get16(pkt + l4 + 2) != ntohs(v6 ? ep->dst.in6.sin6_port : ep->dst.in4.sin_port))
		return OUTER_NO;
	return OUTER_DATAGRAM;
}

/*
 * Takes our own outer datagrams out of a run for p.  When p's endpoint is
 * routed through this very interface, sealing them again would loop for
 * ever; the kernel refuses such a route (ELOOP), so the loop ends here,
 * counted and logged once.  Later fragments of a datagram too big for the
 * tunnel carry no ports: they go too while the loop lasts (a second after
 * the last whole one).  Returns how many packets are left; *bufs and
 * *lens then point at them.
 */
static unsigned int drop_own_outer(struct worker *w, struct dev_peer *p,
				   const struct vg_endpoint *ep, uint8_t *const **bufs,
				   const size_t **lens, unsigned int n, uint64_t now)
{
	struct device *d = w->dev;
	bool looping = now - __atomic_load_n(&p->loop_at, __ATOMIC_RELAXED) < WG_NSEC_PER_SEC;
	uint16_t port = w->bind ? vg_bind_port(w->bind) : 0;	/* this batch's sockets */
	unsigned int i, kept = 0;
	enum outer_kind k;

	for (i = 0; i < n; i++) {
		k = outer_kind((*bufs)[i] + TX_HEAD, (*lens)[i], ep, port);
		if (k == OUTER_DATAGRAM) {
			__atomic_store_n(&p->loop_at, now, __ATOMIC_RELAXED);
			looping = true;
		}
		if (k == OUTER_NO || (k == OUTER_FRAGMENT && !looping)) {
			w->keep_bufs[kept] = (*bufs)[i];
			w->keep_lens[kept++] = (*lens)[i];
			continue;
		}
		cnt_add(&w->cnt.d[DC_drop_routing_loop], 1);
		if (!atomic_exchange(&d->loop_logged, true))
			dev_log(d, DEVICE_LOG_ERROR, "a peer's endpoint is routed through this "
				"interface: dropping the packets that loop");
	}
	if (kept < n) {
		*bufs = w->keep_bufs;
		*lens = w->keep_lens;
	}
	return kept;
}

/* A packet waiting for a session; without memory for it, dropped and
 * counted. */
static void stage(struct worker *w, struct dev_peer *p, const uint8_t *pkt, size_t len)
{
	if (!wg_peer_stage(p->wp, pkt, len))
		return;
	cnt_add(&w->cnt.d[DC_drop_no_memory], 1);
	dev_log_once(w->dev, DEV_LOGGED_NOMEM, "out of memory: packets dropped (drop_no_memory)");
}

/* Pads to 16 bytes, never past the MTU (the kernel module's rule). */
static size_t padded_len(size_t len, unsigned int mtu)
{
	size_t p = (len + MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);

	if (len >= mtu)
		return len;
	return p > mtu ? mtu : p;
}

/*
 * Encrypts and sends bufs[0..n) (plaintext at buf + TX_HEAD) to p.
 * Without a usable session they are staged and a handshake is asked for;
 * returns false then.
 */
static bool send_run(struct worker *w, struct dev_peer *p, uint8_t *const *bufs,
		     const size_t *lens, unsigned int n, bool keepalive, uint64_t now)
{
	struct device *d = w->dev;
	unsigned int mtu = atomic_load(&d->mtu), i;
	struct vg_endpoint ep;
	struct noise_keypair *kp;
	struct wg_action act;
	struct vg_bind *b;
	uint64_t nonce, bytes = 0;
	bool has_ep = peer_endpoint(p, &ep);
	unsigned int result;
	int ret;

	if (has_ep && !keepalive) {
		n = drop_own_outer(w, p, &ep, &bufs, &lens, n, now);
		if (!n)
			return true;
	}
	/* Packets staged earlier go first: join the queue behind them. */
	kp = keepalive || w->flushing || !wg_peer_staged_count(p->wp) ?
		wg_peer_send_keypair(p->wp, now, n, &nonce) : NULL;
	if (!kp && !keepalive && !w->flushing && wg_peer_has_current(p->wp)) {
		/* Behind packets already staged: they go first, from the mailbox. */
		struct mbox_item it = { .kind = MBOX_STAGED, .peer = p };

		for (i = 0; i < n; i++)
			stage(w, p, bufs[i] + TX_HEAD, lens[i]);
		dev_mbox_push(w, &it);
		return false;
	}
	if (!kp) {
		for (i = 0; i < n && !keepalive; i++)
			stage(w, p, bufs[i] + TX_HEAD, lens[i]);
		if (!wg_peer_want_handshake(p->wp, now, &act))
			dev_act(w->dev, w, &act, NULL, 0);
		return false;
	}
	for (i = 0; i < n; i++) {
		uint8_t *pkt = bufs[i] + TX_HEAD;
		size_t plen = padded_len(lens[i], mtu);

		memset(pkt + lens[i], 0, plen - lens[i]);
		w->tx_iov[i].iov_base = pkt - MESSAGE_DATA_HEADER_LEN;
		w->tx_iov[i].iov_len = wg_data_seal(kp, nonce + i, pkt, plen);
		bytes += w->tx_iov[i].iov_len;
	}
	b = w->bind;
	if (!b || !has_ep) {
		/* Link down or nowhere to send (as wireguard-go: dropped). */
		noise_keypair_put(kp);
		return true;
	}
	ret = vg_bind_send(b, &ep, w->tx_iov, n, &result);
	src_refused(p, ret, result);
	cnt_add(&p->cnt[w->id].v[keepalive ? PC_keepalives_sent : PC_tx_packets], n);
	cnt_add(&w->cnt.p[keepalive ? PC_keepalives_sent : PC_tx_packets], n);
	cnt_add(&p->cnt[w->id].v[PC_tx_bytes], bytes);
	cnt_add(&w->cnt.p[PC_tx_bytes], bytes);
	wg_peer_sent_data(p->wp, keepalive, now, &act);
	noise_keypair_put(kp);
	dev_act(w->dev, w, &act, NULL, 0);
	return true;
}

/* Destination of an IP packet, or 0 when it is not one we can route. */
static int ip_dst(const uint8_t *pkt, size_t len, const uint8_t **dst)
{
	int fam = ip_family(pkt, len);

	if (fam)
		*dst = ip_dst_addr(pkt, fam);
	return fam;
}

static bool icmp_allowed(struct worker *w, uint64_t now)
{
	/* The kernel rate-limits ICMP errors too; a burst of 16, 16 per second. */
	if (now - w->icmp_tokens_at >= WG_NSEC_PER_SEC) {
		w->icmp_tokens_at = now;
		w->icmp_tokens = 16;
	}
	if (!w->icmp_tokens)
		return false;
	w->icmp_tokens--;
	return true;
}

static void no_route(struct worker *w, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct device *d = w->dev;
	uint8_t *bufs[1] = { w->small_buf };
	uint8_t src[16];
	size_t lens[1];

	cnt_add(&w->cnt.d[DC_drop_no_peer], 1);
	if (!icmp_allowed(w, now))
		return;
	lens[0] = dev_icmp_unreachable(w->small_buf + TX_HEAD, TUN_MAX_PACKET, pkt, len,
				       dev_icmp_source(d, pkt, len, src) ? src : NULL);
	if (!lens[0])
		return;
	if (tun_write(d->tun, w->id, bufs, lens, 1, TX_HEAD) == 1)
		cnt_add(&w->cnt.d[DC_icmp_unreachable_sent], 1);
}

int dev_send_tun_batch(struct worker *w, uint64_t now)
{
	struct device *d = w->dev;
	const uint8_t *dst = NULL;
	uint8_t last_dst[16] = { 0 };
	unsigned int i, start;
	int n, fam, last_fam = 0;

	n = tun_read(d->tun, w->id, w->tx_bufs, w->tx_sizes, TUN_MAX_BATCH, TX_HEAD);
	if (n <= 0)
		return n;
	for (i = 0; i < (unsigned int)n; i++) {
		const uint8_t *pkt = w->tx_bufs[i] + TX_HEAD;

		fam = ip_dst(pkt, w->tx_sizes[i], &dst);
		/* The segments of a super-packet share one destination. */
		if (fam && fam == last_fam &&
		    !memcmp(dst, last_dst, fam == AF_INET ? 4 : 16)) {
			w->tx_peer[i] = w->tx_peer[i - 1];
			if (w->tx_peer[i])
				continue;
		} else {
			w->tx_peer[i] = fam ? route_lookup(w->rt, fam, dst) : NULL;
			last_fam = fam;
			if (fam)
				memcpy(last_dst, dst, fam == AF_INET ? 4 : 16);
		}
		if (!w->tx_peer[i]) {
			if (fam)
				no_route(w, pkt, w->tx_sizes[i], now);
			else
				cnt_add(&w->cnt.d[DC_drop_malformed], 1);
		}
	}
	for (start = 0; start < (unsigned int)n; start = i) {
		struct dev_peer *p = w->tx_peer[start];

		for (i = start + 1; i < (unsigned int)n && w->tx_peer[i] == p; i++)
			;
		if (p)
			send_run(w, p, w->tx_bufs + start, w->tx_sizes + start, i - start, false,
				 now);
	}
	return n;
}

static void send_staged(struct worker *w, struct dev_peer *p, bool keepalive_if_none,
			uint64_t now)
{
	unsigned int n, total = 0;
	ssize_t len;

	w->flushing = true;
	do {
		for (n = 0; n < TUN_MAX_BATCH; n++) {
			len = wg_peer_staged_pop(p->wp, w->tx_bufs[n] + TX_HEAD, TUN_MAX_PACKET);
			if (len <= 0)
				break;
			w->tx_sizes[n] = (size_t)len;
		}
		/* Without a usable session send_run staged them again: stop. */
		if (n && !send_run(w, p, w->tx_bufs, w->tx_sizes, n, false, now))
			break;
		total += n;
	} while (n == TUN_MAX_BATCH);
	w->flushing = false;
	if (!total && keepalive_if_none) {
		uint8_t *bufs[1] = { w->small_buf };
		size_t lens[1] = { 0 };

		send_run(w, p, bufs, lens, 1, true, now);
	}
}

void dev_send_mbox(struct worker *w, struct mbox_item *it, uint64_t now)
{
	struct vg_endpoint ep;
	uint8_t *bufs[1] = { w->small_buf };
	size_t lens[1] = { 0 };

	switch (it->kind) {
	case MBOX_RAW:
		if (!it->len)
			return;
		/* No address: to the peer's endpoint. */
		if (!vg_endpoint_family(&it->ep)) {
			if (it->peer && peer_endpoint(it->peer, &ep))
				send_handshake(w, it->peer, &ep, it->msg, it->len);
			return;
		}
		send_handshake(w, it->peer, &it->ep, it->msg, it->len);
		return;
	case MBOX_KEEPALIVE:
		if (it->peer)
			send_run(w, it->peer, bufs, lens, 1, true, now);
		return;
	case MBOX_STAGED:
	case MBOX_STAGED_KEEPALIVE:
		if (it->peer)
			send_staged(w, it->peer, it->kind == MBOX_STAGED_KEEPALIVE, now);
		return;
	}
}
