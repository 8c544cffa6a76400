// SPDX-License-Identifier: MIT
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "tun/offload.h"
#include "tun/offload_pkt.h"
#include "tests/unit/testutil.h"

#define CAP 65535
#define OFF VNET_HDR_LEN
#define HEADROOM 32

/* ---- fixtures ---------------------------------------------------------- */

static uint8_t *bufs[GRO_MAX_BATCH + 1];
static size_t lens[GRO_MAX_BATCH + 1];
static size_t nb;
static struct gro_table *table;
static struct gro_stats stats;
static uint16_t out[GRO_MAX_BATCH];
static uint8_t *in;		/* split input: vnet header + packet */
static size_t sizes[OFFLOAD_MAX_SEGMENTS + 1];

static void setup(void)
{
	size_t i;

	for (i = 0; i < GRO_MAX_BATCH + 1; i++) {
		bufs[i] = malloc(CAP);
		ck_assert_ptr_nonnull(bufs[i]);
		memset(bufs[i], 0xa5, CAP);
	}
	in = malloc(VNET_HDR_LEN + CAP + 64);
	table = malloc(gro_table_size());
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(table);
	nb = 0;
	memset(&stats, 0, sizeof(stats));
}

static void teardown(void)
{
	size_t i;

	for (i = 0; i < GRO_MAX_BATCH + 1; i++)
		free(bufs[i]);
	free(in);
	free(table);
}

/* ---- helpers ----------------------------------------------------------- */

static struct pkt_spec tcp(bool v6, size_t payload, uint32_t seq)
{
	return pkt_default(v6, PKT_TCP, payload, seq);
}

static struct pkt_spec udp(bool v6, size_t payload, uint32_t pay_off)
{
	struct pkt_spec s = pkt_default(v6, PKT_UDP, payload, 0);

	s.pay_off = pay_off;
	return s;
}

static size_t add(const struct pkt_spec *s)
{
	lens[nb] = pkt_build(bufs[nb] + OFF, s);
	return nb++;
}

static void flip_l4_csum(size_t i)
{
	uint8_t *ip = bufs[i] + OFF;
	size_t iph = (ip[0] >> 4) == 6 ? 40 : 20;
	uint8_t proto = (ip[0] >> 4) == 6 ? ip[6] : ip[9];

	ip[iph + (proto == PKT_TCP ? 16 : 6)] ^= 0xff;
}

static int gro(unsigned flags)
{
	gro_table_init(table, flags);
	return gro_batch(table, bufs, lens, nb, OFF, CAP, out, &stats);
}

/* Checks the written indices and their lengths. */
static void expect(int ret, const uint16_t *idx, const size_t *len, int n)
{
	int i;

	ck_assert_int_eq(ret, n);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(out[i], idx[i]);
		ck_assert_uint_eq(lens[out[i]], len[i]);
	}
}

#define EXPECT(ret, ...)                                                     \
	do {                                                                 \
		const uint16_t i_[] = { __VA_ARGS__ };                        \
		expect_lens_((ret), i_, (int)(sizeof(i_) / sizeof(i_[0])));   \
	} while (0)

static const size_t *want_lens;

static void expect_lens_(int ret, const uint16_t *idx, int n)
{
	expect(ret, idx, want_lens, n);
}

#define LENS(...)                                                            \
	do {                                                                 \
		static const size_t l_[] = { __VA_ARGS__ };                   \
		want_lens = l_;                                               \
	} while (0)

static void expect_zero_hdr(size_t i)
{
	static const uint8_t zero[VNET_HDR_LEN];

	ck_assert_mem_eq(bufs[i] + OFF - VNET_HDR_LEN, zero, VNET_HDR_LEN);
}

/* A merged packet: its bytes equal the spec built as one packet with the
 * CHECKSUM_PARTIAL field, and its virtio header is exactly that of a GSO
 * packet with the given segment size. */
static void expect_merged(size_t i, const struct pkt_spec *whole,
			  uint16_t gso_size)
{
	static uint8_t want[CAP];
	struct vnet_hdr h;
	size_t len = pkt_build(want, whole);

	pkt_partial_csum(want, whole);
	ck_assert_uint_eq(lens[i], len);
	ck_assert_mem_eq(bufs[i] + OFF, want, len);
	vnet_hdr_decode(&h, bufs[i] + OFF - VNET_HDR_LEN);
	ck_assert_uint_eq(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(h.gso_type,
			  whole->proto == PKT_UDP ? VIRTIO_NET_HDR_GSO_UDP_L4
			  : whole->v6		  ? VIRTIO_NET_HDR_GSO_TCPV6
						  : VIRTIO_NET_HDR_GSO_TCPV4);
	ck_assert_uint_eq(h.hdr_len, pkt_iph(whole) + pkt_l4h(whole));
	ck_assert_uint_eq(h.gso_size, gso_size);
	ck_assert_uint_eq(h.csum_start, pkt_iph(whole));
	ck_assert_uint_eq(h.csum_offset, whole->proto == PKT_TCP ? 16 : 6);
}

/* An unmerged packet: untouched bytes and a zero header. */
static void expect_plain(size_t i, const struct pkt_spec *s)
{
	static uint8_t want[CAP];
	size_t len = pkt_build(want, s);

	ck_assert_uint_eq(lens[i], len);
	ck_assert_mem_eq(bufs[i] + OFF, want, len);
	expect_zero_hdr(i);
}

/* ---- split ------------------------------------------------------------- */

static size_t make_super(const struct pkt_spec *s, uint8_t gso_type,
			 uint16_t gso_size)
{
	struct vnet_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = gso_type,
		.hdr_len = 0xbeef,	/* garbage: must not be trusted */
		.gso_size = gso_size,
		.csum_start = (uint16_t)pkt_iph(s),
		.csum_offset = s->proto == PKT_TCP ? 16 : 6,
	};
	size_t len = pkt_build(in + VNET_HDR_LEN, s);

	pkt_partial_csum(in + VNET_HDR_LEN, s);
	vnet_hdr_encode(in, &h);
	return VNET_HDR_LEN + len;
}

static int split(size_t in_len, size_t nbufs)
{
	return offload_split(in, in_len, bufs, sizes, nbufs, HEADROOM, CAP);
}

