// SPDX-License-Identifier: MIT
/*
 * `vguard --upgrade IFACE`: the new process's side of a live upgrade
 * (device/upgrade.h).  In the foreground (-f) the process itself takes
 * over; otherwise it re-executes itself in the background, as a normal
 * start does, with a report pipe (VGUARD_UPGRADE_REPORT) on which the
 * background process says whether it runs the interface, so the command
 * returns 0 only once it does, or prints the reason and returns 1.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device/uapi.h"
#include "device/upgrade.h"
#include "tools/vguard_upgrade.h"

#define REPORT_ENV "VGUARD_UPGRADE_REPORT"
#define REASON_MAX 256

static void child(char **argv, int report, bool keep_stdio)
{
	char num[16];
	int null;

	setsid();
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		if (!keep_stdio) {
			dup2(null, 1);
			dup2(null, 2);
		}
	}
	/* Everything else the caller left open is closed (as spawn() in
	 * vguard.c); the report pipe is the one fd kept across exec. */
	report = fcntl(report, F_DUPFD, 3);
	if (report < 0)
		_exit(1);
	close_range(3, (unsigned int)report - 1, 0);
	close_range((unsigned int)report + 1, ~0U, 0);
	snprintf(num, sizeof(num), "%d", report);
	if (setenv(REPORT_ENV, num, 1) || setenv("WG_PROCESS_FOREGROUND", "1", 1))
		_exit(1);
	unsetenv("WG_TUN_FD");
	unsetenv("WG_UAPI_FD");
	execv("/proc/self/exe", argv);
	_exit(1);
}

int vguard_upgrade_spawn(char **argv, const char *iface)
{
	const char *ll = getenv("LOG_LEVEL");
	char buf[REASON_MAX] = "";
	size_t got = 0;
	int p[2];
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		fprintf(stderr, "vguard: cannot upgrade %s: %s\n", iface, strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "vguard: cannot upgrade %s: %s\n", iface, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		child(argv, p[1], ll && strcmp(ll, "silent"));
	}
	close(p[1]);
	/* The report is "0" or "1 reason"; EOF alone: the process died. */
	while (got < sizeof(buf) - 1) {
		n = read(p[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	buf[got] = '\0';
	if (got && buf[0] == '0')
		return 0;
	fprintf(stderr, "vguard: cannot upgrade %s: %s\n", iface,
		got > 2 ? buf + 2 : "the new process exited before it took over");
	return 1;
}

void vguard_upgrade_report(int err, const char *reason)
{
	const char *v = getenv(REPORT_ENV);
	char line[REASON_MAX + 4];
	char *end;
	long fd;
	int n;

	if (!v || !*v)
		return;
	errno = 0;
	fd = strtol(v, &end, 10);
	unsetenv(REPORT_ENV);
	if (errno || *end || fd < 3 || fd > INT_MAX)
		return;
	n = snprintf(line, sizeof(line), err ? "1 %s" : "0", reason);
	if (write((int)fd, line, (size_t)n) < 0)
		n = 0;
	close((int)fd);
}

static int take_tun(struct device_upgrade *u, struct tun **tun, const struct tun_options *to,
		    char *reason, size_t len)
{
	struct tun_options o = *to;
	const int *fds;
	unsigned int n;
	int ret;

	/* The interface is up: a probe write would reach the host's stack.
	 * The running kernel's answer is known anyway, and a refused
	 * coalesced write still turns GRO off (README.md, "Offloads"). */
	o.no_gro_probe = true;
	fds = device_upgrade_tun_fds(u, &n);
	ret = tun_open_fds(tun, fds, n, &o);
	if (ret) {
		snprintf(reason, len, "cannot take the TUN queues: %s", strerror(-ret));
		return ret;
	}
	device_upgrade_tun_taken(u);
	return 0;
}

static int serve(struct device *dev, struct device_upgrade *u, const char *iface)
{
	char path[108];
	int fd = device_upgrade_uapi_fd(u), ret;

	if (fd < 0)
		return -EBADF;
	ret = uapi_socket_path(path, sizeof(path), NULL, iface);
	if (!ret)
		ret = device_uapi_start(dev, fd, path);
	if (ret)
		close(fd);
	return ret;
}

int vguard_upgrade_setup(struct device **dev, const char *iface, const struct tun_options *to,
			 const struct device_options *dopt, uint32_t version, char *reason,
			 size_t reason_len)
{
	struct device_upgrade *u;
	struct tun *tun;
	int fd, ret;

	*dev = NULL;
	fd = device_upgrade_connect(NULL, iface);
	if (fd < 0) {
		snprintf(reason, reason_len, "no vguard runs %s here (%s/%s.sock: %s)", iface,
			 UAPI_SOCKET_DIR, iface, strerror(-fd));
		return fd;
	}
	ret = device_upgrade_begin(&u, fd, version, reason, reason_len);
	if (ret)
		return ret;
	ret = take_tun(u, &tun, to, reason, reason_len);
	if (!ret) {
		ret = device_new(dev, tun, dopt);
		if (ret)
			snprintf(reason, reason_len, "cannot create the device: %s", strerror(-ret));
	}
	if (!ret) {
		ret = device_upgrade_apply(u, *dev);
		if (ret)
			snprintf(reason, reason_len, "the running daemon's state does not load: %s",
				 strerror(-ret));
	}
	if (!ret) {
		ret = device_upgrade_commit(u);
		if (ret)
			snprintf(reason, reason_len, "the running daemon resumed instead");
	}
	/* Only now: a device serving the socket file unlinks it when freed. */
	if (!ret) {
		ret = serve(*dev, u, tun_name(tun));
		if (ret)
			snprintf(reason, reason_len, "cannot serve the UAPI socket: %s (the old daemon has stopped)",
				 strerror(-ret));
	}
	if (!ret) {
		ret = device_start(*dev);
		if (ret)
			snprintf(reason, reason_len, "cannot start the device: %s (the old daemon has stopped)",
				 strerror(-ret));
	}
	device_upgrade_end(u, ret);
	if (ret) {
		device_free(*dev);
		*dev = NULL;
	}
	return ret;
}
