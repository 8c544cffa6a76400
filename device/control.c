/* SPDX-License-Identifier: MIT */
/*
 * The threads' loops: the queue workers (both paths to completion in one
 * epoll each) and the control thread (UAPI socket, timers, link events).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conn/sticky.h"
#include "device/device_impl.h"

enum { EV_TUN, EV_BIND4, EV_BIND6, EV_MBOX, EV_WAKE };

/* How many batches one fd may take before the others get a turn. */
#define BUDGET 8

static void ep_add(int epfd, int fd, uint64_t tag, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	if (fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The binds were opened, closed or moved: register the current fds. */
static void worker_rebind(struct worker *w, unsigned int gen)
{
	struct device *d = w->dev;
	int i;

	for (i = 0; i < 2; i++) {
		if (w->reg_fd[i] >= 0)
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->reg_fd[i], NULL);
		w->reg_fd[i] = -1;
	}
	if (d->binds_open) {
		w->reg_fd[0] = vg_bind_fd(d->binds[w->id], AF_INET);
		w->reg_fd[1] = vg_bind_fd(d->binds[w->id], AF_INET6);
		ep_add(w->epfd, w->reg_fd[0], EV_BIND4, EPOLLIN);
		ep_add(w->epfd, w->reg_fd[1], EV_BIND6, EPOLLIN);
	}
	w->bind_gen = gen;
}

static void worker_mbox(struct worker *w, uint64_t now)
{
	struct mbox_item it;
	uint64_t v;
	unsigned int budget = MBOX_CAP;

	if (read(w->mbox_fd, &v, sizeof(v)) < 0)
		v = 0;
	while (budget--) {
		pthread_mutex_lock(&w->mbox_lock);
		if (!w->mbox_count) {
			pthread_mutex_unlock(&w->mbox_lock);
			return;
		}
		it = w->mbox[w->mbox_head];
		w->mbox_head = (w->mbox_head + 1) % MBOX_CAP;
		w->mbox_count--;
		pthread_mutex_unlock(&w->mbox_lock);
		send_mbox(w, &it, now);
	}
}

static void worker_tun(struct worker *w, uint64_t now)
{
	int i, r;

	for (i = 0; i < BUDGET; i++) {
		r = send_tun_batch(w, now);
		if (r == -EAGAIN)
			return;
		if (r == -EBADFD || r == -EBADF || r == -EIO) {
			/* The interface is gone: the control thread hears it too. */
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, tun_queue_fd(w->dev->tun, w->id), NULL);
			return;
		}
	}
}

static void worker_udp(struct worker *w, int family, uint64_t now)
{
	int i;

	for (i = 0; i < BUDGET; i++)
		if (recv_batch(w, family, now) <= 0)
			return;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct device *d = w->dev;
	struct epoll_event evs[8];
	unsigned int gen;
	uint64_t now;
	int n, i;

	while (!atomic_load(&d->stopping)) {
		n = epoll_wait(w->epfd, evs, 8, -1);
		if (n < 0 && errno != EINTR)
			break;
		if (atomic_load(&d->stopping))
			break;
		pthread_rwlock_rdlock(&d->cfg_lock);
		gen = atomic_load(&d->bind_gen);
		if (gen != w->bind_gen)
			worker_rebind(w, gen);
		now = dev_now(d);
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
		pthread_rwlock_unlock(&d->cfg_lock);
	}
	return NULL;
}

int worker_start_all(struct device *d)
{
	unsigned int i;
	int ret;

	for (i = 0; i < d->nworkers; i++) {
		struct worker *w = &d->workers[i];

		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			return -errno;
		ep_add(w->epfd, tun_queue_fd(d->tun, i), EV_TUN, EPOLLIN);
		ep_add(w->epfd, w->mbox_fd, EV_MBOX, EPOLLIN);
		ep_add(w->epfd, d->wake_fd, EV_WAKE, EPOLLIN);
		w->bind_gen = (unsigned int)-1;
		ret = pthread_create(&w->thread, NULL, worker_main, w);
		if (ret)
			return -ret;
		w->started = true;
	}
	return 0;
}

void worker_stop_all(struct device *d)
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

