// SPDX-License-Identifier: MIT
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "tun/checksum.h"
#include "tun/offload.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define IP4_MF 0x20		/* in byte 6 of the IPv4 header */
#define IP4_FLAGS_MASK 0xe0	/* reserved, DF, MF */

#define IP_MAX_LEN 65535

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Source/destination address offset and length in an IP header. */
static inline size_t ip_addr_off(bool v6)
{
	return v6 ? 8 : 12;
}

static inline size_t ip_addr_len(bool v6)
{
	return v6 ? 16 : 4;
}

static uint32_t l4_pseudo(const uint8_t *ip, bool v6, uint8_t proto,
			  uint32_t l4_len)
{
	size_t off = ip_addr_off(v6), alen = ip_addr_len(v6);

	return csum_pseudo(ip + off, ip + off + alen, alen, proto, l4_len);
}

/* ---- Split (TUN read side) ---------------------------------------------- */

struct split_plan {
	bool v6;
	uint8_t proto;
	size_t iph_len;		/* csum_start: IP header incl. extensions */
	size_t hdr_len;		/* IP + L4 header, rebuilt */
	size_t payload;
	size_t nseg;
};

/* GSO_NONE: copy (or keep in place) and finish a partial checksum. */
static int split_none(const struct vnet_hdr *h, const uint8_t *pkt,
		      size_t plen, uint8_t *const *bufs, size_t *sizes,
		      size_t nbufs, size_t headroom, size_t bufcap)
{
	size_t field = (size_t)h->csum_start + h->csum_offset;
	uint8_t *out;
	uint32_t sum;

	if (plen == 0)
		return -EINVAL;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (h->csum_start >= plen || field + 2 > plen)
			return -EINVAL;
	}
	if (nbufs < 1)
		return -ENOBUFS;
	if (plen > bufcap - headroom)
		return -EMSGSIZE;

	out = bufs[0] + headroom;
	if (out != pkt)
		memmove(out, pkt, plen);
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		/* The field holds the kernel's pseudo-header sum: it is the
		 * initial value of the sum over csum_start..end. */
		sum = get16(out + field);
		put16(out + field, 0);
		sum = csum_partial(out + h->csum_start, plen - h->csum_start,
				   sum);
		put16(out + field, csum_finish_nz(sum));
	}
	sizes[0] = plen;
	return 1;
}

/* Validates a GSO header against the packet; never trusts hdr_len. */
static int split_check(const struct vnet_hdr *h, const uint8_t *pkt,
		       size_t plen, struct split_plan *sp)
{
	unsigned version, doff;
	size_t cs = h->csum_start, max_seg;

	if (h->gso_size == 0 || plen < 1)
		return -EINVAL;
	version = pkt[0] >> 4;
	switch (h->gso_type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (version != 4)
			return -EINVAL;
		sp->proto = IPPROTO_TCP_;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (version != 6)
			return -EINVAL;
		sp->proto = IPPROTO_TCP_;
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (version != 4 && version != 6)
			return -EINVAL;
		sp->proto = IPPROTO_UDP_;
		break;
	default:		/* UFO, ECN and anything unknown */
		return -EINVAL;
	}
	sp->v6 = version == 6;

	/* csum_start is the IP header length: it must agree with the IP
	 * header itself, or the segments' headers would be cut wrongly. */
	if (!sp->v6) {
		if (plen < 20 || cs != (size_t)(pkt[0] & 0x0f) * 4 || cs < 20 ||
		    pkt[9] != sp->proto)
			return -EINVAL;
	} else {
		if (plen < 40 || cs < 40 || (cs == 40 && pkt[6] != sp->proto))
			return -EINVAL;
	}
	sp->iph_len = cs;

	if (sp->proto == IPPROTO_TCP_) {
		if (h->csum_offset != 16 || plen < cs + 20)
			return -EINVAL;
		doff = (unsigned)(pkt[cs + 12] >> 4) * 4;
		if (doff < 20 || doff > 60)
			return -EINVAL;
		sp->hdr_len = cs + doff;
	} else {
		if (h->csum_offset != 6)
			return -EINVAL;
		sp->hdr_len = cs + 8;
	}
	if (plen <= sp->hdr_len)
		return -EINVAL;
	sp->payload = plen - sp->hdr_len;

	/* Every segment's IP length must fit its 16-bit field. */
	max_seg = sp->hdr_len - (sp->v6 ? 40 : 0) +
		  (sp->payload < h->gso_size ? sp->payload : h->gso_size);
	if (max_seg > IP_MAX_LEN)
		return -EINVAL;
	sp->nseg = (sp->payload + h->gso_size - 1) / h->gso_size;
	return 0;
}

