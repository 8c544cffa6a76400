// SPDX-License-Identifier: MIT
/*
 * Handshakes per second on one core: A creates an initiation, B consumes
 * it and creates the response (deriving its keypair), A consumes the
 * response (deriving its keypair).  Prints the median of several runs, and
 * the split between the initiator's and the responder's work.
 *
 *   tools/bench/handshake-bench [handshakes per run] [runs]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "device/proto_sim.h"
#include "tools/bench/bench.h"

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? (unsigned int)atoi(argv[1]) : 2000;
	unsigned int runs = argc > 2 ? (unsigned int)atoi(argv[2]) : 5;
	double *rate = calloc(runs, sizeof(*rate)), *init_us = calloc(runs, sizeof(double));
	double *resp_us = calloc(runs, sizeof(double)), *fin_us = calloc(runs, sizeof(double));
	struct wg_action act, reply, done;
	uint64_t t0, t1, t2, t3, ti, tr, tf, start;
	unsigned int r, i;
	struct sim s;

	if (!rate || !init_us || !resp_us || !fin_us || !n || !runs)
		return 1;
	sim_init(&s);
	for (r = 0; r < runs; r++) {
		ti = tr = tf = 0;
		start = mono();
		for (i = 0; i < n; i++) {
			/* Past REKEY_TIMEOUT and the 20 ms flood guard each time. */
			s.now += 6 * WG_NSEC_PER_SEC;
			t0 = mono();
			if (wg_peer_want_handshake(s.a.peer, s.now, &act))
				return 1;
			t1 = mono();
			if (wg_proto_handle_handshake(&s.b.p, act.msg, act.msg_len, &s.a.self,
						      false, s.now, &reply) ||
			    reply.msg_len != MESSAGE_RESPONSE_LEN)
				return 1;
			t2 = mono();
			if (wg_proto_handle_handshake(&s.a.p, reply.msg, reply.msg_len,
						      &s.b.self, false, s.now, &done))
				return 1;
			t3 = mono();
			ti += t1 - t0;
			tr += t2 - t1;
			tf += t3 - t2;
		}
		rate[r] = n / ((double)(mono() - start) / 1e9);
		init_us[r] = ti / 1e3 / n;
		resp_us[r] = tr / 1e3 / n;
		fin_us[r] = tf / 1e3 / n;
	}
	bench_sort(rate, runs);
	bench_sort(init_us, runs);
	bench_sort(resp_us, runs);
	bench_sort(fin_us, runs);
	printf("handshakes/s (one core, both sides): %.0f  (median of %u runs of %u)\n",
	       rate[runs / 2], runs, n);
	printf("  create initiation:                  %.1f us\n", init_us[runs / 2]);
	printf("  consume initiation + response:      %.1f us\n", resp_us[runs / 2]);
	printf("  consume response:                   %.1f us\n", fin_us[runs / 2]);
	printf("responder handshakes/s (one core):   %.0f\n", 1e6 / resp_us[runs / 2]);
	sim_destroy(&s);
	free(rate);
	free(init_us);
	free(resp_us);
	free(fin_us);
	return 0;
}