/* Every segment of a split equals the packet built for it directly. */
static void expect_segments(int ret, const struct pkt_spec *whole,
			    uint16_t gso_size)
{
	static uint8_t want[CAP];
	size_t nseg = (whole->payload + gso_size - 1) / gso_size, i, len;
	struct pkt_spec s;
	uint8_t *seg;

	ck_assert_int_eq(ret, (int)nseg);
	for (i = 0; i < nseg; i++) {
		s = *whole;
		s.payload = whole->payload - i * gso_size;
		if (s.payload > gso_size)
			s.payload = gso_size;
		s.seq = whole->seq + (uint32_t)(i * gso_size);
		s.pay_off = whole->pay_off + (uint32_t)(i * gso_size);
		s.id = (uint16_t)(whole->id + i);
		if (i + 1 < nseg)
			s.flags &= (uint8_t)~(TH_FIN | TH_PSH);
		len = pkt_build(want, &s);
		seg = bufs[i] + HEADROOM;
		ck_assert_uint_eq(sizes[i], len);
		ck_assert_mem_eq(seg, want, len);
		ck_assert(ref_l4_ok(seg, len, s.v6, s.proto, pkt_iph(&s)));
		if (!s.v6)
			ck_assert(ref_ip4_ok(seg));
	}
}

START_TEST(split_tcp4)
{
	struct pkt_spec s = tcp(false, 200, 1);

	s.id = 0xfffe;		/* the ID wraps */
	s.flags = TH_ACK | TH_PSH | TH_FIN;
	expect_segments(split(make_super(&s, VIRTIO_NET_HDR_GSO_TCPV4, 100), 8),
			&s, 100);
	ck_assert_uint_eq(sizes[0], 140);
	ck_assert_uint_eq(bufs[0][HEADROOM + 33], TH_ACK);
	ck_assert_uint_eq(bufs[1][HEADROOM + 33], TH_ACK | TH_PSH | TH_FIN);
	ck_assert_uint_eq(pkt_get16(bufs[1] + HEADROOM + 4), 0xffff);
	/* Nothing written in front of the head room. */
	ck_assert_uint_eq(bufs[0][HEADROOM - 1], 0xa5);
}
END_TEST

START_TEST(split_tcp6)
{
	struct pkt_spec s = tcp(true, 200, 0xffffffb0);	/* seq wraps */

	s.flags = TH_ACK | TH_PSH;
	expect_segments(split(make_super(&s, VIRTIO_NET_HDR_GSO_TCPV6, 100), 8),
			&s, 100);
	ck_assert_uint_eq(sizes[0], 160);
	ck_assert_uint_eq(pkt_get32(bufs[1] + HEADROOM + 44), 0x14);
}
END_TEST

START_TEST(split_udp4)
{
	struct pkt_spec s = udp(false, 200, 0);

	expect_segments(split(make_super(&s, VIRTIO_NET_HDR_GSO_UDP_L4, 100), 8),
			&s, 100);
	ck_assert_uint_eq(sizes[1], 128);
	ck_assert_uint_eq(pkt_get16(bufs[1] + HEADROOM + 24), 108);
}
END_TEST

START_TEST(split_udp6)
{
	struct pkt_spec s = udp(true, 250, 0);

	expect_segments(split(make_super(&s, VIRTIO_NET_HDR_GSO_UDP_L4, 100), 8),
			&s, 100);
	ck_assert_uint_eq(sizes[0], 148);
	ck_assert_uint_eq(sizes[2], 98);
	ck_assert_uint_eq(pkt_get16(bufs[2] + HEADROOM + 4), 58);
}
END_TEST

/* ---- GRO: wireguard-go's cases ---------------------------------------- */

static void mixed_flows(void)
{
	struct pkt_spec s;

	s = tcp(false, 100, 1); add(&s);
	s = udp(false, 100, 0); add(&s);
	s = udp(false, 100, 0); s.dst = 3; add(&s);
	s = tcp(false, 100, 101); add(&s);
	s = tcp(false, 100, 201); s.dst = 3; add(&s);
	s = tcp(true, 100, 1); add(&s);
	s = tcp(true, 100, 101); add(&s);
	s = tcp(true, 100, 201); s.dst = 3; add(&s);
	s = udp(false, 100, 100); add(&s);
	s = udp(true, 100, 0); add(&s);
	s = udp(true, 100, 100); add(&s);
}

START_TEST(gro_multiple_protocols_and_flows)
{
	struct pkt_spec s;

	mixed_flows();
	LENS(240, 228, 128, 140, 260, 160, 248);
	EXPECT(gro(GRO_TCP | GRO_UDP), 0, 1, 2, 4, 5, 7, 9);
	s = tcp(false, 200, 1);
	expect_merged(0, &s, 100);
	s = udp(false, 200, 0);
	expect_merged(1, &s, 100);
	s = udp(false, 100, 0); s.dst = 3;
	expect_plain(2, &s);
	s = tcp(true, 200, 1);
	expect_merged(5, &s, 100);
	s = udp(true, 200, 0);
	expect_merged(9, &s, 100);
	ck_assert_uint_eq(stats.coalesced[GRO_PROTO_TCP], 2);
	ck_assert_uint_eq(stats.coalesced[GRO_PROTO_UDP], 2);
	ck_assert_uint_eq(stats.merged[GRO_PROTO_TCP], 2);
	ck_assert_uint_eq(stats.merged[GRO_PROTO_UDP], 2);
	ck_assert_uint_eq(stats.bad_csum, 0);
}
END_TEST

START_TEST(gro_multiple_protocols_no_udp)
{
	mixed_flows();
	LENS(240, 128, 128, 140, 260, 160, 128, 148, 148);
	EXPECT(gro(GRO_TCP), 0, 1, 2, 4, 5, 7, 8, 9, 10);
	expect_zero_hdr(1);
	expect_zero_hdr(10);
}
END_TEST

START_TEST(gro_psh_interleaved)
{
	struct pkt_spec s;
	int v6;

	for (v6 = 0; v6 <= 1; v6++) {
		s = tcp(v6, 100, 1); add(&s);
		s = tcp(v6, 100, 101); s.flags |= TH_PSH; add(&s);
		s = tcp(v6, 100, 201); add(&s);
		s = tcp(v6, 100, 301); add(&s);
	}
	LENS(240, 240, 260, 260);
	EXPECT(gro(GRO_TCP | GRO_UDP), 0, 2, 4, 6);
	s = tcp(false, 200, 1); s.flags |= TH_PSH;
	expect_merged(0, &s, 100);
	s = tcp(false, 200, 201);
	expect_merged(2, &s, 100);
	s = tcp(true, 200, 1); s.flags |= TH_PSH;
	expect_merged(4, &s, 100);
}
END_TEST

START_TEST(gro_item_invalid_csum)
{
	struct pkt_spec s;

	s = tcp(false, 100, 1); add(&s); flip_l4_csum(0);
	s = tcp(false, 100, 101); add(&s);
	s = tcp(false, 100, 201); add(&s);
	s = udp(false, 100, 0); add(&s); flip_l4_csum(3);
	s = udp(false, 100, 100); add(&s);
	s = udp(false, 100, 200); add(&s);
	memset(bufs[0], 0x77, OFF);	/* stale bytes where the header goes */
	LENS(140, 240, 128, 228);
	EXPECT(gro(GRO_TCP | GRO_UDP), 0, 1, 3, 4);
	/* The dropped item is still written, with a zero header. */
	expect_zero_hdr(0);
	expect_zero_hdr(3);
	s = tcp(false, 200, 101);
	expect_merged(1, &s, 100);
	s = udp(false, 200, 100);
	expect_merged(4, &s, 100);
	ck_assert_uint_eq(stats.bad_csum, 2);
}
END_TEST

