// SPDX-License-Identifier: MIT
/*
 * Allowed IPs: fixed cases (the shapes of wireguard-go's and the kernel's
 * trie tests) and a brute-force model over 100,000 random operations.
 */
#include "config.h"

#include "device/allowedips.h"
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct allowedips *t;
static int peers[16];
#define P(i) ((void *)&peers[i])

static void setup(void)
{
	t = allowedips_new();
	ck_assert_ptr_nonnull(t);
}

static void teardown(void)
{
	allowedips_free(t);
	t = NULL;
}

static int family_of(const char *s)
{
	return strchr(s, ':') ? AF_INET6 : AF_INET;
}

static void ins(const char *s, uint8_t cidr, void *peer)
{
	uint8_t a[16];
	int f = family_of(s);

	ck_assert_int_eq(inet_pton(f, s, a), 1);
	ck_assert_int_eq(allowedips_insert(t, f, a, cidr, peer), 0);
}

static int rem(const char *s, uint8_t cidr, void *peer)
{
	uint8_t a[16];
	int f = family_of(s);

	ck_assert_int_eq(inet_pton(f, s, a), 1);
	return allowedips_remove(t, f, a, cidr, peer);
}

static void *look(const char *s)
{
	uint8_t a[16];
	int f = family_of(s);

	ck_assert_int_eq(inet_pton(f, s, a), 1);
	return allowedips_lookup(t, f, a);
}

#define ck_assert_lookup(s, peer) \
	ck_assert_msg(look(s) == (peer), "lookup %s", s)

struct listing {
	char buf[1024];
};

static int list_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct listing *l = ctx;
	char s[INET6_ADDRSTRLEN];
	size_t n = strlen(l->buf);

	inet_ntop(family, addr, s, sizeof(s));
	snprintf(l->buf + n, sizeof(l->buf) - n, "%s%s/%u", n ? " " : "", s, cidr);
	return 0;
}

static const char *list(void *peer)
{
	static struct listing l;

	l.buf[0] = 0;
	ck_assert_int_eq(allowedips_walk_peer(t, peer, list_fn, &l), 0);
	return l.buf;
}

/* Same layout as the kernel's allowedips selftest. */
START_TEST(fixed_lookups)
{
	ins("192.168.4.0", 24, P(0));
	ins("192.168.4.4", 32, P(1));
	ins("192.168.0.0", 16, P(2));
	ins("192.95.5.64", 27, P(3));
	ins("192.95.5.65", 32, P(2));	/* a host inside P(3)'s /27 */
	ins("2607:5300:60:6b0::c05f:543", 128, P(3));
	ins("2607:5300:60:6b0::", 64, P(2));
	ins("0.0.0.0", 0, P(4));
	ins("::", 0, P(4));
	ins("10.0.0.0", 8, P(5));
	ins("10.1.0.0", 16, P(6));

	ck_assert_lookup("192.168.4.20", P(0));
	ck_assert_lookup("192.168.4.0", P(0));
	ck_assert_lookup("192.168.4.4", P(1));
	ck_assert_lookup("192.168.200.182", P(2));
	ck_assert_lookup("192.95.5.68", P(3));
	ck_assert_lookup("192.95.5.65", P(2));
	ck_assert_lookup("192.95.5.96", P(4));
	ck_assert_lookup("2607:5300:60:6b0::c05f:543", P(3));
	ck_assert_lookup("2607:5300:60:6b0::c02e:1ee", P(2));
	ck_assert_lookup("2607:5300:60:6b1::1", P(4));
	ck_assert_lookup("10.2.3.4", P(5));
	ck_assert_lookup("10.1.3.4", P(6));
	ck_assert_lookup("1.1.1.1", P(4));
	ck_assert_uint_eq(allowedips_count(t), 11);

	/* Removing the defaults leaves holes, not wrong answers. */
	ck_assert_int_eq(rem("0.0.0.0", 0, P(4)), 0);
	ck_assert_lookup("1.1.1.1", NULL);
	ck_assert_lookup("::1", P(4));
	allowedips_remove_peer(t, P(4));
	ck_assert_lookup("::1", NULL);
	ck_assert_lookup("192.95.5.96", NULL);
	ck_assert_uint_eq(allowedips_count(t), 9);
}
END_TEST

