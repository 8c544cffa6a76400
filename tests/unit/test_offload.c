// SPDX-License-Identifier: MIT
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "tests/unit/offload_pkt.h"
#include "tun/offload.h"

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
	ck_assert_uint_eq(stats.coalesced, 4);
	ck_assert_uint_eq(stats.merged, 4);
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

static Suite *offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("split");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, split_tcp4);
	tcase_add_test(tc, split_tcp6);
	tcase_add_test(tc, split_udp4);
	tcase_add_test(tc, split_udp6);
	suite_add_tcase(s, tc);

	tc = tcase_create("gro");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, gro_multiple_protocols_and_flows);
	tcase_add_test(tc, gro_multiple_protocols_no_udp);
	tcase_add_test(tc, gro_psh_interleaved);
	tcase_add_test(tc, gro_item_invalid_csum);
	tcase_add_test(tc, gro_out_of_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(offload_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