START_TEST(gro_out_of_order)
{
	struct pkt_spec s;

	s = tcp(false, 100, 101); add(&s);
	s = tcp(false, 100, 1); add(&s);
	s = tcp(false, 100, 201); add(&s);
	LENS(340);
	EXPECT(gro(GRO_TCP | GRO_UDP), 0);
	s = tcp(false, 300, 1);
	expect_merged(0, &s, 100);
}
END_TEST


/* Two packets of one flow, the second changed by fn: no merge. */
static void expect_no_merge_pair(bool v6, uint8_t proto,
				 void (*fn)(struct pkt_spec *))
{
	struct pkt_spec a, b;
	size_t i0, i1;
	int ret;

	nb = 0;
	a = proto == PKT_TCP ? tcp(v6, 100, 1) : udp(v6, 100, 0);
	b = proto == PKT_TCP ? tcp(v6, 100, 101) : udp(v6, 100, 100);
	fn(&b);
	i0 = add(&a);
	i1 = add(&b);
	ret = gro(GRO_TCP | GRO_UDP);
	ck_assert_int_eq(ret, 2);
	ck_assert_uint_eq(out[0], i0);
	ck_assert_uint_eq(out[1], i1);
	expect_plain(i0, &a);
	expect_plain(i1, &b);
}

static void ttl_plus_one(struct pkt_spec *s) { s->ttl++; }
static void tos_plus_one(struct pkt_spec *s) { s->tos++; }
static void ecn_bit(struct pkt_spec *s) { s->tos |= 1; }
static void mf_set(struct pkt_spec *s) { s->frag = 0x20; }
static void df_set(struct pkt_spec *s) { s->frag = 0x40; }
static void ack_plus_one(struct pkt_spec *s) { s->ack++; }
static void other_sport(struct pkt_spec *s) { s->sport = 2; }
static void other_src(struct pkt_spec *s) { s->src = 9; }

START_TEST(gro_unequal_ip_fields)
{
	uint8_t proto;

	for (proto = PKT_TCP; proto <= PKT_UDP; proto += PKT_UDP - PKT_TCP) {
		expect_no_merge_pair(false, proto, ttl_plus_one);
		expect_no_merge_pair(false, proto, tos_plus_one);
		expect_no_merge_pair(false, proto, ecn_bit);
		expect_no_merge_pair(false, proto, mf_set);
		expect_no_merge_pair(false, proto, df_set);
		expect_no_merge_pair(false, proto, other_sport);
		expect_no_merge_pair(false, proto, other_src);
		expect_no_merge_pair(true, proto, ttl_plus_one);
		expect_no_merge_pair(true, proto, tos_plus_one);
		expect_no_merge_pair(true, proto, ecn_bit);
		expect_no_merge_pair(true, proto, other_sport);
		expect_no_merge_pair(true, proto, other_src);
	}
	expect_no_merge_pair(false, PKT_TCP, ack_plus_one);
	expect_no_merge_pair(true, PKT_TCP, ack_plus_one);
}
END_TEST

/* The table from wireguard-go's unequal TTL case, with its lengths. */
START_TEST(gro_unequal_ttl_lengths)
{
	struct pkt_spec s;

	s = tcp(false, 100, 1); add(&s);
	s = tcp(false, 100, 101); s.ttl++; add(&s);
	s = udp(false, 100, 0); add(&s);
	s = udp(false, 100, 100); s.ttl++; add(&s);
	LENS(140, 140, 128, 128);
	EXPECT(gro(GRO_TCP | GRO_UDP), 0, 1, 2, 3);
	nb = 0;
	s = tcp(true, 100, 1); add(&s);
	s = tcp(true, 100, 101); s.ttl++; add(&s);
	s = udp(true, 100, 0); add(&s);
	s = udp(true, 100, 100); s.ttl++; add(&s);
	LENS(160, 160, 148, 148);
	EXPECT(gro(GRO_TCP | GRO_UDP), 0, 1, 2, 3);
}
END_TEST

/* DF on both merges, and the merged packet keeps it. */
START_TEST(gro_df_both_and_window)
{
	struct pkt_spec s;

	s = tcp(false, 100, 1); s.frag = 0x40; s.id = 7; add(&s);
	s = tcp(false, 100, 101); s.frag = 0x40; s.id = 8; s.window = 9; add(&s);
	LENS(240);
	EXPECT(gro(GRO_TCP), 0);
	s = tcp(false, 200, 1); s.frag = 0x40; s.id = 7;
	expect_merged(0, &s, 100);
}
END_TEST

static void flags_to(struct pkt_spec *s, uint8_t f)
{
	s->flags = f;
}

static void f_syn(struct pkt_spec *s) { flags_to(s, TH_ACK | TH_SYN); }
static void f_fin(struct pkt_spec *s) { flags_to(s, TH_ACK | TH_FIN); }
static void f_rst(struct pkt_spec *s) { flags_to(s, TH_ACK | TH_RST); }
static void f_urg(struct pkt_spec *s) { flags_to(s, TH_ACK | TH_URG); }
static void f_ece(struct pkt_spec *s) { flags_to(s, TH_ACK | TH_ECE); }
static void f_cwr(struct pkt_spec *s) { flags_to(s, TH_ACK | TH_CWR); }
static void f_none(struct pkt_spec *s) { flags_to(s, 0); }
static void f_psh_only(struct pkt_spec *s) { flags_to(s, TH_PSH); }
static void opt_differs(struct pkt_spec *s) { s->optlen = 12; s->opts[0] = 1; }
static void zero_payload(struct pkt_spec *s) { s->payload = 0; }

START_TEST(gro_tcp_flags_refused)
{
	int v6;

	for (v6 = 0; v6 <= 1; v6++) {
		expect_no_merge_pair(v6, PKT_TCP, f_syn);
		expect_no_merge_pair(v6, PKT_TCP, f_fin);
		expect_no_merge_pair(v6, PKT_TCP, f_rst);
		expect_no_merge_pair(v6, PKT_TCP, f_urg);
		expect_no_merge_pair(v6, PKT_TCP, f_ece);
		expect_no_merge_pair(v6, PKT_TCP, f_cwr);
		expect_no_merge_pair(v6, PKT_TCP, f_none);
		expect_no_merge_pair(v6, PKT_TCP, f_psh_only);
		expect_no_merge_pair(v6, PKT_TCP, opt_differs);
		expect_no_merge_pair(v6, PKT_TCP, zero_payload);
		expect_no_merge_pair(v6, PKT_UDP, zero_payload);
	}
}
END_TEST