START_TEST(host_bits_masked)
{
	ins("10.1.2.3", 8, P(0));
	ck_assert_str_eq(list(P(0)), "10.0.0.0/8");
	ck_assert_lookup("10.200.0.1", P(0));
	/* The same prefix written differently is the same entry. */
	ins("10.9.9.9", 8, P(1));
	ck_assert_str_eq(list(P(0)), "");
	ck_assert_str_eq(list(P(1)), "10.0.0.0/8");
	ins("2001:db8:ffff::1", 33, P(1));
	ck_assert_str_eq(list(P(1)), "10.0.0.0/8 2001:db8:8000::/33");
	ck_assert_int_eq(rem("2001:db8:8000:1::", 33, P(1)), 0);
	ck_assert_uint_eq(allowedips_count(t), 1);
}
END_TEST

START_TEST(insert_moves_and_orders)
{
	ins("10.0.0.1", 32, P(0));
	ins("fd00::1", 128, P(0));
	ins("10.0.0.2", 32, P(0));
	ins("10.0.0.3", 32, P(1));
	ck_assert_str_eq(list(P(0)), "10.0.0.1/32 fd00::1/128 10.0.0.2/32");
	/* Moving to another peer appends it there. */
	ins("10.0.0.1", 32, P(1));
	ck_assert_str_eq(list(P(0)), "fd00::1/128 10.0.0.2/32");
	ck_assert_str_eq(list(P(1)), "10.0.0.3/32 10.0.0.1/32");
	ck_assert_lookup("10.0.0.1", P(1));
	/* Re-inserting for the same peer moves it to the end, like wg-go. */
	ins("fd00::1", 128, P(0));
	ck_assert_str_eq(list(P(0)), "10.0.0.2/32 fd00::1/128");
	ck_assert_uint_eq(allowedips_count_peer(t, P(0)), 2);
	ck_assert_uint_eq(allowedips_count_peer(t, P(1)), 2);
	ck_assert_uint_eq(allowedips_count(t), 4);
}
END_TEST

START_TEST(remove_only_own)
{
	ins("192.168.1.0", 24, P(0));
	ck_assert_int_eq(rem("192.168.1.0", 24, P(1)), -ENOENT);
	ck_assert_int_eq(rem("192.168.1.0", 25, P(0)), -ENOENT);
	ck_assert_int_eq(rem("192.168.0.0", 16, P(0)), -ENOENT);
	ck_assert_lookup("192.168.1.7", P(0));
	ck_assert_int_eq(rem("192.168.1.0", 24, P(0)), 0);
	ck_assert_int_eq(rem("192.168.1.0", 24, P(0)), -ENOENT);
	ck_assert_lookup("192.168.1.7", NULL);
	ck_assert_uint_eq(allowedips_count(t), 0);
	ck_assert_uint_eq(allowedips_count_peer(t, P(0)), 0);
}
END_TEST

START_TEST(bad_arguments)
{
	uint8_t a[16] = { 0 };

	ck_assert_int_eq(allowedips_insert(t, AF_INET, a, 33, P(0)), -EINVAL);
	ck_assert_int_eq(allowedips_insert(t, AF_INET6, a, 129, P(0)), -EINVAL);
	ck_assert_int_eq(allowedips_insert(t, AF_UNIX, a, 8, P(0)), -EINVAL);
	ck_assert_int_eq(allowedips_insert(t, AF_INET, a, 8, NULL), -EINVAL);
	ck_assert_ptr_null(allowedips_lookup(t, AF_UNIX, a));
	ck_assert_uint_eq(allowedips_count(t), 0);
}
END_TEST

