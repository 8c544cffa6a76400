/* SPDX-License-Identifier: MIT */
/*
 * The Linux TUN's link watcher: up, down, MTU and deletion from rtnetlink,
 * heard in whichever network namespace the interface is in now while its
 * sockets stay at home (tun/tun_netns.h).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "tun/tun_linux.h"

#define TUN_POLL_SEC 1		/* state polled while the interface is away */
#define TUN_FOLLOW_TRIES 4	/* moved again while being found */

static struct tun_linux *lx(struct tun *t)
{
	return t->priv;
}

static void ring_push(struct tun_linux *l, enum tun_event_type type, unsigned int mtu)
{
	struct tun_event *ev;

	if (l->count == TUN_EVENT_RING) {	/* keep the newest state */
		l->head = (l->head + 1) % TUN_EVENT_RING;
		l->count--;
	}
	ev = &l->ring[(l->head + l->count) % TUN_EVENT_RING];
	ev->type = type;
	ev->mtu = mtu;
	l->count++;
}

/* Still ours?  RTM_DELLINK also means "moved to another namespace", where
 * the queues keep working; only a deleted device answers EBADFD. */
static bool device_gone(struct tun *t)
{
	struct ifreq ifr = { 0 };

	return ioctl(t->q[0].fd, TUNGETIFF, &ifr) < 0 && errno == EBADFD;
}

/* ---- following the interface from namespace to namespace ---- */

static void report(struct tun_linux *l, const struct tun_link_info *li)
{
	bool up = (li->flags & IFF_UP) && (li->flags & IFF_RUNNING);

	if (li->mtu)
		ring_push(l, TUN_EVENT_MTU, li->mtu);
	ring_push(l, up ? TUN_EVENT_UP : TUN_EVENT_DOWN, 0);
}

static void timer_arm(struct tun_linux *l, bool on)
{
	struct itimerspec its = { 0 };

	if (on) {
		its.it_value.tv_sec = TUN_POLL_SEC;
		its.it_interval.tv_sec = TUN_POLL_SEC;
	}
	timerfd_settime(l->timer, 0, &its, NULL);
}

static void drain(struct tun_linux *l)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	while (recv(mnl_socket_get_fd(l->nl), buf, sizeof(buf), MSG_DONTWAIT) >= 0 ||
	       errno == ENOBUFS || errno == EINTR)
		;
}

/*
 * Points the watcher at the interface's namespace: at home the plain
 * subscription; elsewhere every namespace's messages, each with the id of
 * its origin (NETLINK_LISTEN_ALL_NSID), and a poll, for when they cannot
 * be heard (no CAP_NET_BROADCAST) or the namespace dies without a word.
 * A subscription added to nl (addresses) follows the interface with it.
 * What was queued before is dropped, its origin being ambiguous: the
 * caller asks for the state afterwards.
 */
static void watch_retarget(struct tun *t, enum tun_where where, int nsid)
{
	struct tun_linux *l = lx(t);
	int on = where == TUN_AWAY;

	if (on != l->all_nsid) {
		if (!setsockopt(mnl_socket_get_fd(l->nl), SOL_NETLINK,
				NETLINK_LISTEN_ALL_NSID, &on, sizeof(on)))
			l->all_nsid = on;
		else if (on)
			tun_core_logf(t, "no link events from other network namespaces "
				      "(%s): polling", strerror(errno));
	}
	drain(l);
	l->where = where;
	l->nsid = where == TUN_AWAY ? nsid : TUN_NSID_HOME;
	timer_arm(l, where != TUN_HOME);
}

/* Is the message being parsed from the interface's namespace? */
static bool from_its_ns(const struct tun_linux *l)
{
	if (l->where == TUN_HOME)
		return l->msg_nsid == TUN_NSID_HOME;
	return l->where == TUN_AWAY && l->msg_nsid == l->nsid;
}

static int dev_ns(struct tun *t, struct tun_nsref *ns)
{
	int fd = tun_netns_of_tun(t->q[0].fd), ret;

	if (fd < 0)
		return fd;
	ret = tun_netns_ident(fd, ns);
	close(fd);
	return ret;
}

/* The interface's namespace now: home, or its id at home.  *told is false
 * when the namespace cannot be told (Linux < 5.2 has no TUNGETDEVNETNS). */
static int which_ns(struct tun *t, struct tun_nsref *ns, int *nsid, bool *told)
{
	struct tun_linux *l = lx(t);
	int fd, ret;

	*nsid = TUN_NSID_HOME;
	*told = false;
	if (!l->home_known)
		return -EOPNOTSUPP;
	fd = tun_netns_of_tun(t->q[0].fd);
	if (fd < 0)
		return fd;
	ret = tun_netns_ident(fd, ns);
	*told = !ret;
	if (!ret && !tun_nsref_equal(ns, &l->home))
		ret = tun_netns_id(&l->rq, fd, nsid);
	close(fd);
	return ret;
}

