/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TUN_IP_H
#define VGUARD_TUN_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>

#include "tun/checksum.h"

/*
 * IPv4, IPv6, TCP and UDP header access in packet buffers.
 *
 * Packets sit at any offset in a buffer, so headers are never read through
 * a struct pointer: the system's structs give the layout (offsetof) and the
 * fields are read and written byte-wise, in network order.  Everything is
 * inline: the data paths call these per packet.  The caller checks the
 * length before reading a field.
 */

#define IP4_HDR_LEN	sizeof(struct ip)	/* without options */
#define IP6_HDR_LEN	sizeof(struct ip6_hdr)	/* without extensions */
#define TCP_HDR_LEN	sizeof(struct tcphdr)	/* without options */
#define UDP_HDR_LEN	sizeof(struct udphdr)

#define IP4_TOS_OFF	offsetof(struct ip, ip_tos)
#define IP4_LEN_OFF	offsetof(struct ip, ip_len)
#define IP4_ID_OFF	offsetof(struct ip, ip_id)
#define IP4_FRAG_OFF	offsetof(struct ip, ip_off)
#define IP4_TTL_OFF	offsetof(struct ip, ip_ttl)
#define IP4_PROTO_OFF	offsetof(struct ip, ip_p)
#define IP4_CSUM_OFF	offsetof(struct ip, ip_sum)
#define IP4_SRC_OFF	offsetof(struct ip, ip_src)
#define IP4_DST_OFF	offsetof(struct ip, ip_dst)

#define IP6_PLEN_OFF	offsetof(struct ip6_hdr, ip6_plen)
#define IP6_NXT_OFF	offsetof(struct ip6_hdr, ip6_nxt)
#define IP6_HLIM_OFF	offsetof(struct ip6_hdr, ip6_hlim)
#define IP6_SRC_OFF	offsetof(struct ip6_hdr, ip6_src)
#define IP6_DST_OFF	offsetof(struct ip6_hdr, ip6_dst)

#define TCP_SEQ_OFF	offsetof(struct tcphdr, th_seq)
#define TCP_ACK_OFF	offsetof(struct tcphdr, th_ack)
#define TCP_DOFF_OFF	(TCP_ACK_OFF + 4)	/* th_off is a bit-field */
#define TCP_FLAGS_OFF	offsetof(struct tcphdr, th_flags)
#define TCP_CSUM_OFF	offsetof(struct tcphdr, th_sum)

#define UDP_LEN_OFF	offsetof(struct udphdr, uh_ulen)
#define UDP_CSUM_OFF	offsetof(struct udphdr, uh_sum)

_Static_assert(IP4_HDR_LEN == 20 && IP6_HDR_LEN == 40 && TCP_HDR_LEN == 20 &&
	       UDP_HDR_LEN == 8 && TCP_FLAGS_OFF == TCP_DOFF_OFF + 1,
	       "the system's header structs have the wire layout");

/* Big-endian loads and stores at any alignment. */
static inline uint16_t ip_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void ip_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t ip_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void ip_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The version nibble, common to both families; needs one byte. */
static inline unsigned int ip_version(const uint8_t *pkt)
{
	return pkt[0] >> 4;
}

/* AF_INET or AF_INET6 when pkt[0..len) holds the fixed header of the
 * version it claims, else 0.  Nothing else is checked. */
static inline int ip_family(const uint8_t *pkt, size_t len)
{
	if (len >= IP4_HDR_LEN && ip_version(pkt) == 4)
		return AF_INET;
	if (len >= IP6_HDR_LEN && ip_version(pkt) == 6)
		return AF_INET6;
	return 0;
}

/* IPv4 header length in bytes (IHL), options included. */
static inline size_t ipv4_hdr_len(const uint8_t *pkt)
{
	return (size_t)(pkt[0] & 0x0f) * 4;
}

static inline uint16_t ipv4_total_len(const uint8_t *pkt)
{
	return ip_get16(pkt + IP4_LEN_OFF);
}

/* Flags and fragment offset, host order: test with IP_MF, IP_OFFMASK... */
static inline uint16_t ipv4_frag(const uint8_t *pkt)
{
	return ip_get16(pkt + IP4_FRAG_OFF);
}

static inline uint16_t ipv6_payload_len(const uint8_t *pkt)
{
	return ip_get16(pkt + IP6_PLEN_OFF);
}

/* Where the source address starts; the destination follows it. */
static inline size_t ip_addr_off(bool v6)
{
	return v6 ? IP6_SRC_OFF : IP4_SRC_OFF;
}

static inline size_t ip_addr_len(bool v6)
{
	return v6 ? sizeof(struct in6_addr) : sizeof(struct in_addr);
}

/* Address pointers of a packet of the given family (AF_INET/AF_INET6). */
static inline const uint8_t *ip_src_addr(const uint8_t *pkt, int family)
{
	return pkt + ip_addr_off(family == AF_INET6);
}

static inline const uint8_t *ip_dst_addr(const uint8_t *pkt, int family)
{
	bool v6 = family == AF_INET6;

	return pkt + ip_addr_off(v6) + ip_addr_len(v6);
}

struct ip_pkt {
	int family;		/* AF_INET or AF_INET6 */
	size_t len;		/* from the header: bytes past it are padding */
	const uint8_t *src;
	const uint8_t *dst;
};

/*
 * A well-formed IP packet: a known version, its fixed header in the buffer
 * and a length field that fits the buffer (IPv4: at least the header, with
 * an IHL of at least 5).  Fills *p and returns true, else returns false.
 */
static inline bool ip_parse(const uint8_t *pkt, size_t len, struct ip_pkt *p)
{
	size_t l;

	p->family = ip_family(pkt, len);
	switch (p->family) {
	case AF_INET:
		l = ipv4_total_len(pkt);
		if (l < IP4_HDR_LEN || l > len || ipv4_hdr_len(pkt) < IP4_HDR_LEN)
			return false;
		break;
	case AF_INET6:
		l = (size_t)ipv6_payload_len(pkt) + IP6_HDR_LEN;
		if (l > len)
			return false;
		break;
	default:
		return false;
	}
	p->len = l;
	p->src = ip_src_addr(pkt, p->family);
	p->dst = ip_dst_addr(pkt, p->family);
	return true;
}

/* The TCP header length in bytes (data offset), options included. */
static inline size_t tcp_hdr_len(const uint8_t *th)
{
	return (size_t)(th[TCP_DOFF_OFF] >> 4) * 4;
}

/* The L4 pseudo-header sum of an IP packet (see csum_pseudo()). */
static inline uint32_t ip_pseudo_sum(const uint8_t *ip, bool v6, uint8_t proto,
				     uint32_t l4_len)
{
	size_t off = ip_addr_off(v6), alen = ip_addr_len(v6);

	return csum_pseudo(ip + off, ip + off + alen, alen, proto, l4_len);
}

#endif
