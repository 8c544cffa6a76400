// SPDX-License-Identifier: MIT
/*
 * tunpipe: two TUN devices in two network namespaces, joined through
 * vguard's TUN layer only (split on read, GRO on write, no crypto).  The
 * tunpipe benchmark and the TUN integration tests drive kernel traffic
 * through it.
 *
 *   tunpipe [options] NS_A IF_A NS_B IF_B
 *     prints "ready" with the offload state, then link events as they come
 *     ("event IF up|down|mtu N|closed"); on SIGINT/SIGTERM, or when an
 *     interface is deleted, prints each device's counters and exits 0.
 *     --pass-fd vnet|plain opens A's TUN first and hands the fd over, as
 *     WG_TUN_FD does (with or without IFF_VNET_HDR).
 *   tunpipe sink ADDR PORT   accept one TCP connection, copy it to stdout
 *   tunpipe send ADDR PORT   copy stdin to one TCP connection
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <linux/if_tun.h>

#include "tun/tun.h"
#include "tun/tun_bridge.h"

static int enter_netns(const char *name)
{
	char path[256];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Opens the TUN as wg-quick's parent would before passing WG_TUN_FD. */
static int open_passed(struct tun **t, const char *ifname,
		       const struct tun_options *o, bool vnet)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = tun_open_fd(t, fd, o);
	if (ret < 0)
		close(fd);
	return ret;
}

/* pass_fd: 0 tun_open(), 1 a passed fd with vnet header, 2 without. */
static int open_in(struct tun **t, const char *ns, const char *ifname,
		   const struct tun_options *o, int pass_fd)
{
	int ret = enter_netns(ns);

	if (ret < 0) {
		fprintf(stderr, "tunpipe: netns %s: %s\n", ns, strerror(-ret));
		return ret;
	}
	if (pass_fd)
		ret = open_passed(t, ifname, o, pass_fd == 1);
	else
		ret = tun_open(t, ifname, o);
	if (ret < 0)
		fprintf(stderr, "tunpipe: %s: %s\n", ifname, strerror(-ret));
	return ret;
}

static void print_state(struct tun *t)
{
	struct tun_offload_state s;
	int f;

	tun_get_offload(t, &s);
	printf("%s vnet_hdr=%d requested=0x%x accepted=0x%x queues=%u mtu=%d",
	       tun_name(t), s.vnet_hdr, s.requested, s.accepted, tun_queues(t),
	       tun_mtu(t));
	for (f = 0; f < TUN_FEAT_COUNT; f++)
		printf(" %s=%s", tun_feature_name(f), s.on[f] ? "on" : "off");
	printf("\n");
}

static void print_counters(struct tun *t)
{
	struct tun_counters c;
	int k;

	tun_get_counters(t, &c);
	printf("%s reads=%llu read_packets=%llu read_bytes=%llu malformed=%llu",
	       tun_name(t), (unsigned long long)c.reads,
	       (unsigned long long)c.read_packets, (unsigned long long)c.read_bytes,
	       (unsigned long long)c.malformed);
	for (k = 0; k < TUN_GSO_KINDS; k++)
		printf(" gso_%s=%llu gso_%s_segments=%llu gso_%s_max_size=%llu",
		       tun_gso_kind_name(k), (unsigned long long)c.gso[k].packets,
		       tun_gso_kind_name(k), (unsigned long long)c.gso[k].segments,
		       tun_gso_kind_name(k), (unsigned long long)c.gso[k].max_gso_size);
	printf(" writes=%llu write_packets=%llu tcp_coalesced=%llu tcp_merged=%llu"
	       " udp_coalesced=%llu udp_merged=%llu"
	       " bad_csum=%llu write_errors=%llu rejected=%llu eagain=%llu\n",
	       (unsigned long long)c.writes, (unsigned long long)c.write_packets,
	       (unsigned long long)c.coalesced[GRO_PROTO_TCP],
	       (unsigned long long)c.merged[GRO_PROTO_TCP],
	       (unsigned long long)c.coalesced[GRO_PROTO_UDP],
	       (unsigned long long)c.merged[GRO_PROTO_UDP],
	       (unsigned long long)c.bad_csum, (unsigned long long)c.write_errors,
	       (unsigned long long)c.rejected, (unsigned long long)c.eagain);
}

