// SPDX-License-Identifier: MIT
/*
 * The replay window: the kernel's selftest sequence (drivers/net/wireguard/
 * selftest/counter.c) and a comparison with a plain model over random
 * counters.
 */
#include "config.h"

#include "device/replay.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define W REPLAY_WINDOW_SIZE
#define T_LIM (W + 1)
#define LIMIT REPLAY_REJECT_AFTER_MESSAGES

static struct replay r;
static int step;

#define T(n, v) do { \
	step++; \
	ck_assert_msg(replay_check(&r, (n)) == (v), "step %d: counter %llu", \
		      step, (unsigned long long)(n)); \
} while (0)

START_TEST(constants)
{
	ck_assert_uint_eq(W, 8128);
	ck_assert_uint_eq(LIMIT, 0xffffffffffffdfffULL);
	ck_assert_uint_eq(sizeof(r.ring) * 8, 8192);
}
END_TEST

START_TEST(kernel_sequence)
{
	replay_init(&r);
	step = 0;
	T(0, true);
	T(1, true);
	T(1, false);
	T(9, true);
	T(8, true);
	T(7, true);
	T(7, false);
	T(T_LIM, true);
	T(T_LIM - 1, true);
	T(T_LIM - 1, false);
	T(T_LIM - 2, true);
	T(2, true);
	T(2, false);
	T(T_LIM + 16, true);
	T(3, false);
	T(T_LIM + 16, false);
	T(T_LIM * 4, true);
	T(T_LIM * 4 - (T_LIM - 1), true);
	T(10, false);
	T(T_LIM * 4 - T_LIM, false);
	T(T_LIM * 4 - (T_LIM + 1), false);
	T(T_LIM * 4 - (T_LIM - 2), true);
	T(T_LIM * 4 + 1 - T_LIM, false);
	T(0, false);
	T(LIMIT, false);
	T(LIMIT - 1, true);
	T(LIMIT, false);
	T(LIMIT - 1, false);
	T(LIMIT - 2, true);
	T(LIMIT + 1, false);
	T(LIMIT + 2, false);
	T(LIMIT - 2, false);
	T(LIMIT - 3, true);
	T(0, false);
	ck_assert_int_eq(step, 34);
}
END_TEST

START_TEST(kernel_bulk)
{
	uint64_t i;

	replay_init(&r);
	for (i = 1; i <= W; ++i)
		T(i, true);
	T(0, true);
	T(0, false);

	replay_init(&r);
	for (i = 2; i <= W + 1; ++i)
		T(i, true);
	T(1, true);
	T(0, false);

	replay_init(&r);
	for (i = W + 1; i-- > 0;)
		T(i, true);

	replay_init(&r);
	for (i = W + 2; i-- > 1;)
		T(i, true);
	T(0, false);

	replay_init(&r);
	for (i = W + 1; i-- > 1;)
		T(i, true);
	T(W + 1, true);
	T(0, false);

	replay_init(&r);
	for (i = W + 1; i-- > 1;)
		T(i, true);
	T(0, true);
	T(W + 1, true);
}
END_TEST

/*
 * The model: a counter is accepted when it is below the limit, not more
 * than W behind the highest accepted so far, and not accepted before.
 */
#define RANGE (1u << 24)

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

START_TEST(model)
{
	uint8_t *seen = calloc(RANGE, 1);
	uint64_t last = 0, c = 0;
	long accepted = 0, rejected = 0;

	ck_assert_ptr_nonnull(seen);
	rng_state = 0x9e3779b97f4a7c15ULL + _i;
	replay_init(&r);
	for (int op = 0; op < 300000; op++) {
		uint64_t x = rnd();
		bool want, got;

		/* Mostly near the head, sometimes far behind or far ahead. */
		switch (x % 8) {
		case 0:
			c = last + ((x >> 40) % 64 ? (x >> 8) % 300 :
						     (x >> 8) % 20000);
			break;
		case 1:
			c = last > W + 200 ? last - W - 100 + (x >> 8) % 200 : 0;
			break;
		case 2:
			c = (x >> 8) % (last + 1);
			break;
		default:
			c = last + 64 > (x >> 8) % 256 ?
				last + 64 - (x >> 8) % 256 : 0;
		}
		if (c >= RANGE)
			break;
		want = !seen[c] && (c >= last || last - c <= W);
		got = replay_check(&r, c);
		ck_assert_msg(got == want, "op %d counter %llu last %llu: got %d",
			      op, (unsigned long long)c,
			      (unsigned long long)last, got);
		if (want) {
			seen[c] = 1;
			if (c > last)
				last = c;
			accepted++;
		} else {
			rejected++;
		}
	}
	ck_assert_int_gt(accepted, 50000);
	ck_assert_int_gt(rejected, 50000);
	free(seen);
}
END_TEST

START_TEST(far_jump_clears_ring)
{
	replay_init(&r);
	for (uint64_t i = 0; i < 8192; i++)
		T(i, true);
	/* A whole lap ahead: every old bit must be gone, nothing aliased. */
	T(8192 * 3 + 5, true);
	for (uint64_t i = 8192 * 3 + 5 - W; i < 8192 * 3 + 5; i++)
		T(i, true);
	T(8192 * 3 + 5 - W - 1, false);
}
END_TEST

static Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, constants);
	tcase_add_test(tc, kernel_sequence);
	tcase_add_test(tc, kernel_bulk);
	tcase_add_loop_test(tc, model, 0, 4);
	tcase_add_test(tc, far_jump_clears_ring);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(replay_suite(), false);
}
