// SPDX-License-Identifier: MIT
/*
 * vguard: the daemon, a drop-in for wireguard-go's command line.
 *
 * Like wireguard-go's main.go, the first process creates the TUN and the
 * listening UAPI socket, then re-executes itself in the background with
 * them as fds 3 and 4 (WG_TUN_FD, WG_UAPI_FD, WG_PROCESS_FOREGROUND=1) and
 * exits 0: when `vguard wg0` returns, wg0 and its socket exist, which
 * wg-quick relies on.  The foreground process hands both to the device
 * (device/device.h), whose control thread serves the socket, follows the
 * link and watches the socket file, and waits for a reason to stop.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "device/uapi.h"
#include "device/device.h"
#include "device/messages.h"
#include "device/timers.h"
#include "tun/tun.h"
#include "tools/vguard_upgrade.h"

#define EXIT_SETUP_FAILED 1
#define EXIT_USAGE 2

enum log_level { LOG_SILENT, LOG_ERROR, LOG_VERBOSE };

struct options {
	bool foreground;
	unsigned int queues;
	bool no_tso, no_uso, no_tcp_gro, no_udp_gro, no_udp_gso, no_udp_gro_rx;
	int udp_rcvbuf;		/* 0: the default */
	bool upgrade;
	uint32_t upgrade_version;	/* tests: the state format announced */
	const char *iface;
};

static enum log_level log_level = LOG_ERROR;
static char log_name[IFNAMSIZ];

__attribute__((format(printf, 2, 3)))
static void logf_at(enum log_level level, const char *fmt, ...)
{
	char stamp[32];
	struct tm tm;
	time_t now;
	va_list ap;

	if (level > log_level)
		return;
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y/%m/%d %H:%M:%S", &tm);
	/* wireguard-go's logger: "DEBUG: (wg0) 2006/01/02 15:04:05 ...".
	 * The device's threads log too: one locked line at a time. */
	flockfile(stdout);
	printf("%s: (%s) %s ", level == LOG_ERROR ? "ERROR" : "DEBUG", log_name, stamp);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	funlockfile(stdout);
}

static void log_tun(void *ctx, const char *msg)
{
	(void)ctx;
	logf_at(LOG_VERBOSE, "%s", msg);
}

static void log_tun_fault(void *ctx, const char *msg)
{
	(void)ctx;
	logf_at(LOG_ERROR, "%s", msg);
}

__attribute__((format(printf, 1, 0)))
static void vstderr_line(const char *fmt, va_list ap)
{
	fputs("vguard: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* One line on stderr, whatever LOG_LEVEL says: the caller must see why. */
__attribute__((format(printf, 1, 2)))
static void fail_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vstderr_line(fmt, ap);
	va_end(ap);
	logf_at(LOG_VERBOSE, "setup failed");
}

static void usage(FILE *f)
{
	fputs("Usage: vguard [-f|--foreground] [--queues N] [--no-tso] [--no-uso]\n"
	      "              [--no-tcp-gro] [--no-udp-gro] [--no-udp-gso]\n"
	      "              [--no-udp-gro-rx] [--udp-rcvbuf BYTES] [--upgrade] INTERFACE\n"
	      "       vguard --version | --help\n"
	      "\n"
	      "Options:\n"
	      "  -f, --foreground  stay in the foreground\n"
	      "  --queues N        TUN queues and workers, 1..256 (default: one per CPU)\n"
	      "  --no-tso          no TCP super-packets from the TUN      (VGUARD_NO_TSO=1)\n"
	      "  --no-uso          no UDP super-packets from the TUN      (VGUARD_NO_USO=1)\n"
	      "  --no-tcp-gro      no coalesced TCP writes to the TUN     (VGUARD_NO_TCP_GRO=1)\n"
	      "  --no-udp-gro      no coalesced UDP writes to the TUN     (VGUARD_NO_UDP_GRO=1)\n"
	      "  --no-udp-gso      no UDP_SEGMENT sends                   (VGUARD_NO_UDP_GSO=1)\n"
	      "  --no-udp-gro-rx   no UDP_GRO receives                    (VGUARD_NO_UDP_GRO_RX=1)\n"
	      "  --udp-rcvbuf N    UDP receive buffer, 64K..1G, default 7M (VGUARD_UDP_RCVBUF=N)\n"
	      "  --upgrade         take INTERFACE over from the vguard running it\n"
	      "\n"
	      "Environment: LOG_LEVEL=verbose|debug|error|silent (default error),\n"
	      "WG_TUN_FD, WG_UAPI_FD, WG_PROCESS_FOREGROUND=1, as wireguard-go.\n"
	      "Exit status: 0 on a clean stop, 1 when setup fails, 2 for a bad command line.\n",
	      f);
}

__attribute__((format(printf, 1, 2), noreturn))
static void bad_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vstderr_line(fmt, ap);
	va_end(ap);
	usage(stderr);
	exit(EXIT_USAGE);
}

