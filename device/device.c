/* SPDX-License-Identifier: MIT */
/*
 * The device's lifetime: options, creating and freeing it, starting and
 * stopping its threads, and the link state (the UDP sockets are open while
 * the interface is up).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "device/device_impl.h"
#include "device/ratelimiter.h"

uint64_t dev_now(struct device *d)
{
	struct timespec ts;

	if (d->opts.clock)
		return d->opts.clock(d->opts.clock_ctx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void vlog(struct device *d, int level, const char *fmt, va_list ap)
{
	char buf[512];

	if (level > d->opts.log_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (d->opts.log)
		d->opts.log(d->opts.log_ctx, level, buf);
	else
		fprintf(stderr, "%s\n", buf);
}

void dev_log(struct device *d, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(d, level, fmt, ap);
	va_end(ap);
}

void dev_log_once(struct device *d, unsigned int event, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_or(&d->fault_logged, event) & event)
		return;
	va_start(ap, fmt);
	vlog(d, DEVICE_LOG_ERROR, fmt, ap);
	va_end(ap);
}

void dev_exit(struct device *d, int reason)
{
	pthread_mutex_lock(&d->exit_lock);
	if (d->exit_reason < 0)
		d->exit_reason = reason;
	pthread_cond_broadcast(&d->exit_cond);
	pthread_mutex_unlock(&d->exit_lock);
}

void device_options_init(struct device_options *o)
{
	memset(o, 0, sizeof(*o));
	o->log_level = DEVICE_LOG_ERROR;
}

void device_options_from_env(struct device_options *o)
{
	o->no_udp_gso |= tun_env_true("VGUARD_NO_UDP_GSO");
	o->no_udp_gro_rx |= tun_env_true("VGUARD_NO_UDP_GRO_RX");
}

unsigned int device_queues(const struct device_options *o)
{
	long n = o->queues;

	if (!n)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > DEVICE_MAX_QUEUES)
		n = DEVICE_MAX_QUEUES;
	return (unsigned int)n;
}

struct dev_peer *dev_peer_of(struct wg_peer *wp)
{
	return wp ? wp->user : NULL;
}

/* ---- link state: binds open while the interface is up ---- */

static void bind_log(void *arg, const char *msg)
{
	dev_log(arg, DEVICE_LOG_VERBOSE, "udp: %s", msg);
}

static void bind_log_fault(void *arg, const char *msg)
{
	dev_log(arg, DEVICE_LOG_ERROR, "udp: %s", msg);
}

void dev_bind_config(struct device *d, struct vg_bind_config *c, uint16_t port, uint32_t mark)
{
	memset(c, 0, sizeof(*c));
	c->port = port;
	c->queues = d->nworkers;
	c->fwmark = mark;
	c->no_gso = d->opts.no_udp_gso;
	c->no_gro = d->opts.no_udp_gro_rx;
	c->rcvbuf = d->opts.udp_rcvbuf;
	c->log = bind_log;
	c->log_fault = bind_log_fault;
	c->log_arg = d;
}

/* A new set of sockets, not yet in use: the caller publishes or closes it. */
int dev_binds_open(struct device *d, uint16_t port, uint32_t mark, struct dev_binds **out)
{
	struct dev_binds *nb = calloc(1, sizeof(*nb) + d->nworkers * sizeof(nb->b[0]));
	struct vg_bind_config c;
	unsigned int i;
	int ret = 0;

	if (!nb)
		return -ENOMEM;
	nb->dev = d;
	nb->n = d->nworkers;
	dev_bind_config(d, &c, port, mark);
	if (!d->opts.memnet) {
		ret = vg_bind_group_open(nb->b, &c);
	} else {
		for (i = 0; i < nb->n && !ret; i++) {
			c.queue = i;
			ret = vg_bind_open_mem(&nb->b[i], d->opts.memnet, &c);
			if (ret)
				vg_bind_group_close(nb->b, i);
			else if (!c.port)
				c.port = vg_bind_port(nb->b[0]);
		}
	}
	if (ret) {
		free(nb);
		return ret;
	}
	nb->port = vg_bind_port(nb->b[0]);
	*out = nb;
	return 0;
}

static void binds_free(struct epoch_entry *e)
{
	struct dev_binds *nb = (struct dev_binds *)((char *)e - offsetof(struct dev_binds, retire));
	struct device *d = nb->dev;
	unsigned int i;

	for (i = 0; i < nb->n; i++)
		vg_bind_add_stats(nb->b[i], &d->binds_gone);
	vg_bind_group_close(nb->b, nb->n);
	free(nb);
}

/*
 * Puts nb (NULL: none) in use; cfg_mutex held.  The sockets it replaces
 * close once no worker can be inside a call on them; every worker moves
 * its epoll to the new ones at its next batch.
 */
void dev_binds_publish(struct device *d, struct dev_binds *nb)
{
	struct dev_binds *old = atomic_load(&d->binds);

	atomic_store(&d->binds, nb);
	if (old)
		epoch_retire(&d->epoch, &old->retire, binds_free);
	atomic_fetch_add(&d->bind_gen, 1);
	dev_kick_workers(d);
	dev_clear_all_src(d);
	/* Idle workers hold nothing: the old port is usually free at once. */
	epoch_reclaim(&d->epoch);
}

