// SPDX-License-Identifier: MIT
/* UDP GSO packing and GRO splitting (the pure parts of the bind). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "conn/batch.h"
#include "tests/unit/conn_testutil.h"
#include "tests/unit/testutil.h"

#define MAXB VG_UDP_GSO_MAX_BYTES_V4

static uint8_t pool[128][2048];

/* Datagrams of the given sizes, each filled with its own index. */
static unsigned int mk(struct iovec *iov, const size_t *sizes, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		memset(pool[i], (int)i + 1, sizes[i]);
		iov[i].iov_base = pool[i];
		iov[i].iov_len = sizes[i];
	}
	return n;
}

struct want {
	unsigned int first, count;
	uint16_t gso;
	size_t bytes;
};

static void check_plan(const size_t *sizes, unsigned int n, unsigned int segs, size_t max_bytes,
		       size_t max_seg, const struct want *w, unsigned int nw)
{
	struct iovec iov[128];
	struct vg_gso_msg out[128];
	unsigned int consumed = 0, m;

	mk(iov, sizes, n);
	m = vg_gso_plan(iov, n, segs, max_bytes, max_seg, out, 128, &consumed);
	ck_assert_uint_eq(m, nw);
	ck_assert_uint_eq(consumed, n);
	for (unsigned int i = 0; i < m; i++) {
		ck_assert_msg(out[i].first == w[i].first && out[i].count == w[i].count &&
				      out[i].gso_size == w[i].gso && out[i].bytes == w[i].bytes,
			      "msg %u: first %u count %u gso %u bytes %zu, want %u %u %u %zu", i,
			      out[i].first, out[i].count, out[i].gso_size, out[i].bytes, w[i].first,
			      w[i].count, w[i].gso, w[i].bytes);
	}
}

START_TEST(gso_one)
{
	const size_t s[] = { 1 };
	const struct want w[] = { { 0, 1, 0, 1 } };

	check_plan(s, 1, 64, MAXB, 65535, w, 1);
}
END_TEST

START_TEST(gso_equal)
{
	const size_t s[] = { 1, 1 };
	const struct want w[] = { { 0, 2, 1, 2 } };

	check_plan(s, 2, 64, MAXB, 65535, w, 1);
}
END_TEST

START_TEST(gso_short_tail)
{
	const size_t s[] = { 2, 1 };
	const struct want w[] = { { 0, 2, 2, 3 } };

	check_plan(s, 2, 64, MAXB, 65535, w, 1);
}
END_TEST

START_TEST(gso_short_ends_run)
{
	const size_t s[] = { 2, 1, 2 };
	const struct want w[] = { { 0, 2, 2, 3 }, { 2, 1, 0, 2 } };

	check_plan(s, 3, 64, MAXB, 65535, w, 2);
}
END_TEST

START_TEST(gso_longer_ends_run)
{
	const size_t s[] = { 2, 2, 3, 3, 3 };
	const struct want w[] = { { 0, 2, 2, 4 }, { 2, 3, 3, 9 } };

	check_plan(s, 5, 64, MAXB, 65535, w, 2);
}
END_TEST

START_TEST(gso_byte_cap)
{
	const size_t s[] = { 2, 2, 2 };
	const struct want w[] = { { 0, 2, 2, 4 }, { 2, 1, 0, 2 } };

	check_plan(s, 3, 64, 4, 65535, w, 2);
}
END_TEST

START_TEST(gso_real_byte_cap)
{
	/* 45 x 1452 = 65340 fits the IPv4 limit of 65507; 46 would not. */
	size_t s[64];
	struct want w[2] = { { 0, 45, 1452, 45 * 1452 }, { 45, 19, 1452, 19 * 1452 } };

	for (int i = 0; i < 64; i++)
		s[i] = 1452;
	check_plan(s, 64, 64, VG_UDP_GSO_MAX_BYTES_V4, 65535, w, 2);
}
END_TEST

