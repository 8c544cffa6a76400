// SPDX-License-Identifier: MIT
/* offload-bench: per-operation cost of the offload engine.  Prints the
 * median of several runs; nothing here is a pass/fail test. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tun/checksum.h"
#include "tun/offload.h"
#include "tun/offload_pkt.h"
#include "tools/bench/bench.h"

#define HEADROOM 32		/* room for the WireGuard header */
#define BUFCAP (HEADROOM + 65535)
#define MSS 1380		/* TCP MSS of a 1420-byte tunnel MTU */
#define MAX_RUNS 51

static uint8_t *bufs[OFFLOAD_MAX_SEGMENTS];
static size_t sizes[OFFLOAD_MAX_SEGMENTS];
static uint8_t super_pkt[VNET_HDR_LEN + 65535];
static size_t super_len;
static uint8_t head_copy[128];
static size_t seg_lens[OFFLOAD_MAX_SEGMENTS];
static int nsegs;
static struct gro_table *table;
static volatile uint32_t sink;

/*
 * Each run lasts ~20 ms; per run the mean ns per call is taken on the
 * thread's CPU clock (what the work costs, even on a busy shared machine
 * where the thread waits for a core) and on the wall clock.  Reported:
 * the medians of both and the fastest CPU run.
 */
struct result {
	double cpu, wall, cpu_min;
};

static struct result measure(void (*fn)(void), int runs)
{
	double cpu[MAX_RUNS], wall[MAX_RUNS], c0, w0, one;
	struct result r;
	long iters, i;
	int k;

	w0 = bench_clock_ns(CLOCK_MONOTONIC);
	fn();
	one = bench_clock_ns(CLOCK_MONOTONIC) - w0;
	iters = (long)(20e6 / (one > 1 ? one : 1));
	if (iters < 10)
		iters = 10;
	for (k = 0; k < runs; k++) {
		c0 = bench_cpu_ns();
		w0 = bench_clock_ns(CLOCK_MONOTONIC);
		for (i = 0; i < iters; i++)
			fn();
		wall[k] = (bench_clock_ns(CLOCK_MONOTONIC) - w0) / (double)iters;
		cpu[k] = (bench_cpu_ns() - c0) / (double)iters;
	}
	bench_sort(cpu, (size_t)runs);
	bench_sort(wall, (size_t)runs);
	r.cpu = cpu[runs / 2];
	r.wall = wall[runs / 2];
	r.cpu_min = cpu[0];
	return r;
}

static uint8_t csum_data[1500];

static void do_csum(void)
{
	sink += csum_partial(csum_data, sizeof(csum_data), 0);
}

static void do_split(void)
{
	int n = offload_split(super_pkt, super_len, bufs, sizes,
			      OFFLOAD_MAX_SEGMENTS, HEADROOM, BUFCAP);

	if (n != nsegs)
		abort();
}

/* GRO changes only the head packet's headers in place (the other
 * segments are read): restoring those few bytes makes runs repeatable. */
static void do_gro(void)
{
	uint16_t out[GRO_MAX_BATCH];
	size_t lens[OFFLOAD_MAX_SEGMENTS];
	int n;

	memcpy(bufs[0] + HEADROOM, head_copy, sizeof(head_copy));
	memcpy(lens, seg_lens, sizeof(lens[0]) * (size_t)nsegs);
	n = gro_batch(table, bufs, lens, (size_t)nsegs, HEADROOM, BUFCAP, out,
		      NULL);
	if (n != 1)
		abort();
}

static void prepare(bool v6, uint8_t proto)
{
	struct pkt_spec s = pkt_default(v6, proto, 0, 1000);
	struct vnet_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_size = MSS,
		.csum_start = (uint16_t)(v6 ? 40 : 20),
		.csum_offset = proto == PKT_TCP ? 16 : 6,
	};
	int i;

	/* The largest super-packet GRO can rebuild: 65535 bytes of IP packet,
	 * 48 segments of MSS (the last one shorter). */
	s.payload = 65535 - pkt_iph(&s) - pkt_l4h(&s);
	h.gso_type = proto == PKT_UDP ? VIRTIO_NET_HDR_GSO_UDP_L4
		     : v6	      ? VIRTIO_NET_HDR_GSO_TCPV6
				      : VIRTIO_NET_HDR_GSO_TCPV4;
	h.hdr_len = (uint16_t)(pkt_iph(&s) + pkt_l4h(&s));
	super_len = VNET_HDR_LEN + pkt_build(super_pkt + VNET_HDR_LEN, &s);
	pkt_partial_csum(super_pkt + VNET_HDR_LEN, &s);
	vnet_hdr_encode(super_pkt, &h);
	nsegs = (int)((s.payload + MSS - 1) / MSS);
	do_split();
	for (i = 0; i < nsegs; i++)
		seg_lens[i] = sizes[i];
	memcpy(head_copy, bufs[0] + HEADROOM, sizeof(head_copy));
	gro_table_init(table, GRO_TCP | GRO_UDP);
}

static void row(const char *what, struct result r, const char *extra)
{
	printf("%-40s %9.1f %9.1f %9.1f  %s\n", what, r.cpu, r.cpu_min, r.wall,
	       extra);
}

static void bench_flow(bool v6, uint8_t proto, int runs)
{
	char name[64], extra[64];
	const char *fam = proto == PKT_TCP ? (v6 ? "TCPv6" : "TCPv4")
					  : (v6 ? "UDPv6" : "UDPv4");
	struct result r;

	prepare(v6, proto);
	r = measure(do_split, runs);
	snprintf(name, sizeof(name), "split %s %zu B -> %d x %d B", fam,
		 super_len - VNET_HDR_LEN, nsegs, MSS);
	snprintf(extra, sizeof(extra), "%.1f ns/segment", r.cpu / nsegs);
	row(name, r, extra);
	r = measure(do_gro, runs);
	snprintf(name, sizeof(name), "GRO %s %d segments -> 1 packet", fam, nsegs);
	snprintf(extra, sizeof(extra), "%.1f ns/segment", r.cpu / nsegs);
	row(name, r, extra);
}

int main(int argc, char **argv)
{
	int runs = 7, i;
	char extra[64];
	struct result r;

	if (argc > 1)
		runs = atoi(argv[1]);
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: %s [runs 1..%d]\n", argv[0], MAX_RUNS);
		return 2;
	}
	for (i = 0; i < OFFLOAD_MAX_SEGMENTS; i++)
		if (!(bufs[i] = malloc(BUFCAP)))
			return 1;
	table = malloc(gro_table_size());
	if (!table)
		return 1;
	for (i = 0; i < (int)sizeof(csum_data); i++)
		csum_data[i] = (uint8_t)(i * 7 + 1);

	printf("vguard offload engine, %d runs of ~20 ms each: ns per operation\n"
	       "(cpu = thread CPU time, median and fastest run; wall = median)\n\n",
	       runs);
	printf("%-40s %9s %9s %9s\n", "operation", "cpu", "cpu min", "wall");
	r = measure(do_csum, runs);
	snprintf(extra, sizeof(extra), "%.2f GB/s", 1500 / r.cpu);
	row("checksum 1500 B", r, extra);
	bench_flow(false, PKT_TCP, runs);
	bench_flow(true, PKT_TCP, runs);
	bench_flow(false, PKT_UDP, runs);
	bench_flow(true, PKT_UDP, runs);
	return 0;
}
