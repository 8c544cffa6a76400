/* SPDX-License-Identifier: MIT */
/*
 * The TUN write side of the offload engine: TCP and UDP GRO, a batch of
 * packets merged in place into super-packets (see tun/offload.h).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "tun/checksum.h"
#include "tun/ip.h"
#include "tun/offload.h"

/* Version and traffic class: the top 12 bits of an IPv6 header's first
 * word (ip6_flow), above the flow label. */
#define IP6_VERSION_TCLASS 0xfff00000u

enum csum_state {
	CSUM_UNKNOWN,
	CSUM_GOOD,
	CSUM_BAD,
};

/* A candidate packet, parsed once. */
struct gro_pkt {
	uint8_t *ip;
	size_t len;
	size_t iph_len;
	size_t l4h_len;
	size_t payload;
	uint32_t seq;
	uint32_t hash;
	uint8_t proto;
	bool v6;
	bool psh;
	enum csum_state csum;
};

/* A packet that is written and may absorb others: its head bytes stay in
 * its own slot, idx. */
struct gro_item {
	uint32_t hash;
	uint32_t seq;		/* TCP: sequence number of the first byte */
	uint32_t len;		/* IP length of the (merged) packet */
	uint16_t idx;
	uint16_t gso_size;
	uint16_t nseg;
	uint8_t proto;
	uint8_t l4h_len;
	bool v6;
	bool psh;
	bool dead;		/* TCP: dropped from the table, written as is */
	uint8_t csum;		/* enum csum_state of the head as received */
};

static inline size_t item_iph_len(const struct gro_item *it)
{
	return it->v6 ? IP6_HDR_LEN : IP4_HDR_LEN;
}

struct gro_table {
	unsigned flags;
	unsigned nitems;
	int16_t slot_item[GRO_MAX_BATCH];
	struct gro_item items[GRO_MAX_BATCH];
};

size_t gro_table_size(void)
{
	return sizeof(struct gro_table);
}

void gro_table_init(struct gro_table *t, unsigned flags)
{
	memset(t, 0, sizeof(*t));
	t->flags = flags;
}

