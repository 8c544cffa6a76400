/* SPDX-License-Identifier: MIT */
/*
 * "Destination unreachable" for a packet with no peer, as the kernel module
 * answers it (ICMP host unreachable / ICMPv6 address unreachable), written
 * back into the TUN so the sender learns at once.
 */
#include "config.h"

#include <string.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>

#include "device/device_impl.h"
#include "tun/checksum.h"
#include "tun/ip.h"

#define ICMP_V4_MAX 576		/* RFC 1812 4.3.2.3 */
#define ICMP_V6_MAX 1280	/* RFC 4443 2.4 (c) */

#define ICMP_V4_HEAD (sizeof(struct ip) + sizeof(struct icmphdr))
#define ICMP_V6_HEAD (sizeof(struct ip6_hdr) + sizeof(struct icmp6_hdr))

/* The queries and replies an error may be about; any other type counts as
 * an error itself. */
static bool icmp4_query(uint8_t type)
{
	switch (type) {
	case ICMP_ECHOREPLY:
	case ICMP_ECHO:
	case ICMP_TIMESTAMP:
	case ICMP_TIMESTAMPREPLY:
	case ICMP_INFO_REQUEST:
	case ICMP_ADDRESS:
		return true;
	default:
		return false;
	}
}

static bool v4_answerable(const uint8_t *pkt, size_t len)
{
	const uint8_t *src = ip_src_addr(pkt, AF_INET);
	const uint8_t *dst = ip_dst_addr(pkt, AF_INET);
	size_t ihl = ipv4_hdr_len(pkt);

	if (ihl < IP4_HDR_LEN || ihl > len || (ipv4_frag(pkt) & IP_OFFMASK))
		return false;
	/* No errors about errors, nor to multicast, broadcast or "this" hosts. */
	if (pkt[IP4_PROTO_OFF] == IPPROTO_ICMP && len >= ihl + 1 &&
	    !icmp4_query(pkt[ihl + offsetof(struct icmphdr, type)]))
		return false;
	if (src[0] >= 224 || src[0] == 0 || dst[0] >= 224)
		return false;
	return true;
}

static size_t icmp4(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		    const uint8_t *src)
{
	struct ip iph;
	struct icmphdr ih;
	size_t quote = len, total;
	uint32_t sum;

	if (!v4_answerable(pkt, len))
		return 0;
	if (quote > ICMP_V4_MAX - ICMP_V4_HEAD)
		quote = ICMP_V4_MAX - ICMP_V4_HEAD;
	total = ICMP_V4_HEAD + quote;
	if (total > cap)
		return 0;

	memset(&iph, 0, sizeof(iph));
	iph.ip_v = 4;
	iph.ip_hl = sizeof(iph) / 4;
	iph.ip_len = htons((uint16_t)total);
	iph.ip_ttl = 64;
	iph.ip_p = IPPROTO_ICMP;
	memcpy(&iph.ip_src, src ? src : ip_dst_addr(pkt, AF_INET), sizeof(iph.ip_src));
	memcpy(&iph.ip_dst, ip_src_addr(pkt, AF_INET), sizeof(iph.ip_dst));
	iph.ip_sum = htons(csum_ipv4_header(&iph, sizeof(iph)));
	memcpy(out, &iph, sizeof(iph));

	memset(&ih, 0, sizeof(ih));
	ih.type = ICMP_DEST_UNREACH;
	ih.code = ICMP_HOST_UNREACH;
	sum = csum_partial(&ih, sizeof(ih), 0);
	sum = csum_copy(out + ICMP_V4_HEAD, pkt, quote, sum);
	ih.checksum = htons(csum_finish(sum));
	memcpy(out + sizeof(iph), &ih, sizeof(ih));
	return total;
}

static bool v6_answerable(const uint8_t *pkt, size_t len)
{
	static const uint8_t unspec[sizeof(struct in6_addr)];
	const uint8_t *src = ip_src_addr(pkt, AF_INET6);
	const uint8_t *dst = ip_dst_addr(pkt, AF_INET6);

	/* No errors about ICMPv6 errors, nor about multicast (ff00::/8) or
	 * unspecified addresses. */
	if (pkt[IP6_NXT_OFF] == IPPROTO_ICMPV6 && len > IP6_HDR_LEN &&
	    !(pkt[IP6_HDR_LEN + offsetof(struct icmp6_hdr, icmp6_type)] &
	      ICMP6_INFOMSG_MASK))
		return false;
	if (src[0] == 0xff || dst[0] == 0xff || !memcmp(src, unspec, sizeof(unspec)))
		return false;
	return true;
}

static size_t icmp6(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		    const uint8_t *src)
{
	struct ip6_hdr ip6;
	struct icmp6_hdr ih;
	size_t quote = len, total;
	uint32_t sum;

	if (!v6_answerable(pkt, len))
		return 0;
	if (quote > ICMP_V6_MAX - ICMP_V6_HEAD)
		quote = ICMP_V6_MAX - ICMP_V6_HEAD;
	total = ICMP_V6_HEAD + quote;
	if (total > cap)
		return 0;

	memset(&ip6, 0, sizeof(ip6));
	ip6.ip6_vfc = 6 << 4;	/* traffic class and flow label 0 */
	ip6.ip6_plen = htons((uint16_t)(sizeof(ih) + quote));
	ip6.ip6_nxt = IPPROTO_ICMPV6;
	ip6.ip6_hlim = 64;
	memcpy(&ip6.ip6_src, src ? src : ip_dst_addr(pkt, AF_INET6), sizeof(ip6.ip6_src));
	memcpy(&ip6.ip6_dst, ip_src_addr(pkt, AF_INET6), sizeof(ip6.ip6_dst));
	memcpy(out, &ip6, sizeof(ip6));

	memset(&ih, 0, sizeof(ih));
	ih.icmp6_type = ICMP6_DST_UNREACH;
	ih.icmp6_code = ICMP6_DST_UNREACH_ADDR;
	sum = csum_pseudo(&ip6.ip6_src, &ip6.ip6_dst, sizeof(ip6.ip6_src),
			  IPPROTO_ICMPV6, (uint32_t)(sizeof(ih) + quote));
	sum = csum_partial(&ih, sizeof(ih), sum);
	sum = csum_copy(out + ICMP_V6_HEAD, pkt, quote, sum);
	ih.icmp6_cksum = htons(csum_finish(sum));
	memcpy(out + sizeof(ip6), &ih, sizeof(ih));
	return total;
}

size_t dev_icmp_unreachable(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			    const uint8_t *src)
{
	switch (ip_family(pkt, len)) {
	case AF_INET:
		return icmp4(out, cap, pkt, len, src);
	case AF_INET6:
		return icmp6(out, cap, pkt, len, src);
	default:
		return 0;
	}
}