static unsigned int parse_queues(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 1 || n > DEVICE_MAX_QUEUES)
		bad_usage("--queues wants a number from 1 to %d, not '%s'",
			  DEVICE_MAX_QUEUES, s);
	return (unsigned int)n;
}

/* BYTES, or with a K, M or G suffix (binary): 64 KiB to 1 GiB. */
static int parse_rcvbuf(const char *what, const char *s)
{
	unsigned long long n;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (end != s && end[0] && !end[1]) {
		switch (*end) {
		case 'K': case 'k': shift = 10; end++; break;
		case 'M': case 'm': shift = 20; end++; break;
		case 'G': case 'g': shift = 30; end++; break;
		}
	}
	if (errno || end == s || *end || *s == '-' || n > (1ULL << 30) >> shift ||
	    n << shift < (64 << 10))
		bad_usage("%s wants a size from 64K to 1G, not '%s'", what, s);
	return (int)(n << shift);
}

/*
 * --test-timers=REKEY[,REJECT]: session lifetimes in seconds (REJECT
 * defaults to REKEY + 60, the defaults' margin), so a soak test sees many
 * rekeys in minutes.  Hidden from --help: for tests only (README "Soak").
 */
static void parse_test_timers(const char *s)
{
	unsigned long rekey, reject;
	char *end;

	errno = 0;
	rekey = strtoul(s, &end, 10);
	reject = rekey + 60;
	if (!errno && *end == ',')
		reject = strtoul(end + 1, &end, 10);
	if (errno || end == s || *end || rekey > 180 || reject > 180 ||
	    wg_timers_set_lifetimes(rekey * WG_NSEC_PER_SEC, reject * WG_NSEC_PER_SEC))
		bad_usage("--test-timers wants REKEY[,REJECT] seconds, 0 < REKEY, "
			  "REKEY + 15 < REJECT <= 180, not '%s'", s);
}

static bool *flag_for(struct options *o, const char *arg)
{
	static const struct { const char *name; size_t off; } flags[] = {
		{ "--no-tso", offsetof(struct options, no_tso) },
		{ "--no-uso", offsetof(struct options, no_uso) },
		{ "--no-tcp-gro", offsetof(struct options, no_tcp_gro) },
		{ "--no-udp-gro", offsetof(struct options, no_udp_gro) },
		{ "--no-udp-gso", offsetof(struct options, no_udp_gso) },
		{ "--no-udp-gro-rx", offsetof(struct options, no_udp_gro_rx) },
	};
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strcmp(arg, flags[i].name))
			return (bool *)((char *)o + flags[i].off);
	return NULL;
}