/* The first packet not a candidate (flag set on it): nothing merges. */
START_TEST(gro_head_not_candidate)
{
	struct pkt_spec a, b;

	a = tcp(false, 100, 1); a.flags |= TH_CWR;
	b = tcp(false, 100, 101);
	add(&a);
	add(&b);
	LENS(140, 140);
	EXPECT(gro(GRO_TCP), 0, 1);
	expect_plain(0, &a);
	expect_plain(1, &b);
}
END_TEST

START_TEST(gro_tcp_options_equal_merge)
{
	struct pkt_spec s;
	static const uint8_t ts[12] = { 1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6 };

	s = tcp(true, 100, 1); s.optlen = 12; memcpy(s.opts, ts, 12); add(&s);
	s.seq = s.pay_off = 101; add(&s);
	s.seq = s.pay_off = 201; s.payload = 50; add(&s);
	LENS(40 + 32 + 250);
	EXPECT(gro(GRO_TCP), 0);
	s.seq = s.pay_off = 1; s.payload = 250;
	expect_merged(0, &s, 100);
	/* Different timestamps: no merge. */
	nb = 0;
	s = tcp(false, 100, 1); s.optlen = 12; memcpy(s.opts, ts, 12); add(&s);
	s.seq = s.pay_off = 101; s.opts[11] = 7; add(&s);
	LENS(152, 152);
	EXPECT(gro(GRO_TCP), 0, 1);
}
END_TEST

START_TEST(gro_short_segment_ends_merge)
{
	struct pkt_spec s;

	s = tcp(false, 100, 1); add(&s);
	s = tcp(false, 50, 101); add(&s);	/* short: the tail */
	s = tcp(false, 100, 151); add(&s);	/* cannot follow a short one */
	s = tcp(false, 120, 251); add(&s);	/* larger than gso: refused */
	LENS(190, 140, 160);
	EXPECT(gro(GRO_TCP), 0, 2, 3);
	s = tcp(false, 150, 1);
	expect_merged(0, &s, 100);
	/* 151 is a new item; 251 (120 B) is larger than its gso: alone. */
	nb = 0;
	s = tcp(false, 100, 1); add(&s);
	s = tcp(false, 120, 101); add(&s);
	LENS(140, 160);
	EXPECT(gro(GRO_TCP), 0, 1);
}
END_TEST

START_TEST(gro_prepend_rules)
{
	struct pkt_spec s;

	/* A PSH packet cannot go in front. */
	s = tcp(false, 100, 101); add(&s);
	s = tcp(false, 100, 1); s.flags |= TH_PSH; add(&s);
	LENS(140, 140);
	EXPECT(gro(GRO_TCP), 0, 1);

	/* Shorter than the item's gso: refused. */
	nb = 0;
	s = tcp(false, 100, 101); add(&s);
	s = tcp(false, 50, 51); add(&s);
	LENS(140, 90);
	EXPECT(gro(GRO_TCP), 0, 1);

	/* Larger than the item's gso when the item has merges: refused. */
	nb = 0;
	s = tcp(false, 100, 201); add(&s);
	s = tcp(false, 100, 301); add(&s);
	s = tcp(false, 200, 1); add(&s);
	LENS(240, 240);
	EXPECT(gro(GRO_TCP), 0, 2);

	/* Larger than a lone item: allowed, gso grows, the item is the tail. */
	nb = 0;
	s = tcp(false, 50, 201); add(&s);
	s = tcp(false, 200, 1); add(&s);
	LENS(290);
	EXPECT(gro(GRO_TCP), 0);
	s = tcp(false, 250, 1);
	expect_merged(0, &s, 200);

	/* PSH on the item survives a prepend and ends the merge. */
	nb = 0;
	s = tcp(true, 100, 101); s.flags |= TH_PSH; add(&s);
	s = tcp(true, 100, 1); add(&s);
	s = tcp(true, 100, 201); add(&s);
	LENS(260, 160);
	EXPECT(gro(GRO_TCP), 0, 2);
	s = tcp(true, 200, 1); s.flags |= TH_PSH;
	expect_merged(0, &s, 100);
}
END_TEST

START_TEST(gro_capacity)
{
	struct pkt_spec s;
	int ret;

	s = tcp(false, 100, 1); add(&s);
	s = tcp(false, 100, 101); add(&s);
	gro_table_init(table, GRO_TCP);
	/* Room for 239 bytes of IP packet: the merge does not fit. */
	ret = gro_batch(table, bufs, lens, nb, OFF, OFF + 239, out, &stats);
	LENS(140, 140);
	EXPECT(ret, 0, 1);
	nb = 0;
	s = tcp(false, 100, 1); add(&s);
	s = tcp(false, 100, 101); add(&s);
	gro_table_init(table, GRO_TCP);
	ret = gro_batch(table, bufs, lens, nb, OFF, OFF + 240, out, &stats);
	LENS(240);
	EXPECT(ret, 0);
}
END_TEST

START_TEST(gro_65535_cap)
{
	struct pkt_spec s;
	size_t i;

	/* 48 segments of 1380 B: 47 fit in 65535 bytes, the 48th starts
	 * a new packet. */
	for (i = 0; i < 48; i++) {
		s = tcp(false, 1380, 1 + (uint32_t)i * 1380);
		add(&s);
	}
	LENS(40 + 47 * 1380, 1420);
	EXPECT(gro(GRO_TCP), 0, 47);
	s = tcp(false, 47 * 1380, 1);
	expect_merged(0, &s, 1380);
	s = tcp(false, 1380, 1 + 47 * 1380);
	expect_plain(47, &s);
}
END_TEST

START_TEST(gro_64_segment_cap)
{
	struct pkt_spec s;
	size_t i;

	for (i = 0; i < 65; i++) {
		s = tcp(false, 100, 1 + (uint32_t)i * 100);
		add(&s);
	}
	for (i = 0; i < 63; i++) {
		s = udp(true, 10, (uint32_t)i * 10);
		add(&s);
	}
	LENS(40 + 6400, 140, 48 + 630);
	EXPECT(gro(GRO_TCP | GRO_UDP), 0, 64, 65);
	s = tcp(false, 6400, 1);
	expect_merged(0, &s, 100);
	ck_assert_uint_eq(stats.merged[GRO_PROTO_TCP], 63);
	ck_assert_uint_eq(stats.merged[GRO_PROTO_UDP], 62);

	/* UDP alone: 100 tiny datagrams become 64 + 36. */
	nb = 0;
	for (i = 0; i < 100; i++) {
		s = udp(false, 10, (uint32_t)i * 10);
		add(&s);
	}
	LENS(28 + 640, 28 + 360);
	EXPECT(gro(GRO_UDP), 0, 64);
	s = udp(false, 640, 0);
	expect_merged(0, &s, 10);
	s = udp(false, 360, 640);
	expect_merged(64, &s, 10);
}
END_TEST

