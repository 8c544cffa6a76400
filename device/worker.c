/* SPDX-License-Identifier: MIT */
/*
 * The queue workers: worker i owns TUN queue i and bind i and runs both
 * packet paths to completion in its own epoll (send.c: TUN -> UDP,
 * receive.c: UDP -> TUN).  Other threads never touch a worker's bind: what
 * they want sent goes through the worker's mailbox.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "device/device_impl.h"

enum { EV_TUN, EV_BIND4, EV_BIND6, EV_MBOX, EV_WAKE };

/*
 * How many packets one fd may take before the others get a turn: about one
 * full batch.  Counted in packets, not calls, because a TUN read brings one
 * ACK or a 45-segment super-packet: a budget of calls let one direction run
 * for up to eight full batches (a millisecond or more of sealing or
 * opening) while the other direction's packets, and the ACKs that pace
 * the flow, waited; README.md, "Latency under load", has the numbers.
 */
#define WORKER_BUDGET 128
/* A read that keeps failing is tried again this much later (ns), not
 * spun on; a socket that polls readable this many times in a row without
 * anything to read is failing too (its errors are counted by the bind). */
#define REST_NS (10 * 1000 * 1000)
#define EMPTY_WAKEUPS 16

unsigned int dev_worker_for(struct device *d, const struct dev_peer *p)
{
	return p ? p->pub[0] % d->nworkers : 0;
}

/* ---- the mailbox ---- */

int dev_mbox_push(struct worker *w, const struct mbox_item *it)
{
	uint64_t one = 1;
	int ret = 0;

	pthread_mutex_lock(&w->mbox_lock);
	/* A removed peer's items were purged: none may follow them. */
	if (it->peer && atomic_load(&it->peer->removed)) {
		pthread_mutex_unlock(&w->mbox_lock);
		return 0;
	}
	if (w->mbox_count == MBOX_CAP) {
		ret = -ENOSPC;
		atomic_fetch_add(&w->mbox_dropped, 1);
	} else {
		w->mbox[(w->mbox_head + w->mbox_count) % MBOX_CAP] = *it;
		w->mbox_count++;
	}
	pthread_mutex_unlock(&w->mbox_lock);
	if (!ret && write(w->mbox_fd, &one, sizeof(one)) < 0)
		ret = 0;	/* the counter is already non-zero: the worker wakes */
	return ret;
}

static bool mbox_pop(struct worker *w, struct mbox_item *it)
{
	bool got = false;

	pthread_mutex_lock(&w->mbox_lock);
	if (w->mbox_count) {
		*it = w->mbox[w->mbox_head];
		w->mbox_head = (w->mbox_head + 1) % MBOX_CAP;
		w->mbox_count--;
		got = true;
	}
	pthread_mutex_unlock(&w->mbox_lock);
	return got;
}

void dev_mbox_purge_peer(struct device *d, struct dev_peer *p)
{
	unsigned int i, k;

	for (i = 0; i < d->nworkers; i++) {
		struct worker *w = &d->workers[i];

		pthread_mutex_lock(&w->mbox_lock);
		for (k = 0; k < w->mbox_count; k++) {
			struct mbox_item *it = &w->mbox[(w->mbox_head + k) % MBOX_CAP];

			if (it->peer == p) {
				it->peer = NULL;
				if (it->kind != MBOX_RAW)
					it->len = 0, it->kind = MBOX_RAW;
			}
		}
		pthread_mutex_unlock(&w->mbox_lock);
	}
}

void dev_kick_workers(struct device *d)
{
	uint64_t one = 1;
	unsigned int i;

	for (i = 0; i < d->nworkers; i++)
		if (write(d->workers[i].mbox_fd, &one, sizeof(one)) < 0)
			continue;
}

/*
 * Carries out a protocol action.  On a worker (self), its message is sent at
 * once and the data sends are queued behind the batch in hand, whose
 * buffers they need.  From another thread, everything goes through a
 * mailbox: the message to `to` through worker `via` (a reply leaves by the
 * socket its request came in on), or to the peer's endpoint through the
 * peer's worker when `to` is NULL.
 */