START_TEST(gso_seg_cap)
{
	size_t s[128 + 3];
	struct want w[3] = { { 0, 64, 100, 6400 }, { 64, 64, 100, 6400 }, { 128, 3, 100, 300 } };
	struct iovec iov[131];
	struct vg_gso_msg out[128];
	unsigned int consumed, m;

	for (int i = 0; i < 131; i++)
		s[i] = 100;
	/* 131 datagrams need 3 messages; 128-entry pools cap the helper below. */
	for (int i = 0; i < 131; i++) {
		iov[i].iov_base = pool[i % 128];
		iov[i].iov_len = s[i];
	}
	m = vg_gso_plan(iov, 131, 64, MAXB, 65535, out, 128, &consumed);
	ck_assert_uint_eq(m, 3);
	ck_assert_uint_eq(consumed, 131);
	for (unsigned int i = 0; i < 3; i++) {
		ck_assert_uint_eq(out[i].first, w[i].first);
		ck_assert_uint_eq(out[i].count, w[i].count);
		ck_assert_uint_eq(out[i].gso_size, w[i].gso);
		ck_assert_uint_eq(out[i].bytes, w[i].bytes);
	}
	/* A smaller segment cap, e.g. 8. */
	m = vg_gso_plan(iov, 20, 8, MAXB, 65535, out, 128, &consumed);
	ck_assert_uint_eq(m, 3);
	ck_assert_uint_eq(out[2].count, 4);
}
END_TEST

START_TEST(gso_off_and_limits)
{
	const size_t s[] = { 5, 5, 5 };
	const struct want off[] = { { 0, 1, 0, 5 }, { 1, 1, 0, 5 }, { 2, 1, 0, 5 } };
	const size_t z[] = { 0, 0, 4, 4 };
	const struct want wz[] = { { 0, 1, 0, 0 }, { 1, 1, 0, 0 }, { 2, 2, 4, 8 } };
	const size_t big[] = { 6, 6, 4, 4 };
	const struct want wb[] = { { 0, 1, 0, 6 }, { 1, 1, 0, 6 }, { 2, 2, 4, 8 } };

	check_plan(s, 3, 1, MAXB, 65535, off, 3);	/* GSO off */
	check_plan(z, 4, 64, MAXB, 65535, wz, 3);	/* empty datagrams go alone */
	check_plan(big, 4, 64, MAXB, 5, wb, 3);		/* refused segment sizes go alone */
}
END_TEST

