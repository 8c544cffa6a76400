/* SPDX-License-Identifier: MIT */
/*
 * The control thread: the UAPI socket, the protocol's timers, link events
 * (up opens the UDP sockets, down closes them) and route changes (sticky
 * sources are cleared).  What it wants sent goes to a worker's mailbox.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conn/sticky.h"
#include "device/device_impl.h"

enum { CTL_WAKE = 1, CTL_TUN, CTL_LISTEN, CTL_WATCH, CTL_ROUTE, CTL_CONN_BASE = 16 };

static void ctl_add_conn(void *arg, int fd)
{
	struct device *d = arg;

	dev_epoll_add(d->ctl_epfd, fd, CTL_CONN_BASE + (uint64_t)fd, EPOLLIN);
}

void device_link_event(struct device *d, const struct tun_event *ev)
{
	switch (ev->type) {
	case TUN_EVENT_UP:
		dev_addrs_refresh(d);
		pthread_mutex_lock(&d->cfg_mutex);
		dev_link_up(d);
		pthread_mutex_unlock(&d->cfg_mutex);
		break;
	case TUN_EVENT_ADDR:
		dev_addrs_refresh(d);
		break;
	case TUN_EVENT_DOWN:
		pthread_mutex_lock(&d->cfg_mutex);
		dev_link_down(d);
		pthread_mutex_unlock(&d->cfg_mutex);
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

/* A timer's initiation is a retransmit, which may need another route: it
 * goes without the sticky source (doc/architecture.md, "Sticky sources"). */
static void ctl_dispatch(struct device *d, struct dev_peer *p, const struct wg_action *act)
{
	if ((act->flags & WG_ACT_SEND_MSG) && act->msg[0] == MESSAGE_HANDSHAKE_INITIATION)
		wg_peer_clear_src(p->wp);
	dev_act(d, NULL, act, NULL, 0);
}

static void ctl_timers(struct device *d)
{
	struct wg_action act;
	struct wg_peer *wp;
	uint64_t now = dev_now(d), earliest = WG_TIMER_OFF;

	pthread_mutex_lock(&d->cfg_mutex);
	/* What a set or a link change retired, once the readers moved on. */
	epoch_reclaim(&d->epoch);
	dev_binds_check(d, now);
	if (d->binds_retry && d->link_up)
		dev_link_up(d);
	/* As in wireguard-go, peers run only while the device is up: no
	 * timer fires without sockets; what fell due while down (persistent
	 * keepalive, a handshake for staged packets) runs at link up. */
	if (!atomic_load(&d->binds) || !wg_proto_timers_due(&d->proto, now))
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
	pthread_mutex_unlock(&d->cfg_mutex);
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
 * (doc/architecture.md, "Sticky sources"); each peer relearns its own
 * from its next packet. */
static void ctl_routes(struct device *d)
{
	if (vg_route_watch_read(d->route_watch) <= 0)
		return;
	pthread_mutex_lock(&d->cfg_mutex);
	dev_clear_all_src(d);
	pthread_mutex_unlock(&d->cfg_mutex);
}

static void *ctl_main(void *arg)
{
	struct device *d = arg;
	struct epoll_event evs[16];
	uint64_t last_tick = 0, now;
	int n, i;

	while (!atomic_load(&d->stopping)) {
		n = dev_epoll_wait(d, "control thread", d->ctl_epfd, evs, 16, 100);
		if (n < 0)
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

int dev_ctl_start(struct device *d)
{
	int ret;

	d->ctl_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->ctl_epfd < 0)
		return -errno;
	dev_epoll_add(d->ctl_epfd, d->wake_fd, CTL_WAKE, EPOLLIN);
	if (!d->opts.external_link_events)
		dev_epoll_add(d->ctl_epfd, tun_event_fd(d->tun), CTL_TUN, EPOLLIN);
	/* The in-memory network has no routes to watch. */
	if (!d->opts.memnet && !vg_route_watch_open(&d->route_watch))
		dev_epoll_add(d->ctl_epfd, vg_route_watch_fd(d->route_watch), CTL_ROUTE, EPOLLIN);
	if (d->uapi_on) {
		dev_epoll_add(d->ctl_epfd, d->uapi.listen_fd, CTL_LISTEN, EPOLLIN);
		dev_epoll_add(d->ctl_epfd, d->uapi.watch_fd, CTL_WATCH, EPOLLIN);
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

void dev_ctl_stop(struct device *d)
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