static void parse_args(struct options *o, int argc, char **argv)
{
	bool *flag;
	int i;

	memset(o, 0, sizeof(*o));
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("vguard v%s\n\nUserspace WireGuard daemon for Linux.\n", PACKAGE_VERSION);
		exit(0);
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		exit(0);
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-f") || !strcmp(a, "--foreground")) {
			o->foreground = true;
		} else if (!strcmp(a, "--queues")) {
			if (++i == argc)
				bad_usage("%s needs a value", a);
			o->queues = parse_queues(argv[i]);
		} else if (!strncmp(a, "--queues=", 9)) {
			o->queues = parse_queues(a + 9);
		} else if (!strcmp(a, "--upgrade")) {
			o->upgrade = true;
		} else if (!strcmp(a, "--upgrade-test-version") && i + 1 < argc) {
			o->upgrade_version = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(a, "--udp-rcvbuf")) {
			if (++i >= argc)
				bad_usage("%s needs a value", a);
			o->udp_rcvbuf = parse_rcvbuf(a, argv[i]);
		} else if (!strncmp(a, "--udp-rcvbuf=", 13)) {
			o->udp_rcvbuf = parse_rcvbuf("--udp-rcvbuf", a + 13);
		} else if (!strncmp(a, "--test-timers=", 14)) {
			parse_test_timers(a + 14);
		} else if ((flag = flag_for(o, a))) {
			*flag = true;
		} else if (!strcmp(a, "--")) {
			if (i + 2 != argc)
				bad_usage("%s", "expected exactly one INTERFACE");
			o->iface = argv[++i];
		} else if (a[0] == '-') {
			bad_usage("unknown option '%s'", a);
		} else if (o->iface) {
			bad_usage("unexpected argument '%s'", a);
		} else {
			o->iface = a;
		}
	}
	if (!o->iface)
		bad_usage("%s", "missing INTERFACE");
	if (!o->iface[0] || strlen(o->iface) >= IFNAMSIZ || strchr(o->iface, '/'))
		bad_usage("invalid interface name '%s'", o->iface);
	if (!o->udp_rcvbuf && getenv("VGUARD_UDP_RCVBUF") && *getenv("VGUARD_UDP_RCVBUF"))
		o->udp_rcvbuf = parse_rcvbuf("VGUARD_UDP_RCVBUF", getenv("VGUARD_UDP_RCVBUF"));
	/* The offload switches' environment variables belong to the layers
	 * that own them: tun_options_from_env() and device_options_from_env(). */
}

static void read_log_level(void)
{
	const char *v = getenv("LOG_LEVEL");

	if (!v)
		return;
	if (!strcmp(v, "verbose") || !strcmp(v, "debug"))
		log_level = LOG_VERBOSE;
	else if (!strcmp(v, "error"))
		log_level = LOG_ERROR;
	else if (!strcmp(v, "silent"))
		log_level = LOG_SILENT;
}

static void tun_opts(struct tun_options *t, const struct options *o, unsigned int queues)
{
	tun_options_init(t);
	tun_options_from_env(t);
	t->queues = queues;
	t->no_tso |= o->no_tso;
	t->no_uso |= o->no_uso;
	t->no_tcp_gro |= o->no_tcp_gro;
	t->no_udp_gro |= o->no_udp_gro;
	t->log = log_tun;
	t->log_fault = log_tun_fault;
}

/* WG_TUN_FD / WG_UAPI_FD: a decimal fd, or -1 when unset. */
static int env_fd(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long fd;

	if (!v || !*v)
		return -1;
	errno = 0;
	fd = strtol(v, &end, 10);
	if (errno || *end || fd < 0 || fd > INT_MAX) {
		fail_line("%s is not a file descriptor: '%s'", name, v);
		exit(EXIT_SETUP_FAILED);
	}
	return (int)fd;
}

/* ---- the background child ---- */

/* Places fd at target (3 or 4) even when the two overlap. */
static int move_fds(int tun_fd, int uapi_fd)
{
	int t = fcntl(tun_fd, F_DUPFD, 10), u = fcntl(uapi_fd, F_DUPFD, 10);

	if (t < 0 || u < 0 || dup2(t, 3) < 0 || dup2(u, 4) < 0)
		return -1;
	close(t);
	close(u);
	return 0;
}

/* Everything else the caller left open is closed: an inherited pipe
 * would keep, say, a `$(vguard wg0)` waiting for as long as we run. */
static void close_others(int report)
{
	if (report > 5)
		close_range(5, (unsigned int)report - 1, 0);
	close_range((unsigned int)report + 1, ~0U, 0);
}

