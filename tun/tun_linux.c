// SPDX-License-Identifier: MIT
/*
 * The Linux TUN: /dev/net/tun queues with IFF_VNET_HDR and
 * IFF_MULTI_QUEUE, offloads probed with TUNSETOFFLOAD, MTU through an
 * ioctl socket, link events from rtnetlink (libmnl), heard from whichever
 * network namespace the interface is in (tun/tun_netns.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_tun.h>

#include "tun/tun_linux.h"
#include "tun/virtio.h"

static struct tun_linux *lx(struct tun *t)
{
	return t->priv;
}

static ssize_t linux_xmit(struct tun *t, unsigned int q, const void *buf, size_t len)
{
	ssize_t n = write(t->q[q].fd, buf, len);

	return n < 0 ? -errno : n;
}

int tun_linux_name(struct tun *t, char name[IFNAMSIZ])
{
	struct ifreq ifr = { 0 };

	if (ioctl(t->q[0].fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	return 0;
}

/* By index where the interface is now: its name may mean another
 * interface at home. */
static int linux_get_mtu(struct tun *t)
{
	struct tun_linux *l = lx(t);
	struct tun_link_info li;
	int ret;

	if (l->where == TUN_LOST)
		return t->last_mtu ? (int)t->last_mtu : -EXDEV;
	ret = tun_netns_link(&l->rq, l->nsid, t->ifindex, NULL, &li);
	return ret < 0 ? ret : (int)li.mtu;
}

/* Only at home: the kernel sets links in other namespaces only from
 * inside them. */
static int linux_set_mtu(struct tun *t, unsigned int mtu)
{
	struct ifreq ifr = { 0 };
	int ret;

	if (mtu < 68 || mtu > TUN_MAX_PACKET)
		return -EINVAL;
	if (lx(t)->where != TUN_HOME)
		return -EXDEV;
	ret = tun_linux_name(t, ifr.ifr_name);
	if (ret < 0)
		return ret;
	ifr.ifr_mtu = mtu;
	if (ioctl(lx(t)->ctl, SIOCSIFMTU, &ifr) < 0)
		return -errno;
	return 0;
}


static void linux_destroy(struct tun *t)
{
	struct tun_linux *l = lx(t);

	if (l) {
		tun_watch_close(l);
		if (l->ctl >= 0)
			close(l->ctl);
		free(l);
	}
	tun_core_free(t);
}

static const struct tun_ops linux_ops = {
	.xmit = linux_xmit,
	.get_mtu = linux_get_mtu,
	.set_mtu = linux_set_mtu,
	.event = tun_watch_event,
	.addrs = tun_linux_addrs,
	.orig_source = tun_linux_orig_source,
	.destroy = linux_destroy,
};

/* Opens one queue of `name` (updated with the kernel's choice). */
static int open_queue(char *name, short flags)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = flags;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	return fd;
}

static int try_offload(int fd, unsigned int flags)
{
	return ioctl(fd, TUNSETOFFLOAD, flags) < 0 ? -errno : 0;
}

/*
 * Probed, not assumed: TSO, then USO on top (Linux >= 6.2).  Whether the
 * kernel knows USO matters even when USO reads are off, because coalesced
 * UDP writes need the kernel to know GSO_UDP_L4.
 */
static void probe_offloads(struct tun *t, const struct tun_options *o,
			   bool *uso_known)
{
	const unsigned int uso = TUN_F_USO4 | TUN_F_USO6;
	unsigned int base = TUN_F_CSUM, want;
	int fd = t->q[0].fd;

	*uso_known = false;
	if (!o->no_tso)
		base |= TUN_F_TSO4 | TUN_F_TSO6;
	want = o->no_uso ? base : base | uso;
	t->requested = want;
	if (try_offload(fd, base | uso) == 0) {
		*uso_known = true;
		if (!o->no_uso) {
			t->accepted = base | uso;
			return;
		}
	}
	if (try_offload(fd, base) == 0) {
		t->accepted = base;
		return;
	}
	if (base != TUN_F_CSUM && try_offload(fd, TUN_F_CSUM) == 0) {
		t->accepted = TUN_F_CSUM;
		return;
	}
	try_offload(fd, 0);
	t->accepted = 0;
}

