// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the UAPI socket server in front of a real device
 * (run without its threads over the in-memory TUN and network): up to four
 * clients on real sockets send the input's bytes in pieces of the sizes it
 * says, read the replies a few bytes at a time, shut down their side or
 * hang up at any point, with socket buffers small enough that replies
 * wait for the client.  Every byte sent back must be a sequence of whole
 * replies ending "errno=N\n\n" with one of wireguard-go's values, and once
 * every client has shut down its side the server must have closed every
 * connection.
 *
 * Input: byte 0 (bit 0: small socket buffers, bits 1-2: clients - 1), then
 * steps of one byte (bits 0-1 client, bits 2-3 what: send, read, shut down,
 * hang up; bit 4: size in 16s) and one of size - 1, a send followed by its
 * bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "conn/bind.h"
#include "device/device.h"
#include "device/uapi.h"
#include "tun/tun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLIENTS 4
#define REPLY_MAX (1 << 20)

struct client {
	int fd;		/* ours; -1 once we hung up */
	int sfd;	/* the server's; -1 once it closed it */
	bool shut;
	char *reply;
	size_t len;
};

static struct device *dev;
static struct uapi_server srv;
static struct sockaddr_un addr;
static socklen_t addr_len;
static struct client cl[CLIENTS];
static unsigned int accepted;
static bool small_bufs;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_uapi_server: %s\n", what);
	abort();
}

static void setup(void)
{
	struct tun_mem_options mo;
	struct device_options o;
	struct tun_event up = { .type = TUN_EVENT_UP };
	struct tun *tun;
	int fd;

	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.queues = 1;
	device_options_init(&o);
	o.queues = 1;
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = vg_memnet_new();
	if (!o.memnet || tun_mem_open(&tun, "vgfuzz", &mo) || device_new(&dev, tun, &o))
		die("set-up: device");
	device_link_event(dev, &up);
	/* An abstract socket: nothing in the file system to clean up. */
	addr.sun_family = AF_UNIX;
	addr_len = offsetof(struct sockaddr_un, sun_path) + 1 +
		   (socklen_t)snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1,
				       "vguard-fuzz-uapi-%d", (int)getpid());
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, addr_len) || listen(fd, 16) ||
	    uapi_server_init(&srv, fd, NULL, &device_uapi_ops, dev))
		die("set-up: listening socket");
	for (fd = 0; fd < CLIENTS; fd++)
		cl[fd].reply = malloc(REPLY_MAX);
}

static void on_accept(void *arg, int fd)
{
	int sz = 2048;

	if (accepted < CLIENTS)
		cl[accepted++].sfd = fd;
	if (small_bufs)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* Everything the server has sent c so far. */
static void take(struct client *c, size_t max)
{
	ssize_t n;

	while (c->fd >= 0 && max) {
		n = recv(c->fd, c->reply + c->len, REPLY_MAX - c->len < max ? REPLY_MAX - c->len : max,
			 MSG_DONTWAIT);
		if (n <= 0)
			return;
		c->len += (size_t)n;
		max -= (size_t)n;
		if (c->len == REPLY_MAX)
			die("a reply that never ends");
	}
}

/* One turn of the server's loop for c, as the control thread runs it. */
static int service(struct client *c, uint32_t events)
{
	int r;

	if (c->sfd < 0)
		return 1;
	r = uapi_server_service(&srv, c->sfd, events);
	if (r < 0)
		die("uapi_server_service lost a connection");
	if (r == 1)
		c->sfd = -1;
	return r;
}

/* Whole replies, each ending with a known errno line; whole: the client
 * read to the end (else the last reply may be cut short). */
static void check_replies(const char *out, size_t len, bool whole)
{
	static const char *const ok[] = { "0", "-5", "-71", "-22", "-98", "-55" };
	const char *p = out, *end = out + len, *e;
	size_t i, n;

	while (p < end) {
		e = memmem(p, (size_t)(end - p), "errno=", 6);
		if (!e && !whole)
			return;
		if (!e) {
			fprintf(stderr, "after %zu good bytes: \"%.*s\"\n", (size_t)(p - out),
				(int)(end - p), p);
			die("reply bytes without an errno line");
		}
		e += 6;
		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			n = strlen(ok[i]);
			if ((size_t)(end - e) >= n + 2 && !memcmp(e, ok[i], n) &&
			    !memcmp(e + n, "\n\n", 2))
				break;
		}
		if (i == sizeof(ok) / sizeof(ok[0]) && !whole && (size_t)(end - e) < 6)
			return;
		if (i == sizeof(ok) / sizeof(ok[0]))
			die("a reply that does not end with a known errno line");
		p = e + n + 2;
	}
}