START_TEST(packet_lookups)
{
	uint8_t v4[20] = { 0x45 }, v6[40] = { 0x60 };

	ins("10.0.0.0", 8, P(0));
	ins("192.168.0.0", 16, P(1));
	ins("fd00::", 8, P(2));
	ins("2001:db8::", 32, P(3));
	inet_pton(AF_INET, "10.1.1.1", v4 + 12);
	inet_pton(AF_INET, "192.168.3.3", v4 + 16);
	ck_assert_ptr_eq(allowedips_lookup_src(t, v4, sizeof(v4)), P(0));
	ck_assert_ptr_eq(allowedips_lookup_dst(t, v4, sizeof(v4)), P(1));
	ck_assert_ptr_null(allowedips_lookup_dst(t, v4, 19));
	inet_pton(AF_INET6, "fd00::5", v6 + 8);
	inet_pton(AF_INET6, "2001:db8::7", v6 + 24);
	ck_assert_ptr_eq(allowedips_lookup_src(t, v6, sizeof(v6)), P(2));
	ck_assert_ptr_eq(allowedips_lookup_dst(t, v6, sizeof(v6)), P(3));
	ck_assert_ptr_null(allowedips_lookup_dst(t, v6, 39));
	v6[0] = 0x50;
	ck_assert_ptr_null(allowedips_lookup_dst(t, v6, sizeof(v6)));
}
END_TEST

START_TEST(remove_peer_many)
{
	uint8_t a[4];

	for (int i = 0; i < 4096; i++) {
		a[0] = 10;
		a[1] = i >> 8;
		a[2] = i;
		a[3] = i * 7;
		ck_assert_int_eq(allowedips_insert(t, AF_INET, a, 32 - i % 9,
						   P(i % 3)), 0);
	}
	allowedips_remove_peer(t, P(1));
	ck_assert_uint_eq(allowedips_count_peer(t, P(1)), 0);
	for (int i = 0; i < 4096; i++) {
		void *p;

		a[0] = 10;
		a[1] = i >> 8;
		a[2] = i;
		a[3] = i * 7;
		p = allowedips_lookup(t, AF_INET, a);
		ck_assert_ptr_ne(p, P(1));
	}
	allowedips_remove_peer(t, P(0));
	allowedips_remove_peer(t, P(2));
	ck_assert_uint_eq(allowedips_count(t), 0);
	ck_assert_uint_eq(allowedips_nodes(t), 0);
	ck_assert_ptr_null(look("10.0.0.0"));
}
END_TEST

/* ---- The model: a flat list, searched exhaustively ---- */

struct entry {
	int v6;
	uint8_t addr[16];
	uint8_t cidr;
	int peer;
	unsigned long seq;
};

#define MAX_ENTRIES 20000
static struct entry model[MAX_ENTRIES];
static size_t nmodel;
static unsigned long seqno;
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void mask(uint8_t *a, int len, uint8_t cidr)
{
	for (int i = 0; i < len; i++) {
		int bits = cidr - 8 * i;

		if (bits <= 0)
			a[i] = 0;
		else if (bits < 8)
			a[i] &= 0xff << (8 - bits);
	}
}

static bool matches(const struct entry *e, int v6, const uint8_t *addr)
{
	uint8_t a[16];
	int len = v6 ? 16 : 4;

	if (e->v6 != v6)
		return false;
	memcpy(a, addr, len);
	mask(a, len, e->cidr);
	return !memcmp(a, e->addr, len);
}

static int model_find(int v6, const uint8_t *addr, uint8_t cidr)
{
	for (size_t i = 0; i < nmodel; i++)
		if (model[i].v6 == v6 && model[i].cidr == cidr &&
		    !memcmp(model[i].addr, addr, v6 ? 16 : 4))
			return i;
	return -1;
}

static void model_del(size_t i)
{
	model[i] = model[--nmodel];
}

