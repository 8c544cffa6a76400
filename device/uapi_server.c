// SPDX-License-Identifier: MIT
/*
 * The UAPI socket: /var/run/wireguard/IFACE.sock, its connections and the
 * watch that notices when someone deletes it.  Everything is non-blocking
 * so the control thread can drive it from one epoll loop.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <sys/epoll.h>

#include "device/uapi.h"

/* wg opens one connection per operation; more than this at once is abuse. */
#define UAPI_MAX_CONNS 64
#define UAPI_READ_CHUNK 65536

struct uapi_srv_conn {
	int fd;
	struct uapi_conn c;
	struct uapi_srv_conn *next;
};

int uapi_socket_path(char *buf, size_t size, const char *dir, const char *iface)
{
	struct sockaddr_un sun;
	int n;

	if (!dir)
		dir = UAPI_SOCKET_DIR;
	if (!iface[0] || strchr(iface, '/'))
		return -EINVAL;
	n = snprintf(buf, size, "%s/%s.sock", dir, iface);
	if (n < 0 || (size_t)n >= size || (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static int bind_path(int fd, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	strcpy(sun.sun_path, path);
	return bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : 0;
}

/* A socket file is stale when nobody accepts on it any more. */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool alive;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	strcpy(sun.sun_path, path);
	alive = !connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return alive;
}

int uapi_listen(const char *dir, const char *iface)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd, ret;

	ret = uapi_socket_path(path, sizeof(path), dir, iface);
	if (ret)
		return ret;
	if (!mkdir(dir ? dir : UAPI_SOCKET_DIR, 0755))
		chmod(dir ? dir : UAPI_SOCKET_DIR, 0755);	/* whatever the umask */
	else if (errno != EEXIST)
		return -errno;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Linux gives the socket file the mode of the socket inode (minus
	 * the umask), so this makes it 0700 without touching the umask,
	 * which other threads share. */
	if (fchmod(fd, 0700)) {
		ret = -errno;
		goto fail;
	}
	ret = bind_path(fd, path);
	if (ret == -EADDRINUSE) {
		if (socket_alive(path)) {
			ret = -EADDRINUSE;
			goto fail;
		}
		if (unlink(path) && errno != ENOENT) {
			ret = -errno;
			goto fail;
		}
		ret = bind_path(fd, path);
	}
	if (ret)
		goto fail;
	if (chmod(path, 0700) || listen(fd, SOMAXCONN)) {
		ret = -errno;
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return ret;
}

int uapi_server_init(struct uapi_server *srv, int listen_fd, const char *path,
		     const struct uapi_ops *ops, void *ctx)
{
	char dir[sizeof(srv->path)], *slash;
	struct stat st;
	int fl;

	memset(srv, 0, sizeof(*srv));
	srv->listen_fd = -1;
	srv->watch_fd = -1;
	if (!path || !*path) {
		/* Nothing to watch (tests, or a socket the caller manages). */
		fl = fcntl(listen_fd, F_GETFL);
		if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK))
			return -errno;
		srv->ops = ops;
		srv->ctx = ctx;
		srv->listen_fd = listen_fd;
		return 0;
	}
	if (strlen(path) >= sizeof(srv->path))
		return -ENAMETOOLONG;
	if (lstat(path, &st))
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) ||
	    fcntl(listen_fd, F_SETFD, FD_CLOEXEC))
		return -errno;
	strcpy(srv->path, path);
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	srv->ops = ops;
	srv->ctx = ctx;
	srv->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (srv->watch_fd < 0)
		return -errno;
	/* Unlinking a bound socket only changes its link count (IN_ATTRIB):
	 * the socket keeps the inode alive.  The directory watch catches
	 * renames and replacements. */
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else
		strcpy(dir, slash ? "/" : ".");
	if (inotify_add_watch(srv->watch_fd, path,
			      IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0 ||
	    inotify_add_watch(srv->watch_fd, dir,
			      IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE) < 0) {
		int ret = -errno;

		close(srv->watch_fd);
		srv->watch_fd = -1;
		return ret;
	}
	srv->listen_fd = listen_fd;
	return 0;
}

