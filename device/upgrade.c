/* SPDX-License-Identifier: MIT */
/*
 * The live upgrade's exchange (device/upgrade.h), over the new process's
 * connection to the UAPI socket, after its UAPI_UPGRADE_LINE:
 *
 *   old -> new  'H' hello: magic, format version, layout fingerprint
 *   new -> old  'A' + its hello, or 'X' + its hello (it refuses)
 *   old -> new  'X' (refused: another format), or 'S', the counts of fds
 *               and the state's length, the state, then the fds
 *               (SCM_RIGHTS, a bounded number per message)
 *   new -> old  'R' ready (everything that can fail has been done) or 'F'
 *   old -> new  'G': from here on the old process never sends again
 *   new -> old  'U' running, or 'F'
 *
 * The old process stops its workers and handshake thread only after the
 * formats agree, and resumes them on anything but 'R' (a timeout, a
 * closed connection, 'F').  Once it has sent 'G' it never resumes, even
 * if the new process then fails: both running would reuse nonces.  The
 * control thread does all this itself, so nothing else changes the
 * device meanwhile.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "device/device_impl.h"
#include "device/upgrade.h"

#define HELLO_MAGIC "VGUARDUP"
#define HELLO_LEN 24
#define FDS_PER_MSG 250		/* below the kernel's SCM_MAX_FD (253) */
#define STEP_MS 10000		/* each reply the exchange waits for */
#define MAX_FDS (DEVICE_MAX_QUEUES * 3 + 1)
#define MAX_STATE (256u << 20)

struct device_upgrade {
	int fd;
	uint8_t *blob;
	size_t blob_len;
	unsigned int ntun, nbind, nfds;
	bool tun_taken, link_up;
	uint8_t bind_mask[DEVICE_MAX_QUEUES];	/* bit 0: IPv4 socket, bit 1: IPv6 */
	int fds[MAX_FDS];	/* TUN queues, then the sockets, then the listener */
	int uapi_fd;
};

/* ---- the stream: whole messages, each wait bounded ---- */

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;
	int ret;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ret = wait_fd(fd, POLLOUT, STEP_MS);
			if (ret)
				return ret;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The fds received with the data go to fds[*nfds..] (at most room). */
static int recv_all(int fd, void *buf, size_t len, int ms, int *fds, unsigned int *nfds,
		    unsigned int room)
{
	char ctl[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
	uint8_t *p = buf;
	struct cmsghdr *c;
	struct msghdr m;
	struct iovec iov;
	ssize_t n;
	int ret;

	while (len) {
		ret = wait_fd(fd, POLLIN, ms);
		if (ret)
			return ret;
		iov = (struct iovec){ .iov_base = p, .iov_len = len };
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = ctl;
		m.msg_controllen = sizeof(ctl);
		n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			size_t k, cnt;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (k = 0; k < cnt; k++) {
				int got;

				memcpy(&got, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
				if (fds && *nfds < room)
					fds[(*nfds)++] = got;
				else
					close(got);
			}
		}
		if (m.msg_flags & MSG_CTRUNC)
			return -EBADMSG;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_byte(int fd, int ms)
{
	uint8_t b;
	int ret = recv_all(fd, &b, 1, ms, NULL, NULL, 0);

	return ret ? ret : b;
}

static int send_byte(int fd, uint8_t b)
{
	return send_all(fd, &b, 1);
}

static int send_fds(int fd, const int *fds, unsigned int n)
{
	char ctl[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
	struct cmsghdr *c;
	struct msghdr m;
	struct iovec iov;
	uint8_t one = 'D';
	unsigned int k;
	int ret;

	for (; n; n -= k, fds += k) {
		k = n < FDS_PER_MSG ? n : FDS_PER_MSG;
		iov = (struct iovec){ .iov_base = &one, .iov_len = 1 };
		memset(&m, 0, sizeof(m));
		memset(ctl, 0, sizeof(ctl));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = ctl;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * k);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * k);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * k);
		do
			ret = sendmsg(fd, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
		while (ret == -EINTR);
		if (ret == -EAGAIN && !(ret = wait_fd(fd, POLLOUT, STEP_MS))) {
			k = 0;
			continue;
		}
		if (ret)
			return ret;
	}
	return 0;
}

static void hello_make(uint8_t h[HELLO_LEN], uint32_t version)
{
	uint64_t layout = device_upgrade_layout();
	uint32_t zero = 0;

	memcpy(h, HELLO_MAGIC, 8);
	memcpy(h + 8, &version, 4);
	memcpy(h + 12, &zero, 4);
	memcpy(h + 16, &layout, 8);
}

static bool hello_same(const uint8_t a[HELLO_LEN], const uint8_t b[HELLO_LEN])
{
	return !memcmp(a, b, HELLO_LEN);
}

static void hello_text(char *buf, size_t len, const uint8_t h[HELLO_LEN])
{
	uint32_t version;
	uint64_t layout;

	memcpy(&version, h + 8, 4);
	memcpy(&layout, h + 16, 8);
	if (memcmp(h, HELLO_MAGIC, 8))
		snprintf(buf, len, "an unknown format");
	else
		snprintf(buf, len, "version %u (layout %016llx)", version,
			 (unsigned long long)layout);
}

/* ---- the running device's side ---- */

/* Root, or whoever runs this daemon. */
static bool caller_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len))
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}