/* Prints pending events; returns true when the device is gone. */
static bool drain_events(struct tun *t)
{
	static const char *const names[] = {
		[TUN_EVENT_UP] = "up", [TUN_EVENT_DOWN] = "down",
		[TUN_EVENT_MTU] = "mtu", [TUN_EVENT_CLOSED] = "closed",
	};
	struct tun_event ev;
	bool closed = false;
	int r;

	while ((r = tun_event_read(t, &ev)) == 1) {
		if (ev.type == TUN_EVENT_ADDR)	/* the host's addresses: not ours to show */
			continue;
		if (ev.type == TUN_EVENT_MTU)
			printf("event %s mtu %u\n", tun_name(t), ev.mtu);
		else
			printf("event %s %s\n", tun_name(t), names[ev.type]);
		closed |= ev.type == TUN_EVENT_CLOSED;
	}
	fflush(stdout);
	return closed || r < 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tunpipe [--queues N] [--mtu N] [--no-offload] [--no-tso] [--no-uso]\n"
		"               [--no-tcp-gro] [--no-udp-gro] [--pass-fd vnet|plain]\n"
		"               NS_A IF_A NS_B IF_B\n"
		"       tunpipe sink ADDR PORT | tunpipe send ADDR PORT\n");
}

static int parse_addr(struct sockaddr_storage *ss, const char *a, const char *p)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(atoi(p));
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(atoi(p));
		return sizeof(*s6);
	}
	return -1;
}

static int copy_fd(int in, int out)
{
	static char buf[256 * 1024];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? 1 : 0;
		while (off < n) {
			ssize_t w = write(out, buf + off, n - off);

			if (w < 0)
				return 1;
			off += w;
		}
	}
}

static int sink_or_send(bool sink, const char *a, const char *p)
{
	struct sockaddr_storage ss;
	int len = parse_addr(&ss, a, p), fd, one = 1, ret;

	if (len < 0) {
		usage();
		return 2;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	if (sink) {
		int c;

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1) < 0) {
			perror("tunpipe sink");
			return 1;
		}
		c = accept(fd, NULL, NULL);
		if (c < 0)
			return 1;
		ret = copy_fd(c, STDOUT_FILENO);
		close(c);
	} else {
		if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
			perror("tunpipe send");
			return 1;
		}
		ret = copy_fd(STDIN_FILENO, fd);
		shutdown(fd, SHUT_WR);
		/* wait for the peer to finish reading */
		while (read(fd, &one, sizeof(one)) > 0)
			;
	}
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "queues", required_argument, NULL, 'q' },
		{ "mtu", required_argument, NULL, 'm' },
		TUN_OPTION_LONGOPTS,
		{ "pass-fd", required_argument, NULL, 'p' },
		{ 0 }
	};
	struct tun *a = NULL, *b = NULL;
	struct tun_bridge *br = NULL;
	struct tun_options o;
	struct pollfd p[3];
	sigset_t set;
	int opt, ret = 1, pass_fd = 0;

	if (argc == 4 && (!strcmp(argv[1], "sink") || !strcmp(argv[1], "send")))
		return sink_or_send(!strcmp(argv[1], "sink"), argv[2], argv[3]);
	tun_options_init(&o);
	tun_options_from_env(&o);
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'q': o.queues = atoi(optarg); break;
		case 'm': o.mtu = atoi(optarg); break;
		case 'p': pass_fd = !strcmp(optarg, "plain") ? 2 : 1; break;
		default:
			if (tun_options_getopt(&o, opt))
				break;
			usage();
			return 2;
		}
	}
	if (argc - optind != 4) {
		usage();
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);	/* before the bridge threads */
	if (open_in(&a, argv[optind], argv[optind + 1], &o, pass_fd) < 0 ||
	    open_in(&b, argv[optind + 2], argv[optind + 3], &o, 0) < 0)
		goto out;
	if (tun_bridge_start(&br, a, b) < 0)
		goto out;
	print_state(a);
	print_state(b);
	printf("ready\n");
	fflush(stdout);
	p[0] = (struct pollfd){ .fd = signalfd(-1, &set, SFD_CLOEXEC), .events = POLLIN };
	p[1] = (struct pollfd){ .fd = tun_event_fd(a), .events = POLLIN };
	p[2] = (struct pollfd){ .fd = tun_event_fd(b), .events = POLLIN };
	for (;;) {
		bool gone_a = drain_events(a);	/* both drained, always */
		bool gone_b = drain_events(b);

		if (gone_a || gone_b)
			break;
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
	}
	tun_bridge_stop(br);
	br = NULL;
	print_counters(a);
	print_counters(b);
	ret = 0;
out:
	tun_bridge_stop(br);
	tun_close(a);
	tun_close(b);
	return ret;
}
