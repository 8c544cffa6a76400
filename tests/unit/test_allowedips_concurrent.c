/* SPDX-License-Identifier: MIT */
/*
 * A table made concurrent is changed by one writer while another thread
 * looks up in it, as the data plane's sets and workers do: every lookup
 * of an address the writer's changes do not concern finds its peer every
 * time, and no unlinked node is reused before the writer releases it
 * (the sanitizer builds allocate each node on its own, so a reuse is a
 * use-after-free they report).
 */
#include "config.h"

#include "device/allowedips.h"
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sched.h>

static int peers[4];
#define P(i) ((void *)&peers[i])

static struct allowedips *t;
static atomic_bool done;
static atomic_ulong rounds, wrong;

static void addr4(const char *s, uint8_t *a)
{
	ck_assert_int_eq(inet_pton(AF_INET, s, a), 1);
}

/* The reader, standing for a worker: each loop is one "batch". */
static void *reader(void *arg)
{
	uint8_t in1[4], in2[4], in6[16];

	(void)arg;
	addr4("10.1.2.3", in1);
	addr4("10.200.0.1", in2);
	inet_pton(AF_INET6, "2001:db8::77", in6);
	while (!atomic_load(&done)) {
		if (allowedips_lookup(t, AF_INET, in1) != P(1) ||
		    allowedips_lookup(t, AF_INET, in2) != P(0) ||
		    allowedips_lookup(t, AF_INET6, in6) != P(2))
			atomic_fetch_add(&wrong, 1);
		atomic_fetch_add(&rounds, 1);
	}
	return NULL;
}

/* A grace period: the reader has finished every lookup it had started. */
static void grace(void)
{
	unsigned long r = atomic_load(&rounds);

	while (atomic_load(&rounds) < r + 2)
		sched_yield();
}

START_TEST(lookups_during_changes)
{
	uint8_t a[4];
	pthread_t th;
	int round, i;

	t = allowedips_new();
	ck_assert_ptr_nonnull(t);
	allowedips_set_concurrent(t);
	addr4("10.0.0.0", a);
	ck_assert_int_eq(allowedips_insert(t, AF_INET, a, 8, P(0)), 0);
	addr4("10.1.0.0", a);
	ck_assert_int_eq(allowedips_insert(t, AF_INET, a, 16, P(1)), 0);
	{
		uint8_t a6[16];

		inet_pton(AF_INET6, "2001:db8::", a6);
		ck_assert_int_eq(allowedips_insert(t, AF_INET6, a6, 32, P(2)), 0);
	}
	ck_assert_int_eq(pthread_create(&th, NULL, reader, NULL), 0);
	for (round = 0; round < 300; round++) {
		void *unlinked;

		/* Joins and splits right beside the reader's paths: 10.0/16,
		 * 10.2-10.9/16 and 10.1.x.0/24 siblings under 10.1/16's
		 * parent, then all of them gone again. */
		ck_assert_int_eq(allowedips_reserve(t, 2 * 40, 1), 0);
		for (i = 0; i < 40; i++) {
			a[0] = 10;
			a[1] = (uint8_t)(i % 10 == 1 ? 0 : i % 10);
			a[2] = (uint8_t)(i * 7);
			a[3] = 0;
			ck_assert_int_eq(allowedips_insert(t, AF_INET, a, (uint8_t)(16 + i % 9),
							   P(3)), 0);
		}
		allowedips_remove_peer(t, P(3));
		unlinked = allowedips_take_unlinked(t);
		grace();
		allowedips_release(t, unlinked);
	}
	atomic_store(&done, true);
	pthread_join(th, NULL);
	ck_assert_uint_eq(atomic_load(&wrong), 0);
	ck_assert_uint_gt(atomic_load(&rounds), 0);
	ck_assert_uint_eq(allowedips_count(t), 3);
	allowedips_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("allowedips_concurrent");
	TCase *tc = tcase_create("one writer, one reader");

	tcase_add_test(tc, lookups_during_changes);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return vg_test_run(s, false);
}