static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t n)
{
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* The flow key: addresses, ports, and for TCP the ACK number, so that
 * segments with different ACKs are different flows. */
static uint32_t gro_hash(const struct gro_pkt *p)
{
	uint32_t h = 2166136261u ^ p->proto ^ (p->v6 ? 0x100 : 0);

	h = fnv1a(h, p->ip + ip_addr_off(p->v6), 2 * ip_addr_len(p->v6));
	h = fnv1a(h, p->ip + p->iph_len, 4);	/* both ports */
	if (p->proto == IPPROTO_TCP)
		h = fnv1a(h, p->ip + p->iph_len + TCP_ACK_OFF, 4);
	return h;
}

static bool gro_same_flow(const struct gro_item *it, const uint8_t *head,
			  const struct gro_pkt *p)
{
	size_t aoff = ip_addr_off(p->v6), alen = 2 * ip_addr_len(p->v6);

	if (it->hash != p->hash || it->proto != p->proto || it->v6 != p->v6)
		return false;
	if (memcmp(head + aoff, p->ip + aoff, alen) ||
	    memcmp(head + p->iph_len, p->ip + p->iph_len, 4))
		return false;
	return p->proto != IPPROTO_TCP ||
	       !memcmp(head + p->iph_len + TCP_ACK_OFF,
		       p->ip + p->iph_len + TCP_ACK_OFF, 4);
}

static bool gro_parse_ip(struct gro_pkt *p)
{
	const uint8_t *ip = p->ip;

	switch (ip_family(ip, p->len)) {
	case AF_INET:
		/* No options (they are not compared), no fragments, a length
		 * that matches the buffer and a header checksum that holds:
		 * the merged header gets a fresh one. */
		if (ipv4_hdr_len(ip) != IP4_HDR_LEN ||
		    ipv4_total_len(ip) != p->len ||
		    (ipv4_frag(ip) & (IP_MF | IP_OFFMASK)) ||
		    csum_fold(csum_partial(ip, IP4_HDR_LEN, 0)) != 0xffff)
			return false;
		p->v6 = false;
		p->iph_len = IP4_HDR_LEN;
		p->proto = ip[IP4_PROTO_OFF];
		return true;
	case AF_INET6:
		/* Extension headers are not walked: TCP or UDP must follow. */
		if ((size_t)ipv6_payload_len(ip) + IP6_HDR_LEN != p->len)
			return false;
		p->v6 = true;
		p->iph_len = IP6_HDR_LEN;
		p->proto = ip[IP6_NXT_OFF];
		return true;
	default:
		return false;
	}
}

static bool gro_parse_tcp(struct gro_pkt *p)
{
	const uint8_t *th = p->ip + p->iph_len;
	size_t doff;

	if (p->len < p->iph_len + TCP_HDR_LEN)
		return false;
	doff = tcp_hdr_len(th);
	/* The low nibble holds reserved bits and AccECN's AE flag. */
	if (doff < TCP_HDR_LEN || doff > 60 || (th[TCP_DOFF_OFF] & 0x0f) ||
	    p->len <= p->iph_len + doff)
		return false;
	if (th[TCP_FLAGS_OFF] != TH_ACK &&
	    th[TCP_FLAGS_OFF] != (TH_ACK | TH_PUSH))
		return false;
	p->l4h_len = doff;
	p->psh = th[TCP_FLAGS_OFF] & TH_PUSH;
	p->seq = ip_get32(th + TCP_SEQ_OFF);
	return true;
}

static bool gro_parse_udp(struct gro_pkt *p)
{
	const uint8_t *uh = p->ip + p->iph_len;

	if (p->len <= p->iph_len + UDP_HDR_LEN)
		return false;
	if (ip_get16(uh + UDP_LEN_OFF) != p->len - p->iph_len)
		return false;
	/* IPv4 UDP without a checksum: nothing to verify, so nothing may be
	 * merged that the kernel would then checksum afresh. */
	if (!p->v6 && ip_get16(uh + UDP_CSUM_OFF) == 0)
		return false;
	p->l4h_len = UDP_HDR_LEN;
	p->psh = false;
	p->seq = 0;
	return true;
}

static bool gro_parse(const struct gro_table *t, uint8_t *ip, size_t len,
		      struct gro_pkt *p)
{
	bool ok;

	p->ip = ip;
	p->len = len;
	p->csum = CSUM_UNKNOWN;
	if (len > IP_MAXPACKET || !gro_parse_ip(p))
		return false;
	if (p->proto == IPPROTO_TCP && (t->flags & GRO_TCP))
		ok = gro_parse_tcp(p);
	else if (p->proto == IPPROTO_UDP && (t->flags & GRO_UDP))
		ok = gro_parse_udp(p);
	else
		ok = false;
	if (!ok)
		return false;
	p->payload = len - p->iph_len - p->l4h_len;
	p->hash = gro_hash(p);
	return true;
}

static bool l4_csum_ok(const uint8_t *ip, size_t len, bool v6, uint8_t proto,
		       size_t iph_len)
{
	uint32_t sum = ip_pseudo_sum(ip, v6, proto, (uint32_t)(len - iph_len));

	return csum_fold(csum_partial(ip + iph_len, len - iph_len, sum)) ==
	       0xffff;
}

static bool pkt_csum_ok(struct gro_pkt *p)
{
	if (p->csum == CSUM_UNKNOWN)
		p->csum = l4_csum_ok(p->ip, p->len, p->v6, p->proto, p->iph_len)
				  ? CSUM_GOOD : CSUM_BAD;
	return p->csum == CSUM_GOOD;
}

/* Only an unmerged head still has its own checksum to verify. */
static bool item_csum_ok(struct gro_item *it, const uint8_t *head)
{
	if (it->csum == CSUM_UNKNOWN)
		it->csum = l4_csum_ok(head, it->len, it->v6, it->proto,
				      item_iph_len(it))
				   ? CSUM_GOOD : CSUM_BAD;
	return it->csum == CSUM_GOOD;
}

/* ToS/traffic class (ECN included), TTL/hop limit and the IPv4 flags. */
static bool ip_compat(const uint8_t *a, const uint8_t *b, bool v6)
{
	if (v6)
		return !((ip_get32(a) ^ ip_get32(b)) & IP6_VERSION_TCLASS) &&
		       a[IP6_HLIM_OFF] == b[IP6_HLIM_OFF];
	return a[IP4_TOS_OFF] == b[IP4_TOS_OFF] &&
	       !((ipv4_frag(a) ^ ipv4_frag(b)) & (IP_RF | IP_DF | IP_MF)) &&
	       a[IP4_TTL_OFF] == b[IP4_TTL_OFF];
}

struct gro_ctx {
	struct gro_table *t;
	uint8_t *const *bufs;
	size_t offset;
	size_t maxlen;		/* IP length limit of a merged packet */
	struct gro_stats *stats;
};

static inline uint8_t *item_head(const struct gro_ctx *c,
				 const struct gro_item *it)
{
	return c->bufs[it->idx] + c->offset;
}

static bool item_room(const struct gro_ctx *c, const struct gro_item *it,
		      const struct gro_pkt *p)
{
	return it->nseg < GRO_MAX_SEGMENTS && it->len + p->payload <= c->maxlen;
}

static inline size_t item_payload(const struct gro_item *it)
{
	return it->len - item_iph_len(it) - it->l4h_len;
}

enum merge_kind {
	MERGE_NONE,
	MERGE_APPEND,
	MERGE_PREPEND,
};

static enum merge_kind tcp_merge_kind(const struct gro_ctx *c,
				      const struct gro_item *it,
				      const struct gro_pkt *p)
{
	const uint8_t *head = item_head(c, it);
	size_t ipay = item_payload(it);

	if (it->l4h_len != p->l4h_len ||
	    memcmp(head + p->iph_len + TCP_HDR_LEN,
		   p->ip + p->iph_len + TCP_HDR_LEN, p->l4h_len - TCP_HDR_LEN) ||
	    !ip_compat(head, p->ip, p->v6) || !item_room(c, it, p))
		return MERGE_NONE;
	if (p->seq == it->seq + (uint32_t)ipay) {
		/* PSH or a short segment ends a merged packet. */
		if (it->psh || ipay % it->gso_size || p->payload > it->gso_size)
			return MERGE_NONE;
		return MERGE_APPEND;
	}
	if (p->seq + (uint32_t)p->payload == it->seq) {
		if (p->psh || p->payload < it->gso_size ||
		    (p->payload > it->gso_size && it->nseg > 1))
			return MERGE_NONE;
		return MERGE_PREPEND;
	}
	return MERGE_NONE;
}

/* Appends p's payload to the item, verifying p's checksum while copying
 * when it is not known yet: the copy lands in the head buffer's free
 * space, so a bad packet leaves nothing the item's length covers. */
static bool merge_append(const struct gro_ctx *c, struct gro_item *it,
			 struct gro_pkt *p)
{
	uint8_t *head = item_head(c, it);
	const uint8_t *l4 = p->ip + p->iph_len;
	uint32_t sum;

	if (p->csum == CSUM_UNKNOWN) {
		sum = ip_pseudo_sum(p->ip, p->v6, p->proto,
				(uint32_t)(p->len - p->iph_len));
		sum = csum_partial(l4, p->l4h_len, sum);
		sum = csum_copy(head + it->len, l4 + p->l4h_len, p->payload, sum);
		p->csum = csum_fold(sum) == 0xffff ? CSUM_GOOD : CSUM_BAD;
	} else if (p->csum == CSUM_GOOD) {
		memcpy(head + it->len, l4 + p->l4h_len, p->payload);
	}
	if (p->csum != CSUM_GOOD)
		return false;
	it->len += (uint32_t)p->payload;
	it->nseg++;
	if (p->psh) {
		it->psh = true;
		head[p->iph_len + TCP_FLAGS_OFF] |= TH_PUSH;
	}
	return true;
}

/* The packet goes in front of the item: the item keeps its slot (and so
 * its place in the write order), its payload moves up and the packet's
 * headers and payload go in front.  Rare: only reordered input. */
static void merge_prepend(const struct gro_ctx *c, struct gro_item *it,
			  const struct gro_pkt *p)
{
	uint8_t *head = item_head(c, it);
	size_t hl = p->iph_len + p->l4h_len;

	memmove(head + hl + p->payload, head + hl, item_payload(it));
	memcpy(head, p->ip, hl + p->payload);
	if (it->psh)
		head[p->iph_len + TCP_FLAGS_OFF] |= TH_PUSH;
	if (p->payload > it->gso_size)
		it->gso_size = (uint16_t)p->payload;
	it->seq = p->seq;
	it->len += (uint32_t)p->payload;
	it->nseg++;
}

static struct gro_item *item_add(struct gro_ctx *c, size_t idx,
				 const struct gro_pkt *p)
{
	struct gro_table *t = c->t;
	struct gro_item *it = &t->items[t->nitems];

	t->slot_item[idx] = (int16_t)t->nitems++;
	it->hash = p->hash;
	it->seq = p->seq;
	it->len = (uint32_t)p->len;
	it->idx = (uint16_t)idx;
	it->gso_size = (uint16_t)p->payload;
	it->nseg = 1;
	it->proto = p->proto;
	it->l4h_len = (uint8_t)p->l4h_len;
	it->v6 = p->v6;
	it->psh = p->psh;
	it->dead = false;
	it->csum = (uint8_t)p->csum;
	return it;
}

/* Returns true if p was merged into an item (and so is not written). */
static bool gro_tcp(struct gro_ctx *c, size_t idx, struct gro_pkt *p)
{
	struct gro_table *t = c->t;
	struct gro_item *it;
	enum merge_kind kind;
	unsigned k;

	for (k = t->nitems; k-- > 0;) {
		it = &t->items[k];
		if (it->dead || it->proto != IPPROTO_TCP ||
		    !gro_same_flow(it, item_head(c, it), p))
			continue;
		kind = tcp_merge_kind(c, it, p);
		if (kind == MERGE_NONE)
			continue;
		if (!item_csum_ok(it, item_head(c, it))) {
			/* Still written, with a zero header, never merged. */
			it->dead = true;
			c->stats->bad_csum++;
			continue;
		}
		if (kind == MERGE_APPEND ? !merge_append(c, it, p)
					 : !pkt_csum_ok(p)) {
			c->stats->bad_csum++;
			return false;	/* written alone, not a new item */
		}
		if (kind == MERGE_PREPEND)
			merge_prepend(c, it, p);
		c->stats->merged[GRO_PROTO_TCP]++;
		return true;
	}
	item_add(c, idx, p);
	return false;
}

static bool gro_udp(struct gro_ctx *c, size_t idx, struct gro_pkt *p)
{
	struct gro_table *t = c->t;
	struct gro_item *it = NULL;
	unsigned k;

	/* Only the newest packet of the flow: UDP is never reordered. */
	for (k = t->nitems; k-- > 0;) {
		if (t->items[k].proto == IPPROTO_UDP &&
		    gro_same_flow(&t->items[k], item_head(c, &t->items[k]), p)) {
			it = &t->items[k];
			break;
		}
	}
	if (!it || it->csum == CSUM_BAD || !ip_compat(item_head(c, it), p->ip, p->v6) ||
	    item_payload(it) % it->gso_size || p->payload > it->gso_size ||
	    !item_room(c, it, p))
		goto add;
	if (!item_csum_ok(it, item_head(c, it))) {
		c->stats->bad_csum++;
		goto add;
	}
	if (!merge_append(c, it, p)) {
		c->stats->bad_csum++;
		goto add;
	}
	c->stats->merged[GRO_PROTO_UDP]++;
	return true;
add:
	item_add(c, idx, p);
	return false;
}

/* Final headers of a merged packet; its L4 checksum field gets the
 * pseudo-header sum (CHECKSUM_PARTIAL), which the kernel completes. */
static void item_finish(const struct gro_ctx *c, const struct gro_item *it,
			uint8_t *vnet)
{
	uint8_t *ip = item_head(c, it);
	size_t iph = item_iph_len(it), l4_len = it->len - iph;
	bool tcp = it->proto == IPPROTO_TCP;
	size_t csum_off = tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	struct vnet_hdr h;

	if (it->v6) {
		ip_put16(ip + IP6_PLEN_OFF, (uint16_t)l4_len);
	} else {
		ip_put16(ip + IP4_LEN_OFF, (uint16_t)it->len);
		ip_put16(ip + IP4_CSUM_OFF, csum_ipv4_header(ip, IP4_HDR_LEN));
	}
	if (!tcp)
		ip_put16(ip + iph + UDP_LEN_OFF, (uint16_t)l4_len);
	ip_put16(ip + iph + csum_off,
		 csum_fold(ip_pseudo_sum(ip, it->v6, it->proto, (uint32_t)l4_len)));

	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = tcp ? (it->v6 ? VIRTIO_NET_HDR_GSO_TCPV6
				   : VIRTIO_NET_HDR_GSO_TCPV4)
			 : VIRTIO_NET_HDR_GSO_UDP_L4;
	h.hdr_len = (uint16_t)(iph + it->l4h_len);
	h.gso_size = it->gso_size;
	h.csum_start = (uint16_t)iph;
	h.csum_offset = (uint16_t)csum_off;
	vnet_hdr_encode(vnet, &h);
}

static int gro_check_args(const size_t *lens, size_t n, size_t offset,
			  size_t bufcap)
{
	size_t i;

	if (n > GRO_MAX_BATCH || offset < VNET_HDR_LEN || offset > bufcap)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (lens[i] > bufcap - offset)
			return -EINVAL;
	return 0;
}

int gro_batch(struct gro_table *t, uint8_t *const *bufs, size_t *lens,
	      size_t n, size_t offset, size_t bufcap, uint16_t *out,
	      struct gro_stats *stats)
{
	struct gro_stats dummy;
	struct gro_ctx c;
	struct gro_pkt p;
	struct gro_item *it;
	size_t i, nout = 0;
	bool merged;
	int ret;

	ret = gro_check_args(lens, n, offset, bufcap);
	if (ret < 0)
		return ret;
	if (!stats) {
		memset(&dummy, 0, sizeof(dummy));
		stats = &dummy;
	}
	c.t = t;
	c.bufs = bufs;
	c.offset = offset;
	c.maxlen = bufcap - offset < IP_MAXPACKET ? bufcap - offset : IP_MAXPACKET;
	c.stats = stats;
	t->nitems = 0;

	for (i = 0; i < n; i++) {
		t->slot_item[i] = -1;
		merged = false;
		if (gro_parse(t, bufs[i] + offset, lens[i], &p))
			merged = p.proto == IPPROTO_TCP ? gro_tcp(&c, i, &p)
							 : gro_udp(&c, i, &p);
		if (!merged)
			out[nout++] = (uint16_t)i;
	}

	/* Every packet written gets a header: a zero one unless merged. */
	for (i = 0; i < nout; i++) {
		uint8_t *vnet = bufs[out[i]] + offset - VNET_HDR_LEN;

		it = t->slot_item[out[i]] < 0 ? NULL
					      : &t->items[t->slot_item[out[i]]];
		if (it && it->nseg > 1 && !it->dead) {
			item_finish(&c, it, vnet);
			lens[out[i]] = it->len;
			stats->coalesced[it->proto == IPPROTO_TCP ? GRO_PROTO_TCP
							    : GRO_PROTO_UDP]++;
		} else {
			memset(vnet, 0, VNET_HDR_LEN);
		}
	}
	return (int)nout;
}