void dev_act(struct device *d, struct worker *self, const struct wg_action *act,
	     const struct vg_endpoint *to, unsigned int via)
{
	struct dev_peer *p = dev_peer_of(act->peer);
	struct worker *pw = self ? self : &d->workers[dev_worker_for(d, p)];
	struct mbox_item it;

	if (act->flags & WG_ACT_SEND_MSG) {
		memset(&it, 0, sizeof(it));
		it.kind = MBOX_RAW;
		it.peer = p;
		it.len = (uint16_t)act->msg_len;
		memcpy(it.msg, act->msg, act->msg_len);
		if (to)
			it.ep = *to;
		if (self)
			dev_send_mbox(self, &it, 0);
		else if (to || p)
			dev_mbox_push(to ? &d->workers[via % d->nworkers] : pw, &it);
	}
	if (!p || !(act->flags & (WG_ACT_SEND_STAGED | WG_ACT_SEND_KEEPALIVE)))
		return;
	memset(&it, 0, sizeof(it));
	it.peer = p;
	if (act->flags & WG_ACT_SEND_STAGED)
		it.kind = act->flags & WG_ACT_SEND_KEEPALIVE ? MBOX_STAGED_KEEPALIVE : MBOX_STAGED;
	else
		it.kind = MBOX_KEEPALIVE;
	dev_mbox_push(pw, &it);
}

/* ---- the loop ---- */

void dev_epoll_add(int epfd, int fd, uint64_t tag, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	if (fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/*
 * The sockets were opened, closed or replaced: register the current fds.
 * The old ones are not deleted: they belong to retired sockets, closed once
 * no worker is inside a call on them, and closing takes them out of this
 * epoll (until then an old socket may still wake the worker, which finds
 * nothing to read on the new one); their numbers may name other files by
 * then.
 */
static void worker_rebind(struct worker *w, unsigned int gen)
{
	w->rest_until[1] = w->rest_until[2] = 0;
	w->udp_empty[0] = w->udp_empty[1] = 0;
	if (w->bind) {
		dev_epoll_add(w->epfd, vg_bind_fd(w->bind, AF_INET), EV_BIND4, EPOLLIN);
		dev_epoll_add(w->epfd, vg_bind_fd(w->bind, AF_INET6), EV_BIND6, EPOLLIN);
	}
	w->bind_gen = gen;
}

/* ---- resting an fd whose reads keep failing ---- */

static const uint64_t rest_tag[3] = { EV_TUN, EV_BIND4, EV_BIND6 };

/* The real clock even when tests jump the protocol's. */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void worker_rest(struct worker *w, unsigned int k, int fd)
{
	struct epoll_event ev = { .events = 0, .data.u64 = rest_tag[k] };

	if (fd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev))
		return;
	w->rest_fd[k] = fd;
	w->rest_until[k] = mono_ns() + REST_NS;
}

/* Wakes what has rested enough; returns the epoll timeout until the next. */
static int worker_wake_rested(struct worker *w, int timeout)
{
	uint64_t now = 0;
	unsigned int k;

	for (k = 0; k < 3; k++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = rest_tag[k] };
		int ms;

		if (!w->rest_until[k])
			continue;
		if (!now)
			now = mono_ns();
		if (now < w->rest_until[k]) {
			ms = (int)((w->rest_until[k] - now + 999999) / 1000000);
			if (timeout < 0 || ms < timeout)
				timeout = ms;
			continue;
		}
		/* A bind fd may be gone by now (replaced sockets): no harm. */
		epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->rest_fd[k], &ev);
		w->rest_until[k] = 0;
		timeout = 0;
	}
	return timeout;
}