START_TEST(gro_udp_rules)
{
	struct pkt_spec s;

	/* Equal gso, then a smaller tail, then nothing after the tail. */
	s = udp(false, 100, 0); add(&s);
	s = udp(false, 100, 100); add(&s);
	s = udp(false, 10, 200); add(&s);
	s = udp(false, 100, 210); add(&s);
	s = udp(false, 110, 310); add(&s);	/* larger than gso */
	LENS(238, 128, 138);
	EXPECT(gro(GRO_UDP), 0, 3, 4);
	s = udp(false, 210, 0);
	expect_merged(0, &s, 100);

	/* Only the newest packet of the flow is merged onto. */
	nb = 0;
	s = udp(false, 100, 0); add(&s);
	s = udp(false, 100, 100); s.ttl = 1; add(&s);
	s = udp(false, 100, 200); add(&s);
	LENS(128, 128, 128);
	EXPECT(gro(GRO_UDP), 0, 1, 2);

	/* A bad new packet is added, marked bad: nothing merges onto it. */
	nb = 0;
	s = udp(true, 100, 0); add(&s);
	s = udp(true, 100, 100); add(&s); flip_l4_csum(1);
	s = udp(true, 100, 200); add(&s);
	LENS(148, 148, 148);
	EXPECT(gro(GRO_UDP), 0, 1, 2);
	ck_assert_uint_eq(stats.bad_csum, 1);
	expect_zero_hdr(1);
}
END_TEST

START_TEST(gro_udp_not_candidates)
{
	struct pkt_spec s;

	/* IPv4 UDP without checksum. */
	s = udp(false, 100, 0); add(&s);
	s = udp(false, 100, 100); add(&s);
	pkt_put16(bufs[0] + OFF + 26, 0);
	pkt_put16(bufs[1] + OFF + 26, 0);
	LENS(128, 128);
	EXPECT(gro(GRO_UDP), 0, 1);
	ck_assert_uint_eq(stats.bad_csum, 0);

	/* UDP length disagreeing with the IP length. */
	nb = 0;
	s = udp(false, 100, 0); add(&s);
	s = udp(false, 100, 100); add(&s);
	pkt_put16(bufs[1] + OFF + 24, 107);
	pkt_put16(bufs[1] + OFF + 26, 0);
	pkt_put16(bufs[1] + OFF + 26,
		  (uint16_t)~ref_sum(bufs[1] + OFF + 20, 108,
				     ref_pseudo(bufs[1] + OFF, false, PKT_UDP, 108)));
	EXPECT(gro(GRO_UDP), 0, 1);
	ck_assert_uint_eq(stats.bad_csum, 0);
}
END_TEST

START_TEST(gro_bad_new_tcp_packet)
{
	struct pkt_spec s;

	s = tcp(false, 100, 1); add(&s);
	s = tcp(false, 100, 101); add(&s); flip_l4_csum(1);
	s = tcp(false, 100, 101); add(&s);	/* a good retransmission */
	LENS(240, 140);
	EXPECT(gro(GRO_TCP), 0, 1);
	expect_zero_hdr(1);
	ck_assert_uint_eq(stats.bad_csum, 1);
	s = tcp(false, 200, 1);
	expect_merged(0, &s, 100);
}
END_TEST

START_TEST(gro_bad_ipv4_header_csum)
{
	struct pkt_spec s;

	s = tcp(false, 100, 1); add(&s);
	s = tcp(false, 100, 101); add(&s);
	bufs[1][OFF + 10] ^= 1;
	LENS(140, 140);
	EXPECT(gro(GRO_TCP), 0, 1);
}
END_TEST

/* wireguard-go's Test_packetIsGROCandidate, observed through merging:
 * a candidate pair merges, anything else is written untouched. */
static bool pair_merges(const struct pkt_spec *a, unsigned flags,
			void (*mangle)(uint8_t *ip, size_t *len))
{
	struct pkt_spec b = *a;
	uint8_t copy[2][200];
	int ret;

	nb = 0;
	b.seq += (uint32_t)a->payload;
	b.pay_off += (uint32_t)a->payload;
	add(a);
	add(&b);
	if (mangle) {
		mangle(bufs[0] + OFF, &lens[0]);
		mangle(bufs[1] + OFF, &lens[1]);
	}
	memcpy(copy[0], bufs[0] + OFF, lens[0] < 200 ? lens[0] : 200);
	memcpy(copy[1], bufs[1] + OFF, lens[1] < 200 ? lens[1] : 200);
	ret = gro(flags);
	if (ret == 2) {
		ck_assert_mem_eq(bufs[0] + OFF, copy[0], lens[0] < 200 ? lens[0] : 200);
		ck_assert_mem_eq(bufs[1] + OFF, copy[1], lens[1] < 200 ? lens[1] : 200);
		expect_zero_hdr(0);
		expect_zero_hdr(1);
	}
	return ret == 1;
}

static void trunc_27(uint8_t *ip, size_t *len) { *len = 27; pkt_put16(ip + 2, 27); }
static void trunc_47(uint8_t *ip, size_t *len) { *len = 47; pkt_put16(ip + 4, 7); }
static void trunc_39(uint8_t *ip, size_t *len) { *len = 39; pkt_put16(ip + 2, 39); }
static void trunc_59(uint8_t *ip, size_t *len) { *len = 59; pkt_put16(ip + 4, 19); }
static void bad_version(uint8_t *ip, size_t *len) { *len = 1; ip[0] = 0; }
static void ihl6(uint8_t *ip, size_t *len) { ip[0] = 0x46; }
static void v4_gre(uint8_t *ip, size_t *len) { ip[9] = 47; }
static void v6_gre(uint8_t *ip, size_t *len) { ip[6] = 47; }
static void v6_hopopts(uint8_t *ip, size_t *len) { ip[6] = 0; }