static void child_exec(char **argv, int tun_fd, int uapi_fd, bool keep_stdio, int report)
{
	int null, err;

	setsid();
	/* High up, so that placing fds 3 and 4 cannot overwrite it. */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || (report = fcntl(report, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (null = fcntl(null, F_DUPFD_CLOEXEC, 10)) < 0 || move_fds(tun_fd, uapi_fd))
		goto fail;
	dup2(null, 0);
	if (!keep_stdio) {
		dup2(null, 1);
		dup2(null, 2);
	}
	close(null);
	close_others(report);
	if (setenv("WG_TUN_FD", "3", 1) || setenv("WG_UAPI_FD", "4", 1) ||
	    setenv("WG_PROCESS_FOREGROUND", "1", 1))
		goto fail;
	execv("/proc/self/exe", argv);
fail:
	err = errno;
	if (write(report, &err, sizeof(err)) < 0)
		_exit(EXIT_SETUP_FAILED);
	_exit(EXIT_SETUP_FAILED);
}

/* Starts the background process; returns once it has exec'ed. */
static int spawn(char **argv, int tun_fd, int uapi_fd)
{
	bool keep_stdio = getenv("LOG_LEVEL") && log_level != LOG_SILENT;
	int pipefd[2], err = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_exec(argv, tun_fd, uapi_fd, keep_stdio, pipefd[1]);
	}
	close(pipefd[1]);
	/* The report pipe is CLOEXEC: EOF means the exec went through. */
	do
		n = read(pipefd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	return n == sizeof(err) ? -err : 0;
}

static int listen_or_fail(const char *name)
{
	int fd = uapi_listen(NULL, name);

	if (fd < 0)
		fail_line("failed to listen on uapi socket %s/%s.sock: %s",
			  UAPI_SOCKET_DIR, name,
			  fd == -EADDRINUSE ? "unix socket in use" : strerror(-fd));
	return fd;
}

static void unlink_socket(const char *name)
{
	char path[108];

	if (!uapi_socket_path(path, sizeof(path), NULL, name))
		unlink(path);
}

/*
 * The socket comes first when the name is literal: a multi-queue TUN lets
 * a second opener attach to a running interface (and reset its MTU), so a
 * live socket is the reliable "already running" test.
 */
static int early_listen(const char *iface)
{
	return strchr(iface, '%') ? -ENOENT : listen_or_fail(iface);
}

/* The parent's TUN: WG_TUN_FD when given (as wireguard-go does), else a
 * new one, kept only as the fd handed to the background process. */
static int parent_tun(const struct options *o)
{
	struct tun_options to;
	struct tun *t;
	int fd = env_fd("WG_TUN_FD"), ret;

	if (fd >= 0)
		return fd;
	tun_opts(&to, o, 1);
	to.no_gro_probe = true;		/* the background process probes */
	ret = tun_open(&t, o->iface, &to);
	if (ret) {
		fail_line("failed to create TUN device %s: %s", o->iface, strerror(-ret));
		return ret;
	}
	fd = dup(tun_queue_fd(t, 0));
	snprintf(log_name, sizeof(log_name), "%s", tun_name(t));
	tun_close(t);
	if (fd < 0)
		fail_line("failed to keep the TUN device: %s", strerror(errno));
	return fd;
}

static int daemonize(const struct options *o, char **argv)
{
	int ret, tun_fd, uapi_fd = env_fd("WG_UAPI_FD");
	bool own_socket = false;

	if (uapi_fd < 0 && env_fd("WG_TUN_FD") < 0) {
		uapi_fd = early_listen(o->iface);
		if (uapi_fd < 0 && uapi_fd != -ENOENT)
			return EXIT_SETUP_FAILED;
		own_socket = uapi_fd >= 0;
	}
	tun_fd = parent_tun(o);
	if (tun_fd < 0)
		goto fail;
	if (uapi_fd < 0) {
		uapi_fd = listen_or_fail(log_name);
		own_socket = uapi_fd >= 0;
	}
	if (uapi_fd < 0) {
		close(tun_fd);
		return EXIT_SETUP_FAILED;
	}
	ret = spawn(argv, tun_fd, uapi_fd);
	close(tun_fd);
	if (ret) {
		fail_line("failed to daemonize: %s", strerror(-ret));
		goto fail;
	}
	close(uapi_fd);
	return 0;
fail:
	if (own_socket) {
		close(uapi_fd);
		unlink_socket(log_name);
	}
	return EXIT_SETUP_FAILED;
}

/* ---- the foreground process ---- */

static struct device *running;

/* Signals only ask the device to stop; device_wait() then returns. */
static void on_signal(int sig)
{
	if (running)
		device_stop(running);
}

static void log_device(void *ctx, int level, const char *msg)
{
	(void)ctx;
	logf_at(level >= DEVICE_LOG_VERBOSE ? LOG_VERBOSE : LOG_ERROR, "%s", msg);
}

static int open_tun(struct tun **tun, const struct options *o, unsigned int queues)
{
	struct tun_options to;
	int fd = env_fd("WG_TUN_FD"), ret;

	tun_opts(&to, o, queues);
	if (fd >= 0) {
		to.keep_mtu = true;	/* the parent already set it */
		ret = tun_open_fd(tun, fd, &to);
	} else {
		ret = tun_open(tun, o->iface, &to);
	}
	if (ret)
		fail_line("failed to create TUN device %s: %s", o->iface, strerror(-ret));
	return ret;
}

static void device_opts(struct device_options *d, const struct options *o)
{
	device_options_init(d);
	device_options_from_env(d);
	d->queues = o->queues;
	d->no_udp_gso |= o->no_udp_gso;
	d->no_udp_gro_rx |= o->no_udp_gro_rx;
	d->udp_rcvbuf = o->udp_rcvbuf;
	d->log_level = (int)log_level;
	d->log = log_device;
}

/*
 * SIGINT and SIGTERM stay blocked while the device's threads are created
 * (they inherit the mask), so only this thread ever takes them; one that
 * arrives during setup is handled once they are unblocked.  A shell starts
 * background jobs with SIGINT ignored: installing a handler takes it back.
 */
static void block_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigprocmask(SIG_BLOCK, mask, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void catch_signals(const sigset_t *mask)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigprocmask(SIG_UNBLOCK, mask, NULL);
}

static int serve_uapi(struct device *dev, int fd)
{
	char path[108];
	int ret;

	if (fd < 0)
		fd = env_fd("WG_UAPI_FD");
	if (fd < 0)
		fd = listen_or_fail(log_name);
	if (fd < 0)
		return fd;
	ret = uapi_socket_path(path, sizeof(path), NULL, log_name);
	if (!ret)
		ret = device_uapi_start(dev, fd, path);
	if (ret) {
		close(fd);
		fail_line("failed to serve uapi socket %s/%s.sock: %s", UAPI_SOCKET_DIR,
			  log_name, strerror(-ret));
	}
	return ret;
}

/*
 * Each queue holds five fds (its TUN queue, a UDP socket pair, an epoll and
 * a mailbox eventfd): a few hundred queues need more than the usual soft
 * limit of 1024, so it is raised toward the hard limit when they do.
 */
static void raise_nofile(unsigned int queues)
{
	rlim_t need = (rlim_t)queues * 5 + 64;
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur >= need)
		return;
	r.rlim_cur = r.rlim_max < need ? r.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &r))
		logf_at(LOG_VERBOSE, "cannot raise the open file limit: %s", strerror(errno));
}

