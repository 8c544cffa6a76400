// SPDX-License-Identifier: MIT
/*
 * A minimal WireGuard peer built only on vguard's protocol core (peer.h)
 * and a plain UDP socket, to check the core against another
 * implementation (wireguard-go) on the wire.  Its tunnel address is
 * 10.99.0.2; the other side is 10.99.0.1.
 *
 *   proto-peer initiate PRIV PEER_PUB LPORT PPORT
 *       handshake as initiator, ping 10.99.0.1 through the tunnel, wait
 *       for the echo reply; then jump the clock 6 s, push the send counter
 *       to REKEY_AFTER_MESSAGES so the next packet rekeys, ping again and
 *       exit 0 when that reply arrives under the new keypair.
 *   proto-peer respond PRIV PEER_PUB LPORT PPORT
 *       wait for the peer's handshake, answer 3 echo requests to
 *       10.99.0.2 sent through the tunnel; exit 0 then.
 * Keys are base64 as `wg genkey` prints them.  Everything on 127.0.0.1.
 */
#include "config.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "device/peer.h"

static struct wg_proto proto;
static struct wg_peer *peer;
static struct vg_endpoint peer_ep;
static int sock;
static bool initiator;
static unsigned int replies, answered;
static uint64_t offset;	/* lets the test jump the core's clocks forward */

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec + offset;
}

static uint64_t wall(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec + offset;
}

static int key(uint8_t out[32], const char *b64)
{
	size_t len = 0;

	if (sodium_base642bin(out, 32, b64, strlen(b64), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) || len != 32)
		return -1;
	return 0;
}

static void send_to(const struct vg_endpoint *ep, const uint8_t *msg, size_t len)
{
	if (sendto(sock, msg, len, 0, &ep->dst.sa, sizeof(ep->dst.in4)) < 0)
		perror("sendto");
}

static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* IPv4 + ICMP echo (type 8 request, 0 reply) with 16 bytes of data. */
static size_t icmp(uint8_t *p, uint8_t type, const char *src, const char *dst,
		   uint16_t id, uint16_t seq, const uint8_t *data)
{
	uint16_t c;

	memset(p, 0, 44);
	p[0] = 0x45;
	p[3] = 44;
	p[8] = 64;
	p[9] = 1;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	c = csum(p, 20);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
	p[20] = type;
	p[24] = (uint8_t)(id >> 8);
	p[25] = (uint8_t)id;
	p[26] = (uint8_t)(seq >> 8);
	p[27] = (uint8_t)seq;
	memcpy(p + 28, data, 16);
	c = csum(p + 20, 24);
	p[22] = (uint8_t)(c >> 8);
	p[23] = (uint8_t)c;
	return 44;
}

static void send_data(const uint8_t *pkt, size_t len)
{
	uint8_t buf[1600];
	struct noise_keypair *kp;
	struct wg_action act;
	size_t padded = (len + 15) & ~(size_t)15, n;
	uint64_t nonce;

	kp = wg_peer_send_keypair(peer, mono(), 1, &nonce);
	if (!kp) {
		if (len)
			wg_peer_stage(peer, pkt, len);
		if (!wg_peer_want_handshake(peer, mono(), &act))
			send_to(&peer_ep, act.msg, act.msg_len);
		return;
	}
	memset(buf + 16, 0, padded);
	memcpy(buf + 16, pkt, len);
	n = wg_data_seal(kp, nonce, buf + 16, padded);
	send_to(&peer_ep, buf, n);
	wg_peer_sent_data(peer, len == 0, mono(), &act);
	noise_keypair_put(kp);
	if (act.flags & WG_ACT_SEND_MSG)
		send_to(&peer_ep, act.msg, act.msg_len);
}

static void act(const struct wg_action *a, const struct vg_endpoint *src)
{
	uint8_t pkt[1600];
	ssize_t n;

	if (a->flags & WG_ACT_SEND_MSG)
		send_to(src, a->msg, a->msg_len);
	if (a->flags & WG_ACT_SEND_STAGED)
		while ((n = wg_peer_staged_pop(peer, pkt, sizeof(pkt))) > 0)
			send_data(pkt, (size_t)n);
	if (a->flags & WG_ACT_SEND_KEEPALIVE)
		send_data(NULL, 0);
}

static void plaintext(const uint8_t *p, size_t len)
{
	if (len < 44 || p[0] != 0x45 || p[9] != 1)
		return;
	if (initiator && p[20] == 0 && !memcmp(p + 28, "vguard proto....", 16)) {
		printf("echo reply %u from the peer\n", ++replies);
		return;
	}
	if (!initiator && p[20] == 8) {
		/* Echo it back whole: addresses swapped, type 0, new checksum. */
		size_t tot = (size_t)(p[2] << 8 | p[3]);
		uint8_t r[1500];
		uint16_t c;

		if (tot < 28 || tot > len || tot > sizeof(r))
			return;
		memcpy(r, p, tot);
		memcpy(r + 12, p + 16, 4);
		memcpy(r + 16, p + 12, 4);
		r[20] = 0;
		r[22] = r[23] = 0;
		c = csum(r + 20, tot - 20);
		r[22] = (uint8_t)(c >> 8);
		r[23] = (uint8_t)c;
		send_data(r, tot);
		printf("answered echo request %u\n", ++answered);
	}
}