START_TEST(gro_candidates)
{
	struct pkt_spec t4 = tcp(false, 20, 1), t6 = tcp(true, 20, 1);
	struct pkt_spec u4 = udp(false, 20, 0), u6 = udp(true, 20, 0);
	unsigned all = GRO_TCP | GRO_UDP;

	ck_assert(pair_merges(&t4, all, NULL));
	ck_assert(pair_merges(&t6, all, NULL));
	ck_assert(pair_merges(&u4, all, NULL));
	ck_assert(!pair_merges(&u4, GRO_TCP, NULL));
	ck_assert(pair_merges(&u6, all, NULL));
	ck_assert(!pair_merges(&u6, GRO_TCP, NULL));
	ck_assert(!pair_merges(&t4, GRO_UDP, NULL));
	ck_assert(!pair_merges(&t6, GRO_UDP, NULL));
	ck_assert(!pair_merges(&u4, all, trunc_27));
	ck_assert(!pair_merges(&u6, all, trunc_47));
	ck_assert(!pair_merges(&t4, all, trunc_39));
	ck_assert(!pair_merges(&t6, all, trunc_59));
	ck_assert(!pair_merges(&t4, all, bad_version));
	ck_assert(!pair_merges(&t4, all, ihl6));
	ck_assert(!pair_merges(&t4, all, v4_gre));
	ck_assert(!pair_merges(&t6, all, v6_gre));
	ck_assert(!pair_merges(&t6, all, v6_hopopts));
	ck_assert(!pair_merges(&u6, all, v6_hopopts));
}
END_TEST

/* A real IPv4 option (NOP padding) on identical packets: never merged. */
START_TEST(gro_ipv4_options)
{
	struct pkt_spec s = tcp(false, 100, 1);
	size_t i;
	uint8_t *ip;

	for (i = 0; i < 2; i++) {
		s.seq = s.pay_off = 1 + (uint32_t)i * 100;
		lens[i] = pkt_build(bufs[i] + OFF + 4, &s) + 4;
		ip = bufs[i] + OFF;
		memmove(ip, ip + 4, 20);
		memset(ip + 20, 1, 4);	/* four NOPs */
		ip[0] = 0x46;
		pkt_put16(ip + 2, (uint16_t)lens[i]);
		pkt_put16(ip + 10, 0);
		pkt_put16(ip + 10, (uint16_t)~ref_sum(ip, 24, 0));
	}
	nb = 2;
	LENS(144, 144);
	EXPECT(gro(GRO_TCP), 0, 1);
	expect_zero_hdr(0);
}
END_TEST

START_TEST(gro_bad_args)
{
	struct pkt_spec s = tcp(false, 100, 1);

	add(&s);
	gro_table_init(table, GRO_TCP);
	ck_assert_int_eq(gro_batch(table, bufs, lens, 1, 9, CAP, out, &stats), -EINVAL);
	ck_assert_int_eq(gro_batch(table, bufs, lens, GRO_MAX_BATCH + 1, OFF, CAP,
				   out, &stats), -EINVAL);
	ck_assert_int_eq(gro_batch(table, bufs, lens, 1, OFF, OFF + 139, out, &stats),
			 -EINVAL);
	ck_assert_int_eq(gro_batch(table, bufs, lens, 0, OFF, CAP, out, &stats), 0);
	ck_assert_int_eq(gro_batch(table, bufs, lens, 1, OFF, CAP, out, NULL), 1);
}
END_TEST

/* Fragments never merge, even with each other; nor do packets with
 * reserved TCP bits (AccECN's AE) set. */
START_TEST(gro_fragments_and_reserved_bits)
{
	struct pkt_spec a = tcp(false, 100, 1), b = tcp(false, 100, 101);
	int k;

	for (k = 0; k < 3; k++) {
		nb = 0;
		add(&a);
		add(&b);
		for (size_t i = 0; i < 2; i++) {
			uint8_t *ip = bufs[i] + OFF;

			if (k == 0)
				ip[6] = 0x20;		/* MF */
			else if (k == 1)
				ip[7] = 0x10;		/* offset 16 */
			else
				ip[32] |= 0x01;		/* AE */
			if (k < 2) {
				pkt_put16(ip + 10, 0);
				pkt_put16(ip + 10, (uint16_t)~ref_sum(ip, 20, 0));
			} else {
				pkt_put16(ip + 36, 0);
				pkt_put16(ip + 36, (uint16_t)~ref_sum(ip + 20, 120,
					ref_pseudo(ip, false, PKT_TCP, 120)));
			}
		}
		LENS(140, 140);
		EXPECT(gro(GRO_TCP | GRO_UDP), 0, 1);
	}
}
END_TEST

/* An IPv6 hop-by-hop header (8 bytes) between IPv6 and TCP. */
static size_t add_hbh(uint8_t *p, size_t len)
{
	memmove(p + 48, p + 40, len - 40);
	memset(p + 40, 0, 8);
	p[40] = p[6];		/* next header after the extension */
	p[41] = 0;		/* 8 bytes long */
	p[42] = 1;		/* PadN */
	p[43] = 4;
	p[6] = 0;
	pkt_put16(p + 4, (uint16_t)(len + 8 - 40));
	return len + 8;
}

START_TEST(split_ipv6_extension_header)
{
	static uint8_t want[CAP];
	struct pkt_spec s = tcp(true, 250, 9), seg;
	struct vnet_hdr h;
	size_t len, i, wl;

	len = add_hbh(in + VNET_HDR_LEN, pkt_build(in + VNET_HDR_LEN, &s));
	h = (struct vnet_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			       .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
			       .gso_size = 100, .csum_start = 48,
			       .csum_offset = 16 };
	vnet_hdr_encode(in, &h);
	ck_assert_int_eq(split(VNET_HDR_LEN + len, 8), 3);
	for (i = 0; i < 3; i++) {
		seg = s;
		seg.payload = i < 2 ? 100 : 50;
		seg.seq = seg.pay_off = 9 + (uint32_t)i * 100;
		wl = add_hbh(want, pkt_build(want, &seg));
		ck_assert_uint_eq(sizes[i], wl);
		ck_assert_mem_eq(bufs[i] + HEADROOM, want, wl);
	}
	/* ... and such packets are never GRO candidates. */
	for (i = 0; i < 3; i++)
		lens[i] = sizes[i];
	gro_table_init(table, GRO_TCP);
	ck_assert_int_eq(gro_batch(table, bufs, lens, 3, HEADROOM, CAP, out, NULL), 3);
}
END_TEST

/* ---- split: more cases and errors -------------------------------------- */

START_TEST(split_tcp_options_and_exact_fit)
{
	struct pkt_spec s = tcp(false, 1000, 77);

	s.optlen = 12;
	memset(s.opts, 1, 12);
	s.id = 40;
	expect_segments(split(make_super(&s, VIRTIO_NET_HDR_GSO_TCPV4, 250), 4),
			&s, 250);
	/* A segment exactly filling bufcap - headroom fits ... */
	ck_assert_int_eq(offload_split(in, VNET_HDR_LEN + 1052, bufs, sizes, 4,
				       HEADROOM, HEADROOM + 52 + 250), 4);
	/* ... one byte less does not, and nothing is written. */
	memset(bufs[0], 0xa5, CAP);
	ck_assert_int_eq(offload_split(in, VNET_HDR_LEN + 1052, bufs, sizes, 4,
				       HEADROOM, HEADROOM + 52 + 249), -EMSGSIZE);
	ck_assert_uint_eq(bufs[0][HEADROOM], 0xa5);
}
END_TEST