static int model_lookup(int v6, const uint8_t *addr)
{
	int best = -1, peer = -1;

	for (size_t i = 0; i < nmodel; i++)
		if (matches(&model[i], v6, addr) && model[i].cidr >= best) {
			best = model[i].cidr;
			peer = model[i].peer;
		}
	return peer;
}

/* Addresses drawn from a small space so prefixes nest, collide and move. */
static void random_addr(int v6, uint8_t *a)
{
	uint64_t x = rnd();
	int len = v6 ? 16 : 4;

	memset(a, 0, 16);
	if (v6) {
		a[0] = 0x20;
		a[1] = 0x01;
	} else {
		a[0] = 10;
	}
	for (int i = 1 + v6; i < len; i++) {
		/* A few bytes vary a lot, the rest a little. */
		a[i] = x % 4 == 0 ? (uint8_t)(x >> 8) : (uint8_t)((x >> 8) & 3);
		x = rnd();
	}
	if (x % 16 == 0)
		a[0] ^= (uint8_t)(x >> 8);
}

static uint8_t random_cidr(int v6)
{
	uint64_t x = rnd();
	int max = v6 ? 128 : 32;

	if (x % 10 == 0)
		return x % 3 == 0 ? 0 : max;
	return (x >> 8) % (max + 1);
}

struct walk_ctx {
	int peer;
	size_t n;
	const struct entry **want;
};

static int walk_check(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_ctx *w = ctx;
	const struct entry *e = w->want[w->n++];

	ck_assert_int_eq(family, e->v6 ? AF_INET6 : AF_INET);
	ck_assert_uint_eq(cidr, e->cidr);
	ck_assert_mem_eq(addr, e->addr, e->v6 ? 16 : 4);
	return 0;
}

