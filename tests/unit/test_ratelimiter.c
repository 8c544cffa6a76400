// SPDX-License-Identifier: MIT
/*
 * The handshake rate limiter under an injected clock: wireguard-go's
 * burst/refill sequence for several sources, IPv6 /64 keying, garbage
 * collection and the entry bound.
 */
#include "config.h"

#include "device/ratelimiter.h"
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NSEC 1000000000ULL
#define COST (NSEC / 20)

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
	return *(uint64_t *)ctx;
}

static struct ratelimiter *rl;

static void setup(void)
{
	fake_now = 1000 * NSEC;
	rl = ratelimiter_new(0, fake_clock, &fake_now);
	ck_assert_ptr_nonnull(rl);
}

static void teardown(void)
{
	ratelimiter_free(rl);
}

static bool allow(const char *s)
{
	uint8_t a[16];
	int f = strchr(s, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(f, s, a), 1);
	return ratelimiter_allow(rl, f, a);
}

static const struct {
	bool allowed;
	uint64_t wait;
	const char *what;
} sequence[] = {
	{ true, 0, "initial burst 1" },
	{ true, 0, "initial burst 2" },
	{ true, 0, "initial burst 3" },
	{ true, 0, "initial burst 4" },
	{ true, 0, "initial burst 5" },
	{ false, 0, "after burst" },
	{ true, COST, "filling tokens for a single packet" },
	{ false, 0, "not having refilled enough" },
	{ true, 2 * COST, "filling tokens for a two-packet burst" },
	{ true, 0, "second packet of the two-packet burst" },
	{ false, 0, "packet following the two-packet burst" },
};

START_TEST(wireguard_go_sequence)
{
	static const char *const ips[] = {
		"127.0.0.1", "192.168.1.1", "172.167.2.3", "97.231.252.215",
		"248.97.91.167", "188.208.233.47", "104.2.183.179", "72.129.46.120",
		"2001:0db8:0a0b:12f0:0000:0000:0000:0001", "f5c2:818f:c052:655a:9860:b136:6894:25f0",
		"b2d7:15ab:48a7:b07c:a541:f144:a9fe:54fc", "a47b:786e:1671:a22b:d6f9:4ab0:abc7:c918",
		"ea1e:d155:7f7a:98fb:2bf5:9483:80f6:5445", "3f0e:54a2:f5b4:cd19:a21d:58e1:3746:84c4",
	};

	for (size_t i = 0; i < sizeof(sequence) / sizeof(sequence[0]); i++) {
		fake_now += sequence[i].wait;
		for (size_t j = 0; j < sizeof(ips) / sizeof(ips[0]); j++)
			ck_assert_msg(allow(ips[j]) == sequence[i].allowed,
				      "%s: %s", ips[j], sequence[i].what);
	}
}
END_TEST

START_TEST(refill_caps_at_burst)
{
	for (int i = 0; i < 5; i++)
		ck_assert(allow("10.0.0.1"));
	ck_assert(!allow("10.0.0.1"));
	/* An hour later (GC ran, the entry is fresh again): still only 5. */
	fake_now += 3600 * NSEC;
	for (int i = 0; i < 5; i++)
		ck_assert(allow("10.0.0.1"));
	ck_assert(!allow("10.0.0.1"));
	/* Within the second, the bucket refills to at most 5. */
	fake_now += NSEC - 1;
	for (int i = 0; i < 5; i++)
		ck_assert(allow("10.0.0.1"));
	ck_assert(!allow("10.0.0.1"));
	/* Steady state: one packet per 50 ms. */
	for (int i = 0; i < 100; i++) {
		fake_now += COST;
		ck_assert(allow("10.0.0.1"));
		ck_assert(!allow("10.0.0.1"));
	}
}
END_TEST

START_TEST(ipv6_keyed_by_64)
{
	uint8_t a[16] = { 0 };

	for (int i = 0; i < 5; i++) {
		char s[64];

		snprintf(s, sizeof(s), "2001:db8:1:2::%x", i + 1);
		ck_assert(allow(s));
	}
	/* Every address in the /64 shares the bucket... */
	ck_assert(!allow("2001:db8:1:2:ffff:ffff:ffff:ffff"));
	/* ...the next /64 does not, and neither does IPv4. */
	ck_assert(allow("2001:db8:1:3::1"));
	ck_assert(allow("32.1.13.184"));
	ck_assert_uint_eq(ratelimiter_count(rl), 3);
	ck_assert(!ratelimiter_allow(rl, AF_UNIX, a));
}
END_TEST