/*
 * The interface's namespace, index and state.  The watcher is pointed at
 * the namespace before the state is asked for, so nothing after the
 * answer is missed.  assume_home: a namespace that cannot be told is
 * taken as home.  -EAGAIN: it moved meanwhile; -EBADFD: deleted.
 */
static int locate(struct tun *t, struct tun_link_info *li, bool assume_home)
{
	struct tun_linux *l = lx(t);
	struct tun_nsref ns = { 0 }, now = { 0 };
	char name[IFNAMSIZ];
	int nsid, ret;
	bool told;

	ret = which_ns(t, &ns, &nsid, &told);
	if (ret == -EBADFD || (ret < 0 && (told || !assume_home)))
		return ret;
	watch_retarget(t, nsid == TUN_NSID_HOME ? TUN_HOME : TUN_AWAY, nsid);
	ret = tun_linux_name(t, name);
	if (!ret)
		ret = tun_netns_link(&l->rq, nsid, 0, name, li);
	if (ret == -ENODEV && told)	/* renamed or moved in between */
		return -EAGAIN;
	if (ret < 0 || !told)
		return ret;
	ret = dev_ns(t, &now);
	if (ret < 0)
		return ret;
	return tun_nsref_equal(&ns, &now) ? 0 : -EAGAIN;
}

static int locate_retry(struct tun *t, struct tun_link_info *li, bool assume_home)
{
	int ret = -EAGAIN, i;

	for (i = 0; i < TUN_FOLLOW_TRIES && ret == -EAGAIN; i++)
		ret = locate(t, li, assume_home);
	return ret;
}

static void log_where(struct tun *t)
{
	struct tun_linux *l = lx(t);

	if (l->where == TUN_HOME)
		tun_core_logf(t, "interface in this network namespace, index %d", t->ifindex);
	else
		tun_core_logf(t, "interface in network namespace id %d, index %d",
			      l->nsid, t->ifindex);
}

/*
 * Elsewhere, but where cannot be told or asked (no TUNGETDEVNETNS, no
 * namespace id, no permission).  The queues still work: the link is taken
 * as up with its last MTU, and deletion is still seen on the TUN fd.  The
 * poll keeps looking for it.
 */
static void watch_lost(struct tun *t, int err)
{
	struct tun_linux *l = lx(t);

	if (l->where != TUN_LOST)
		tun_core_logf(t, "interface left this network namespace and cannot "
			      "be followed (%s): taken as up", strerror(-err));
	watch_retarget(t, TUN_LOST, TUN_NSID_HOME);
	ring_push(l, TUN_EVENT_UP, 0);
}

/* Finds the interface again and reports its state there.  left: it left
 * the namespace it was heard in; otherwise events were lost. */
static void watch_follow(struct tun *t, bool left)
{
	struct tun_linux *l = lx(t);
	enum tun_where was = l->where;
	int was_nsid = l->nsid, was_index = t->ifindex, ret;
	struct tun_link_info li;

	ret = locate_retry(t, &li, was == TUN_HOME && !left);
	if (ret == -EBADFD) {
		ring_push(l, TUN_EVENT_CLOSED, 0);
		return;
	}
	if (ret < 0) {
		watch_lost(t, ret);
		return;
	}
	t->ifindex = li.ifindex;
	if (l->where != was || l->nsid != was_nsid || t->ifindex != was_index)
		log_where(t);
	report(l, &li);
}

/* The timer, while away: the state as it is now (events may not reach
 * us), or the interface found again.  False when it had not fired. */
static bool watch_poll(struct tun *t)
{
	struct tun_linux *l = lx(t);
	struct tun_link_info li;
	uint64_t n;

	if (l->where == TUN_HOME || read(l->timer, &n, sizeof(n)) != sizeof(n))
		return false;
	if (l->where == TUN_AWAY &&
	    !tun_netns_link(&l->rq, l->nsid, t->ifindex, NULL, &li))
		report(l, &li);
	else
		watch_follow(t, true);
	return true;
}

/* One datagram of link messages, and the namespace it came from. */
static ssize_t watch_recv(struct tun_linux *l, void *buf, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	ssize_t n = recvmsg(mnl_socket_get_fd(l->nl), &m, 0);

	if (n < 0)
		return -errno;
	if (m.msg_flags & MSG_TRUNC)
		return -ENOSPC;
	l->msg_nsid = TUN_NSID_HOME;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID)
			memcpy(&l->msg_nsid, CMSG_DATA(c), sizeof(l->msg_nsid));
	}
	return n;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

