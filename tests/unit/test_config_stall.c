/* SPDX-License-Identifier: MIT */
/*
 * No thread waits for the data path: a worker stuck writing to a TUN
 * queue nobody reads (back-pressure, up to TUN_WRITE_WAIT_MS) holds
 * nothing that set, get or the other queues need.
 */
#include "config.h"

#include "device_testutil.h"

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void setup_one_queue(void)
{
	setup(false, false, 1);
}

/* B floods A while nothing reads A's TUN: A's worker ends up waiting in
 * its TUN write.  Counted in frames handed to A's TUN. */
static void stall_a(void)
{
	static uint8_t frame[VNET_HDR_LEN + 2048];
	struct pkt_spec sp = pkt_default(false, PKT_UDP, 1200, 1000);
	struct vnet_hdr h = { 0 };
	int i, tries = 0;
	size_t len;

	roundtrip(&B, &A, false, PKT_UDP, 10, 2, 1);
	sp.src = 2;
	sp.dst = 1;
	sp.ttl = 64;
	vnet_hdr_encode(frame, &h);
	len = VNET_HDR_LEN + pkt_build(frame + VNET_HDR_LEN, &sp);
	/* B's own queue may fill while B waits on its socket: retry. */
	for (i = 0; i < 12000 && tries < 2000; i++) {
		if (tun_mem_inject(B.tun, 0, frame, len) == -EAGAIN) {
			i--;
			tries++;
			usleep(1000);
		}
	}
	usleep(300 * 1000);
}

START_TEST(test_set_and_get_answer_while_a_queue_is_stuck)
{
	static uint8_t frame[70000];
	uint8_t pub[32], priv[32];
	int idle;
	uint64_t t0, set_ms, get_ms;
	char k[65], *g;
	int ret;

	stall_a();
	crypto_box_keypair(pub, priv);
	hex(k, pub);
	t0 = ms_now();
	ret = set(&A, "public_key=%s\nallowed_ip=10.77.0.0/16\n", k);
	set_ms = ms_now() - t0;
	ck_assert_int_eq(ret, 0);
	t0 = ms_now();
	g = uapi_call(A.dev, "get=1\n\n");
	get_ms = ms_now() - t0;
	ck_assert_msg(strstr(g, "allowed_ip=10.77.0.0/16") != NULL, "%s", g);
	free(g);
	ck_assert_msg(set_ms < 100 && get_ms < 100, "set %llu ms, get %llu ms",
		      (unsigned long long)set_ms, (unsigned long long)get_ms);
	/* The reader comes back: everything queued is delivered, and the
	 * tunnel carries new traffic in both directions. */
	for (idle = 0; idle < 300; idle++) {
		if (tun_mem_take(A.tun, 0, frame, sizeof(frame)) > 0)
			idle = 0;
		else
			usleep(1000);
	}
	roundtrip(&A, &B, false, PKT_UDP, 40, 1, 2);
	roundtrip(&B, &A, true, PKT_UDP, 40, 2, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config_stall");
	TCase *tc = tcase_create("stuck queue");

	tcase_add_checked_fixture(tc, setup_one_queue, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_set_and_get_answer_while_a_queue_is_stuck);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(suite(), false);
}
