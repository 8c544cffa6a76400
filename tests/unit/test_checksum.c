// SPDX-License-Identifier: MIT
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "tun/checksum.h"
#include "tun/offload_pkt.h"
#include "tests/unit/testutil.h"

#define MAXLEN 9001

static uint8_t data[MAXLEN + 256];

static void fill_random(unsigned seed)
{
	size_t i;

	srand(seed);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
}

START_TEST(every_length_matches_reference)
{
	size_t len;

	fill_random(1);
	for (len = 0; len <= MAXLEN; len++) {
		ck_assert_uint_eq(csum_partial(data, len, 0), ref_sum(data, len, 0));
		ck_assert_uint_eq(csum_partial(data, len, 0x1234),
				  ref_sum(data, len, 0x1234));
	}
}
END_TEST

/* Unaligned starts take the same path through memcpy loads. */
START_TEST(unaligned_start)
{
	size_t off, len;

	fill_random(2);
	for (off = 1; off < 8; off++)
		for (len = 0; len < 300; len++)
			ck_assert_uint_eq(csum_partial(data + off, len, 0xfedc),
					  ref_sum(data + off, len, 0xfedc));
}
END_TEST

START_TEST(all_ones_and_zeros)
{
	memset(data, 0xff, sizeof(data));
	ck_assert_uint_eq(csum_partial(data, 4096, 0), 0xffff);
	ck_assert_uint_eq(csum_partial(data, 4097, 0), ref_sum(data, 4097, 0));
	memset(data, 0, sizeof(data));
	ck_assert_uint_eq(csum_partial(data, 4096, 0), 0);
	/* A 32-bit initial value is folded, not truncated. */
	ck_assert_uint_eq(csum_partial(data, 8, 0x1fffe), 0xffff);
	ck_assert_uint_eq(csum_partial(data, 8, 0x12345678), 0x68ac);
}
END_TEST

START_TEST(chained_sums)
{
	size_t a;

	fill_random(3);
	for (a = 0; a < 200; a += 2)
		ck_assert_uint_eq(csum_partial(data + a, 777, csum_partial(data, a, 0x55)),
				  ref_sum(data, a + 777, 0x55));
}
END_TEST

START_TEST(copy_and_sum)
{
	static uint8_t dst[MAXLEN + 256];
	size_t len, off;

	fill_random(6);
	for (len = 0; len <= 3000; len++) {
		off = len % 7;
		memset(dst, 0xcc, sizeof(dst));
		ck_assert_uint_eq(csum_copy(dst + off, data + 3 + off, len, 0xabcd),
				  ref_sum(data + 3 + off, len, 0xabcd));
		ck_assert_mem_eq(dst + off, data + 3 + off, len);
		/* Not a byte more. */
		ck_assert_uint_eq(dst[off + len], 0xcc);
		if (off)
			ck_assert_uint_eq(dst[off - 1], 0xcc);
	}
	ck_assert_uint_eq(csum_copy(dst, data, MAXLEN, 0), ref_sum(data, MAXLEN, 0));
}
END_TEST

START_TEST(pseudo_header_v4_v6)
{
	size_t len, alen;
	uint32_t want;
	uint8_t ph[40];

	fill_random(4);
	for (alen = 4; alen <= 16; alen += 12) {
		for (len = 0; len <= MAXLEN; len += 7) {
			/* The pseudo-header as bytes, summed by the reference. */
			memset(ph, 0, sizeof(ph));
			memcpy(ph, data, alen);
			memcpy(ph + alen, data + 100, alen);
			ph[2 * alen + 1] = 6;
			pkt_put16(ph + 2 * alen + 2, (uint16_t)(len >> 16));
			pkt_put16(ph + 2 * alen + 4, (uint16_t)len);
			want = ref_sum(ph, 2 * alen + 6, 0);
			want = ref_sum(data + 200, len, want);
			ck_assert_uint_eq(
				csum_partial(data + 200, len,
					     csum_pseudo(data, data + 100, alen, 6,
							 (uint32_t)len)),
				want);
		}
	}
	/* A known value: 192.0.2.1 -> 192.0.2.2, TCP, length 20. */
	{
		const uint8_t s[4] = { 192, 0, 2, 1 }, d[4] = { 192, 0, 2, 2 };

		ck_assert_uint_eq(csum_pseudo(s, d, 4, 6, 20),
				  0x841e);
	}
}
END_TEST

START_TEST(ipv4_header)
{
	/* RFC 1071-style example header (Wikipedia's IPv4 checksum). */
	const uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00,
				0x40, 0x11, 0xde, 0xad, 0xc0, 0xa8, 0x00, 0x01,
				0xc0, 0xa8, 0x00, 0xc7 };

	ck_assert_uint_eq(csum_ipv4_header(h, 20), 0xb861);
}
END_TEST

START_TEST(finish_never_zero)
{
	ck_assert_uint_eq(csum_finish(0xffff), 0);
	ck_assert_uint_eq(csum_finish_nz(0xffff), 0xffff);
	ck_assert_uint_eq(csum_finish_nz(0x1234), 0xedcb);
}
END_TEST

START_TEST(incremental_matches_full)
{
	unsigned i;
	uint8_t buf[64];
	uint16_t check, old, nw, full, inc;
	uint32_t o32, n32;

	srand(5);
	for (i = 0; i < 20000; i++) {
		size_t w = (size_t)(rand() % 30) * 2;

		for (size_t j = 0; j < sizeof(buf); j++)
			buf[j] = (uint8_t)rand();
		check = csum_finish(ref_sum(buf, sizeof(buf), 0));
		old = pkt_get16(buf + w);
		nw = (uint16_t)rand();
		if (i % 100 == 0)
			nw = old;
		pkt_put16(buf + w, nw);
		full = csum_finish(ref_sum(buf, sizeof(buf), 0));
		inc = csum_replace2(check, old, nw);
		/* 0 and 0xffff are the same number in one's complement. */
		ck_assert_uint_eq(inc == 0xffff ? 0 : inc, full == 0xffff ? 0 : full);

		w &= ~(size_t)3;
		check = csum_finish(ref_sum(buf, sizeof(buf), 0));
		o32 = pkt_get32(buf + w);
		n32 = (uint32_t)rand() << 1 ^ (uint32_t)rand();
		pkt_put32(buf + w, n32);
		full = csum_finish(ref_sum(buf, sizeof(buf), 0));
		inc = csum_replace4(check, o32, n32);
		ck_assert_uint_eq(inc == 0xffff ? 0 : inc, full == 0xffff ? 0 : full);
	}
}
END_TEST

static Suite *checksum_suite(void)
{
	Suite *s = suite_create("checksum");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_length_matches_reference);
	tcase_add_test(tc, unaligned_start);
	tcase_add_test(tc, all_ones_and_zeros);
	tcase_add_test(tc, chained_sums);
	tcase_add_test(tc, copy_and_sum);
	tcase_add_test(tc, pseudo_header_v4_v6);
	tcase_add_test(tc, ipv4_header);
	tcase_add_test(tc, finish_never_zero);
	tcase_add_test(tc, incremental_matches_full);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(checksum_suite(), false);
}