/* Between batches: every worker and the handshake thread return. */
static void quiesce(struct device *d)
{
	dev_worker_stop_all(d);
	dev_hs_stop(d);
}

static void resume(struct device *d)
{
	const struct dev_binds *nb;
	unsigned int i;
	uint64_t v;
	int ret;

	/* The stop's wake-up is consumed, or every epoll would spin. */
	while (read(d->wake_fd, &v, sizeof(v)) == sizeof(v))
		;
	for (i = 0; i < d->nworkers; i++) {
		if (d->workers[i].epfd >= 0)
			close(d->workers[i].epfd);
		d->workers[i].epfd = -1;
	}
	/* The new process may have set the sockets' receive offload its way. */
	nb = d->opts.memnet ? NULL : atomic_load(&d->binds);
	for (i = 0; nb && i < nb->n; i++)
		vg_bind_set_offload(nb->b[i], VG_BIND_GRO, !d->opts.no_udp_gro_rx);
	/* A signal meanwhile: the device is on its way out, and whoever frees
	 * it must find every thread stopping. */
	pthread_mutex_lock(&d->exit_lock);
	ret = d->exit_reason >= 0 ? -ECANCELED : 0;
	if (!ret)
		atomic_store(&d->stopping, false);
	pthread_mutex_unlock(&d->exit_lock);
	if (ret)
		return;
	ret = dev_hs_start(d);
	if (!ret)
		ret = dev_worker_start_all(d);
	if (ret) {
		dev_log(d, DEVICE_LOG_ERROR, "upgrade: cannot resume: %s", strerror(-ret));
		dev_exit(d, DEVICE_EXIT_ERROR);
	}
}

/* What goes with the state: the TUN queues, the sockets, the listener. */
static unsigned int collect_fds(struct device *d, int *fds, uint8_t *mask, unsigned int *ntun,
				unsigned int *nbind)
{
	const struct dev_binds *nb = atomic_load(&d->binds);
	unsigned int i, n = 0;
	int fd;

	*ntun = tun_queues(d->tun);
	for (i = 0; i < *ntun; i++)
		fds[n++] = tun_queue_fd(d->tun, i);
	/* In-memory sockets have nothing to pass: the new device opens its own. */
	*nbind = nb && !d->opts.memnet ? nb->n : 0;
	for (i = 0; i < *nbind; i++) {
		mask[i] = 0;
		fd = vg_bind_fd(nb->b[i], AF_INET);
		if (fd >= 0) {
			fds[n++] = fd;
			mask[i] |= 1;
		}
		fd = vg_bind_fd(nb->b[i], AF_INET6);
		if (fd >= 0) {
			fds[n++] = fd;
			mask[i] |= 2;
		}
	}
	if (d->uapi_on)
		fds[n++] = d->uapi.listen_fd;
	return n;
}

