/* SPDX-License-Identifier: MIT */
/* `vg offload-check` inside: the state the harness (offload_check_harness.c:
 * namespaces, TUNs, traffic) fills in and the report (offload_check_report.c:
 * verdict, text and JSON) reads. */
#ifndef VGUARD_TOOLS_OFFLOAD_CHECK_IMPL_H
#define VGUARD_TOOLS_OFFLOAD_CHECK_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "tun/tun.h"
#include "tun/tun_bridge.h"

#define OC_MAX_FAIL 16

enum { F_TCP4, F_TCP6, F_UDP4, F_UDP6, F_COUNT };

struct oc_flow {
	const char *name;
	int family;
	bool tcp;
	bool ran, ok, skipped;
	char error[160];
	uint64_t sent, received, corrupt;	/* TCP: bytes; UDP: datagrams */
	bool gso_send;				/* UDP: UDP_SEGMENT was used */
	struct tun_gso_counters gso;		/* read from A */
	uint64_t coalesced, merged, refused;	/* written to B */
	double secs;
};

struct oc {
	bool json;
	uint64_t tcp_bytes;
	unsigned int udp_count;
	struct tun_options opts;
	char kernel[160];
	int ns_orig, ns_a, ns_b;
	bool v6;
	struct tun *a, *b;
	struct tun_bridge *br;
	struct tun_offload_state sa, sb0, sb;
	struct oc_flow f[F_COUNT];
	char fail[OC_MAX_FAIL][200];
	int nfail;
	char setup_error[200];
};

/* Opens both namespaces, their TUNs and the bridge; on failure says why in
 * c->setup_error.  oc_teardown() undoes whatever was done. */
int oc_setup(struct oc *c);
void oc_teardown(struct oc *c);
/* Runs flow i (F_*) and records what arrived and what the TUNs counted. */
void oc_run_flow(struct oc *c, int i);

/* Turns the flows' results into failures (c->fail). */
void oc_judge(struct oc *c);
void oc_print_text(const struct oc *c);
void oc_print_json(const struct oc *c);

#endif