static void worker_mbox(struct worker *w, uint64_t now)
{
	struct mbox_item it;
	uint64_t v;
	unsigned int budget = MBOX_CAP;

	if (read(w->mbox_fd, &v, sizeof(v)) < 0)
		v = 0;
	while (budget-- && mbox_pop(w, &it))
		dev_send_mbox(w, &it, now);
}

/* Tests and fuzzers that run the device without its threads: what the
 * mailbox holds, sent from the calling thread (between dev_worker_enter()
 * and dev_worker_exit()). */
void dev_worker_run_mbox(struct worker *w, uint64_t now)
{
	worker_mbox(w, now);
}

static void worker_tun(struct worker *w, uint64_t now)
{
	unsigned int got = 0;
	int r;

	while (got < WORKER_BUDGET) {
		r = dev_send_tun_batch(w, now);
		got += r > 0 ? (unsigned int)r : 1;
		if (r == -EAGAIN)
			return;
		if (r == -EBADFD || r == -EBADF) {
			/* The interface is gone: the control thread hears it too. */
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, tun_queue_fd(w->dev->tun, w->id), NULL);
			return;
		}
		if (r < 0 && r != -EINTR) {
			/* Counted and logged by the TUN; try again a little later. */
			worker_rest(w, 0, tun_queue_fd(w->dev->tun, w->id));
			return;
		}
	}
}

/*
 * Up to a budget of packets from one socket.  A GRO batch may leave
 * datagrams in the bind's scratch when the budget runs out, and epoll
 * cannot see them: the family is then marked, and the loop comes back to
 * it without sleeping.
 */
static void worker_udp(struct worker *w, int family, uint64_t now)
{
	unsigned int bit = family == AF_INET ? 1 : 2;
	unsigned int got = 0;
	int r;

	w->udp_pending &= ~bit;
	while (got < WORKER_BUDGET) {
		r = dev_recv_batch(w, family, now);
		if (r > 0) {
			w->udp_empty[bit - 1] = 0;
			got += r;
			continue;
		}
		if (!got && w->bind && ++w->udp_empty[bit - 1] >= EMPTY_WAKEUPS) {
			w->udp_empty[bit - 1] = 0;
			worker_rest(w, bit, vg_bind_fd(w->bind, family));
		}
		return;
	}
	if (w->bind && vg_bind_pending(w->bind, family))
		w->udp_pending |= bit;
}

/*
 * epoll_wait for the device's threads.  Any error but EINTR means the
 * thread cannot go on: the device stops with a reason, so a supervisor sees
 * the failure instead of a daemon that silently stopped moving packets.
 */
int dev_epoll_wait(struct device *d, const char *who, int epfd, struct epoll_event *evs, int n,
		   int timeout)
{
	int r = d->opts.epoll_wait ? d->opts.epoll_wait(epfd, evs, n, timeout)
				   : epoll_wait(epfd, evs, n, timeout);

	if (r >= 0 || errno == EINTR)
		return r < 0 ? 0 : r;
	dev_log(d, DEVICE_LOG_ERROR, "%s: epoll_wait: %s", who, strerror(errno));
	dev_exit(d, DEVICE_EXIT_ERROR);
	return -1;
}

/*
 * A batch's view of the configuration: whatever is published now stays
 * valid until dev_worker_exit(), whatever a set does meanwhile.  The sockets'
 * generation is read before the sockets (a writer stores them in the
 * other order), so a worker that sees a new generation has the new ones.
 */
unsigned int dev_worker_enter(struct worker *w)
{
	struct device *d = w->dev;
	struct dev_binds *nb;
	unsigned int gen;

	epoch_enter(&d->epoch, w->id);
	gen = atomic_load(&d->bind_gen);
	nb = atomic_load(&d->binds);
	w->rt = d->rt;
	w->bind = nb ? nb->b[w->id] : NULL;
	return gen;
}