/*
 * cfg_mutex held.  Sockets closed a moment ago may still hold the port
 * (they close once no worker is inside a call on them): reclaim first,
 * and if the port is still taken, the control thread tries again at its
 * next ticks.
 */
int dev_link_up(struct device *d)
{
	struct dev_binds *nb;
	int ret;

	d->link_up = true;
	if (atomic_load(&d->binds))
		return 0;
	epoch_reclaim(&d->epoch);
	ret = dev_binds_open(d, d->store.listen_port, d->store.fwmark, &nb);
	if (ret) {
		if (!d->binds_retry)
			dev_log(d, DEVICE_LOG_ERROR, "cannot open UDP port %u: %s",
				d->store.listen_port, strerror(-ret));
		d->binds_retry = ret == -EADDRINUSE && epoch_reclaim(&d->epoch);
		return ret;
	}
	d->binds_retry = false;
	dev_binds_publish(d, nb);
	d->store.listen_port = nb->port;
	dev_log(d, DEVICE_LOG_VERBOSE, "link up: UDP port %u, %u queues", nb->port, d->nworkers);
	return 0;
}

/*
 * cfg_mutex held.  Every peer starts afresh, as in the kernel and
 * wireguard-go, and nothing queued before the link went down acts after
 * it: handshake messages still waiting (the kernel purges them too) and
 * what other threads handed the workers for a peer, which would start a
 * handshake on a link that is down.  A batch a worker has in hand when
 * the link goes down still leaves: the sockets close after it.
 */
void dev_link_down(struct device *d)
{
	struct wg_peer *wp;
	uint64_t now = dev_now(d);

	d->link_up = false;
	pthread_mutex_lock(&d->hs_lock);
	d->hs_count = 0;
	pthread_mutex_unlock(&d->hs_lock);
	for (wp = d->proto.peers; wp; wp = wp->next) {
		dev_mbox_purge_peer(d, dev_peer_of(wp));
		wg_peer_reset(wp, now);
	}
	if (!atomic_load(&d->binds))
		return;
	dev_binds_publish(d, NULL);
	dev_log(d, DEVICE_LOG_VERBOSE, "link down: UDP sockets closed");
}

/*
 * cfg_mutex held (the control thread, each tick).  A socket closed or
 * replaced underneath (vg_bind_check()) takes its whole set down: the set
 * is retired and a new one opened on the same port, as at link up (which
 * retries while the old sockets still hold the port).  The kernel is asked
 * once a second; in between, what the workers' sends and receives met is
 * enough.
 */
void dev_binds_check(struct device *d, uint64_t now)
{
	struct dev_binds *nb = atomic_load(&d->binds);
	bool probe = now - d->binds_probed_at >= WG_NSEC_PER_SEC;
	unsigned int i;
	int ret = 0;

	if (!nb || !d->link_up)
		return;
	if (probe)
		d->binds_probed_at = now;
	for (i = 0; i < nb->n && !ret; i++)
		ret = vg_bind_check(nb->b[i], probe);
	if (!ret)
		return;
	/* Every queue's sockets may have gone at once, but only one loss has
	 * been seen.  Probe them all now, while the lost numbers are still
	 * free: the retired set must not close a number the new set reuses. */
	for (unsigned int j = 0; j < nb->n; j++)
		vg_bind_check(nb->b[j], true);
	cnt_add(&d->ctl_cnt.d[DC_udp_socket_reopens], 1);
	dev_log(d, DEVICE_LOG_ERROR, "UDP socket of queue %u lost underneath (%s): "
		"reopening port %u", i - 1, strerror(-ret), nb->port);
	dev_binds_publish(d, NULL);
	dev_link_up(d);
}

void dev_clear_all_src(struct device *d)
{
	struct wg_peer *p;

	for (p = d->proto.peers; p; p = p->next)
		wg_peer_clear_src(p);
}

uint16_t device_port(struct device *d)
{
	const struct dev_binds *nb;
	uint16_t port;

	pthread_mutex_lock(&d->cfg_mutex);
	nb = atomic_load(&d->binds);
	port = nb ? nb->port : 0;
	pthread_mutex_unlock(&d->cfg_mutex);
	return port;
}

/* ---- lifecycle ---- */

/* Under load, each source address gets a few handshakes per second. */
static bool dev_ratelimit(void *ctx, const struct vg_endpoint *src, uint64_t now)
{
	if (src->dst.sa.sa_family == AF_INET6)
		return ratelimiter_allow(ctx, AF_INET6, &src->dst.in6.sin6_addr);
	return ratelimiter_allow(ctx, AF_INET, &src->dst.in4.sin_addr);
}

/* The device with its per-queue arrays, sized by the TUN's queue count. */
static struct device *dev_alloc(struct tun *tun)
{
	unsigned int i, n = tun_queues(tun);
	struct device *d;
	size_t wsize;