START_TEST(gc_collects_idle)
{
	char s[32];

	for (int i = 0; i < 1000; i++) {
		snprintf(s, sizeof(s), "10.%d.%d.1", i >> 8, i & 255);
		ck_assert(allow(s));
	}
	ck_assert_uint_eq(ratelimiter_count(rl), 1000);
	/* Not idle long enough: an explicit GC keeps them. */
	fake_now += NSEC / 2;
	ratelimiter_gc(rl);
	ck_assert_uint_eq(ratelimiter_count(rl), 1000);
	/* One source stays busy; after more than a second the rest go, and
	 * the collection happens from allow() on its own. */
	fake_now += NSEC / 2;
	ck_assert(allow("10.0.0.1"));
	fake_now += NSEC / 2 + 1;
	ck_assert(allow("10.0.0.1"));
	ck_assert_uint_eq(ratelimiter_count(rl), 1);
	fake_now += 2 * NSEC;
	ratelimiter_gc(rl);
	ck_assert_uint_eq(ratelimiter_count(rl), 0);
}
END_TEST

START_TEST(bounded)
{
	struct ratelimiter *small = ratelimiter_new(100, fake_clock, &fake_now);
	uint8_t a[4] = { 10, 0, 0, 0 };

	ck_assert_ptr_nonnull(small);
	for (int i = 0; i < 100; i++) {
		a[3] = i;
		ck_assert(ratelimiter_allow(small, AF_INET, a));
	}
	/* Full: a new source is refused, a known one still gets its tokens. */
	a[3] = 200;
	ck_assert(!ratelimiter_allow(small, AF_INET, a));
	a[3] = 7;
	ck_assert(ratelimiter_allow(small, AF_INET, a));
	ck_assert_uint_eq(ratelimiter_count(small), 100);
	/* Once the idle ones are collected there is room again. */
	fake_now += 2 * NSEC;
	a[3] = 200;
	ck_assert(ratelimiter_allow(small, AF_INET, a));
	ck_assert_uint_eq(ratelimiter_count(small), 1);
	ratelimiter_free(small);
}
END_TEST

START_TEST(flood_does_not_starve_others)
{
	int allowed = 0;

	/* 1000 initiations from one source over one second... */
	for (int i = 0; i < 1000; i++) {
		fake_now += NSEC / 1000;
		allowed += allow("198.51.100.7");
		/* ...while another source sends one every 100 ms. */
		if (i % 100 == 0)
			ck_assert(allow("203.0.113.9"));
	}
	/* 5 in the first burst plus 20 per second. */
	ck_assert_int_ge(allowed, 24);
	ck_assert_int_le(allowed, 26);
}
END_TEST

START_TEST(real_clock)
{
	struct ratelimiter *r = ratelimiter_new(0, NULL, NULL);
	uint8_t a[4] = { 192, 0, 2, 1 };
	int n = 0;

	ck_assert_ptr_nonnull(r);
	for (int i = 0; i < 6; i++)
		n += ratelimiter_allow(r, AF_INET, a);
	/* Unless this took 50 ms, the sixth was refused. */
	ck_assert_int_ge(n, 5);
	ck_assert_int_le(n, 6);
	ratelimiter_free(r);
}
END_TEST

static Suite *ratelimiter_suite(void)
{
	Suite *s = suite_create("ratelimiter");
	TCase *tc = tcase_create("buckets");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, wireguard_go_sequence);
	tcase_add_test(tc, refill_caps_at_burst);
	tcase_add_test(tc, ipv6_keyed_by_64);
	tcase_add_test(tc, gc_collects_idle);
	tcase_add_test(tc, bounded);
	tcase_add_test(tc, flood_does_not_starve_others);
	tcase_add_test(tc, real_clock);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(ratelimiter_suite(), false);
}