/*
 * tun/virtio.h reads and writes the vnet header in host byte order, the
 * TUN's default.  A passed fd may carry TUNSETVNETLE or TUNSETVNETBE from
 * whoever made it, so the one flag that can make the header differ from
 * host order is cleared: VNET_LE on big-endian hosts, VNET_BE elsewhere.
 * Kernels without cross-endian support refuse TUNSETVNETBE, and then the
 * flag cannot be set either, so errors are ignored.
 */
static void vnet_host_order(int fd)
{
	int off = 0;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	(void)ioctl(fd, TUNSETVNETLE, &off);
#else
	(void)ioctl(fd, TUNSETVNETBE, &off);
#endif
}

/* Everything after queue 0 exists: names, offloads, MTU, events, probe. */
static int finish_open(struct tun *t, const struct tun_options *o, short flags)
{
	struct tun_linux *l = lx(t);
	unsigned int i;
	bool uso_known = false;
	int ret;

	for (i = 1; i < t->nqueues; i++) {
		if (t->q[i].fd >= 0)
			continue;	/* handed over (tun_open_fds) */
		ret = open_queue(t->name, flags);
		if (ret < 0)
			return ret;
		t->q[i].fd = ret;
	}
	l->ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (l->ctl < 0)
		return -errno;
	ret = tun_watch_open(t);
	if (ret < 0)
		return ret;
	t->vnet_hdr = flags & IFF_VNET_HDR;
	if (t->vnet_hdr)
		vnet_host_order(t->q[0].fd);
	if (t->vnet_hdr && o->no_vnet_hdr)
		try_offload(t->q[0].fd, 0);	/* a passed fd we can't change */
	else if (t->vnet_hdr)
		probe_offloads(t, o, &uso_known);
	tun_core_features(t, o, uso_known);
	if (t->vnet_hdr && o->no_vnet_hdr) {
		__atomic_store_n(&t->gro_flags, 0, __ATOMIC_RELAXED);
		for (i = 0; i < TUN_FEAT_COUNT; i++) {
			t->feat_on[i] = false;
			t->reason[i] = TUN_REASON_OFFLOADS_BY_OPTION;
		}
	}
	if (!o->keep_mtu) {
		ret = linux_set_mtu(t, o->mtu ? o->mtu : TUN_DEFAULT_MTU);
		if (ret < 0)
			return ret;
	}
	ret = linux_get_mtu(t);
	if (ret < 0)
		return ret;
	t->last_mtu = ret;
	ret = tun_watch_start(t);
	if (ret < 0)
		return ret;
	ret = tun_linux_accept_local(t);
	t->local_source_ok = !ret;
	if (ret)
		tun_core_logf(t, "accept_local not set (%s): ICMP errors come from the unreachable address",
			      strerror(-ret));
	if (!o->no_gro_probe)
		tun_core_probe_gro(t);
	return 0;
}

static struct tun *alloc_linux(const struct tun_options *o)
{
	unsigned int nq = o->queues ? o->queues : 1;
	struct tun *t = tun_core_alloc(&linux_ops, nq, o);
	struct tun_linux *l;

	if (!t)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l) {
		tun_core_free(t);
		return NULL;
	}
	l->ctl = -1;
	l->ep = -1;
	l->timer = -1;
	l->nsid = TUN_NSID_HOME;
	t->priv = l;
	return t;
}