START_TEST(split_max_segments)
{
	struct pkt_spec s = tcp(true, 128 * 10, 1);
	size_t len = make_super(&s, VIRTIO_NET_HDR_GSO_TCPV6, 10);

	expect_segments(split(len, OFFLOAD_MAX_SEGMENTS), &s, 10);
	memset(bufs[0], 0xa5, CAP);
	ck_assert_int_eq(split(len, 127), -ENOBUFS);
	ck_assert_uint_eq(bufs[0][HEADROOM], 0xa5);
}
END_TEST

START_TEST(split_gso_none)
{
	struct pkt_spec s = udp(true, 333, 5);
	struct vnet_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			      .csum_start = 40, .csum_offset = 6 };
	static uint8_t want[CAP];
	size_t len = pkt_build(want, &s);
	uint8_t *alias;

	/* Copied out, checksum finished from the pseudo-header sum. */
	make_super(&s, 0, 0);
	vnet_hdr_encode(in, &h);
	ck_assert_int_eq(split(VNET_HDR_LEN + len, 1), 1);
	ck_assert_uint_eq(sizes[0], len);
	ck_assert_mem_eq(bufs[0] + HEADROOM, want, len);

	/* In place: the input sits right behind the head room. */
	alias = bufs[1] + HEADROOM - VNET_HDR_LEN;
	memcpy(alias, in, VNET_HDR_LEN + len);
	ck_assert_int_eq(offload_split(alias, VNET_HDR_LEN + len, &bufs[1],
				       sizes, 1, HEADROOM, CAP), 1);
	ck_assert_mem_eq(bufs[1] + HEADROOM, want, len);

	/* Without NEEDS_CSUM the packet is copied untouched. */
	memset(&h, 0, sizeof(h));
	vnet_hdr_encode(in, &h);
	memcpy(in + VNET_HDR_LEN, want, len);
	in[VNET_HDR_LEN + 46] ^= 0x55;
	ck_assert_int_eq(split(VNET_HDR_LEN + len, 1), 1);
	ck_assert_mem_eq(bufs[0] + HEADROOM, in + VNET_HDR_LEN, len);

	/* Too big for the buffer, no buffer at all. */
	ck_assert_int_eq(offload_split(in, VNET_HDR_LEN + len, bufs, sizes, 1,
				       HEADROOM, HEADROOM + len - 1), -EMSGSIZE);
	ck_assert_int_eq(split(VNET_HDR_LEN + len, 0), -ENOBUFS);
}
END_TEST

/* Each malformed header: -EINVAL and no byte written. */
static void expect_einval(size_t in_len)
{
	size_t i;

	for (i = 0; i < 4; i++)
		memset(bufs[i], 0xa5, HEADROOM + 200);
	ck_assert_int_eq(split(in_len, 8), -EINVAL);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(bufs[i][HEADROOM], 0xa5);
}

static size_t super_with(const struct pkt_spec *s, uint8_t type,
			 uint16_t gso, int field, unsigned value)
{
	struct vnet_hdr h;
	size_t len = make_super(s, type, gso);

	vnet_hdr_decode(&h, in);
	switch (field) {
	case 1: h.flags = (uint8_t)value; break;
	case 2: h.csum_start = (uint16_t)value; break;
	case 3: h.csum_offset = (uint16_t)value; break;
	default: break;
	}
	vnet_hdr_encode(in, &h);
	return len;
}

START_TEST(split_errors)
{
	struct pkt_spec t4 = tcp(false, 200, 1), t6 = tcp(true, 200, 1);
	struct pkt_spec u4 = udp(false, 200, 0);
	size_t len;

	expect_einval(super_with(&t4, VIRTIO_NET_HDR_GSO_TCPV4, 0, 0, 0));
	expect_einval(super_with(&u4, 3, 100, 0, 0));		/* UFO */
	expect_einval(super_with(&t4, VIRTIO_NET_HDR_GSO_TCPV4 |
				 VIRTIO_NET_HDR_GSO_ECN, 100, 0, 0));
	expect_einval(super_with(&t4, 7, 100, 0, 0));
	expect_einval(super_with(&t6, VIRTIO_NET_HDR_GSO_TCPV4, 100, 0, 0));
	expect_einval(super_with(&t4, VIRTIO_NET_HDR_GSO_TCPV6, 100, 0, 0));
	expect_einval(super_with(&t4, VIRTIO_NET_HDR_GSO_UDP_L4, 100, 0, 0));
	expect_einval(super_with(&t4, VIRTIO_NET_HDR_GSO_TCPV4, 100, 2, 24));
	expect_einval(super_with(&t4, VIRTIO_NET_HDR_GSO_TCPV4, 100, 2, 60000));
	expect_einval(super_with(&t6, VIRTIO_NET_HDR_GSO_TCPV6, 100, 2, 20));
	expect_einval(super_with(&t4, VIRTIO_NET_HDR_GSO_TCPV4, 100, 3, 6));
	expect_einval(super_with(&u4, VIRTIO_NET_HDR_GSO_UDP_L4, 100, 3, 16));
	expect_einval(super_with(&u4, VIRTIO_NET_HDR_GSO_UDP_L4, 100, 3, 60000));

	/* IP version 5. */
	len = make_super(&t4, VIRTIO_NET_HDR_GSO_TCPV4, 100);
	in[VNET_HDR_LEN] = 0x55;
	expect_einval(len);

	/* TCP data offset 16 and (via csum_start) a header past the end. */
	len = make_super(&t4, VIRTIO_NET_HDR_GSO_TCPV4, 100);
	in[VNET_HDR_LEN + 32] = 0x40;
	expect_einval(len);

	/* Truncated: headers only, header cut short, nothing at all. */
	len = make_super(&t4, VIRTIO_NET_HDR_GSO_TCPV4, 100);
	expect_einval(VNET_HDR_LEN + 40);
	expect_einval(VNET_HDR_LEN + 39);
	expect_einval(VNET_HDR_LEN + 19);
	expect_einval(VNET_HDR_LEN);
	expect_einval(VNET_HDR_LEN - 1);
	len = make_super(&t6, VIRTIO_NET_HDR_GSO_TCPV6, 100);
	expect_einval(VNET_HDR_LEN + 59);
	len = make_super(&u4, VIRTIO_NET_HDR_GSO_UDP_L4, 100);
	expect_einval(VNET_HDR_LEN + 28);

	/* GSO_NONE with NEEDS_CSUM: csum_start/csum_offset outside. */
	len = super_with(&u4, 0, 0, 2, 228);
	expect_einval(len);
	len = super_with(&u4, 0, 0, 3, 207);
	expect_einval(len);
	len = super_with(&u4, 0, 0, 3, 206);
	ck_assert_int_eq(split(len, 1), 1);
}
END_TEST

