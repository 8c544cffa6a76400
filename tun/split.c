/* SPDX-License-Identifier: MIT */
/*
 * The TUN read side of the offload engine: a TSO/USO super-packet from an
 * IFF_VNET_HDR TUN becomes complete packets (see tun/offload.h).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "tun/checksum.h"
#include "tun/ip.h"
#include "tun/offload.h"

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
		sum = ip_get16(out + field);
		ip_put16(out + field, 0);
		sum = csum_partial(out + h->csum_start, plen - h->csum_start,
				   sum);
		ip_put16(out + field, csum_finish_nz(sum));
	}
	sizes[0] = plen;
	return 1;
}

/* Validates a GSO header against the packet; never trusts hdr_len. */
static int split_check(const struct vnet_hdr *h, const uint8_t *pkt,
		       size_t plen, struct split_plan *sp)
{
	unsigned int version;
	size_t cs = h->csum_start, doff, max_seg;

	if (h->gso_size == 0 || plen < 1)
		return -EINVAL;
	version = ip_version(pkt);
	switch (h->gso_type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (version != 4)
			return -EINVAL;
		sp->proto = IPPROTO_TCP;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (version != 6)
			return -EINVAL;
		sp->proto = IPPROTO_TCP;
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (version != 4 && version != 6)
			return -EINVAL;
		sp->proto = IPPROTO_UDP;
		break;
	default:		/* UFO, ECN and anything unknown */
		return -EINVAL;
	}
	sp->v6 = version == 6;

	/* csum_start is the IP header length: it must agree with the IP
	 * header itself, or the segments' headers would be cut wrongly. */
	if (!sp->v6) {
		if (plen < IP4_HDR_LEN || cs != ipv4_hdr_len(pkt) ||
		    cs < IP4_HDR_LEN || pkt[IP4_PROTO_OFF] != sp->proto)
			return -EINVAL;
	} else {
		if (plen < IP6_HDR_LEN || cs < IP6_HDR_LEN ||
		    (cs == IP6_HDR_LEN && pkt[IP6_NXT_OFF] != sp->proto))
			return -EINVAL;
	}
	sp->iph_len = cs;

	if (sp->proto == IPPROTO_TCP) {
		if (h->csum_offset != TCP_CSUM_OFF || plen < cs + TCP_HDR_LEN)
			return -EINVAL;
		doff = tcp_hdr_len(pkt + cs);
		if (doff < TCP_HDR_LEN || doff > 60)
			return -EINVAL;
		sp->hdr_len = cs + doff;
	} else {
		if (h->csum_offset != UDP_CSUM_OFF)
			return -EINVAL;
		sp->hdr_len = cs + UDP_HDR_LEN;
	}
	if (plen <= sp->hdr_len)
		return -EINVAL;
	sp->payload = plen - sp->hdr_len;

	/* Every segment's IP length must fit its 16-bit field. */
	max_seg = sp->hdr_len - (sp->v6 ? IP6_HDR_LEN : 0) +
		  (sp->payload < h->gso_size ? sp->payload : h->gso_size);
	if (max_seg > IP_MAXPACKET)
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
	uint8_t *l4 = out + cs;
	uint32_t sum;

	memcpy(out, pkt, sp->hdr_len);

	if (!sp->v6) {
		ip_put16(out + IP4_LEN_OFF, (uint16_t)len);
		ip_put16(out + IP4_ID_OFF,
			 (uint16_t)(ip_get16(pkt + IP4_ID_OFF) + i));
		ip_put16(out + IP4_CSUM_OFF, csum_ipv4_header(out, cs));
	} else {
		ip_put16(out + IP6_PLEN_OFF, (uint16_t)(len - IP6_HDR_LEN));
	}

	if (sp->proto == IPPROTO_TCP) {
		ip_put32(l4 + TCP_SEQ_OFF, ip_get32(pkt + cs + TCP_SEQ_OFF) +
					   (uint32_t)(i * h->gso_size));
		if (i + 1 < sp->nseg)
			l4[TCP_FLAGS_OFF] &= (uint8_t)~(TH_FIN | TH_PUSH);
		ip_put16(l4 + TCP_CSUM_OFF, 0);
	} else {
		ip_put16(l4 + UDP_LEN_OFF, (uint16_t)l4_len);
		ip_put16(l4 + UDP_CSUM_OFF, 0);
	}
	/* The L4 header is 8 or a multiple of 4 bytes: even, so the payload
	 * sum chains on; copying and summing the payload is one pass. */
	sum = ip_pseudo_sum(out, sp->v6, sp->proto, (uint32_t)l4_len);
	sum = csum_partial(l4, sp->hdr_len - cs, sum);
	sum = csum_copy(out + sp->hdr_len, pkt + sp->hdr_len + i * h->gso_size,
			seg_pay, sum);
	ip_put16(l4 + (sp->proto == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF),
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
