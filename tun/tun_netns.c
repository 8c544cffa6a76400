/* SPDX-License-Identifier: MIT */
/*
 * Where a Linux TUN device is: namespace identities, namespace ids at
 * home, and a link's state asked across namespaces (tun/tun_netns.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <libmnl/libmnl.h>

#include "tun/tun_netns.h"

#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif

int tun_rtnl_open(struct tun_rtnl *r)
{
	r->seq = 0;
	r->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!r->nl)
		return -errno;
	if (mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		tun_rtnl_close(r);
		return err;
	}
	return 0;
}

void tun_rtnl_close(struct tun_rtnl *r)
{
	if (r->nl)
		mnl_socket_close(r->nl);
	r->nl = NULL;
}

/* One request, its answers to cb, up to the ack; 0 or -errno. */
static int rtnl_talk(struct tun_rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid = mnl_socket_get_portid(r->nl);
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++r->seq;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(r->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
		/* The tail of an earlier exchange cut short: skip it. */
		if (ret < 0 && errno == ESRCH)
			ret = 1;
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

int tun_netns_ident(int nsfd, struct tun_nsref *ns)
{
	struct stat st;

	if (fstat(nsfd, &st) < 0)
		return -errno;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	return 0;
}

int tun_netns_of_socket(int fd, struct tun_nsref *ns)
{
	int nsfd = ioctl(fd, SIOCGSKNS), ret;

	if (nsfd < 0)
		return -errno;
	ret = tun_netns_ident(nsfd, ns);
	close(nsfd);
	return ret;
}

int tun_netns_of_tun(int fd)
{
	int nsfd = ioctl(fd, TUNGETDEVNETNS);

	return nsfd < 0 ? -errno : nsfd;
}

bool tun_netns_elsewhere(int fd)
{
	struct tun_nsref home = { 0 }, dev = { 0 };
	int s, nsfd, ret;

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return false;
	ret = tun_netns_of_socket(s, &home);
	close(s);
	if (ret)
		return false;
	nsfd = tun_netns_of_tun(fd);
	if (nsfd < 0)
		return false;
	ret = tun_netns_ident(nsfd, &dev);
	close(nsfd);
	return !ret && !tun_nsref_equal(&home, &dev);
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg)) {
		if (mnl_attr_get_type(a) == NETNSA_NSID &&
		    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			*(int *)data = (int)mnl_attr_get_u32(a);
	}
	return MNL_CB_OK;
}

static int nsid_request(struct tun_rtnl *r, int type, int nsfd, int *nsid)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;

	nlh->nlmsg_type = (uint16_t)type;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)nsfd);
	if (type == RTM_NEWNSID)	/* -1: the kernel picks the id */
		mnl_attr_put_u32(nlh, NETNSA_NSID, (uint32_t)-1);
	return rtnl_talk(r, nlh, nsid ? nsid_cb : NULL, nsid);
}

int tun_netns_id(struct tun_rtnl *r, int nsfd, int *nsid)
{
	int ret;

	*nsid = TUN_NSID_HOME;
	ret = nsid_request(r, RTM_GETNSID, nsfd, nsid);
	if (ret || *nsid >= 0)
		return ret;
	ret = nsid_request(r, RTM_NEWNSID, nsfd, NULL);
	if (ret && ret != -EEXIST)
		return ret;
	ret = nsid_request(r, RTM_GETNSID, nsfd, nsid);
	if (!ret && *nsid < 0)
		ret = -ENOENT;
	return ret;
}

static int link_info_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct tun_link_info *li = data;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	li->ifindex = ifm->ifi_index;
	li->flags = ifm->ifi_flags;
	mnl_attr_for_each(a, nlh, sizeof(*ifm)) {
		if (mnl_attr_get_type(a) == IFLA_MTU &&
		    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			li->mtu = mnl_attr_get_u32(a);
	}
	return MNL_CB_OK;
}

int tun_netns_link(struct tun_rtnl *r, int nsid, int ifindex, const char *name,
		   struct tun_link_info *li)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;
	int ret;

	memset(li, 0, sizeof(*li));
	nlh->nlmsg_type = RTM_GETLINK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	if (!ifindex)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (nsid != TUN_NSID_HOME)
		mnl_attr_put_u32(nlh, IFLA_TARGET_NETNSID, (uint32_t)nsid);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	ret = rtnl_talk(r, nlh, link_info_cb, li);
	if (!ret && !li->ifindex)
		ret = -ENODEV;
	return ret;
}