int tun_open(struct tun **out, const char *name, const struct tun_options *opts)
{
	struct tun_options def;
	short flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
	struct tun *t;
	int ret;

	if (!opts) {
		tun_options_init(&def);
		opts = &def;
	}
	if (!name || strlen(name) >= IFNAMSIZ || opts->queues > TUN_MAX_QUEUES)
		return -EINVAL;
	if (!opts->no_vnet_hdr)
		flags |= IFF_VNET_HDR;
	t = alloc_linux(opts);
	if (!t)
		return -ENOMEM;
	snprintf(t->name, IFNAMSIZ, "%s", name);
	ret = open_queue(t->name, flags);
	/* A persistent device made without multi_queue (ip tuntap add) still
	 * takes a single queue. */
	if (ret == -EINVAL && t->nqueues == 1) {
		flags &= ~IFF_MULTI_QUEUE;
		ret = open_queue(t->name, flags);
	}
	if (ret < 0)
		goto fail;
	t->q[0].fd = ret;
	ret = finish_open(t, opts, flags);
	if (ret < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	linux_destroy(t);
	return ret;
}

int tun_open_fd(struct tun **out, int fd, const struct tun_options *opts)
{
	struct tun_options def;
	struct ifreq ifr = { 0 };
	struct tun_options o;
	struct tun *t;
	bool elsewhere;
	int ret, fl;

	if (!opts) {
		tun_options_init(&def);
		opts = &def;
	}
	o = *opts;
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	if (!(ifr.ifr_flags & IFF_TUN) || !(ifr.ifr_flags & IFF_NO_PI))
		return -EINVAL;
	/* More queues attach by name, which means another interface (or a
	 * new one) when this one is in another namespace. */
	elsewhere = o.queues > 1 && tun_netns_elsewhere(fd);
	if (!(ifr.ifr_flags & IFF_MULTI_QUEUE) || elsewhere)
		o.queues = 1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	t = alloc_linux(&o);
	if (!t)
		return -ENOMEM;
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->name[IFNAMSIZ - 1] = '\0';
	t->q[0].fd = fd;
	if (elsewhere)
		tun_core_logf(t, "interface in another network namespace: one queue");
	ret = finish_open(t, &o, ifr.ifr_flags & (IFF_TUN | IFF_NO_PI |
						 IFF_VNET_HDR | IFF_MULTI_QUEUE));
	if (ret < 0) {
		t->q[0].fd = -1;	/* on failure the caller keeps its fd */
		linux_destroy(t);
		return ret;
	}
	*out = t;
	return 0;
}

int tun_open_fds(struct tun **out, const int *fds, unsigned int n, const struct tun_options *opts)
{
	struct ifreq ifr = { 0 };
	struct tun_options o;
	unsigned int i;
	struct tun *t;
	int ret, fl;

	if (!n || n > TUN_MAX_QUEUES)
		return -EINVAL;
	if (opts)
		o = *opts;
	else
		tun_options_init(&o);
	o.queues = n;
	o.keep_mtu = true;
	if (ioctl(fds[0], TUNGETIFF, &ifr) < 0)
		return -errno;
	if (!(ifr.ifr_flags & IFF_TUN) || !(ifr.ifr_flags & IFF_NO_PI) ||
	    (n > 1 && !(ifr.ifr_flags & IFF_MULTI_QUEUE)))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		fl = fcntl(fds[i], F_GETFL);
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0)
			return -errno;
	}
	t = alloc_linux(&o);
	if (!t)
		return -ENOMEM;
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->name[IFNAMSIZ - 1] = '\0';
	for (i = 0; i < n; i++)
		t->q[i].fd = fds[i];
	ret = finish_open(t, &o, ifr.ifr_flags & (IFF_TUN | IFF_NO_PI |
						 IFF_VNET_HDR | IFF_MULTI_QUEUE));
	if (ret < 0) {
		for (i = 0; i < n; i++)
			t->q[i].fd = -1;	/* the caller keeps its fds */
		linux_destroy(t);
		return ret;
	}
	*out = t;
	return 0;
}