/* ---- the control thread ---- */

enum { CTL_WAKE = 1, CTL_TUN, CTL_LISTEN, CTL_WATCH, CTL_ROUTE, CTL_CONN_BASE = 16 };

static void ctl_add_conn(void *arg, int fd)
{
	struct device *d = arg;

	ep_add(d->ctl_epfd, fd, CTL_CONN_BASE + (uint64_t)fd, EPOLLIN);
}

void device_link_event(struct device *d, const struct tun_event *ev)
{
	switch (ev->type) {
	case TUN_EVENT_UP:
		pthread_rwlock_wrlock(&d->cfg_lock);
		dev_link_up(d);
		pthread_rwlock_unlock(&d->cfg_lock);
		break;
	case TUN_EVENT_DOWN:
		pthread_rwlock_wrlock(&d->cfg_lock);
		dev_link_down(d);
		pthread_rwlock_unlock(&d->cfg_lock);
		break;
	case TUN_EVENT_MTU:
		if (ev->mtu) {
			atomic_store(&d->mtu, ev->mtu);
			dev_log(d, DEVICE_LOG_VERBOSE, "MTU %u", ev->mtu);
		}
		break;
	case TUN_EVENT_CLOSED:
		dev_log(d, DEVICE_LOG_VERBOSE, "interface deleted");
		dev_exit(d, DEVICE_EXIT_LINK_GONE);
		break;
	default:
		break;
	}
}

static void ctl_link_events(struct device *d)
{
	struct tun_event ev;
	int r;

	while ((r = tun_event_read(d->tun, &ev)) > 0) {
		device_link_event(d, &ev);
		if (ev.type == TUN_EVENT_CLOSED) {
			epoll_ctl(d->ctl_epfd, EPOLL_CTL_DEL, tun_event_fd(d->tun), NULL);
			return;
		}
	}
	if (r < 0 && r != -EAGAIN) {
		dev_log(d, DEVICE_LOG_ERROR, "link events: %s", strerror(-r));
		epoll_ctl(d->ctl_epfd, EPOLL_CTL_DEL, tun_event_fd(d->tun), NULL);
	}
}

static void ctl_dispatch(struct device *d, struct dev_peer *p, const struct wg_action *act)
{
	struct worker *w = &d->workers[dev_worker_for(d, p)];
	struct mbox_item it;

	if (act->flags & WG_ACT_SEND_MSG) {
		memset(&it, 0, sizeof(it));
		it.kind = MBOX_RAW;
		it.peer = p;
		it.len = (uint16_t)act->msg_len;
		memcpy(it.msg, act->msg, act->msg_len);
		/* A retransmitted initiation may need another route: no sticky
		 * source (DESIGN.md). */
		if (act->msg[0] == MESSAGE_HANDSHAKE_INITIATION)
			wg_peer_clear_src(p->wp);
		mbox_push(w, &it);
	}
	if (act->flags & (WG_ACT_SEND_STAGED | WG_ACT_SEND_KEEPALIVE)) {
		memset(&it, 0, sizeof(it));
		it.peer = p;
		if (act->flags & WG_ACT_SEND_STAGED)
			it.kind = act->flags & WG_ACT_SEND_KEEPALIVE ? MBOX_STAGED_KEEPALIVE
								     : MBOX_STAGED;
		else
			it.kind = MBOX_KEEPALIVE;
		mbox_push(w, &it);
	}
}

static void ctl_timers(struct device *d)
{
	struct wg_action act;
	struct wg_peer *wp;
	uint64_t now = dev_now(d), earliest = WG_TIMER_OFF;

	pthread_rwlock_rdlock(&d->cfg_lock);
	/* As in wireguard-go, peers run only while the device is up: no
	 * timer fires without sockets; what fell due while down (persistent
	 * keepalive, a handshake for staged packets) runs at link up. */
	if (!d->binds_open || !wg_proto_timers_due(&d->proto, now))
		goto out;
	/* Something is due: visit every peer, and learn when next to. */
	wg_proto_timers_scan_begin(&d->proto);
	for (wp = d->proto.peers; wp; wp = wp->next) {
		uint64_t dl = wg_timers_next_deadline(wp);

		if (now >= dl) {
			memset(&act, 0, sizeof(act));
			act.peer = wp;
			if (wg_timers_tick(wp, now, &act))
				ctl_dispatch(d, dev_peer_of(wp), &act);
			dl = wg_timers_next_deadline(wp);
		}
		if (dl < earliest)
			earliest = dl;
	}
	wg_proto_timers_scan_end(&d->proto, earliest);
out:
	pthread_rwlock_unlock(&d->cfg_lock);
}

