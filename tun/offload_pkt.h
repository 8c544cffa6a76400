/* SPDX-License-Identifier: MIT */
/* Packet builders and reference checksums shared by the offload tests,
 * the fuzz targets and the benchmark.  Everything is built field by field
 * from a spec, independently of the offload engine.  Not part of
 * liboffload.a; it lives here so that tools/bench need not reach into
 * tests/. */
#ifndef VGUARD_TUN_OFFLOAD_PKT_H
#define VGUARD_TUN_OFFLOAD_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PKT_TCP 6
#define PKT_UDP 17

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

struct pkt_spec {
	bool v6;
	uint8_t proto;		/* PKT_TCP or PKT_UDP */
	uint8_t src, dst;	/* last address byte: 192.0.2.x, 2001:db8::x */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;		/* TCP flags */
	uint16_t window;
	uint8_t ttl;		/* TTL / hop limit */
	uint8_t tos;		/* ToS / traffic class */
	uint8_t frag;		/* IPv4 byte 6 (0x40 DF, 0x20 MF) */
	uint16_t id;
	uint32_t flow;		/* IPv6 flow label */
	uint8_t optlen;		/* TCP option bytes (multiple of 4) */
	uint8_t opts[40];
	size_t payload;
	uint32_t pay_off;	/* payload byte j is pkt_pattern(pay_off + j) */
};

/* The defaults of wireguard-go's tests: TTL 64, ack 1, window 3000. */
static inline struct pkt_spec pkt_default(bool v6, uint8_t proto,
					  size_t payload, uint32_t seq)
{
	struct pkt_spec s;

	memset(&s, 0, sizeof(s));
	s.v6 = v6;
	s.proto = proto;
	s.src = 1;
	s.dst = 2;
	s.sport = 1;
	s.dport = 1;
	s.seq = seq;
	s.ack = 1;
	s.flags = TH_ACK;
	s.window = 3000;
	s.ttl = 64;
	s.payload = payload;
	s.pay_off = seq;
	return s;
}

static inline uint8_t pkt_pattern(uint32_t x)
{
	return (uint8_t)(x * 131u + (x >> 8) * 7u + 3u);
}

static inline void pkt_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t pkt_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void pkt_put32(uint8_t *p, uint32_t v)
{
	pkt_put16(p, (uint16_t)(v >> 16));
	pkt_put16(p + 2, (uint16_t)v);
}

static inline uint32_t pkt_get32(const uint8_t *p)
{
	return (uint32_t)pkt_get16(p) << 16 | pkt_get16(p + 2);
}

/* Byte-by-byte RFC 1071 reference: big-endian words, odd byte high. */
static inline uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t s = sum;
	size_t i;

	for (i = 0; i < len; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

static inline size_t pkt_iph(const struct pkt_spec *s)
{
	return s->v6 ? 40 : 20;
}

static inline size_t pkt_l4h(const struct pkt_spec *s)
{
	return s->proto == PKT_TCP ? 20u + s->optlen : 8u;
}

static inline size_t pkt_len(const struct pkt_spec *s)
{
	return pkt_iph(s) + pkt_l4h(s) + s->payload;
}

/* Reference pseudo-header sum of an IP packet (addresses from the header). */
static inline uint32_t ref_pseudo(const uint8_t *ip, bool v6, uint8_t proto,
				  uint32_t l4len)
{
	uint8_t tail[4];
	uint32_t s;

	s = v6 ? ref_sum(ip + 8, 32, 0) : ref_sum(ip + 12, 8, 0);
	tail[0] = 0;
	tail[1] = proto;
	pkt_put16(tail + 2, 0);
	s = ref_sum(tail, 2, s);
	s += l4len >> 16;
	s += l4len & 0xffff;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* True if the packet's L4 checksum verifies (reference implementation). */
static inline bool ref_l4_ok(const uint8_t *ip, size_t len, bool v6,
			     uint8_t proto, size_t iph)
{
	uint32_t s = ref_pseudo(ip, v6, proto, (uint32_t)(len - iph));

	return ref_sum(ip + iph, len - iph, s) == 0xffff;
}

static inline bool ref_ip4_ok(const uint8_t *ip)
{
	return ref_sum(ip, (size_t)(ip[0] & 15) * 4, 0) == 0xffff;
}

/* Writes the packet at buf, with valid checksums; returns its length. */
static inline size_t pkt_build(uint8_t *buf, const struct pkt_spec *s)
{
	size_t iph = pkt_iph(s), l4h = pkt_l4h(s), len = pkt_len(s), j;
	uint8_t *l4 = buf + iph;
	uint32_t sum;

	memset(buf, 0, iph + l4h);
	if (s->v6) {
		buf[0] = (uint8_t)(0x60 | s->tos >> 4);
		buf[1] = (uint8_t)(s->tos << 4 | ((s->flow >> 16) & 0x0f));
		pkt_put16(buf + 2, (uint16_t)s->flow);
		pkt_put16(buf + 4, (uint16_t)(len - 40));
		buf[6] = s->proto;
		buf[7] = s->ttl;
		buf[8] = 0x20; buf[9] = 0x01; buf[10] = 0x0d; buf[11] = 0xb8;
		buf[23] = s->src;
		buf[24] = 0x20; buf[25] = 0x01; buf[26] = 0x0d; buf[27] = 0xb8;
		buf[39] = s->dst;
	} else {
		buf[0] = 0x45;
		buf[1] = s->tos;
		pkt_put16(buf + 2, (uint16_t)len);
		pkt_put16(buf + 4, s->id);
		buf[6] = s->frag;
		buf[8] = s->ttl;
		buf[9] = s->proto;
		buf[12] = 192; buf[13] = 0; buf[14] = 2; buf[15] = s->src;
		buf[16] = 192; buf[17] = 0; buf[18] = 2; buf[19] = s->dst;
		pkt_put16(buf + 10, (uint16_t)~ref_sum(buf, 20, 0));
	}
	pkt_put16(l4, s->sport);
	pkt_put16(l4 + 2, s->dport);
	if (s->proto == PKT_TCP) {
		pkt_put32(l4 + 4, s->seq);
		pkt_put32(l4 + 8, s->ack);
		l4[12] = (uint8_t)((l4h / 4) << 4);
		l4[13] = s->flags;
		pkt_put16(l4 + 14, s->window);
		memcpy(l4 + 20, s->opts, s->optlen);
	} else {
		pkt_put16(l4 + 4, (uint16_t)(len - iph));
	}
	for (j = 0; j < s->payload; j++)
		l4[l4h + j] = pkt_pattern(s->pay_off + (uint32_t)j);
	sum = ref_pseudo(buf, s->v6, s->proto, (uint32_t)(len - iph));
	sum = ref_sum(l4, len - iph, sum);
	sum = (uint16_t)~sum;
	if (s->proto == PKT_UDP && sum == 0)
		sum = 0xffff;
	pkt_put16(l4 + (s->proto == PKT_TCP ? 16 : 6), (uint16_t)sum);
	return len;
}

/* Replaces the L4 checksum by the pseudo-header sum, as the kernel expects
 * it with NEEDS_CSUM (CHECKSUM_PARTIAL). */
static inline void pkt_partial_csum(uint8_t *buf, const struct pkt_spec *s)
{
	size_t iph = pkt_iph(s), len = pkt_len(s);

	pkt_put16(buf + iph + (s->proto == PKT_TCP ? 16 : 6),
		  (uint16_t)ref_pseudo(buf, s->v6, s->proto,
				       (uint32_t)(len - iph)));
}

#endif
