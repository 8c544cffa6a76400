// SPDX-License-Identifier: MIT
/*
 * allowedips-bench: a table of N prefixes (default 1,000,000) spread over
 * 1,000 peers, then longest-prefix lookups of random addresses, three
 * quarters of them inside some inserted prefix.  Prints insert time,
 * lookups per second (thread CPU time, median of -r runs) and trie nodes.
 *
 * usage: allowedips-bench [-n PREFIXES] [-r RUNS] [-6]
 */
#include "config.h"

#include "device/allowedips.h"
#include "tools/bench/bench.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NPEERS 1000
#define NLOOKUPS 500000
#define MAX_RUNS 51

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Prefix lengths roughly like a routing table: mostly /24 and /32 (v4),
 * /48, /64 and /128 (v6), some shorter. */
static uint8_t pick_cidr(bool v6)
{
	uint64_t x = rnd() % 100;

	if (!v6)
		return x < 45 ? 24 : x < 80 ? 32 : 8 + (uint8_t)(rnd() % 24);
	return x < 30 ? 48 : x < 60 ? 64 : x < 85 ? 128 : 16 + (uint8_t)(rnd() % 112);
}

static void random_addr(uint8_t *a, int len)
{
	for (int i = 0; i < len; i += 8) {
		uint64_t x = rnd();

		memcpy(a + i, &x, len - i < 8 ? len - i : 8);
	}
}

int main(int argc, char **argv)
{
	static int peers[NPEERS];
	long nprefixes = 1000000;
	int runs = 5, opt, family = AF_INET, len = 4;
	bool v6 = false;
	uint8_t *addrs, *queries;
	struct allowedips *t;
	double t0, insert_s, ns[MAX_RUNS];
	size_t found = 0;

	while ((opt = getopt(argc, argv, "n:r:6")) != -1) {
		switch (opt) {
		case 'n':
			nprefixes = atol(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case '6':
			v6 = true;
			family = AF_INET6;
			len = 16;
			break;
		default:
			fprintf(stderr, "usage: %s [-n PREFIXES] [-r RUNS] [-6]\n", argv[0]);
			return 2;
		}
	}
	if (nprefixes < 1 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "need -n >= 1 and -r 1..%d\n", MAX_RUNS);
		return 2;
	}
	addrs = malloc((size_t)nprefixes * 16);
	queries = malloc((size_t)NLOOKUPS * 16);
	t = allowedips_new();
	if (!addrs || !queries || !t) {
		fprintf(stderr, "no memory\n");
		return 1;
	}

	t0 = bench_cpu_ns();
	for (long i = 0; i < nprefixes; i++) {
		uint8_t *a = addrs + 16 * i;

		random_addr(a, len);
		if (allowedips_insert(t, family, a, pick_cidr(v6),
				      &peers[rnd() % NPEERS])) {
			fprintf(stderr, "insert failed\n");
			return 1;
		}
	}
	insert_s = (bench_cpu_ns() - t0) / 1e9;

	/* 3/4 of the queries fall inside an inserted prefix, 1/4 anywhere. */
	for (long i = 0; i < NLOOKUPS; i++) {
		uint8_t *q = queries + 16 * i;

		if (rnd() % 4) {
			memcpy(q, addrs + 16 * (rnd() % nprefixes), 16);
			q[len - 1] ^= (uint8_t)rnd();
		} else {
			random_addr(q, len);
		}
	}
	for (int r = 0; r < runs; r++) {
		found = 0;
		t0 = bench_cpu_ns();
		for (long i = 0; i < NLOOKUPS; i++)
			found += allowedips_lookup(t, family, queries + 16 * i) != NULL;
		ns[r] = (bench_cpu_ns() - t0) / NLOOKUPS;
	}
	bench_sort(ns, runs);

	printf("allowed IPs, IPv%d: %zu prefixes (of %ld inserted) over %d peers, %zu trie nodes\n",
	       v6 ? 6 : 4, allowedips_count(t), nprefixes, NPEERS, allowedips_nodes(t));
	printf("  insert: %.2f s (%.0f ns each)\n", insert_s, insert_s * 1e9 / nprefixes);
	printf("  lookup: %.1f ns median of %d runs (min %.1f, max %.1f) = %.2f M lookups/s per core; %.0f%% matched\n",
	       ns[runs / 2], runs, ns[0], ns[runs - 1], 1e3 / ns[runs / 2],
	       100.0 * found / NLOOKUPS);

	t0 = bench_cpu_ns();
	for (int p = 0; p < NPEERS; p++)
		allowedips_remove_peer(t, &peers[p]);
	printf("  remove all %d peers: %.2f s; %zu prefixes left\n", NPEERS,
	       (bench_cpu_ns() - t0) / 1e9, allowedips_count(t));
	allowedips_free(t);
	free(addrs);
	free(queries);
	return 0;
}
