// SPDX-License-Identifier: MIT
/*
 * `vg offload-check`, the report: the verdict (does every offload the
 * kernel claims work?) and its text table or JSON.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_tun.h>

#include "tools/offload_check_impl.h"

static void fail(struct oc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct oc *c, const char *fmt, ...)
{
	va_list ap;

	if (c->nfail == OC_MAX_FAIL)
		return;
	va_start(ap, fmt);
	vsnprintf(c->fail[c->nfail++], sizeof(c->fail[0]), fmt, ap);
	va_end(ap);
}

static bool acc(const struct tun_offload_state *s, unsigned int flag)
{
	return s->accepted & flag;
}

void oc_judge(struct oc *c)
{
	static const unsigned int flag[F_COUNT] = {
		TUN_F_TSO4, TUN_F_TSO6, TUN_F_USO4, TUN_F_USO6,
	};
	int i;

	if (c->sb0.vnet_hdr && !c->sb0.on[TUN_FEAT_TCP_GRO] &&
	    c->sb0.reason[TUN_FEAT_TCP_GRO] == TUN_REASON_PROBE_TCP)
		fail(c, "the kernel takes vnet headers but refused a coalesced TCP write at start-up");
	for (i = 0; i < F_COUNT; i++) {
		struct oc_flow *f = &c->f[i];
		bool gro = f->tcp ? c->sb0.on[TUN_FEAT_TCP_GRO] : c->sb0.on[TUN_FEAT_UDP_GRO];

		if (!f->ran)
			continue;
		if (!f->ok) {
			fail(c, "%s: %s", f->name, f->error);
			continue;
		}
		if (acc(&c->sa, flag[i]) && !f->gso.packets && (f->tcp || f->gso_send))
			fail(c, "%s: the kernel accepted %s but no super-packet arrived",
			     f->name, f->tcp ? (i == F_TCP4 ? "TSO4" : "TSO6") :
			     (i == F_UDP4 ? "USO4" : "USO6"));
		if (gro && f->refused)
			fail(c, "%s: the kernel refused %llu coalesced writes", f->name,
			     (unsigned long long)f->refused);
		else if (gro && f->gso.packets && !f->coalesced)
			fail(c, "%s: super-packets were read but nothing was coalesced on write",
			     f->name);
	}
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

void oc_print_text(const struct oc *c)
{
	static const char *const names[] = { "tso4", "tso6", "uso4", "uso6" };
	static const unsigned int flags[] = { TUN_F_TSO4, TUN_F_TSO6, TUN_F_USO4, TUN_F_USO6 };
	int i;

	printf("kernel           %s\n", c->kernel);
	printf("vnet header      %s\n\n", yesno(c->sa.vnet_hdr));
	printf("%-8s %-10s %-9s\n", "offload", "requested", "accepted");
	for (i = 0; i < 4; i++)
		printf("%-8s %-10s %-9s\n", names[i], yesno(c->sa.requested & flags[i]),
		       yesno(c->sa.accepted & flags[i]));
	printf("\n%-16s %-4s %s\n", "coalesced writes", "", "why");
	printf("%-16s %-4s %s\n", "tcp", c->sb.on[TUN_FEAT_TCP_GRO] ? "on" : "off",
	       tun_offload_reason_text(c->sb.reason[TUN_FEAT_TCP_GRO]));
	printf("%-16s %-4s %s\n\n", "udp", c->sb.on[TUN_FEAT_UDP_GRO] ? "on" : "off",
	       tun_offload_reason_text(c->sb.reason[TUN_FEAT_UDP_GRO]));
	printf("%-5s %-32s %-30s %-26s %s\n", "test", "data end to end",
	       "super-packets read", "coalesced writes", "result");
	for (i = 0; i < F_COUNT; i++) {
		const struct oc_flow *f = &c->f[i];
		char data[64], sp[64], co[64];

		if (!f->ran) {
			printf("%-5s %-32s %-30s %-26s %s\n", f->name, "-", "-", "-",
			       f->skipped ? f->error : "not run");
			continue;
		}
		if (f->tcp)
			snprintf(data, sizeof(data), "%llu/%llu B%s",
				 (unsigned long long)f->received, (unsigned long long)f->sent,
				 f->corrupt ? " CORRUPT" : " intact");
		else
			snprintf(data, sizeof(data), "%llu/%llu dgrams%s",
				 (unsigned long long)f->received, (unsigned long long)f->sent,
				 f->corrupt ? " CORRUPT" : " intact");
		snprintf(sp, sizeof(sp), "%llu (gso %llu, %llu segs)",
			 (unsigned long long)f->gso.packets,
			 (unsigned long long)f->gso.max_gso_size,
			 (unsigned long long)f->gso.max_segments);
		snprintf(co, sizeof(co), "%llu (+%llu, %llu refused)",
			 (unsigned long long)f->coalesced, (unsigned long long)f->merged,
			 (unsigned long long)f->refused);
		printf("%-5s %-32s %-30s %-26s %s\n", f->name, data, sp, co,
		       f->ok ? "ok" : "FAIL");
	}
	printf("\n");
	if (c->setup_error[0])
		printf("error: %s\n", c->setup_error);
	for (i = 0; i < c->nfail; i++)
		printf("FAIL: %s\n", c->fail[i]);
	if (!c->nfail && !c->setup_error[0])
		printf("result: ok, every offload the kernel claims works\n");
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

void oc_print_json(const struct oc *c)
{
	static const char *const names[] = { "tso4", "tso6", "uso4", "uso6" };
	static const unsigned int flags[] = { TUN_F_TSO4, TUN_F_TSO6, TUN_F_USO4, TUN_F_USO6 };
	int i;

	printf("{\"kernel\":");
	json_str(c->kernel);
	printf(",\"vnet_hdr\":%s,\"offloads\":{", c->sa.vnet_hdr ? "true" : "false");
	for (i = 0; i < 4; i++)
		printf("%s\"%s\":{\"requested\":%s,\"accepted\":%s}", i ? "," : "", names[i],
		       c->sa.requested & flags[i] ? "true" : "false",
		       c->sa.accepted & flags[i] ? "true" : "false");
	printf("},\"coalesced_writes\":{\"tcp\":{\"on\":%s,\"why\":",
	       c->sb.on[TUN_FEAT_TCP_GRO] ? "true" : "false");
	json_str(tun_offload_reason_text(c->sb.reason[TUN_FEAT_TCP_GRO]));
	printf("},\"udp\":{\"on\":%s,\"why\":", c->sb.on[TUN_FEAT_UDP_GRO] ? "true" : "false");
	json_str(tun_offload_reason_text(c->sb.reason[TUN_FEAT_UDP_GRO]));
	printf("}},\"tests\":[");
	for (i = 0; i < F_COUNT; i++) {
		const struct oc_flow *f = &c->f[i];

		printf("%s{\"name\":\"%s\",\"ran\":%s,\"ok\":%s,\"unit\":\"%s\","
		       "\"sent\":%llu,\"received\":%llu,\"corrupt\":%llu,"
		       "\"super_packets\":%llu,\"max_gso_size\":%llu,\"max_segments\":%llu,"
		       "\"coalesced\":%llu,\"merged\":%llu,\"refused\":%llu,\"seconds\":%.3f,\"error\":",
		       i ? "," : "", f->name, f->ran ? "true" : "false", f->ok ? "true" : "false",
		       f->tcp ? "bytes" : "datagrams",
		       (unsigned long long)f->sent, (unsigned long long)f->received,
		       (unsigned long long)f->corrupt, (unsigned long long)f->gso.packets,
		       (unsigned long long)f->gso.max_gso_size,
		       (unsigned long long)f->gso.max_segments,
		       (unsigned long long)f->coalesced, (unsigned long long)f->merged,
		       (unsigned long long)f->refused, f->secs);
		json_str(f->error);
		printf("}");
	}
	printf("],\"failures\":[");
	for (i = 0; i < c->nfail; i++) {
		printf("%s", i ? "," : "");
		json_str(c->fail[i]);
	}
	printf("],\"error\":");
	json_str(c->setup_error);
	printf(",\"ok\":%s}\n", !c->nfail && !c->setup_error[0] ? "true" : "false");
}
