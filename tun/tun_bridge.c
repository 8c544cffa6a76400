// SPDX-License-Identifier: MIT
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "tun/tun_bridge.h"

/* Head room like the data plane's: room for the virtio header in front. */
#define BRIDGE_HEAD 16
/* Two read batches' worth, so single-packet reads (no vnet header) can
 * still be gathered into one write batch. */
#define BRIDGE_SLOTS (2 * TUN_MAX_BATCH)

struct bridge_dir {
	struct tun *from, *to;
	unsigned int q;
	int stop_fd;
	pthread_t th;
	bool started;
	uint8_t *mem;
	uint8_t *bufs[BRIDGE_SLOTS];
	size_t sizes[BRIDGE_SLOTS];
};

struct tun_bridge {
	int stop_fd;
	unsigned int ndirs;
	struct bridge_dir dirs[];	/* two per queue */
};

static void flush(struct bridge_dir *d, size_t n)
{
	size_t off;

	for (off = 0; off < n; off += TUN_MAX_BATCH) {
		size_t k = n - off < TUN_MAX_BATCH ? n - off : TUN_MAX_BATCH;

		/* Refused packets are counted by the TUN layer. */
		tun_write(d->to, d->q, d->bufs + off, d->sizes + off, k, BRIDGE_HEAD);
	}
}

static void *bridge_run(void *arg)
{
	struct bridge_dir *d = arg;
	struct pollfd p[2] = {
		{ .fd = tun_queue_fd(d->from, d->q), .events = POLLIN },
		{ .fd = d->stop_fd, .events = POLLIN },
	};

	for (;;) {
		size_t n = 0;
		int r = 0;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		while (n + TUN_MAX_BATCH <= BRIDGE_SLOTS) {
			r = tun_read(d->from, d->q, d->bufs + n, d->sizes + n,
				     TUN_MAX_BATCH, BRIDGE_HEAD);
			if (r < 0)
				break;
			n += r;
		}
		if (n)
			flush(d, n);
		if (r < 0 && r != -EAGAIN && r != -EINTR)
			break;
	}
	return NULL;
}

void tun_bridge_stop(struct tun_bridge *br)
{
	uint64_t one = 1;
	unsigned int i;

	if (!br)
		return;
	if (write(br->stop_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write cannot fail here; nothing else to do */
	}
	for (i = 0; i < br->ndirs; i++) {
		if (br->dirs[i].started)
			pthread_join(br->dirs[i].th, NULL);
		free(br->dirs[i].mem);
	}
	close(br->stop_fd);
	free(br);
}

int tun_bridge_start(struct tun_bridge **out, struct tun *a, struct tun *b)
{
	const size_t cap = BRIDGE_HEAD + TUN_MAX_PACKET;
	unsigned int nq = tun_queues(a) < tun_queues(b) ? tun_queues(a) : tun_queues(b);
	struct tun_bridge *br = calloc(1, sizeof(*br) + 2 * nq * sizeof(br->dirs[0]));
	unsigned int i, j;
	int ret;

	if (!br)
		return -ENOMEM;
	br->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (br->stop_fd < 0) {
		ret = -errno;
		free(br);
		return ret;
	}
	for (i = 0; i < 2 * nq; i++) {
		struct bridge_dir *d = &br->dirs[i];

		br->ndirs++;
		d->from = i & 1 ? b : a;
		d->to = i & 1 ? a : b;
		d->q = i / 2;
		d->stop_fd = br->stop_fd;
		d->mem = malloc(BRIDGE_SLOTS * cap);
		if (!d->mem) {
			ret = -ENOMEM;
			goto fail;
		}
		for (j = 0; j < BRIDGE_SLOTS; j++)
			d->bufs[j] = d->mem + j * cap;
		ret = -pthread_create(&d->th, NULL, bridge_run, d);
		if (ret)
			goto fail;
		d->started = true;
	}
	*out = br;
	return 0;
fail:
	tun_bridge_stop(br);
	return ret;
}