/* The state and the fds; 0 once they are all out. */
static int send_state(struct device *d, int fd)
{
	uint8_t mask[DEVICE_MAX_QUEUES], *blob = NULL;
	int fds[MAX_FDS];
	unsigned int ntun, nbind, nfds;
	uint32_t meta[5];
	size_t len = 0;
	int ret;

	ret = device_upgrade_save(d, &blob, &len);
	if (ret)
		return ret;
	nfds = collect_fds(d, fds, mask, &ntun, &nbind);
	meta[0] = ntun;
	meta[1] = nbind;
	meta[2] = d->uapi_on;
	meta[3] = d->link_up;
	meta[4] = (uint32_t)len;
	ret = send_byte(fd, 'S');
	if (!ret)
		ret = send_all(fd, meta, sizeof(meta));
	if (!ret)
		ret = send_all(fd, mask, nbind);
	if (!ret)
		ret = send_all(fd, blob, len);
	device_upgrade_wipe(blob, len);
	if (!ret)
		ret = send_fds(fd, fds, nfds);
	return ret;
}

/* Gone for good: the new process serves the socket file now, and every
 * key here is wiped before the process even starts to exit. */
static void handed_over(struct device *d)
{
	struct wg_peer *wp;

	d->uapi.path[0] = '\0';
	pthread_mutex_lock(&d->cfg_mutex);
	for (wp = d->proto.peers; wp; wp = wp->next)
		wg_peer_zero_keys(wp);
	pthread_mutex_unlock(&d->cfg_mutex);
	dev_exit(d, DEVICE_EXIT_UPGRADED);
}

/* device_uapi_ops.upgrade (config.c), on the control thread. */
void dev_upgrade_uapi(void *ctx, int fd)
{
	struct device *d = ctx;
	uint8_t mine[1 + HELLO_LEN], theirs[1 + HELLO_LEN];
	char a[64], b[64];
	uint64_t t0;
	int ret;

	if (!caller_allowed(fd)) {
		dev_log(d, DEVICE_LOG_ERROR, "upgrade: refused: not root and not our user");
		return;
	}
	mine[0] = 'H';
	hello_make(mine + 1, DEVICE_UPGRADE_VERSION);
	if (send_all(fd, mine, sizeof(mine)) ||
	    recv_all(fd, theirs, sizeof(theirs), STEP_MS, NULL, NULL, 0))
		return;
	if (theirs[0] != 'A' || !hello_same(mine + 1, theirs + 1)) {
		hello_text(a, sizeof(a), mine + 1);
		hello_text(b, sizeof(b), theirs + 1);
		dev_log(d, DEVICE_LOG_ERROR, "upgrade: refused: state format %s, the new one has %s",
			a, b);
		if (theirs[0] == 'A')
			send_byte(fd, 'X');
		return;
	}
	dev_log(d, DEVICE_LOG_VERBOSE, "upgrade: handing over to a new process");
	t0 = dev_now(d);
	quiesce(d);
	ret = send_state(d, fd);
	if (!ret) {
		ret = recv_byte(fd, STEP_MS);
		if (ret == 'R')
			ret = send_byte(fd, 'G') ? -EPIPE : 'G';
	}
	if (ret != 'G') {
		dev_log(d, DEVICE_LOG_ERROR, "upgrade: the new process did not take over (%s): resuming",
			ret < 0 ? strerror(-ret) : "it failed");
		resume(d);
		return;
	}
	dev_log(d, DEVICE_LOG_VERBOSE, "upgrade: handed over, packets held for %llu ms",
		(unsigned long long)((dev_now(d) - t0) / 1000000));
	/* Only a courtesy: the handover is done whatever comes back. */
	ret = recv_byte(fd, STEP_MS);
	dev_log(d, ret == 'U' ? DEVICE_LOG_VERBOSE : DEVICE_LOG_ERROR,
		"upgrade: the new process %s", ret == 'U' ? "runs" : "did not report running");
	handed_over(d);
}

