/* SPDX-License-Identifier: MIT */
/*
 * Source NAT as conntrack saw it (tun.h, tun_orig_source()).  The kernel
 * sends an ICMP error about a packet it source-NATed to the packet's
 * original sender, sourced for the way back to it (icmp_ndo_send); a
 * packet read from a TUN carries only the rewritten source, so the device
 * asks ctnetlink for the flow's original one.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <libmnl/libmnl.h>

#include "tun/ip.h"
#include "tun/tun_impl.h"

/* The flow's reply-direction tuple, as conntrack hashes it: the addresses
 * and ports swapped; an echo request's flow answers with an echo reply. */
struct ct_tuple {
	int fam;
	uint8_t proto;
	const uint8_t *src, *dst;
	uint16_t sport, dport;	/* ports, or the echo id in sport */
	uint8_t type;		/* ICMP/ICMPv6: the reply's type */
};

static bool reply_tuple(const uint8_t *pkt, size_t len, struct ct_tuple *t)
{
	size_t off;

	t->fam = ip_family(pkt, len);
	if (t->fam == AF_INET) {
		off = ipv4_hdr_len(pkt);
		if (off < IP4_HDR_LEN || (ipv4_frag(pkt) & IP_OFFMASK))
			return false;
		t->proto = pkt[IP4_PROTO_OFF];
	} else if (t->fam == AF_INET6) {
		off = IP6_HDR_LEN;	/* extension headers: not looked through */
		t->proto = pkt[IP6_NXT_OFF];
	} else {
		return false;
	}
	if (len < off + 8)
		return false;
	t->src = ip_dst_addr(pkt, t->fam);
	t->dst = ip_src_addr(pkt, t->fam);
	switch (t->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
		t->sport = ip_get16(pkt + off + 2);
		t->dport = ip_get16(pkt + off);
		return true;
	case IPPROTO_ICMP:
		t->type = ICMP_ECHOREPLY;
		t->sport = ip_get16(pkt + off + 4);
		return pkt[off] == ICMP_ECHO;
	case IPPROTO_ICMPV6:
		t->type = ICMP6_ECHO_REPLY;
		t->sport = ip_get16(pkt + off + 4);
		return pkt[off] == ICMP6_ECHO_REQUEST;
	default:
		return false;
	}
}

static void put_tuple(struct nlmsghdr *nlh, const struct ct_tuple *t)
{
	bool v4 = t->fam == AF_INET;
	size_t alen = v4 ? 4 : 16;
	struct nlattr *tuple, *ip, *proto;

	tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_REPLY);
	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, alen, t->src);
	mnl_attr_put(nlh, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, alen, t->dst);
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->proto);
	if (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6) {
		mnl_attr_put_u16(nlh, v4 ? CTA_PROTO_ICMP_ID : CTA_PROTO_ICMPV6_ID, htons(t->sport));
		mnl_attr_put_u8(nlh, v4 ? CTA_PROTO_ICMP_TYPE : CTA_PROTO_ICMPV6_TYPE, t->type);
		mnl_attr_put_u8(nlh, v4 ? CTA_PROTO_ICMP_CODE : CTA_PROTO_ICMPV6_CODE, 0);
	} else {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t->sport));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t->dport));
	}
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, tuple);
}

struct ct_answer {
	size_t alen;
	bool snat, found;
	uint8_t src[16];
};

/* CTA_TUPLE_ORIG -> CTA_TUPLE_IP -> CTA_IP_V*_SRC */
static void orig_src(const struct nlattr *orig, struct ct_answer *ans)
{
	const struct nlattr *a, *b;

	mnl_attr_for_each_nested(a, orig) {
		if (mnl_attr_get_type(a) != CTA_TUPLE_IP)
			continue;
		mnl_attr_for_each_nested(b, a) {
			if ((mnl_attr_get_type(b) == CTA_IP_V4_SRC ||
			     mnl_attr_get_type(b) == CTA_IP_V6_SRC) &&
			    mnl_attr_get_payload_len(b) == ans->alen) {
				memcpy(ans->src, mnl_attr_get_payload(b), ans->alen);
				ans->found = true;
			}
		}
	}
}

static int ct_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_answer *ans = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == CTA_STATUS &&
		    mnl_attr_get_payload_len(a) == sizeof(uint32_t))
			ans->snat = ntohl(mnl_attr_get_u32(a)) & IPS_SRC_NAT;
		else if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG)
			orig_src(a, ans);
	}
	return MNL_CB_OK;
}

int tun_linux_orig_source(struct tun *t, const uint8_t *pkt, size_t len, uint8_t *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ct_answer ans = { 0 };
	struct nfgenmsg *nfg;
	struct ct_tuple tu = { 0 };
	int ret;

	if (!reply_tuple(pkt, len, &tu))
		return -ENOENT;
	ans.alen = tu.fam == AF_INET ? 4 : 16;
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (uint8_t)tu.fam;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	put_tuple(nlh, &tu);
	ret = tun_nl_request(NETLINK_NETFILTER, nlh, ct_cb, &ans);
	if (ret)
		return ret;
	if (!ans.snat || !ans.found)
		return -ENOENT;
	memcpy(out, ans.src, ans.alen);
	return 0;
}