static void split_segment(const struct split_plan *sp, const uint8_t *pkt,
			  const struct vnet_hdr *h, size_t i, uint8_t *out,
			  size_t seg_pay)
{
	size_t cs = sp->iph_len, len = sp->hdr_len + seg_pay;
	size_t l4_len = len - cs;
	uint32_t sum;

	memcpy(out, pkt, sp->hdr_len);

	if (!sp->v6) {
		put16(out + 2, (uint16_t)len);
		put16(out + 4, (uint16_t)(get16(pkt + 4) + i));
		put16(out + 10, csum_ipv4_header(out, cs));
	} else {
		put16(out + 4, (uint16_t)(len - 40));
	}

	if (sp->proto == IPPROTO_TCP_) {
		put32(out + cs + 4, get32(pkt + cs + 4) + (uint32_t)(i * h->gso_size));
		if (i + 1 < sp->nseg)
			out[cs + 13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		put16(out + cs + 16, 0);
	} else {
		put16(out + cs + 4, (uint16_t)l4_len);
		put16(out + cs + 6, 0);
	}
	/* The L4 header is 8 or a multiple of 4 bytes: even, so the payload
	 * sum chains on; copying and summing the payload is one pass. */
	sum = l4_pseudo(out, sp->v6, sp->proto, (uint32_t)l4_len);
	sum = csum_partial(out + cs, sp->hdr_len - cs, sum);
	sum = csum_copy(out + sp->hdr_len, pkt + sp->hdr_len + i * h->gso_size,
			seg_pay, sum);
	put16(out + cs + (sp->proto == IPPROTO_TCP_ ? 16 : 6),
	      csum_finish_nz(sum));
}

int offload_split(const uint8_t *in, size_t in_len, uint8_t *const *bufs,
		  size_t *sizes, size_t nbufs, size_t headroom, size_t bufcap)
{
	struct vnet_hdr h;
	struct split_plan sp;
	const uint8_t *pkt;
	size_t plen, i, seg_pay;
	int ret;

	if (in_len < VNET_HDR_LEN || headroom > bufcap)
		return -EINVAL;
	vnet_hdr_decode(&h, in);
	pkt = in + VNET_HDR_LEN;
	plen = in_len - VNET_HDR_LEN;

	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return split_none(&h, pkt, plen, bufs, sizes, nbufs, headroom,
				  bufcap);

	ret = split_check(&h, pkt, plen, &sp);
	if (ret < 0)
		return ret;
	if (sp.nseg > nbufs)
		return -ENOBUFS;
	if (sp.hdr_len + (sp.payload < h.gso_size ? sp.payload : h.gso_size) >
	    bufcap - headroom)
		return -EMSGSIZE;

	for (i = 0; i < sp.nseg; i++) {
		seg_pay = sp.payload - i * h.gso_size;
		if (seg_pay > h.gso_size)
			seg_pay = h.gso_size;
		split_segment(&sp, pkt, &h, i, bufs[i] + headroom, seg_pay);
		sizes[i] = sp.hdr_len + seg_pay;
	}
	return (int)sp.nseg;
}

/* ---- GRO (TUN write side) ----------------------------------------------- */

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
	h = fnv1a(h, p->ip + p->iph_len, 4);
	if (p->proto == IPPROTO_TCP_)
		h = fnv1a(h, p->ip + p->iph_len + 8, 4);
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
	return p->proto != IPPROTO_TCP_ ||
	       !memcmp(head + p->iph_len + 8, p->ip + p->iph_len + 8, 4);
}

static bool gro_parse_ip(struct gro_pkt *p)
{
	const uint8_t *ip = p->ip;

	if (p->len < 20)
		return false;
	switch (ip[0] >> 4) {
	case 4:
		/* No options (they are not compared), no fragments, a length
		 * that matches the buffer and a header checksum that holds:
		 * the merged header gets a fresh one. */
		if (ip[0] != 0x45 || get16(ip + 2) != p->len ||
		    (ip[6] & IP4_MF) || ((ip[6] & 0x1f) | ip[7]) ||
		    csum_fold(csum_partial(ip, 20, 0)) != 0xffff)
			return false;
		p->v6 = false;
		p->iph_len = 20;
		p->proto = ip[9];
		return true;
	case 6:
		/* Extension headers are not walked: TCP or UDP must follow. */
		if (p->len < 40 || (size_t)get16(ip + 4) + 40 != p->len)
			return false;
		p->v6 = true;
		p->iph_len = 40;
		p->proto = ip[6];
		return true;
	default:
		return false;
	}
}

