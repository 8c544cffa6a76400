// SPDX-License-Identifier: MIT
/*
 * The route watcher against real route changes: IPv4 and IPv6 routes added
 * and deleted are reported, and vg_route_check() turns a sticky source
 * stale when its route goes.  Route changes are made in a private network
 * namespace (root, or an unprivileged user namespace); without one those
 * cases are skipped.  Without namespaces, tests/unit/test_sticky_route.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "conn/sticky.h"
#include "tests/unit/conn_testutil.h"
#include "tests/unit/testutil.h"

static struct vg_endpoint ep_of(const char *dst, const char *src, uint32_t ifindex)
{
	struct vg_endpoint ep = vg_test_ep(dst, 51820);

	vg_test_ep_src(&ep, src, ifindex);
	return ep;
}

/* Sends one request and waits for its ack; 0 or -errno. */
static int nl_do(struct nlmsghdr *nlh)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	char buf[8192];
	ssize_t len;
	int ret;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (len < 0) {
		ret = -errno;
		goto out;
	}
	ret = mnl_cb_run(buf, (size_t)len, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL);
	ret = ret < 0 ? -errno : 0;
out:
	mnl_socket_close(nl);
	return ret;
}

static int lo_up(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)if_nametoindex("lo");
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	return nl_do(nlh);
}

static int route(int type, int family, const char *dst, int plen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	uint8_t addr[16];

	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
			   (type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	nlh->nlmsg_seq = (uint32_t)time(NULL) + 1;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)plen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	inet_pton(family, dst, addr);
	mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, addr);
	mnl_attr_put_u32(nlh, RTA_OIF, if_nametoindex("lo"));
	return nl_do(nlh);
}

static bool private_netns(void)
{
	if (!unshare(CLONE_NEWNET))
		return lo_up() == 0;
	if (!unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return lo_up() == 0;
	return false;
}

/* Waits up to 2 s for the watcher to report a change. */
static int wait_change(struct vg_route_watch *w)
{
	struct pollfd pfd = { .fd = vg_route_watch_fd(w), .events = POLLIN };

	if (poll(&pfd, 1, 2000) != 1)
		return 0;
	return vg_route_watch_read(w);
}

static void route_family(int family, const char *net, int plen, const char *dst, const char *src)
{
	struct vg_route_watch *w;
	struct vg_endpoint ep = ep_of(dst, src, if_nametoindex("lo"));
	int ret;

	if (!private_netns()) {
		fprintf(stderr, "test_sticky_route_netns: no private network namespace, skipped\n");
		return;
	}
	ck_assert_int_eq(vg_route_watch_open(&w), 0);
	ck_assert_int_eq(vg_route_check(w, &ep, 0), 0);	/* no route yet */
	ret = route(RTM_NEWROUTE, family, net, plen);
	ck_assert_msg(ret == 0, "add route: %s", strerror(-ret));
	ck_assert_int_eq(wait_change(w), 1);
	ck_assert_int_eq(vg_route_check(w, &ep, 0), 1);
	ck_assert_int_eq(vg_route_watch_read(w), 0);	/* drained */
	ck_assert_int_eq(route(RTM_DELROUTE, family, net, plen), 0);
	ck_assert_int_eq(wait_change(w), 1);
	ck_assert_int_eq(vg_route_check(w, &ep, 0), 0);	/* stale now */
	vg_route_watch_close(w);
}

START_TEST(watch_v4)
{
	route_family(AF_INET, "10.99.0.0", 24, "10.99.0.5", "127.0.0.1");
}
END_TEST

START_TEST(watch_v6)
{
	route_family(AF_INET6, "fd99::", 64, "fd99::5", "::1");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sticky_route_netns");
	TCase *tc = tcase_create("route");

	tcase_add_test(tc, watch_v4);
	tcase_add_test(tc, watch_v6);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Each test needs its own process: namespaces must not leak. */
	return vg_test_run(suite(), true);
}
