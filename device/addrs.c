/* SPDX-License-Identifier: MIT */
/*
 * The source of the ICMP errors the device writes into the TUN (icmp.c).
 * The kernel module sends them with icmp_ndo_send: to the packet's
 * original sender (before any source NAT of this host), from the address
 * the host would use to reach that sender.  The device keeps the host's
 * addresses (the interface's first), refreshed by the control thread on
 * link up and on every address change, and picks from them as the
 * kernel's source selection would:
 *
 *   1. the sender is one of the host's addresses (the host sent it, or
 *      source-NATed it: conntrack names the original sender): that
 *      address, as the kernel's route back to a local address is sourced;
 *   2. else the address whose prefix holds the sender (a router's address
 *      on the sender's subnet), the longest prefix first;
 *   3. else the interface's own address of that family;
 *   4. else any other global address of the host.
 *
 * With none, or when the interface would drop an IPv4 packet from a local
 * source, the error keeps the unreachable address as its source.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "device/device_impl.h"
#include "tun/ip.h"

#define SCOPE_UNIVERSE 0
#define SCOPE_HOST 254

struct dev_addrs {
	struct epoch_entry retire;
	unsigned int n;
	struct tun_addr a[];
};

static void addrs_retired(struct epoch_entry *e)
{
	free((char *)e - offsetof(struct dev_addrs, retire));
}

/* Control thread, cfg_mutex not held: the workers read the table in
 * their epoch, and the one it replaces is freed once they moved on. */
void dev_addrs_refresh(struct device *d)
{
	struct dev_addrs *fresh = NULL, *old;
	unsigned int cap = 16;
	int n;

	for (;;) {
		free(fresh);
		fresh = malloc(sizeof(*fresh) + cap * sizeof(fresh->a[0]));
		if (!fresh)
			return;	/* keep the old table */
		n = tun_addrs(d->tun, fresh->a, cap);
		if (n < 0) {
			dev_log(d, DEVICE_LOG_VERBOSE, "addresses: %s", strerror(-n));
			free(fresh);
			return;
		}
		if ((unsigned int)n <= cap)
			break;
		cap = (unsigned int)n + 16;
	}
	fresh->n = (unsigned int)n;
	pthread_mutex_lock(&d->cfg_mutex);
	old = atomic_exchange(&d->addrs, fresh);
	if (old)
		epoch_retire(&d->epoch, &old->retire, addrs_retired);
	pthread_mutex_unlock(&d->cfg_mutex);
}

/* Every thread has stopped. */
void dev_addrs_free(struct device *d)
{
	free(atomic_exchange(&d->addrs, NULL));
}

static bool usable(const struct tun_addr *e, int fam)
{
	return e->family == fam && e->scope < SCOPE_HOST;
}

static const struct tun_addr *host_addr(const struct dev_addrs *t, int fam, const uint8_t *x)
{
	size_t alen = fam == AF_INET ? 4 : 16;
	unsigned int i;

	for (i = 0; i < t->n; i++)
		if (t->a[i].family == fam && !memcmp(t->a[i].addr, x, alen))
			return &t->a[i];
	return NULL;
}

static bool in_prefix(const struct tun_addr *e, const uint8_t *x)
{
	unsigned int bytes = e->prefixlen / 8, bits = e->prefixlen % 8;

	if (memcmp(e->addr, x, bytes))
		return false;
	return !bits || !((e->addr[bytes] ^ x[bytes]) & (0xff00 >> bits));
}

static const struct tun_addr *pick(const struct dev_addrs *t, int fam, const uint8_t *sender)
{
	const struct tun_addr *e = host_addr(t, fam, sender), *best = NULL;
	unsigned int i;

	if (e)
		return e->scope < SCOPE_HOST ? e : NULL;
	for (i = 0; i < t->n; i++) {
		e = &t->a[i];
		if (usable(e, fam) && e->prefixlen && in_prefix(e, sender) &&
		    (!best || e->prefixlen > best->prefixlen))
			best = e;
	}
	if (best)
		return best;
	for (i = 0; i < t->n; i++)
		if (usable(&t->a[i], fam) && t->a[i].on_tun)
			return &t->a[i];
	for (i = 0; i < t->n; i++)
		if (usable(&t->a[i], fam) && t->a[i].scope == SCOPE_UNIVERSE)
			return &t->a[i];
	return NULL;
}

/* The interface takes IPv4 packets from the host's own addresses now (the
 * errors above need it), where the kernel would drop them as martians: a
 * tunnelled packet claiming one is dropped here instead.  A worker, in
 * its epoch. */
bool dev_local_source(struct device *d, const uint8_t *src4)
{
	const struct dev_addrs *t = atomic_load(&d->addrs);

	return t && host_addr(t, AF_INET, src4);
}

/* A worker, in its epoch.  False: no source to offer. */
bool dev_icmp_source(struct device *d, const uint8_t *pkt, size_t len, uint8_t *out)
{
	const struct dev_addrs *t = atomic_load(&d->addrs);
	int fam = ip_family(pkt, len);
	size_t alen = fam == AF_INET ? 4 : 16;
	const struct tun_addr *e;
	uint8_t sender[16];

	if (!t || !fam || (fam == AF_INET && !tun_local_source_ok(d->tun)))
		return false;
	memcpy(sender, ip_src_addr(pkt, fam), alen);
	/* Source NAT only ever rewrites to an address of ours: only then is
	 * conntrack worth asking. */
	if (host_addr(t, fam, sender))
		tun_orig_source(d->tun, pkt, len, sender);
	e = pick(t, fam, sender);
	if (!e)
		return false;
	memcpy(out, e->addr, alen);
	return true;
}
