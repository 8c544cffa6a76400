// SPDX-License-Identifier: MIT
/*
 * `vg offload-check`: does this kernel's TUN really do what it claims?
 *
 * Two private network namespaces, made with unshare() and never named, so
 * they vanish with this process however it ends.  Each holds one TUN
 * opened by vguard's TUN layer; a bridge joins them (read, split, coalesce,
 * write).  Real kernel TCP and UDP senders in A talk to receivers in B over
 * IPv4 and IPv6, every byte is compared end to end, and the TUN counters
 * show whether super-packets arrived and coalesced writes were taken.
 * The harness is offload_check_harness.c, the verdict and output
 * offload_check_report.c.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include "tools/offload_check.h"
#include "tools/offload_check_impl.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vg offload-check [--json] [--no-offload] [--no-tso] [--no-uso]\n"
		"                        [--no-tcp-gro] [--no-udp-gro] [--megabytes N]\n"
		"Runs real TCP and UDP traffic (IPv4 and IPv6) through two TUN devices\n"
		"in private network namespaces and reports which offloads work.\n"
		"Exit status: 0 all claimed offloads work, 1 something failed,\n"
		"2 the check could not run (needs root).\n");
}

static int parse(struct oc *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		TUN_OPTION_LONGOPTS,
		{ "megabytes", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'j': c->json = true; break;
		case 'm':
			c->tcp_bytes = strtoull(optarg, NULL, 10) << 20;
			if (!c->tcp_bytes || c->tcp_bytes > (4ULL << 30)) {
				fprintf(stderr, "vg offload-check: bad --megabytes\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default:
			if (tun_options_getopt(&c->opts, o))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

static void quiet_log(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;	/* the table says it */
}

int offload_check_main(int argc, char **argv)
{
	static const struct { const char *name; int family; bool tcp; } flows[F_COUNT] = {
		{ "tcp4", AF_INET, true }, { "tcp6", AF_INET6, true },
		{ "udp4", AF_INET, false }, { "udp6", AF_INET6, false },
	};
	struct oc *c = calloc(1, sizeof(*c));
	struct utsname u;
	int i, ret;

	if (!c)
		return 2;
	c->ns_orig = c->ns_a = c->ns_b = -1;
	c->tcp_bytes = 32 << 20;
	c->udp_count = 8000;
	tun_options_init(&c->opts);
	tun_options_from_env(&c->opts);
	c->opts.mtu = 1500;
	c->opts.log = quiet_log;
	ret = parse(c, argc, argv);
	if (ret >= 0)
		goto out;
	if (uname(&u) == 0)
		snprintf(c->kernel, sizeof(c->kernel), "%s %s", u.sysname, u.release);
	for (i = 0; i < F_COUNT; i++) {
		c->f[i].name = flows[i].name;
		c->f[i].family = flows[i].family;
		c->f[i].tcp = flows[i].tcp;
	}
	if (oc_setup(c) == 0) {
		for (i = 0; i < F_COUNT; i++)
			oc_run_flow(c, i);
		tun_get_offload(c->b, &c->sb);
		oc_judge(c);
	} else {
		if (!c->setup_error[0])
			snprintf(c->setup_error, sizeof(c->setup_error), "setup failed");
		if (c->a)
			tun_get_offload(c->a, &c->sa);
		if (c->b)
			tun_get_offload(c->b, &c->sb);
		else
			c->sb = c->sa;
	}
	oc_teardown(c);
	if (c->json)
		oc_print_json(c);
	else
		oc_print_text(c);
	ret = c->setup_error[0] ? 2 : c->nfail ? 1 : 0;
out:
	free(c);
	return ret;
}
