/* SPDX-License-Identifier: MIT */
/*
 * The host around a Linux TUN, for the ICMP errors the device writes into
 * it (tun.h, tun_addrs()): the host's addresses (an RTM_GETADDR dump), and
 * accept_local on the interface, without which the kernel drops an IPv4
 * packet arriving with one of the host's own addresses as its source.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "tun/tun_impl.h"

#define NL_BUF 32768

int tun_nl_request(int bus, struct nlmsghdr *nlh, tun_nl_cb cb, void *data)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	unsigned int portid;
	char *buf = NULL;
	ssize_t n;
	int ret;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	buf = malloc(NL_BUF);
	if (!buf)
		goto fail;
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto fail;
	do {
		n = mnl_socket_recvfrom(nl, buf, NL_BUF);
		if (n < 0)
			goto fail;
		ret = mnl_cb_run(buf, n, nlh->nlmsg_seq, portid, cb, data);
	} while (ret > MNL_CB_STOP);
	ret = ret < 0 ? -errno : 0;
	goto out;
fail:
	ret = errno ? -errno : -ENOMEM;
out:
	free(buf);
	mnl_socket_close(nl);
	return ret;
}

struct addr_dump {
	int ifindex;
	struct tun_addr *a;
	unsigned int n, cap;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_dump *d = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *local = NULL, *address = NULL;
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	struct tun_addr *x;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return MNL_CB_OK;
	/* Not usable as a source (yet). */
	if (ifa->ifa_flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(a) == IFA_LOCAL)
			local = a;
		else if (mnl_attr_get_type(a) == IFA_ADDRESS)
			address = a;
	}
	/* IFA_LOCAL is ours; IFA_ADDRESS is the peer on point-to-point links. */
	a = local ? local : address;
	if (!a || mnl_attr_get_payload_len(a) != alen)
		return MNL_CB_OK;
	if (d->n == d->cap) {
		unsigned int ncap = d->cap ? 2 * d->cap : 16;

		x = realloc(d->a, ncap * sizeof(*x));
		if (!x)
			return MNL_CB_ERROR;
		d->a = x;
		d->cap = ncap;
	}
	x = &d->a[d->n++];
	memset(x, 0, sizeof(*x));
	x->family = ifa->ifa_family;
	memcpy(x->addr, mnl_attr_get_payload(a), alen);
	x->prefixlen = ifa->ifa_prefixlen;
	x->scope = ifa->ifa_scope;
	x->on_tun = (int)ifa->ifa_index == d->ifindex;
	return MNL_CB_OK;
}

int tun_linux_addrs(struct tun *t, struct tun_addr *out, unsigned int cap)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct addr_dump d = { .ifindex = t->ifindex };
	struct ifaddrmsg *ifa;
	unsigned int i, k = 0;
	int ret, pass;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	ret = tun_nl_request(NETLINK_ROUTE, nlh, addr_cb, &d);
	/* The interface's own first, as tun.h promises. */
	for (pass = 0; !ret && pass < 2; pass++)
		for (i = 0; i < d.n; i++)
			if (d.a[i].on_tun == !pass && k < cap)
				out[k++] = d.a[i];
	free(d.a);
	return ret ? ret : (int)d.n;
}

int tun_linux_accept_local(struct tun *t)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlattr *spec, *inet, *conf;
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_SETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = t->ifindex;
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	inet = mnl_attr_nest_start(nlh, AF_INET);
	conf = mnl_attr_nest_start(nlh, IFLA_INET_CONF);
	mnl_attr_put_u32(nlh, IPV4_DEVCONF_ACCEPT_LOCAL, 1);
	mnl_attr_nest_end(nlh, conf);
	mnl_attr_nest_end(nlh, inet);
	mnl_attr_nest_end(nlh, spec);
	return tun_nl_request(NETLINK_ROUTE, nlh, NULL, NULL);
}