/* Addresses come in bursts: one pending event says it all. */
static void addr_event(struct tun_linux *l)
{
	if (l->count && l->ring[(l->head + l->count - 1) % TUN_EVENT_RING].type == TUN_EVENT_ADDR)
		return;
	ring_push(l, TUN_EVENT_ADDR, 0);
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct tun *t = data;
	struct tun_linux *l = lx(t);
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
	bool up;

	/* The host's addresses (ICMP sources, device/addrs.c) are those of
	 * the daemon's namespace. */
	if (nlh->nlmsg_type == RTM_NEWADDR || nlh->nlmsg_type == RTM_DELADDR) {
		if (l->msg_nsid == TUN_NSID_HOME)
			addr_event(l);
		return MNL_CB_OK;
	}
	if (!from_its_ns(l) || ifm->ifi_index != t->ifindex)
		return MNL_CB_OK;
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (device_gone(t))
			ring_push(l, TUN_EVENT_CLOSED, 0);
		else
			l->moved = true;
		return MNL_CB_OK;
	}
	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb);
	if (tb[IFLA_MTU])
		ring_push(l, TUN_EVENT_MTU, mnl_attr_get_u32(tb[IFLA_MTU]));
	up = (ifm->ifi_flags & IFF_UP) && (ifm->ifi_flags & IFF_RUNNING);
	ring_push(l, up ? TUN_EVENT_UP : TUN_EVENT_DOWN, 0);
	return MNL_CB_OK;
}

int tun_watch_event(struct tun *t, struct tun_event *ev)
{
	struct tun_linux *l = lx(t);
	char buf[MNL_SOCKET_BUFFER_SIZE];

	while (l->count == 0) {
		ssize_t n = watch_recv(l, buf, sizeof(buf));

		if (n < 0) {
			if (n == -EAGAIN || n == -EWOULDBLOCK) {
				if (device_gone(t)) {
					ring_push(l, TUN_EVENT_CLOSED, 0);
					continue;
				}
				if (!watch_poll(t))
					return 0;
				continue;
			}
			if (n == -ENOBUFS || n == -ENOSPC) {	/* lost some: resynchronise */
				watch_follow(t, false);
				continue;
			}
			return (int)n;
		}
		l->moved = false;
		if (mnl_cb_run(buf, n, 0, 0, link_cb, t) < 0 && errno != ESRCH)
			return -errno;
		if (l->moved)
			watch_follow(t, true);
	}
	*ev = l->ring[l->head];
	l->head = (l->head + 1) % TUN_EVENT_RING;
	l->count--;
	return 1;
}

static int ep_add(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/*
 * The watcher: link messages and the poll timer behind one epoll fd, the
 * event fd.  Its sockets stay in the namespace the device was opened in;
 * an address subscription would go on nl here.  Then where the interface
 * is: its index and the namespace it is watched in.
 */
int tun_watch_open(struct tun *t)
{
	struct tun_linux *l = lx(t);
	struct tun_link_info li;
	int fd, ret;

	l->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!l->nl)
		return -errno;
	if (mnl_socket_bind(l->nl, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
			    MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	fd = mnl_socket_get_fd(l->nl);
	l->home_known = !tun_netns_of_socket(fd, &l->home);
	ret = tun_rtnl_open(&l->rq);
	if (ret < 0)
		return ret;
	l->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->timer < 0 || l->ep < 0)
		return -errno;
	ret = ep_add(l->ep, fd);
	if (!ret)
		ret = ep_add(l->ep, l->timer);
	if (ret < 0)
		return ret;
	t->event_fd = l->ep;
	ret = locate_retry(t, &li, true);
	if (ret < 0)
		return ret;
	t->ifindex = li.ifindex;
	if (l->where != TUN_HOME)
		log_where(t);
	return 0;
}

/* The first state is an event too: "up" if it already is.  What the
 * opening itself caused (offloads, MTU) is not news. */
int tun_watch_start(struct tun *t)
{
	struct tun_linux *l = lx(t);
	struct tun_link_info li;
	int ret;

	if (l->where == TUN_LOST)
		return 0;
	watch_retarget(t, l->where, l->nsid);
	ret = tun_netns_link(&l->rq, l->nsid, t->ifindex, NULL, &li);
	if (ret < 0)
		return ret;
	if ((li.flags & IFF_UP) && (li.flags & IFF_RUNNING))
		ring_push(l, TUN_EVENT_UP, 0);
	return 0;
}

void tun_watch_close(struct tun_linux *l)
{
	if (l->nl)
		mnl_socket_close(l->nl);
	l->nl = NULL;
	tun_rtnl_close(&l->rq);
	if (l->ep >= 0)
		close(l->ep);
	if (l->timer >= 0)
		close(l->timer);
	l->ep = l->timer = -1;
}
