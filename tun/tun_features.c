/* SPDX-License-Identifier: MIT */
/*
 * What each offload feature of a TUN is doing, and why: set once when the
 * device is opened, and for coalesced writes turned off later when the
 * kernel refuses them.  The reasons are values; their text is for people.
 */
#include "config.h"

#include <linux/if_tun.h>

#include "tun/offload.h"
#include "tun/tun_impl.h"

const char *tun_feature_name(enum tun_feature f)
{
	static const char *const names[TUN_FEAT_COUNT] = {
		[TUN_FEAT_TSO] = "tso",
		[TUN_FEAT_USO] = "uso",
		[TUN_FEAT_TCP_GRO] = "tcp-gro",
		[TUN_FEAT_UDP_GRO] = "udp-gro",
	};

	return (unsigned int)f < TUN_FEAT_COUNT ? names[f] : "?";
}

const char *tun_offload_reason_text(enum tun_offload_reason r)
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
		[TUN_REASON_PROBE_TCP] =
			"start-up probe: the kernel refused a coalesced TCP write",
		[TUN_REASON_PROBE_UDP] =
			"start-up probe: the kernel refused a coalesced UDP write",
		[TUN_REASON_WRITE_EINVAL] = "the kernel refused a coalesced write (EINVAL)",
	};

	return (unsigned int)r < TUN_REASON_COUNT ? text[r] : "?";
}

static void set_feature(struct tun *t, enum tun_feature f, bool on,
			enum tun_offload_reason why)
{
	t->feat_on[f] = on;
	__atomic_store_n(&t->reason[f], why, __ATOMIC_RELAXED);
}

void tun_core_features(struct tun *t, const struct tun_options *o, bool uso_known)
{
	unsigned int gro = 0;

	if (!t->vnet_hdr) {
		enum tun_offload_reason why = o->no_vnet_hdr ?
			TUN_REASON_VNET_HDR_BY_OPTION : TUN_REASON_NO_VNET_HDR;
		int f;

		for (f = 0; f < TUN_FEAT_COUNT; f++)
			set_feature(t, f, false, why);
		t->gro_flags = 0;
		return;
	}
	if (o->no_tso)
		set_feature(t, TUN_FEAT_TSO, false, TUN_REASON_BY_OPTION);
	else if (t->accepted & (TUN_F_TSO4 | TUN_F_TSO6))
		set_feature(t, TUN_FEAT_TSO, true, TUN_REASON_ACCEPTED);
	else
		set_feature(t, TUN_FEAT_TSO, false, TUN_REASON_KERNEL_REFUSED);

	if (o->no_uso)
		set_feature(t, TUN_FEAT_USO, false, TUN_REASON_BY_OPTION);
	else if (t->accepted & (TUN_F_USO4 | TUN_F_USO6))
		set_feature(t, TUN_FEAT_USO, true, TUN_REASON_ACCEPTED);
	else
		set_feature(t, TUN_FEAT_USO, false, TUN_REASON_KERNEL_NO_USO);

	/* Coalesced writes don't depend on what we let the kernel hand us,
	 * only on the kernel knowing the GSO type. */
	if (o->no_tcp_gro) {
		set_feature(t, TUN_FEAT_TCP_GRO, false, TUN_REASON_BY_OPTION);
	} else if (!(t->accepted & TUN_F_CSUM) && !(t->requested & TUN_F_CSUM)) {
		set_feature(t, TUN_FEAT_TCP_GRO, false, TUN_REASON_NO_CSUM);
	} else {
		set_feature(t, TUN_FEAT_TCP_GRO, true, TUN_REASON_ON);
		gro |= GRO_TCP;
	}
	if (o->no_udp_gro) {
		set_feature(t, TUN_FEAT_UDP_GRO, false, TUN_REASON_BY_OPTION);
	} else if (!uso_known) {
		set_feature(t, TUN_FEAT_UDP_GRO, false, TUN_REASON_GRO_NO_USO);
	} else {
		set_feature(t, TUN_FEAT_UDP_GRO, true, TUN_REASON_ON);
		gro |= GRO_UDP;
	}
	__atomic_store_n(&t->gro_flags, gro, __ATOMIC_RELAXED);
}

void tun_core_gro_disable(struct tun *t, unsigned int off, enum tun_offload_reason why)
{
	unsigned int old = __atomic_fetch_and(&t->gro_flags, ~off, __ATOMIC_RELAXED);

	if (!(old & off))
		return;
	if (off & GRO_TCP) {
		t->feat_on[TUN_FEAT_TCP_GRO] = false;
		__atomic_store_n(&t->reason[TUN_FEAT_TCP_GRO], why, __ATOMIC_RELAXED);
	}
	if (off & GRO_UDP) {
		t->feat_on[TUN_FEAT_UDP_GRO] = false;
		__atomic_store_n(&t->reason[TUN_FEAT_UDP_GRO], why, __ATOMIC_RELAXED);
	}
	tun_core_logf(t, "coalesced %s writes turned off: %s",
		      off == GRO_UDP ? "UDP" : off == GRO_TCP ? "TCP" : "TCP and UDP",
		      tun_offload_reason_text(why));
}

void tun_get_offload(const struct tun *t, struct tun_offload_state *s)
{
	unsigned int gro = __atomic_load_n(&t->gro_flags, __ATOMIC_RELAXED);
	int f;

	s->vnet_hdr = t->vnet_hdr;
	s->requested = t->requested;
	s->accepted = t->accepted;
	for (f = 0; f < TUN_FEAT_COUNT; f++) {
		s->on[f] = t->feat_on[f];
		s->reason[f] = __atomic_load_n(&t->reason[f], __ATOMIC_RELAXED);
	}
	s->on[TUN_FEAT_TCP_GRO] = gro & GRO_TCP;
	s->on[TUN_FEAT_UDP_GRO] = gro & GRO_UDP;
}
