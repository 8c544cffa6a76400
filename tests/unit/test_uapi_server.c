/* SPDX-License-Identifier: MIT */
/* The UAPI socket server in a temporary directory, over the in-memory
 * store: socket modes, stale and live sockets, pipelined operations, and
 * noticing when the socket file is deleted or replaced. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <check.h>
#include <sodium.h>

#include "device/uapi.h"
#include "tests/unit/testutil.h"

static struct uapi_store store;

static char tmpdir[64];

static void srv_setup(void)
{
	uapi_store_init(&store);
	strcpy(tmpdir, "/tmp/vguard-uapi-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void srv_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	uapi_store_free(&store);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sun.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void epoll_add(void *arg, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	ck_assert_int_eq(epoll_ctl(*(int *)arg, EPOLL_CTL_ADD, fd, &ev), 0);
}

/* Runs the server loop until the client's reply has arrived. */
static void pump(struct uapi_server *srv, int ep, int client, char *out, size_t size)
{
	struct epoll_event evs[8], ev;
	size_t got = 0;
	int i, n, r, iter;

	for (iter = 0; iter < 200; iter++) {
		n = epoll_wait(ep, evs, 8, 10);
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == srv->listen_fd) {
				uapi_server_accept(srv, epoll_add, &ep);
				continue;
			}
			r = uapi_server_service(srv, evs[i].data.fd, evs[i].events);
			if (r == 0 || r == 2) {
				ev.events = r == 2 ? EPOLLOUT : EPOLLIN;
				ev.data.fd = evs[i].data.fd;
				epoll_ctl(ep, EPOLL_CTL_MOD, ev.data.fd, &ev);
			}
		}
		r = (int)recv(client, out + got, size - got - 1, MSG_DONTWAIT);
		if (r > 0)
			got += (size_t)r;
		out[got] = '\0';
		if (got >= 2 && !strcmp(out + got - 2, "\n\n") && strstr(out, "errno="))
			return;
	}
	ck_abort_msg("no reply, got '%s'", out);
}

START_TEST(test_server)
{
	struct uapi_server srv;
	struct epoll_event ev;
	char path[108], out[4096], big[4096];
	struct stat st;
	int fd, fd2, ep, c, i;

	ck_assert_int_eq(uapi_socket_path(path, sizeof(path), tmpdir, "wgt0"), 0);
	fd = uapi_listen(tmpdir, "wgt0");
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	/* A live socket is refused. */
	ck_assert_int_eq(uapi_listen(tmpdir, "wgt0"), -EADDRINUSE);
	ck_assert_int_eq(uapi_server_init(&srv, fd, path, &uapi_store_ops, &store), 0);
	ck_assert(!uapi_server_gone(&srv));

	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.fd = srv.listen_fd;
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, srv.listen_fd, &ev), 0);
	c = connect_to(path);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(write(c, "set=1\nlisten_port=77\n\n", 22), 22);
	pump(&srv, ep, c, out, sizeof(out));
	ck_assert_str_eq(out, "errno=0\n\n");
	ck_assert_int_eq(write(c, "get=1\n\n", 7), 7);
	pump(&srv, ep, c, out, sizeof(out));
	ck_assert_str_eq(out, "listen_port=77\nerrno=0\n\n");
	/* A big set in one go with 40 peers, then get, pipelined. */
	strcpy(big, "set=1\n");
	for (i = 0; i < 40; i++)
		sprintf(big + strlen(big), "public_key=%062x%02x\n", 0, i);
	strcat(big, "\n");
	ck_assert_int_eq(write(c, big, strlen(big)), (ssize_t)strlen(big));
	pump(&srv, ep, c, out, sizeof(out));
	ck_assert_str_eq(out, "errno=0\n\n");
	close(c);

	/* Deleting the socket file is noticed. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert(uapi_server_gone(&srv));
	uapi_server_close(&srv);
	close(ep);
	ck_assert_int_eq(store.n_peers, 40);

	/* A stale socket (nobody listening) is replaced. */
	fd2 = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		strcpy(sun.sun_path, path);
		ck_assert_int_eq(bind(fd2, (struct sockaddr *)&sun, sizeof(sun)), 0);
	}
	close(fd2);
	ck_assert_int_eq(connect_to(path), -ECONNREFUSED);
	fd = uapi_listen(tmpdir, "wgt0");
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uapi_server_init(&srv, fd, path, &uapi_store_ops, &store), 0);
	c = connect_to(path);
	ck_assert_int_ge(c, 0);
	close(c);
	/* Closing removes our own socket file. */
	uapi_server_close(&srv);
	ck_assert_int_ne(stat(path, &st), 0);
	ck_assert_int_eq(uapi_socket_path(path, sizeof(path), tmpdir, "a/b"), -EINVAL);
}
END_TEST

START_TEST(test_server_replaced)
{
	struct uapi_server srv;
	char path[108], moved[128];
	int fd, fd2;

	uapi_socket_path(path, sizeof(path), tmpdir, "wgt1");
	fd = uapi_listen(tmpdir, "wgt1");
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uapi_server_init(&srv, fd, path, &uapi_store_ops, &store), 0);
	/* Moved away and replaced by another daemon's socket: gone, and our
	 * close must not unlink the newcomer. */
	snprintf(moved, sizeof(moved), "%s/old", tmpdir);
	ck_assert_int_eq(rename(path, moved), 0);
	fd2 = uapi_listen(tmpdir, "wgt1");
	ck_assert_int_ge(fd2, 0);
	ck_assert(uapi_server_gone(&srv));
	uapi_server_close(&srv);
	ck_assert_int_eq(access(path, F_OK), 0);
	close(fd2);
}
END_TEST

START_TEST(test_server_umask)
{
	char dir[96], path[108];
	struct stat st;
	mode_t old = umask(077);
	int fd;

	/* A restrictive umask must not change the modes wg relies on. */
	snprintf(dir, sizeof(dir), "%s/run", tmpdir);
	fd = uapi_listen(dir, "wgt3");
	umask(old);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0755);
	uapi_socket_path(path, sizeof(path), dir, "wgt3");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	close(fd);
}
END_TEST

START_TEST(test_server_unwatched)
{
	struct uapi_server srv;
	int fd = uapi_listen(tmpdir, "wgt2");

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uapi_server_init(&srv, fd, NULL, &uapi_store_ops, &store), 0);
	ck_assert_int_eq(srv.watch_fd, -1);
	ck_assert(!uapi_server_gone(&srv));
	uapi_server_close(&srv);
}
END_TEST
static Suite *uapi_server_suite(void)
{
	Suite *s = suite_create("uapi_server");
	TCase *ts = tcase_create("server");

	tcase_add_checked_fixture(ts, srv_setup, srv_teardown);
	tcase_add_test(ts, test_server);
	tcase_add_test(ts, test_server_replaced);
	tcase_add_test(ts, test_server_unwatched);
	tcase_add_test(ts, test_server_umask);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	return vg_test_run(uapi_server_suite(), false);
}