static void ctl_conn(struct device *d, int fd, uint32_t events)
{
	struct epoll_event ev = { .data.u64 = CTL_CONN_BASE + (uint64_t)fd };
	int r = uapi_server_service(&d->uapi, fd, events);

	if (r == 1)
		return;
	ev.events = r == 2 ? EPOLLOUT : EPOLLIN;
	epoll_ctl(d->ctl_epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* A route changed: sticky sources may now leave by the wrong way
 * (DESIGN.md); each peer relearns its own from its next packet. */
static void ctl_routes(struct device *d)
{
	if (vg_route_watch_read(d->route_watch) <= 0)
		return;
	pthread_rwlock_rdlock(&d->cfg_lock);
	dev_clear_all_src(d);
	pthread_rwlock_unlock(&d->cfg_lock);
}

static void *ctl_main(void *arg)
{
	struct device *d = arg;
	struct epoll_event evs[16];
	uint64_t last_tick = 0, now;
	int n, i;

	while (!atomic_load(&d->stopping)) {
		n = epoll_wait(d->ctl_epfd, evs, 16, 100);
		if (n < 0 && errno != EINTR)
			break;
		if (atomic_load(&d->stopping))
			break;
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == CTL_TUN)
				ctl_link_events(d);
			else if (tag == CTL_LISTEN)
				uapi_server_accept(&d->uapi, ctl_add_conn, d);
			else if (tag == CTL_WATCH && uapi_server_gone(&d->uapi))
				dev_exit(d, DEVICE_EXIT_SOCKET_GONE);
			else if (tag == CTL_ROUTE)
				ctl_routes(d);
			else if (tag >= CTL_CONN_BASE)
				ctl_conn(d, (int)(tag - CTL_CONN_BASE), evs[i].events);
		}
		now = dev_now(d);
		if (now - last_tick >= WG_NSEC_PER_SEC / 20) {
			last_tick = now;
			ctl_timers(d);
		}
	}
	return NULL;
}

int ctl_start(struct device *d)
{
	int ret;

	d->ctl_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->ctl_epfd < 0)
		return -errno;
	ep_add(d->ctl_epfd, d->wake_fd, CTL_WAKE, EPOLLIN);
	if (!d->opts.external_link_events)
		ep_add(d->ctl_epfd, tun_event_fd(d->tun), CTL_TUN, EPOLLIN);
	/* The in-memory network has no routes to watch. */
	if (!d->opts.memnet && !vg_route_watch_open(&d->route_watch))
		ep_add(d->ctl_epfd, vg_route_watch_fd(d->route_watch), CTL_ROUTE, EPOLLIN);
	if (d->uapi_on) {
		ep_add(d->ctl_epfd, d->uapi.listen_fd, CTL_LISTEN, EPOLLIN);
		ep_add(d->ctl_epfd, d->uapi.watch_fd, CTL_WATCH, EPOLLIN);
	}
	/* Events queued before the thread runs (the first "up") are read now. */
	if (!d->opts.external_link_events)
		ctl_link_events(d);
	ret = pthread_create(&d->ctl_thread, NULL, ctl_main, d);
	if (ret)
		return -ret;
	d->ctl_started = true;
	return 0;
}

void ctl_stop(struct device *d)
{
	uint64_t one = 1;

	if (d->ctl_started) {
		atomic_store(&d->stopping, true);
		if (write(d->wake_fd, &one, sizeof(one)) < 0)
			one = 0;
		pthread_join(d->ctl_thread, NULL);
		d->ctl_started = false;
	}
	vg_route_watch_close(d->route_watch);
	d->route_watch = NULL;
}