START_TEST(gso_out_limit)
{
	struct iovec iov[10];
	struct vg_gso_msg out[3];
	size_t s[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	unsigned int consumed, m;

	mk(iov, s, 10);
	m = vg_gso_plan(iov, 10, 64, MAXB, 65535, out, 3, &consumed);
	ck_assert_uint_eq(m, 3);
	ck_assert_uint_eq(consumed, 3);
}
END_TEST

static struct vg_endpoint ep_a(void)
{
	struct vg_endpoint ep = vg_test_ep("10.0.0.1", 9);

	vg_test_ep_src(&ep, "127.0.0.2", 4);
	return ep;
}

static uint8_t out_buf[8][256];

static void slots(struct vg_rx_pkt *p, unsigned int n, uint32_t cap)
{
	memset(p, 0, sizeof(*p) * n);
	for (unsigned int i = 0; i < n; i++) {
		p[i].data = out_buf[i];
		p[i].cap = cap;
		p[i].len = 0xdead;
	}
}

START_TEST(gro_split_sizes)
{
	uint8_t buf[10];
	struct vg_rx_pkt p[8];
	struct vg_endpoint ep = ep_a();
	size_t off = 0;
	uint64_t trunc = 0;
	unsigned int got;

	for (int i = 0; i < 10; i++)
		buf[i] = (uint8_t)i;
	slots(p, 8, 256);
	got = vg_gro_split(buf, 10, &off, 3, &ep, p, 8, &trunc);
	ck_assert_uint_eq(got, 4);
	ck_assert_uint_eq(off, 10);
	ck_assert_uint_eq(p[0].len, 3);
	ck_assert_uint_eq(p[3].len, 1);
	ck_assert_uint_eq(p[4].len, 0xdead);
	for (unsigned int i = 0; i < 4; i++) {
		for (unsigned int k = 0; k < p[i].len; k++)
			ck_assert_uint_eq(p[i].data[k], i * 3 + k);
		/* Every piece keeps the parent's sender and pktinfo. */
		ck_assert_mem_eq(&p[i].ep, &ep, sizeof(ep));
	}
	ck_assert_uint_eq(trunc, 0);
}
END_TEST

START_TEST(gro_split_resume)
{
	uint8_t buf[10] = { 0 };
	struct vg_rx_pkt p[8];
	struct vg_endpoint ep = ep_a();
	size_t off = 0;
	uint64_t trunc = 0;

	slots(p, 8, 256);
	/* Two slots: the rest waits for the next call. */
	ck_assert_uint_eq(vg_gro_split(buf, 10, &off, 3, &ep, p, 2, &trunc), 2);
	ck_assert_uint_eq(off, 6);
	ck_assert_uint_eq(vg_gro_split(buf, 10, &off, 3, &ep, p, 8, &trunc), 2);
	ck_assert_uint_eq(p[1].len, 1);
	ck_assert_uint_eq(off, 10);
	/* No GRO size: one datagram. */
	off = 0;
	ck_assert_uint_eq(vg_gro_split(buf, 10, &off, 0, &ep, p, 8, &trunc), 1);
	ck_assert_uint_eq(p[0].len, 10);
	/* Exact multiple. */
	off = 0;
	ck_assert_uint_eq(vg_gro_split(buf, 10, &off, 5, &ep, p, 8, &trunc), 2);
	ck_assert_uint_eq(p[1].len, 5);
}
END_TEST

START_TEST(gro_split_truncated)
{
	uint8_t buf[10] = { 0 };
	struct vg_rx_pkt p[8];
	struct vg_endpoint ep = ep_a();
	size_t off = 0;
	uint64_t trunc = 0;

	slots(p, 8, 2);
	/* 3-byte pieces do not fit 2-byte slots; the 1-byte tail does. */
	ck_assert_uint_eq(vg_gro_split(buf, 10, &off, 3, &ep, p, 8, &trunc), 1);
	ck_assert_uint_eq(trunc, 3);
	ck_assert_uint_eq(p[0].len, 1);
}
END_TEST

/* Lending: the same cut, pointers into buf instead of copies. */
START_TEST(gro_lend_pieces)
{
	uint8_t buf[10];
	struct vg_rx_pkt p[8];
	struct vg_endpoint ep = ep_a();
	size_t off = 0;
	uint64_t trunc = 0;

	for (int i = 0; i < 10; i++)
		buf[i] = (uint8_t)i;
	slots(p, 8, 256);
	ck_assert_uint_eq(vg_gro_lend(buf, 10, &off, 3, &ep, p, 3, &trunc), 3);
	ck_assert_uint_eq(off, 9);
	for (unsigned int i = 0; i < 3; i++) {
		ck_assert_ptr_eq(p[i].data, buf + 3 * i);
		ck_assert_uint_eq(p[i].len, 3);
		ck_assert_mem_eq(&p[i].ep, &ep, sizeof(ep));
	}
	ck_assert_uint_eq(vg_gro_lend(buf, 10, &off, 3, &ep, p, 8, &trunc), 1);
	ck_assert_ptr_eq(p[0].data, buf + 9);
	ck_assert_uint_eq(p[0].len, 1);
	/* The caps still apply. */
	off = 0;
	slots(p, 8, 2);
	ck_assert_uint_eq(vg_gro_lend(buf, 10, &off, 3, &ep, p, 8, &trunc), 1);
	ck_assert_uint_eq(trunc, 3);
	ck_assert_ptr_eq(p[0].data, buf + 9);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("udp_batch");
	TCase *g = tcase_create("gso"), *r = tcase_create("gro");

	tcase_add_test(g, gso_one);
	tcase_add_test(g, gso_equal);
	tcase_add_test(g, gso_short_tail);
	tcase_add_test(g, gso_short_ends_run);
	tcase_add_test(g, gso_longer_ends_run);
	tcase_add_test(g, gso_byte_cap);
	tcase_add_test(g, gso_real_byte_cap);
	tcase_add_test(g, gso_seg_cap);
	tcase_add_test(g, gso_off_and_limits);
	tcase_add_test(g, gso_out_limit);
	tcase_add_test(r, gro_split_sizes);
	tcase_add_test(r, gro_split_resume);
	tcase_add_test(r, gro_split_truncated);
	tcase_add_test(r, gro_lend_pieces);
	suite_add_tcase(s, g);
	suite_add_tcase(s, r);
	return s;
}

int main(void)
{
	return vg_test_run(suite(), false);
}