	if (n > DEVICE_MAX_QUEUES)
		n = DEVICE_MAX_QUEUES;
	if (!n)
		n = 1;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->nworkers = n;
	/* Each worker's counters on their own cache lines. */
	wsize = n * sizeof(*d->workers);
	d->workers = aligned_alloc(_Alignof(struct worker), wsize);
	if (!d->workers) {
		free(d);
		return NULL;
	}
	memset(d->workers, 0, wsize);
	/* device_free() may meet workers dev_worker_init() never reached. */
	for (i = 0; i < n; i++) {
		d->workers[i].mbox_fd = -1;
		d->workers[i].epfd = -1;
	}
	return d;
}

int device_new(struct device **out, struct tun *tun, const struct device_options *o)
{
	struct device *d;
	unsigned int i;
	int ret, mtu;

	*out = NULL;
	d = dev_alloc(tun);
	if (!d) {
		tun_close(tun);
		return -ENOMEM;
	}
	d->opts = *o;
	d->tun = tun;
	d->exit_reason = -1;
	d->stop_fd = -1;
	d->wake_fd = -1;
	d->ctl_epfd = -1;
	mtu = tun_mtu(tun);
	atomic_store(&d->mtu, mtu > 0 ? (unsigned int)mtu : TUN_DEFAULT_MTU);
	pthread_mutex_init(&d->cfg_mutex, NULL);
	pthread_mutex_init(&d->exit_lock, NULL);
	pthread_cond_init(&d->exit_cond, NULL);
	pthread_mutex_init(&d->hs_lock, NULL);
	pthread_cond_init(&d->hs_cond, NULL);
	dev_config_init(d);
	ret = crypto_init();
	if (!ret)
		ret = epoch_init(&d->epoch, d->nworkers + 1);
	if (ret)
		goto fail;
	ret = wg_proto_init(&d->proto);
	if (ret)
		goto fail;
	ret = -ENOMEM;
	d->ratelimiter = ratelimiter_new(0, NULL, NULL);
	d->rt = allowedips_new();
	if (!d->ratelimiter || !d->rt)
		goto fail;
	allowedips_set_concurrent(d->rt);
	d->proto.ratelimit = dev_ratelimit;
	d->proto.ratelimit_ctx = d->ratelimiter;
	d->hs_queue = calloc(HS_QUEUE_CAP, sizeof(*d->hs_queue));
	d->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!d->hs_queue || d->stop_fd < 0 || d->wake_fd < 0)
		goto fail;
	for (i = 0; i < d->nworkers; i++) {
		ret = dev_worker_init(d, &d->workers[i], i);
		if (ret)
			goto fail;
	}
	*out = d;
	return 0;
fail:
	device_free(d);
	return ret;
}

int device_uapi_start(struct device *d, int listen_fd, const char *path)
{
	int ret = uapi_server_init(&d->uapi, listen_fd, path ? path : "", &device_uapi_ops, d);

	if (ret)
		return ret;
	d->uapi_on = true;
	return 0;
}

int device_start(struct device *d)
{
	int ret;

	ret = dev_hs_start(d);
	if (!ret)
		ret = dev_worker_start_all(d);
	if (!ret)
		ret = dev_ctl_start(d);
	return ret;
}

int device_wait(struct device *d)
{
	int r;

	pthread_mutex_lock(&d->exit_lock);
	while (d->exit_reason < 0) {
		uint64_t v;

		/* device_stop() only writes the eventfd (signal safe): poll it. */
		if (read(d->stop_fd, &v, sizeof(v)) == sizeof(v)) {
			d->exit_reason = DEVICE_EXIT_STOPPED;
			break;
		}
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->exit_cond, &d->exit_lock, &ts);
	}
	r = d->exit_reason;
	pthread_mutex_unlock(&d->exit_lock);
	return r;
}

void device_stop(struct device *d)
{
	uint64_t one = 1;

	if (write(d->stop_fd, &one, sizeof(one)) < 0)
		return;
}

void device_free(struct device *d)
{
	struct wg_peer *wp, *next;
	unsigned int i;

	if (!d)
		return;
	atomic_store(&d->stopping, true);
	dev_ctl_stop(d);
	dev_worker_stop_all(d);
	dev_hs_stop(d);
	pthread_mutex_lock(&d->cfg_mutex);
	dev_link_down(d);
	for (wp = d->proto.peers; wp; wp = next) {
		next = wp->next;
		dev_remove_peer(d, wp);
	}
	pthread_mutex_unlock(&d->cfg_mutex);
	/* Every thread has stopped: nothing retired can be in use. */
	epoch_destroy(&d->epoch);
	allowedips_free(d->rt);
	if (d->uapi_on)
		uapi_server_close(&d->uapi);
	wg_proto_destroy(&d->proto);
	ratelimiter_free(d->ratelimiter);
	uapi_store_free(&d->store);
	dev_addrs_free(d);
	for (i = 0; i < d->nworkers; i++)
		dev_worker_free(&d->workers[i]);
	tun_close(d->tun);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	if (d->ctl_epfd >= 0)
		close(d->ctl_epfd);
	free(d->hs_queue);
	pthread_mutex_destroy(&d->cfg_mutex);
	free(d->workers);
	free(d);
}