/* The running vguard's queues, sockets and sessions (README.md, "Live
 * upgrade"); the queue count is the running one's. */
static int setup_upgrade(struct device **dev, const struct options *o)
{
	struct device_options dopt;
	struct tun_options to;
	char reason[256] = "", offloads[256];
	int ret;

	device_opts(&dopt, o);
	tun_opts(&to, o, 1);
	raise_nofile(DEVICE_MAX_QUEUES);
	logf_at(LOG_VERBOSE, "Starting vguard version %s (upgrade)", PACKAGE_VERSION);
	ret = vguard_upgrade_setup(dev, o->iface, &to, &dopt, o->upgrade_version, reason,
				   sizeof(reason));
	vguard_upgrade_report(ret, reason);
	if (ret) {
		fail_line("cannot upgrade %s: %s", o->iface, reason);
		return ret;
	}
	device_describe_offloads(*dev, offloads, sizeof(offloads));
	logf_at(LOG_VERBOSE, "Offloads: %s", offloads);
	logf_at(LOG_VERBOSE, "Took the interface over from the running vguard");
	return 0;
}

static int setup(struct device **dev, const struct options *o)
{
	struct device_options dopt;
	char offloads[256];
	struct tun *tun;
	int ret, early_fd = -1;

	if (o->upgrade)
		return setup_upgrade(dev, o);
	if (env_fd("WG_UAPI_FD") < 0 && env_fd("WG_TUN_FD") < 0) {
		early_fd = early_listen(o->iface);
		if (early_fd < 0 && early_fd != -ENOENT)
			return early_fd;
	}
	device_opts(&dopt, o);
	raise_nofile(device_queues(&dopt));
	ret = open_tun(&tun, o, device_queues(&dopt));
	if (ret)
		goto fail;
	snprintf(log_name, sizeof(log_name), "%s", tun_name(tun));
	logf_at(LOG_VERBOSE, "Starting vguard version %s", PACKAGE_VERSION);
	ret = device_new(dev, tun, &dopt);
	if (ret) {
		*dev = NULL;
		fail_line("failed to create the device: %s", strerror(-ret));
		goto fail;
	}
	ret = serve_uapi(*dev, early_fd);
	early_fd = -1;
	if (ret)
		return ret;
	ret = device_start(*dev);
	if (ret) {
		fail_line("failed to start the device: %s", strerror(-ret));
		return ret;
	}
	device_describe_offloads(*dev, offloads, sizeof(offloads));
	logf_at(LOG_VERBOSE, "Offloads: %s", offloads);
	logf_at(LOG_VERBOSE, "UAPI listener started");
	logf_at(LOG_VERBOSE, "Device started");
	return 0;
fail:
	if (early_fd >= 0) {
		close(early_fd);
		unlink_socket(o->iface);
	}
	return ret;
}