/* ---- the new process's side ---- */

int device_upgrade_connect(const char *dir, const char *iface)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	ret = uapi_socket_path(sun.sun_path, sizeof(sun.sun_path), dir, iface);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int begin_hello(struct device_upgrade *u, uint32_t version, char *reason, size_t rlen)
{
	uint8_t theirs[1 + HELLO_LEN], mine[1 + HELLO_LEN];
	char a[64], b[64];
	int ret;

	ret = send_all(u->fd, UAPI_UPGRADE_LINE "\n", sizeof(UAPI_UPGRADE_LINE));
	if (!ret)
		ret = recv_all(u->fd, theirs, sizeof(theirs), STEP_MS, NULL, NULL, 0);
	if (ret || theirs[0] != 'H') {
		snprintf(reason, rlen, "the running daemon does not hand over (not vguard, too old, or we may not ask)");
		return ret == -ETIMEDOUT ? ret : -EPERM;
	}
	hello_make(mine + 1, version ? version : DEVICE_UPGRADE_VERSION);
	mine[0] = hello_same(mine + 1, theirs + 1) ? 'A' : 'X';
	ret = send_all(u->fd, mine, sizeof(mine));
	if (!ret && mine[0] == 'A')
		ret = recv_byte(u->fd, STEP_MS);
	if (ret == 'S')
		return 0;
	hello_text(a, sizeof(a), theirs + 1);
	hello_text(b, sizeof(b), mine + 1);
	if (mine[0] == 'X' || ret == 'X') {
		snprintf(reason, rlen, "state formats differ: the running vguard has %s, this one %s",
			 a, b);
		return -EPROTO;
	}
	snprintf(reason, rlen, "the running daemon stopped answering: %s",
		 strerror(ret < 0 ? -ret : EBADMSG));
	return ret < 0 ? ret : -EBADMSG;
}

static int begin_state(struct device_upgrade *u, char *reason, size_t rlen)
{
	uint32_t meta[5];
	unsigned int i, want;
	uint8_t one;
	int ret;

	ret = recv_all(u->fd, meta, sizeof(meta), STEP_MS, NULL, NULL, 0);
	if (!ret && (!meta[0] || meta[0] > DEVICE_MAX_QUEUES || meta[1] > meta[0] ||
		     meta[4] > MAX_STATE))
		ret = -EBADMSG;
	if (!ret) {
		u->ntun = meta[0];
		u->nbind = meta[1];
		u->link_up = meta[3];
		ret = recv_all(u->fd, u->bind_mask, u->nbind, STEP_MS, NULL, NULL, 0);
	}
	want = u->ntun + !!meta[2];
	for (i = 0; !ret && i < u->nbind; i++)
		want += (u->bind_mask[i] & 1) + !!(u->bind_mask[i] & 2);
	if (!ret) {
		u->blob_len = meta[4];
		u->blob = malloc(u->blob_len ? u->blob_len : 1);
		ret = u->blob ? recv_all(u->fd, u->blob, u->blob_len, STEP_MS, NULL, NULL, 0)
			      : -ENOMEM;
	}
	/* One byte per message of fds, as send_fds() sends them. */
	while (!ret && u->nfds < want) {
		unsigned int before = u->nfds;

		ret = recv_all(u->fd, &one, 1, STEP_MS, u->fds, &u->nfds, want);
		if (!ret && u->nfds == before)
			ret = -EBADMSG;
	}
	u->uapi_fd = !ret && meta[2] ? u->fds[want - 1] : -1;
	if (ret)
		snprintf(reason, rlen, "receiving the state failed: %s", strerror(-ret));
	return ret;
}

int device_upgrade_begin(struct device_upgrade **out, int fd, uint32_t version, char *reason,
			 size_t reason_len)
{
	struct device_upgrade *u = calloc(1, sizeof(*u));
	int ret;

	*out = NULL;
	if (!u) {
		close(fd);
		snprintf(reason, reason_len, "out of memory");
		return -ENOMEM;
	}
	u->fd = fd;
	u->uapi_fd = -1;
	ret = begin_hello(u, version, reason, reason_len);
	if (!ret)
		ret = begin_state(u, reason, reason_len);
	if (ret) {
		device_upgrade_end(u, ret);
		return ret;
	}
	*out = u;
	return 0;
}