static bool gro_parse_tcp(struct gro_pkt *p)
{
	const uint8_t *th = p->ip + p->iph_len;
	size_t doff;

	if (p->len < p->iph_len + 20)
		return false;
	doff = (size_t)(th[12] >> 4) * 4;
	/* The low nibble holds reserved bits and AccECN's AE flag. */
	if (doff < 20 || doff > 60 || (th[12] & 0x0f) ||
	    p->len <= p->iph_len + doff)
		return false;
	if (th[13] != TCP_ACK && th[13] != (TCP_ACK | TCP_PSH))
		return false;
	p->l4h_len = doff;
	p->psh = th[13] & TCP_PSH;
	p->seq = get32(th + 4);
	return true;
}

static bool gro_parse_udp(struct gro_pkt *p)
{
	const uint8_t *uh = p->ip + p->iph_len;

	if (p->len <= p->iph_len + 8)
		return false;
	if (get16(uh + 4) != p->len - p->iph_len)
		return false;
	/* IPv4 UDP without a checksum: nothing to verify, so nothing may be
	 * merged that the kernel would then checksum afresh. */
	if (!p->v6 && get16(uh + 6) == 0)
		return false;
	p->l4h_len = 8;
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
	if (len > IP_MAX_LEN || !gro_parse_ip(p))
		return false;
	if (p->proto == IPPROTO_TCP_ && (t->flags & GRO_TCP))
		ok = gro_parse_tcp(p);
	else if (p->proto == IPPROTO_UDP_ && (t->flags & GRO_UDP))
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
	uint32_t sum = l4_pseudo(ip, v6, proto, (uint32_t)(len - iph_len));

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
				      it->v6 ? 40 : 20)
				   ? CSUM_GOOD : CSUM_BAD;
	return it->csum == CSUM_GOOD;
}

/* ToS/traffic class (ECN included), TTL/hop limit and the IPv4 flags. */
static bool ip_compat(const uint8_t *a, const uint8_t *b, bool v6)
{
	if (v6)
		return a[0] == b[0] && (a[1] & 0xf0) == (b[1] & 0xf0) &&
		       a[7] == b[7];
	return a[1] == b[1] && (a[6] & IP4_FLAGS_MASK) == (b[6] & IP4_FLAGS_MASK) &&
	       a[8] == b[8];
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
	return it->len - (it->v6 ? 40 : 20) - it->l4h_len;
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
	    memcmp(head + p->iph_len + 20, p->ip + p->iph_len + 20,
		   p->l4h_len - 20) ||
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
		sum = l4_pseudo(p->ip, p->v6, p->proto,
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
		head[p->iph_len + 13] |= TCP_PSH;
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
		head[p->iph_len + 13] |= TCP_PSH;
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
		if (it->dead || it->proto != IPPROTO_TCP_ ||
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
		if (t->items[k].proto == IPPROTO_UDP_ &&
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
	size_t iph = it->v6 ? 40 : 20, l4_len = it->len - iph;
	bool tcp = it->proto == IPPROTO_TCP_;
	struct vnet_hdr h;

	if (it->v6) {
		put16(ip + 4, (uint16_t)l4_len);
	} else {
		put16(ip + 2, (uint16_t)it->len);
		put16(ip + 10, csum_ipv4_header(ip, 20));
	}
	if (!tcp)
		put16(ip + iph + 4, (uint16_t)l4_len);
	put16(ip + iph + (tcp ? 16 : 6),
	      csum_fold(l4_pseudo(ip, it->v6, it->proto, (uint32_t)l4_len)));

	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = tcp ? (it->v6 ? VIRTIO_NET_HDR_GSO_TCPV6
				   : VIRTIO_NET_HDR_GSO_TCPV4)
			 : VIRTIO_NET_HDR_GSO_UDP_L4;
	h.hdr_len = (uint16_t)(iph + it->l4h_len);
	h.gso_size = it->gso_size;
	h.csum_start = (uint16_t)iph;
	h.csum_offset = tcp ? 16 : 6;
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
	c.maxlen = bufcap - offset < IP_MAX_LEN ? bufcap - offset : IP_MAX_LEN;
	c.stats = stats;
	t->nitems = 0;

	for (i = 0; i < n; i++) {
		t->slot_item[i] = -1;
		merged = false;
		if (gro_parse(t, bufs[i] + offset, lens[i], &p))
			merged = p.proto == IPPROTO_TCP_ ? gro_tcp(&c, i, &p)
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
			stats->coalesced[it->proto == IPPROTO_TCP_ ? GRO_PROTO_TCP
							    : GRO_PROTO_UDP]++;
		} else {
			memset(vnet, 0, VNET_HDR_LEN);
		}
	}
	return (int)nout;
}
