/* SPDX-License-Identifier: MIT */
/* The TUN offload feature states on the in-memory TUN: which reason each
 * switch and kernel answer gives, and the exact text people see for it
 * (logs, offload-check). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tun/tun.h"
#include "tests/unit/testutil.h"

static int nlogs;
static char last_log[256];

static void count_log(void *ctx, const char *msg)
{
	(void)ctx;
	nlogs++;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static void mem_options(struct tun_mem_options *o)
{
	memset(o, 0, sizeof(*o));
	tun_options_init(&o->tun);
	o->tso = o->uso = true;
	o->tun.no_gro_probe = true;
	o->tun.log = count_log;
	nlogs = 0;
}

static void get_state(const struct tun_mem_options *o, struct tun_offload_state *s)
{
	struct tun *t = NULL;

	ck_assert_int_eq(tun_mem_open(&t, "vgmem0", o), 0);
	tun_get_offload(t, s);
	tun_close(t);
}

static void check(const struct tun_offload_state *s, enum tun_offload_reason tso,
		  enum tun_offload_reason uso, enum tun_offload_reason tcp_gro,
		  enum tun_offload_reason udp_gro)
{
	ck_assert_int_eq(s->reason[TUN_FEAT_TSO], tso);
	ck_assert_int_eq(s->reason[TUN_FEAT_USO], uso);
	ck_assert_int_eq(s->reason[TUN_FEAT_TCP_GRO], tcp_gro);
	ck_assert_int_eq(s->reason[TUN_FEAT_UDP_GRO], udp_gro);
}

START_TEST(test_reason_text)
{
	static const char *const text[TUN_REASON_COUNT] = {
		[TUN_REASON_NOT_SET_UP] = "not set up",
		[TUN_REASON_ACCEPTED] = "accepted by the kernel",
		[TUN_REASON_ON] = "on",
		[TUN_REASON_BY_OPTION] = "off by option",
		[TUN_REASON_VNET_HDR_BY_OPTION] = "vnet header off by option",
		[TUN_REASON_OFFLOADS_BY_OPTION] = "offloads off by option",
		[TUN_REASON_NO_VNET_HDR] = "no vnet header on this fd",
		[TUN_REASON_KERNEL_REFUSED] = "refused by the kernel",
		[TUN_REASON_KERNEL_NO_USO] = "refused by the kernel (needs Linux 6.2)",
		[TUN_REASON_NO_CSUM] = "checksum offload refused",
		[TUN_REASON_GRO_NO_USO] = "kernel lacks USO (needs Linux 6.2)",
		[TUN_REASON_PROBE_TCP] = "start-up probe: the kernel refused a coalesced TCP write",
		[TUN_REASON_PROBE_UDP] = "start-up probe: the kernel refused a coalesced UDP write",
		[TUN_REASON_WRITE_EINVAL] = "the kernel refused a coalesced write (EINVAL)",
	};
	struct tun_offload_state zero;
	int r;

	for (r = 0; r < TUN_REASON_COUNT; r++)
		ck_assert_str_eq(tun_offload_reason_text(r), text[r]);
	ck_assert_str_eq(tun_offload_reason_text(TUN_REASON_COUNT), "?");
	memset(&zero, 0, sizeof(zero));
	ck_assert_str_eq(tun_offload_reason_text(zero.reason[TUN_FEAT_TSO]), "not set up");
}
END_TEST

START_TEST(test_reasons_kernel)
{
	struct tun_mem_options o;
	struct tun_offload_state s;

	mem_options(&o);
	get_state(&o, &s);
	check(&s, TUN_REASON_ACCEPTED, TUN_REASON_ACCEPTED, TUN_REASON_ON, TUN_REASON_ON);
	ck_assert(s.on[TUN_FEAT_TSO] && s.on[TUN_FEAT_USO]);

	o.tso = o.uso = false;
	get_state(&o, &s);
	check(&s, TUN_REASON_KERNEL_REFUSED, TUN_REASON_KERNEL_NO_USO, TUN_REASON_ON,
	      TUN_REASON_GRO_NO_USO);
	ck_assert(!s.on[TUN_FEAT_TSO] && !s.on[TUN_FEAT_USO]);
	ck_assert(s.on[TUN_FEAT_TCP_GRO] && !s.on[TUN_FEAT_UDP_GRO]);
	ck_assert_int_eq(nlogs, 0);
}
END_TEST

START_TEST(test_reasons_options)
{
	struct tun_mem_options o;
	struct tun_offload_state s;
	int f;

	mem_options(&o);
	o.tun.no_tso = o.tun.no_uso = true;
	o.tun.no_tcp_gro = o.tun.no_udp_gro = true;
	get_state(&o, &s);
	check(&s, TUN_REASON_BY_OPTION, TUN_REASON_BY_OPTION, TUN_REASON_BY_OPTION,
	      TUN_REASON_BY_OPTION);
	for (f = 0; f < TUN_FEAT_COUNT; f++)
		ck_assert(!s.on[f]);

	mem_options(&o);
	o.tun.no_vnet_hdr = true;
	get_state(&o, &s);
	ck_assert(!s.vnet_hdr);
	check(&s, TUN_REASON_VNET_HDR_BY_OPTION, TUN_REASON_VNET_HDR_BY_OPTION,
	      TUN_REASON_VNET_HDR_BY_OPTION, TUN_REASON_VNET_HDR_BY_OPTION);
}
END_TEST

/* The log line a refused probe writes is made of the reason's text. */
START_TEST(test_reasons_probe)
{
	struct tun_mem_options o;
	struct tun_offload_state s;

	mem_options(&o);
	o.reject_gso = true;
	o.tun.no_gro_probe = false;
	get_state(&o, &s);
	check(&s, TUN_REASON_ACCEPTED, TUN_REASON_ACCEPTED, TUN_REASON_PROBE_TCP,
	      TUN_REASON_PROBE_TCP);
	ck_assert(!s.on[TUN_FEAT_TCP_GRO] && !s.on[TUN_FEAT_UDP_GRO]);
	ck_assert_int_eq(nlogs, 1);
	ck_assert_str_eq(last_log, "coalesced TCP and UDP writes turned off: start-up probe: "
			 "the kernel refused a coalesced TCP write");

	mem_options(&o);
	o.reject_gso = true;
	o.tun.no_gro_probe = false;
	o.tun.no_tcp_gro = true;
	get_state(&o, &s);
	check(&s, TUN_REASON_ACCEPTED, TUN_REASON_ACCEPTED, TUN_REASON_BY_OPTION,
	      TUN_REASON_PROBE_UDP);
	ck_assert_int_eq(nlogs, 1);
	ck_assert_str_eq(last_log, "coalesced UDP writes turned off: start-up probe: "
			 "the kernel refused a coalesced UDP write");
}
END_TEST

static Suite *tun_features_suite(void)
{
	Suite *s = suite_create("tun_features");
	TCase *tc = tcase_create("mem");

	tcase_add_test(tc, test_reason_text);
	tcase_add_test(tc, test_reasons_kernel);
	tcase_add_test(tc, test_reasons_options);
	tcase_add_test(tc, test_reasons_probe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(tun_features_suite(), false);
}