static void receive(uint8_t *buf, size_t len, const struct vg_endpoint *src)
{
	struct noise_keypair *kp;
	struct wg_action a;
	uint8_t *plain;
	size_t pl;
	uint32_t type;

	if (len < 4)
		return;
	memcpy(&type, buf, 4);
	if (le32toh(type) != MESSAGE_DATA) {
		if (!wg_proto_handle_handshake(&proto, buf, len, src, false, mono(), &a)) {
			printf("handshake message type %u accepted\n", le32toh(type));
			act(&a, src);
		} else {
			printf("handshake message type %u rejected\n", le32toh(type));
		}
		return;
	}
	if (wg_data_open(&proto, buf, len, mono(), &kp, &plain, &pl)) {
		printf("data message rejected\n");
		return;
	}
	wg_peer_received_data(kp->peer, kp, src, pl == 0, mono(), &a);
	noise_keypair_put(kp);
	act(&a, src);
	plaintext(plain, pl);
}

int main(int argc, char **argv)
{
	uint8_t priv[32], pub[32], buf[2048], ping[64];
	struct sockaddr_in local = { .sin_family = AF_INET };
	struct vg_endpoint src;
	struct wg_action a;
	socklen_t sl;
	struct noise_keypair *first = NULL;
	bool pinged_again = false;
	uint64_t deadline;
	ssize_t n;

	if (argc != 6 || crypto_init() || key(priv, argv[2]) || key(pub, argv[3])) {
		fprintf(stderr, "usage: proto-peer initiate|respond PRIV PEER_PUB LPORT PPORT\n");
		return 2;
	}
	initiator = !strcmp(argv[1], "initiate");
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	local.sin_port = htons((uint16_t)atoi(argv[4]));
	local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sock < 0 || bind(sock, (struct sockaddr *)&local, sizeof(local))) {
		perror("bind");
		return 1;
	}
	wg_proto_init(&proto);
	proto.wallclock = wall;
	wg_proto_set_private_key(&proto, priv);
	peer = wg_peer_new(&proto, pub, NULL);
	memset(&peer_ep, 0, sizeof(peer_ep));
	peer_ep.dst.in4.sin_family = AF_INET;
	peer_ep.dst.in4.sin_port = htons((uint16_t)atoi(argv[5]));
	peer_ep.dst.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	wg_peer_set_endpoint(peer, &peer_ep);

	if (initiator) {
		icmp(ping, 8, "10.99.0.2", "10.99.0.1", 0x7667, 1,
		     (const uint8_t *)"vguard proto....");
		send_data(ping, 44);
	}
	deadline = mono() + 20 * WG_NSEC_PER_SEC;
	while (mono() < deadline) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };

		if (initiator ? replies >= 2 : answered >= 3)
			break;
		if (initiator && replies == 1 && !first) {
			/* Past wireguard-go's 20 ms flood guard (its own clock)
			 * and our 5 s REKEY_TIMEOUT (ours, jumped), then a
			 * keepalive past REKEY_AFTER_MESSAGES starts a rekey. */
			usleep(100000);
			first = peer->keypairs.current;
			offset += 6 * WG_NSEC_PER_SEC;
			atomic_store(&first->send_counter, REKEY_AFTER_MESSAGES);
			send_data(NULL, 0);
		}
		if (initiator && first && !pinged_again &&
		    peer->keypairs.current != first) {
			pinged_again = true;
			icmp(ping, 8, "10.99.0.2", "10.99.0.1", 0x7667, 2,
			     (const uint8_t *)"vguard proto....");
			send_data(ping, 44);
		}
		if (wg_timers_tick(peer, mono(), &a))
			act(&a, &peer_ep);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		memset(&src, 0, sizeof(src));
		sl = sizeof(src.dst.in4);
		n = recvfrom(sock, buf, sizeof(buf), 0, &src.dst.sa, &sl);
		if (n > 0)
			receive(buf, (size_t)n, &src);
	}
	if (initiator && replies >= 2) {
		if (peer->keypairs.current == first || peer->keypairs.previous != first) {
			printf("no rekey happened\n");
			return 1;
		}
		printf("rekeyed: second reply under a new keypair\n");
	}
	wg_proto_destroy(&proto);
	return (initiator ? replies >= 2 : answered >= 3) ? 0 : 1;
}