/* ---- the round trip ---------------------------------------------------- */

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* A random legal super-packet whose segments GRO can merge back whole. */
static void random_super(struct pkt_spec *s, uint16_t *gso)
{
	size_t nseg, maxpay;

	*s = pkt_default(rnd() & 1, (rnd() & 1) ? PKT_TCP : PKT_UDP, 0, rnd());
	s->src = (uint8_t)rnd();
	s->dst = (uint8_t)rnd();
	s->sport = (uint16_t)rnd();
	s->dport = (uint16_t)rnd();
	s->ack = rnd();
	s->window = (uint16_t)rnd();
	s->ttl = (uint8_t)rnd();
	s->tos = (uint8_t)rnd();
	s->id = (uint16_t)rnd();
	s->flow = rnd() & 0xfffff;
	s->frag = (rnd() & 1) ? 0x40 : 0;
	s->pay_off = rnd();
	if (s->proto == PKT_TCP) {
		s->flags = (rnd() & 1) ? TH_ACK | TH_PSH : TH_ACK;
		s->optlen = (uint8_t)((rnd() % 11) * 4);
		for (size_t i = 0; i < s->optlen; i++)
			s->opts[i] = (uint8_t)rnd();
	}
	*gso = (uint16_t)(1 + rnd() % ((rnd() & 1) ? 1500 : 9000));
	nseg = 1 + rnd() % GRO_MAX_SEGMENTS;
	maxpay = CAP - HEADROOM - pkt_iph(s) - pkt_l4h(s);
	if ((size_t)*gso * nseg > maxpay)
		nseg = maxpay / *gso;
	if (nseg == 0) {
		nseg = 1;
		*gso = (uint16_t)maxpay;
	}
	s->payload = (size_t)*gso * (nseg - 1) + 1 + rnd() % *gso;
}

START_TEST(round_trip)
{
	static uint8_t want[CAP];
	struct pkt_spec s;
	struct vnet_hdr h;
	uint16_t gso;
	size_t len, i, nseg;
	int ret, iter;

	for (iter = 0; iter < 3000; iter++) {
		random_super(&s, &gso);
		len = make_super(&s, s.proto == PKT_UDP ? VIRTIO_NET_HDR_GSO_UDP_L4
					: s.v6	      ? VIRTIO_NET_HDR_GSO_TCPV6
						      : VIRTIO_NET_HDR_GSO_TCPV4,
				 gso);
		ret = split(len, OFFLOAD_MAX_SEGMENTS);
		nseg = (s.payload + gso - 1) / gso;
		ck_assert_int_eq(ret, (int)nseg);
		for (i = 0; i < nseg; i++) {
			ck_assert(ref_l4_ok(bufs[i] + HEADROOM, sizes[i], s.v6,
					    s.proto, pkt_iph(&s)));
			if (!s.v6)
				ck_assert(ref_ip4_ok(bufs[i] + HEADROOM));
			lens[i] = sizes[i];
		}
		gro_table_init(table, GRO_TCP | GRO_UDP);
		ret = gro_batch(table, bufs, lens, nseg, HEADROOM, CAP, out, &stats);
		ck_assert_int_eq(ret, 1);
		ck_assert_uint_eq(out[0], 0);
		len = pkt_build(want, &s);
		ck_assert_uint_eq(lens[0], len);
		vnet_hdr_decode(&h, bufs[0] + HEADROOM - VNET_HDR_LEN);
		if (nseg == 1) {
			/* One segment comes back as the fully checksummed packet. */
			ck_assert_uint_eq(h.flags | h.gso_type | h.gso_size, 0);
			ck_assert_mem_eq(bufs[0] + HEADROOM, want, len);
			continue;
		}
		pkt_partial_csum(want, &s);
		ck_assert_mem_eq(bufs[0] + HEADROOM, want, len);
		ck_assert_uint_eq(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
		ck_assert_uint_eq(h.gso_size, gso);
		ck_assert_uint_eq(h.hdr_len, pkt_iph(&s) + pkt_l4h(&s));
		ck_assert_uint_eq(h.csum_start, pkt_iph(&s));
		/* The header GRO writes splits back into the same segments. */
		memcpy(in, bufs[0] + HEADROOM - VNET_HDR_LEN, VNET_HDR_LEN + len);
		ck_assert_int_eq(split(VNET_HDR_LEN + len, OFFLOAD_MAX_SEGMENTS),
				 (int)nseg);
	}
}
END_TEST

static Suite *offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("split");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, split_tcp4);
	tcase_add_test(tc, split_tcp6);
	tcase_add_test(tc, split_udp4);
	tcase_add_test(tc, split_udp6);
	tcase_add_test(tc, split_tcp_options_and_exact_fit);
	tcase_add_test(tc, split_max_segments);
	tcase_add_test(tc, split_gso_none);
	tcase_add_test(tc, split_errors);
	tcase_add_test(tc, split_ipv6_extension_header);
	suite_add_tcase(s, tc);

	tc = tcase_create("gro");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, gro_multiple_protocols_and_flows);
	tcase_add_test(tc, gro_multiple_protocols_no_udp);
	tcase_add_test(tc, gro_psh_interleaved);
	tcase_add_test(tc, gro_item_invalid_csum);
	tcase_add_test(tc, gro_out_of_order);
	tcase_add_test(tc, gro_unequal_ip_fields);
	tcase_add_test(tc, gro_unequal_ttl_lengths);
	tcase_add_test(tc, gro_df_both_and_window);
	tcase_add_test(tc, gro_tcp_flags_refused);
	tcase_add_test(tc, gro_head_not_candidate);
	tcase_add_test(tc, gro_tcp_options_equal_merge);
	tcase_add_test(tc, gro_short_segment_ends_merge);
	tcase_add_test(tc, gro_prepend_rules);
	tcase_add_test(tc, gro_capacity);
	tcase_add_test(tc, gro_65535_cap);
	tcase_add_test(tc, gro_64_segment_cap);
	tcase_add_test(tc, gro_udp_rules);
	tcase_add_test(tc, gro_udp_not_candidates);
	tcase_add_test(tc, gro_bad_new_tcp_packet);
	tcase_add_test(tc, gro_bad_ipv4_header_csum);
	tcase_add_test(tc, gro_candidates);
	tcase_add_test(tc, gro_ipv4_options);
	tcase_add_test(tc, gro_bad_args);
	tcase_add_test(tc, gro_fragments_and_reserved_bits);
	suite_add_tcase(s, tc);

	tc = tcase_create("property");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(offload_suite(), false);
}