static void conn_close(struct uapi_server *srv, struct uapi_srv_conn *sc)
{
	struct uapi_srv_conn **pp;

	for (pp = &srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == sc) {
			*pp = sc->next;
			break;
		}
	}
	close(sc->fd);
	uapi_conn_free(&sc->c);
	free(sc);
}

void uapi_server_close(struct uapi_server *srv)
{
	struct stat st;

	while (srv->conns)
		conn_close(srv, srv->conns);
	if (srv->watch_fd >= 0)
		close(srv->watch_fd);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		/* Only our own socket: a newer daemon may have replaced it. */
		if (srv->path[0] && !lstat(srv->path, &st) &&
		    st.st_dev == srv->dev && st.st_ino == srv->ino)
			unlink(srv->path);
	}
	srv->watch_fd = -1;
	srv->listen_fd = -1;
}

int uapi_server_accept(struct uapi_server *srv,
		       void (*add_fd)(void *arg, int fd), void *arg)
{
	struct uapi_srv_conn *sc, *it;
	int fd, n = 0, count = 0;

	for (;;) {
		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return n;
			return -errno;
		}
		for (count = 0, it = srv->conns; it; it = it->next)
			count++;
		sc = count < UAPI_MAX_CONNS ? calloc(1, sizeof(*sc)) : NULL;
		if (!sc) {
			close(fd);
			continue;
		}
		sc->fd = fd;
		uapi_conn_init(&sc->c, srv->ops, srv->ctx);
		sc->next = srv->conns;
		srv->conns = sc;
		n++;
		if (add_fd)
			add_fd(arg, fd);
	}
}

static bool has_output(const struct uapi_srv_conn *sc)
{
	return sc->c.out_off < sc->c.out_len;
}

/* 0: all written or EAGAIN; negative: the peer is gone. */
static int flush_out(struct uapi_srv_conn *sc)
{
	ssize_t n;

	while (has_output(sc)) {
		n = send(sc->fd, sc->c.out + sc->c.out_off,
			 sc->c.out_len - sc->c.out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		sc->c.out_off += (size_t)n;
	}
	sc->c.out_off = sc->c.out_len = 0;
	return 0;
}

/* Reads what is there (bounded, so one client cannot starve the loop). */
static int read_in(struct uapi_srv_conn *sc)
{
	char *buf;
	ssize_t n;
	int i, ret = 0;

	buf = malloc(UAPI_READ_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < 16 && !has_output(sc) && !uapi_conn_done(&sc->c); i++) {
		n = read(sc->fd, buf, UAPI_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				ret = -errno;
			break;
		}
		ret = uapi_conn_input(&sc->c, buf, (size_t)n, n == 0);
		if (ret || n == 0)
			break;
	}
	free(buf);
	return ret;
}

int uapi_server_service(struct uapi_server *srv, int fd, uint32_t events)
{
	struct uapi_srv_conn *sc;

	for (sc = srv->conns; sc && sc->fd != fd; sc = sc->next)
		;
	if (!sc)
		return -EBADF;
	if (events & EPOLLERR)
		goto close;
	if (flush_out(sc))
		goto close;
	if (!has_output(sc) && (events & (EPOLLIN | EPOLLHUP)) && read_in(sc))
		goto close;
	if (flush_out(sc))
		goto close;
	if (sc->c.state == UAPI_ST_UPGRADE) {
		srv->ops->upgrade(srv->ctx, sc->fd);
		goto close;
	}
	if (has_output(sc))
		return 2;
	if (uapi_conn_done(&sc->c))
		goto close;
	return 0;
close:
	conn_close(srv, sc);
	return 1;
}

bool uapi_server_gone(struct uapi_server *srv)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct stat st;

	if (!srv->path[0])
		return false;
	if (srv->watch_fd >= 0)
		while (read(srv->watch_fd, buf, sizeof(buf)) > 0)
			;
	if (lstat(srv->path, &st))
		return errno == ENOENT || errno == ENOTDIR;
	return st.st_dev != srv->dev || st.st_ino != srv->ino;
}