static int cmp_seq(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void check_listing(int peer)
{
	static const struct entry *want[MAX_ENTRIES];
	struct walk_ctx w = { .peer = peer, .want = want };
	size_t n = 0;

	for (size_t i = 0; i < nmodel; i++)
		if (model[i].peer == peer)
			want[n++] = &model[i];
	qsort(want, n, sizeof(want[0]), cmp_seq);
	ck_assert_uint_eq(allowedips_count_peer(t, P(peer)), n);
	ck_assert_int_eq(allowedips_walk_peer(t, P(peer), walk_check, &w), 0);
	ck_assert_uint_eq(w.n, n);
}

START_TEST(random_model)
{
	const int npeers = 8, ops = 100000;
	int counts[5] = { 0 };

	nmodel = 0;
	seqno = 0;
	rng = 0x2545f4914f6cdd1dULL * (_i + 1);
	for (int op = 0; op < ops; op++) {
		uint64_t x = rnd();
		int v6 = (x >> 4) & 1, peer = (x >> 8) % npeers, kind = x % 100;
		uint8_t a[16], cidr = random_cidr(v6);
		int i;

		random_addr(v6, a);
		if (kind < 40 && nmodel < MAX_ENTRIES) {
			counts[0]++;
			ck_assert_int_eq(allowedips_insert(t, v6 ? AF_INET6 : AF_INET,
							   a, cidr, P(peer)), 0);
			mask(a, v6 ? 16 : 4, cidr);
			i = model_find(v6, a, cidr);
			if (i < 0) {
				i = nmodel++;
				model[i].v6 = v6;
				memcpy(model[i].addr, a, 16);
				model[i].cidr = cidr;
			}
			model[i].peer = peer;
			model[i].seq = ++seqno;
		} else if (kind < 55) {
			/* Remove: often an existing prefix, by its owner or not. */
			counts[1]++;
			if (nmodel && (x >> 20) % 4) {
				struct entry *e = &model[(x >> 24) % nmodel];

				v6 = e->v6;
				memcpy(a, e->addr, 16);
				cidr = e->cidr;
				if ((x >> 30) % 4)
					peer = e->peer;
			}
			mask(a, v6 ? 16 : 4, cidr);
			i = model_find(v6, a, cidr);
			bool own = i >= 0 && model[i].peer == peer;
			ck_assert_int_eq(allowedips_remove(t, v6 ? AF_INET6 : AF_INET,
							   a, cidr, P(peer)),
					 own ? 0 : -ENOENT);
			if (own)
				model_del(i);
		} else if (kind < 56) {
			counts[2]++;
			allowedips_remove_peer(t, P(peer));
			for (size_t j = nmodel; j-- > 0;)
				if (model[j].peer == peer)
					model_del(j);
		} else if (kind < 98) {
			counts[3]++;
			/* Look up near an existing prefix half of the time. */
			if (nmodel && (x >> 20) % 2) {
				struct entry *e = &model[(x >> 24) % nmodel];

				v6 = e->v6;
				memcpy(a, e->addr, 16);
				a[(x >> 40) % (v6 ? 16 : 4)] ^= (uint8_t)(1 << ((x >> 50) % 8));
			}
			i = model_lookup(v6, a);
			ck_assert_ptr_eq(allowedips_lookup(t, v6 ? AF_INET6 : AF_INET, a),
					 i < 0 ? NULL : P(i));
		} else {
			counts[4]++;
			check_listing(peer);
		}
		ck_assert_uint_eq(allowedips_count(t), nmodel);
		ck_assert_uint_le(allowedips_nodes(t), 2 * nmodel);
	}
	for (int p = 0; p < npeers; p++)
		check_listing(p);
	for (int k = 0; k < 5; k++)
		ck_assert_int_gt(counts[k], 100);
	for (int p = 0; p < npeers; p++)
		allowedips_remove_peer(t, P(p));
	ck_assert_uint_eq(allowedips_count(t), 0);
	ck_assert_uint_eq(allowedips_nodes(t), 0);
}
END_TEST

/* Prefixes that end on either side of the middle of an IPv6 key. */
START_TEST(halves_boundary)
{
	ins("2001:db8:0:0:8000::", 65, P(0));
	ins("2001:db8::", 64, P(1));
	ins("2001:db8:0:1::", 63, P(2));
	ins("2001:db8:0:1:ffff::", 127, P(3));
	ck_assert_lookup("2001:db8::8000:0:0:1", P(0));
	ck_assert_lookup("2001:db8::7fff:0:0:1", P(1));
	ck_assert_lookup("2001:db8:0:1::1", P(2));
	ck_assert_lookup("2001:db8:0:1:ffff::1", P(3));
	ck_assert_lookup("2001:db8:0:1:ffff::2", P(2));
	ck_assert_lookup("2001:db8:0:2::", NULL);
	ck_assert_str_eq(list(P(0)), "2001:db8:0:0:8000::/65");
	ck_assert_str_eq(list(P(2)), "2001:db8::/63");
	ck_assert_str_eq(list(P(3)), "2001:db8:0:1:ffff::/127");
	ins("10.255.255.255", 31, P(4));
	ck_assert_str_eq(list(P(4)), "10.255.255.254/31");
	ck_assert_lookup("10.255.255.254", P(4));
	ck_assert_int_eq(rem("2001:db8::", 64, P(1)), 0);
	ck_assert_lookup("2001:db8::7fff:0:0:1", P(2));
}
END_TEST

static Suite *allowedips_suite(void)
{
	Suite *s = suite_create("allowedips");
	TCase *tc = tcase_create("trie");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fixed_lookups);
	tcase_add_test(tc, host_bits_masked);
	tcase_add_test(tc, insert_moves_and_orders);
	tcase_add_test(tc, remove_only_own);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, packet_lookups);
	tcase_add_test(tc, remove_peer_many);
	tcase_add_test(tc, halves_boundary);
	suite_add_tcase(s, tc);

	tc = tcase_create("model");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, random_model, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(allowedips_suite(), false);
}