static int run(const struct options *o)
{
	struct device *dev = NULL;
	int status = EXIT_SETUP_FAILED;
	sigset_t mask;

	block_signals(&mask);
	if (!setup(&dev, o)) {
		running = dev;
		catch_signals(&mask);
		switch (device_wait(dev)) {
		case DEVICE_EXIT_STOPPED:
			logf_at(LOG_VERBOSE, "Received a signal, shutting down");
			status = 0;
			break;
		case DEVICE_EXIT_SOCKET_GONE:
			logf_at(LOG_VERBOSE, "UAPI socket deleted, shutting down");
			status = 0;
			break;
		case DEVICE_EXIT_UPGRADED:
			logf_at(LOG_VERBOSE, "Handed over to a new vguard, shutting down");
			status = 0;
			break;
		case DEVICE_EXIT_LINK_GONE:
			logf_at(LOG_VERBOSE, "Interface deleted, shutting down");
			status = 0;
			break;
		default:
			logf_at(LOG_ERROR, "Device failed, shutting down");
			status = EXIT_FAILURE;
			break;
		}
		sigprocmask(SIG_BLOCK, &mask, NULL);
		running = NULL;
	}
	device_free(dev);
	logf_at(LOG_VERBOSE, "Shutting down");
	return status;
}

int main(int argc, char **argv)
{
	struct options o;
	const char *fg;

	parse_args(&o, argc, argv);
	read_log_level();
	snprintf(log_name, sizeof(log_name), "%s", o.iface);
	if (sodium_init() < 0) {
		fail_line("failed to initialise libsodium");
		return EXIT_SETUP_FAILED;
	}
	fg = getenv("WG_PROCESS_FOREGROUND");
	if (!o.foreground && !(fg && !strcmp(fg, "1")))
		return o.upgrade ? vguard_upgrade_spawn(argv, o.iface) : daemonize(&o, argv);
	return run(&o);
}