void dev_worker_exit(struct worker *w)
{
	w->rt = NULL;
	w->bind = NULL;
	epoch_exit(&w->dev->epoch, w->id);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct device *d = w->dev;
	struct epoll_event evs[8];
	unsigned int gen;
	char who[32];
	uint64_t now;
	int n, i;

	snprintf(who, sizeof(who), "queue %u", w->id);
	while (!atomic_load(&d->stopping)) {
		n = dev_epoll_wait(d, who, w->epfd, evs, 8,
				   worker_wake_rested(w, w->udp_pending ? 0 : -1));
		if (n < 0)
			break;
		if (atomic_load(&d->stopping))
			break;
		gen = dev_worker_enter(w);
		if (gen != w->bind_gen) {
			worker_rebind(w, gen);
			w->udp_pending = 0;
		}
		now = dev_now(d);
		if (w->udp_pending & 1)
			worker_udp(w, AF_INET, now);
		if (w->udp_pending & 2)
			worker_udp(w, AF_INET6, now);
		for (i = 0; i < n; i++) {
			switch (evs[i].data.u64) {
			case EV_TUN:
				worker_tun(w, now);
				break;
			case EV_BIND4:
				worker_udp(w, AF_INET, now);
				break;
			case EV_BIND6:
				worker_udp(w, AF_INET6, now);
				break;
			case EV_MBOX:
				worker_mbox(w, now);
				break;
			}
		}
		dev_worker_exit(w);
	}
	return NULL;
}

/* ---- lifetime ---- */

int dev_worker_init(struct device *d, struct worker *w, unsigned int id)
{
	const size_t slot = SLOT_SIZE;
	unsigned int i;

	w->dev = d;
	w->id = id;
	w->epfd = -1;
	pthread_mutex_init(&w->mbox_lock, NULL);
	w->mbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->mbox = calloc(MBOX_CAP, sizeof(*w->mbox));
	/* Large, mostly untouched: the kernel backs only the pages used. */
	w->tx_mem = malloc(slot * TUN_MAX_BATCH);
	w->rx_mem = malloc(slot * VG_BIND_BATCH);
	w->small_buf = malloc(slot);
	if (w->mbox_fd < 0 || !w->mbox || !w->tx_mem || !w->rx_mem || !w->small_buf)
		return -ENOMEM;
	for (i = 0; i < TUN_MAX_BATCH; i++)
		w->tx_bufs[i] = w->tx_mem + i * slot;
	for (i = 0; i < VG_BIND_BATCH; i++)
		w->rx_bufs[i] = w->rx_mem + i * slot;
	return 0;
}

void dev_worker_free(struct worker *w)
{
	if (w->mbox_fd >= 0)
		close(w->mbox_fd);
	if (w->epfd >= 0)
		close(w->epfd);
	free(w->mbox);
	free(w->tx_mem);
	free(w->rx_mem);
	free(w->small_buf);
	pthread_mutex_destroy(&w->mbox_lock);
}

int dev_worker_start_all(struct device *d)
{
	unsigned int i;
	int ret;

	for (i = 0; i < d->nworkers; i++) {
		struct worker *w = &d->workers[i];

		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			return -errno;
		dev_epoll_add(w->epfd, tun_queue_fd(d->tun, i), EV_TUN, EPOLLIN);
		dev_epoll_add(w->epfd, w->mbox_fd, EV_MBOX, EPOLLIN);
		dev_epoll_add(w->epfd, d->wake_fd, EV_WAKE, EPOLLIN);
		w->bind_gen = (unsigned int)-1;
		ret = pthread_create(&w->thread, NULL, worker_main, w);
		if (ret)
			return -ret;
		w->started = true;
	}
	return 0;
}

void dev_worker_stop_all(struct device *d)
{
	uint64_t one = 1;
	unsigned int i;

	atomic_store(&d->stopping, true);
	if (write(d->wake_fd, &one, sizeof(one)) < 0)
		return;
	for (i = 0; i < d->nworkers; i++) {
		if (!d->workers[i].started)
			continue;
		pthread_join(d->workers[i].thread, NULL);
		d->workers[i].started = false;
	}
}