const int *device_upgrade_tun_fds(const struct device_upgrade *u, unsigned int *n)
{
	*n = u->ntun;
	return u->fds;
}

void device_upgrade_tun_taken(struct device_upgrade *u)
{
	u->tun_taken = true;
}

int device_upgrade_uapi_fd(struct device_upgrade *u)
{
	int fd = u->uapi_fd;

	if (fd >= 0)
		u->fds[u->nfds - 1] = -1;
	u->uapi_fd = -1;
	return fd;
}

/* The old process's sockets, published as the device's own. */
static int adopt_binds(struct device_upgrade *u, struct device *d)
{
	struct dev_binds *nb;
	struct vg_bind_config c;
	unsigned int i, k = u->ntun;
	int ret = 0, fd4, fd6;

	if (u->nbind != d->nworkers)
		return -EINVAL;
	nb = calloc(1, sizeof(*nb) + d->nworkers * sizeof(nb->b[0]));
	if (!nb)
		return -ENOMEM;
	nb->dev = d;
	nb->n = d->nworkers;
	dev_bind_config(d, &c, d->store.listen_port, d->store.fwmark);
	for (i = 0; i < nb->n && !ret; i++) {
		fd4 = u->bind_mask[i] & 1 ? u->fds[k++] : -1;
		fd6 = u->bind_mask[i] & 2 ? u->fds[k++] : -1;
		c.queue = i;
		ret = vg_bind_adopt(&nb->b[i], &c, fd4, fd6);
		if (ret) {
			vg_bind_group_close(nb->b, i);
			break;
		}
		/* Now the bind's: never closed twice. */
		if (fd4 >= 0)
			u->fds[k - 1 - (fd6 >= 0)] = -1;
		if (fd6 >= 0)
			u->fds[k - 1] = -1;
	}
	if (ret) {
		free(nb);
		return ret;
	}
	nb->port = vg_bind_port(nb->b[0]);
	/* Not dev_binds_publish(): nothing to retire, no worker to move, and
	 * the sticky sources the sessions brought stay (same sockets). */
	pthread_mutex_lock(&d->cfg_mutex);
	atomic_store(&d->binds, nb);
	atomic_fetch_add(&d->bind_gen, 1);
	d->link_up = true;
	d->store.listen_port = nb->port;
	pthread_mutex_unlock(&d->cfg_mutex);
	return 0;
}

int device_upgrade_apply(struct device_upgrade *u, struct device *d)
{
	int ret = -EINVAL;
	const struct dev_binds *nb;

	pthread_mutex_lock(&d->cfg_mutex);
	nb = atomic_load(&d->binds);
	pthread_mutex_unlock(&d->cfg_mutex);
	if (nb || !u->blob)
		return ret;
	/* The configuration first: with the link down, the set opens no
	 * sockets of its own. */
	ret = device_upgrade_load(d, u->blob, u->blob_len);
	if (!ret && u->nbind)
		ret = adopt_binds(u, d);
	device_upgrade_wipe(u->blob, u->blob_len);
	u->blob = NULL;
	return ret;
}

int device_upgrade_commit(struct device_upgrade *u)
{
	int ret = send_byte(u->fd, 'R');

	if (!ret)
		ret = recv_byte(u->fd, STEP_MS);
	return ret == 'G' ? 0 : -ECANCELED;
}

void device_upgrade_end(struct device_upgrade *u, int err)
{
	unsigned int i;

	if (!u)
		return;
	send_byte(u->fd, err ? 'F' : 'U');
	close(u->fd);
	for (i = u->tun_taken ? u->ntun : 0; i < u->nfds; i++)
		if (u->fds[i] >= 0)
			close(u->fds[i]);
	device_upgrade_wipe(u->blob, u->blob_len);
	sodium_memzero(u, sizeof(*u));
	free(u);
}