static void step(struct client *c, unsigned int what, const uint8_t **data, size_t *left,
		 size_t n)
{
	ssize_t sent;

	switch (what) {
	case 0:	/* send n bytes (as many as fit) */
		if (n > *left)
			n = *left;
		if (c->fd >= 0 && !c->shut) {
			sent = send(c->fd, *data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
			(void)sent;
		}
		*data += n;
		*left -= n;
		service(c, EPOLLIN);
		break;
	case 1:	/* read a little, then the server may write more */
		take(c, n + 1);
		service(c, EPOLLOUT);
		break;
	case 2:
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_WR);
		c->shut = true;
		service(c, EPOLLIN);
		break;
	case 3:
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		service(c, (n & 1) ? EPOLLERR : EPOLLIN | EPOLLHUP);
		break;
	}
}

/* Every client shuts down its side and reads until the server closes. */
static void finish(void)
{
	unsigned int i, round;
	int r;

	for (i = 0; i < accepted; i++) {
		struct client *c = &cl[i];

		if (c->fd >= 0 && !c->shut)
			shutdown(c->fd, SHUT_WR);
		for (round = 0; c->sfd >= 0 && round < 4096; round++) {
			r = service(c, EPOLLIN | EPOLLOUT);
			take(c, REPLY_MAX);
			if (r == 1)
				break;
		}
		if (c->sfd >= 0)
			die("a connection stayed open after its client shut down");
		take(c, REPLY_MAX);
		check_replies(c->reply, c->len, c->fd >= 0);
		if (c->fd >= 0)
			close(c->fd);
	}
	if (srv.conns)
		die("the server kept a connection it did not hand out");
}

/* Back to a device with no key and no peers, whatever the input set. */
static void reset_device(void)
{
	static const char conf[] = "private_key=0000000000000000000000000000000000000000000000000000000000000000\n"
				   "listen_port=0\nfwmark=0\nreplace_peers=true\n";
	struct uapi_txn txn;

	if (uapi_parse_set(&txn, conf, sizeof(conf) - 1) || device_uapi_ops.set(dev, &txn))
		die("reset");
	uapi_txn_clear(&txn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	unsigned int i, nclients;
	size_t left = size, n;
	uint8_t b;
	int sz = 4096;

	if (!ready) {
		setup();
		ready = true;
	}
	if (!size)
		return 0;
	small_bufs = data[0] & 1;
	nclients = 1 + ((data[0] >> 1) & 3);
	data++;
	left--;
	accepted = 0;
	for (i = 0; i < nclients; i++) {
		cl[i] = (struct client){ .fd = -1, .sfd = -1, .reply = cl[i].reply };
		cl[i].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (small_bufs)
			setsockopt(cl[i].fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (cl[i].fd < 0 || connect(cl[i].fd, (struct sockaddr *)&addr, addr_len))
			die("connect");
	}
	if (uapi_server_accept(&srv, on_accept, NULL) != (int)nclients || accepted != nclients)
		die("accept");
	while (left >= 2) {
		b = data[0];
		n = (size_t)(data[1] + 1) * ((b & 0x10) ? 16 : 1);
		data += 2;
		left -= 2;
		step(&cl[(b & 3) % nclients], (b >> 2) & 3, &data, &left, n);
	}
	finish();
	reset_device();
	return 0;
}
