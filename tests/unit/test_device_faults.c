/* SPDX-License-Identifier: MIT */
/*
 * Whole devices (in-memory TUNs, real UDP sockets on loopback, no root)
 * with faults injected at the system calls underneath them (-Wl,--wrap,
 * device/dataplane.am): each fault is counted in stats=1, logged once,
 * costs no more than a trickle of CPU while it lasts, and the tunnel
 * carries traffic again once it is over, without a restart.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "device/noise.h"
#include "device_testutil.h"
#include "wrap_mmsg.h"

/* ---- the seams ---- */

struct fault {
	int fd, err, times;	/* times < 0: for ever */
	unsigned int injected;
};
static struct fault f_read, f_send, f_sendmmsg, f_recvmmsg;
static size_t fail_malloc_size, fail_calloc_size;
static int fail_alloc_times;

/* The test thread arms, the device's threads hit: every field atomic. */
static bool hit(struct fault *f, int fd)
{
	int times;

	if (fd < 0 || __atomic_load_n(&f->fd, __ATOMIC_ACQUIRE) != fd)
		return false;
	times = __atomic_load_n(&f->times, __ATOMIC_RELAXED);
	if (!times)
		return false;
	if (times > 0)
		__atomic_fetch_sub(&f->times, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&f->injected, 1, __ATOMIC_RELAXED);
	errno = __atomic_load_n(&f->err, __ATOMIC_RELAXED);
	return true;
}

static void arm(struct fault *f, int fd, int err, int times)
{
	__atomic_store_n(&f->err, err, __ATOMIC_RELAXED);
	__atomic_store_n(&f->injected, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&f->times, times, __ATOMIC_RELAXED);
	__atomic_store_n(&f->fd, fd, __ATOMIC_RELEASE);
}

static unsigned int injected(struct fault *f)
{
	return __atomic_load_n(&f->injected, __ATOMIC_RELAXED);
}

static void disarm(struct fault *f)
{
	__atomic_store_n(&f->times, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&f->fd, -1, __ATOMIC_RELEASE);
}

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_send(int fd, const void *buf, size_t n, int flags);
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	return hit(&f_read, fd) ? -1 : __real_read(fd, buf, n);
}

ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags)
{
	return hit(&f_send, fd) ? -1 : __real_send(fd, buf, n, flags);
}

int WRAP_SENDMMSG(int fd, struct mmsghdr *m, unsigned int n, int flags)
{
	return hit(&f_sendmmsg, fd) ? -1 : REAL_SENDMMSG(fd, m, n, flags);
}

int WRAP_RECVMMSG(int fd, struct mmsghdr *m, unsigned int n, int flags, struct timespec *t)
{
	return hit(&f_recvmmsg, fd) ? -1 : REAL_RECVMMSG(fd, m, n, flags, t);
}

static bool alloc_fails(size_t *armed, size_t n)
{
	size_t size = __atomic_load_n(armed, __ATOMIC_RELAXED);

	if (!size || size != n)
		return false;
	return __atomic_fetch_sub(&fail_alloc_times, 1, __ATOMIC_RELAXED) > 0;
}

static void fail_alloc(size_t *armed, size_t n)
{
	__atomic_store_n(&fail_alloc_times, 1, __ATOMIC_RELAXED);
	__atomic_store_n(armed, n, __ATOMIC_RELAXED);
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails(&fail_malloc_size, n) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return n == 1 && alloc_fails(&fail_calloc_size, m) ? NULL : __real_calloc(n, m);
}

/* ---- logs ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[16384];

static void add_log(const char *msg)
{
	pthread_mutex_lock(&log_lock);
	if (strlen(log_text) + strlen(msg) + 2 < sizeof(log_text)) {
		strcat(log_text, msg);
		strcat(log_text, "\n");
	}
	pthread_mutex_unlock(&log_lock);
}

static void dev_log_hook(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	add_log(msg);
}

static void tun_log_hook(void *ctx, const char *msg)
{
	(void)ctx;
	add_log(msg);
}

/* Log lines containing what. */
static unsigned int logged(const char *what)
{
	unsigned int n = 0;
	const char *p;

	pthread_mutex_lock(&log_lock);
	for (p = log_text; (p = strstr(p, what)); p += strlen(what))
		n++;
	pthread_mutex_unlock(&log_lock);
	return n;
}

/* ---- two devices over loopback ---- */

static void open_side(struct side *s, const char *name)
{
	struct tun_mem_options mo;
	struct device_options o;
	struct tun_event up = { .type = TUN_EVENT_UP };

	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.log = tun_log_hook;
	mo.tun.no_tcp_gro = true;
	mo.tun.no_udp_gro = true;
	ck_assert_int_eq(tun_mem_open(&s->tun, name, &mo), 0);
	device_options_init(&o);
	o.queues = 1;
	o.log = dev_log_hook;
	o.clock = test_clock;
	o.no_udp_gso = true;
	o.no_udp_gro_rx = true;
	ck_assert_int_eq(device_new(&s->dev, s->tun, &o), 0);
	ck_assert_int_eq(device_start(s->dev), 0);
	ck_assert_int_eq(tun_mem_push_event(s->tun, &up), 0);
	for (int i = 0; i < 2000 && !device_port(s->dev); i++)
		usleep(1000);
	ck_assert_uint_ne(device_port(s->dev), 0);
	crypto_box_keypair(s->pub, s->priv);
	s->priv[0] &= 248;
	s->priv[31] = (s->priv[31] & 127) | 64;
	crypto_scalarmult_base(s->pub, s->priv);
}

static void faults_setup(void)
{
	log_text[0] = 0;
	disarm(&f_read);
	disarm(&f_send);
	disarm(&f_sendmmsg);
	disarm(&f_recvmmsg);
	fail_alloc(&fail_malloc_size, 0);
	fail_alloc(&fail_calloc_size, 0);
	net = NULL;	/* real sockets */
	open_side(&A, "vfa");
	open_side(&B, "vfb");
	configure(&A, &B, device_port(A.dev), device_port(B.dev), 2);
	configure(&B, &A, device_port(B.dev), device_port(A.dev), 1);
}

static void faults_teardown(void)
{
	disarm(&f_read);
	disarm(&f_send);
	disarm(&f_sendmmsg);
	disarm(&f_recvmmsg);
	fail_alloc(&fail_malloc_size, 0);
	fail_alloc(&fail_calloc_size, 0);
	device_free(A.dev);
	device_free(B.dev);
}

/* A 200-byte UDP packet from A's side (192.0.2.1) to B's (192.0.2.2), or
 * the other way. */
static size_t ping_pkt(uint8_t *pkt, bool a_to_b, size_t payload)
{
	struct pkt_spec sp = pkt_default(false, PKT_UDP, payload, 1000);

	sp.src = a_to_b ? 1 : 2;
	sp.dst = a_to_b ? 2 : 1;
	sp.ttl = 64;
	return pkt_build(pkt, &sp);
}

/* Sends one packet and waits up to ms for it on the far side. */
static bool through(struct side *from, struct side *to, size_t payload, unsigned int ms)
{
	static uint8_t pkt[2048], got[70000];
	size_t len = ping_pkt(pkt, from == &A, payload);
	unsigned int i;
	ssize_t n;

	inject(from, NULL, pkt, len);
	for (i = 0; i < ms; i++) {
		n = tun_mem_take(to->tun, 0, got, sizeof(got));
		if (n == (ssize_t)(VNET_HDR_LEN + len) && !memcmp(got + VNET_HDR_LEN, pkt, len))
			return true;
		if (n < 0)
			usleep(1000);
	}
	return false;
}

/* Retries for a while: the first packets may wait for a handshake. */
static bool flows(struct side *from, struct side *to, unsigned int seconds)
{
	for (unsigned int i = 0; i < seconds * 4; i++)
		if (through(from, to, 200, 250))
			return true;
	return false;
}

static uint64_t stat(struct side *s, const char *key)
{
	char *r = uapi_call(s->dev, "stats=1\n\n");
	uint64_t v = stat_of(r, key);

	free(r);
	return v;
}

/* A counter that other threads are still moving: its value once it has
 * reached want (or after 3 s). */
static uint64_t stat_reaching(struct side *s, const char *key, uint64_t want)
{
	uint64_t v = 0;

	for (int i = 0; i < 300 && (v = stat(s, key)) < want; i++)
		usleep(10 * 1000);
	return v;
}

/* The device's UDP socket of family fam, found as anyone could: by port. */
static int udp_fd(struct side *s, int fam)
{
	uint16_t port = device_port(s->dev);
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int found = -1;

	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir))) {
		union vg_sockaddr a;
		socklen_t len = sizeof(a);
		int fd = atoi(de->d_name);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(dir))
			continue;
		if (getsockname(fd, &a.sa, &len) || a.sa.sa_family != fam)
			continue;
		if (ntohs(fam == AF_INET ? a.in4.sin_port : a.in6.sin6_port) == port)
			found = fd;
	}
	closedir(dir);
	ck_assert_int_ge(found, 0);
	return found;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The whole process's CPU over one second of wall time. */
static double cpu_over_a_second(void)
{
	double c = cpu_seconds();

	usleep(1000000);
	return cpu_seconds() - c;
}

/* ---- TUN ---- */

static void tun_write_fault(int err)
{
	unsigned int i;

	ck_assert(flows(&A, &B, 8));
	arm(&f_send, tun_queue_fd(B.tun, 0), err, -1);
	for (i = 0; i < 20; i++)
		ck_assert(!through(&A, &B, 200, 20));
	ck_assert_uint_eq(stat_reaching(&B, "tun_write_errors", 20), 20);
	ck_assert_uint_eq(logged("write refused"), 1);
	/* No spinning while it lasts (the link is down for the kernel). */
	ck_assert_double_lt(cpu_over_a_second(), 0.1);
	disarm(&f_send);
	ck_assert(through(&A, &B, 200, 2000));
	ck_assert_uint_eq(stat(&B, "tun_write_errors"), 20);
}

START_TEST(tun_write_eio)
{
	tun_write_fault(EIO);
}
END_TEST

START_TEST(tun_write_einval)
{
	tun_write_fault(EINVAL);
}
END_TEST

/* A read error used to take the queue out of the worker's epoll for good:
 * nothing from that queue was ever read again. */
START_TEST(tun_read_eio)
{
	ck_assert(flows(&A, &B, 8));
	arm(&f_read, tun_queue_fd(A.tun, 0), EIO, 3);
	ck_assert(through(&A, &B, 200, 3000));
	ck_assert_uint_eq(injected(&f_read), 3);
	ck_assert_uint_eq(stat(&A, "tun_read_errors"), 3);
	ck_assert_uint_eq(logged("read: "), 1);
}
END_TEST

/* One that lasts: a trickle of retries, not a spinning core. */
START_TEST(tun_read_persistent)
{
	static uint8_t pkt[2048];
	uint64_t errs;

	ck_assert(flows(&A, &B, 8));
	arm(&f_read, tun_queue_fd(A.tun, 0), ENOMEM, -1);
	inject(&A, NULL, pkt, ping_pkt(pkt, true, 200));
	ck_assert_double_lt(cpu_over_a_second(), 0.1);
	errs = stat(&A, "tun_read_errors");
	ck_assert_uint_gt(errs, 5);
	ck_assert_uint_lt(errs, 1000);
	ck_assert_uint_eq(logged("read: "), 1);
	disarm(&f_read);
	ck_assert(flows(&A, &B, 2));
}
END_TEST

/* ---- UDP ---- */

START_TEST(udp_send_errors)
{
	ck_assert(flows(&A, &B, 8));
	arm(&f_sendmmsg, udp_fd(&A, AF_INET), EIO, 1);
	ck_assert(!through(&A, &B, 200, 200));
	ck_assert_uint_eq(stat_reaching(&A, "udp_send_errors", 1), 1);
	arm(&f_sendmmsg, udp_fd(&A, AF_INET), ENOBUFS, 1);
	ck_assert(through(&A, &B, 200, 2000));
	ck_assert_uint_eq(stat(&A, "udp_send_errors"), 1);
	ck_assert_uint_eq(logged("send: "), 1);
}
END_TEST

/* A receive error that lasts while datagrams wait: no spinning, and they
 * are read once it is over. */
START_TEST(udp_recv_persistent)
{
	static uint8_t pkt[2048], got[4096];
	size_t len = ping_pkt(pkt, true, 200);
	unsigned int i;
	ssize_t n = -1;

	ck_assert(flows(&A, &B, 8));
	arm(&f_recvmmsg, udp_fd(&B, AF_INET), ENOMEM, -1);
	inject(&A, NULL, pkt, len);
	ck_assert_double_lt(cpu_over_a_second(), 0.1);
	ck_assert_uint_gt(stat(&B, "udp_recv_errors"), 0);
	ck_assert_uint_lt(stat(&B, "udp_recv_errors"), 5000);
	ck_assert_uint_eq(logged("receive error"), 1);
	disarm(&f_recvmmsg);
	for (i = 0; i < 2000 && n < 0; i++) {
		n = tun_mem_take(B.tun, 0, got, sizeof(got));
		if (n < 0)
			usleep(1000);
	}
	ck_assert_int_eq(n, (ssize_t)(VNET_HDR_LEN + len));
	ck_assert(flows(&B, &A, 2));
}
END_TEST

/* The socket closed underneath the worker: the device reopens its sockets
 * on the same port and carries on. */
START_TEST(udp_socket_closed)
{
	uint16_t port = device_port(A.dev);

	ck_assert(flows(&A, &B, 8));
	close(udp_fd(&A, AF_INET));
	ck_assert(flows(&A, &B, 3));
	ck_assert(flows(&B, &A, 3));
	ck_assert_uint_eq(device_port(A.dev), port);
	ck_assert_uint_eq(stat(&A, "udp_socket_reopens"), 1);
	ck_assert_uint_eq(logged("lost underneath"), 1);
}
END_TEST

/* Replaced by another socket: sends "work", receives never come; the
 * probe finds out. */
START_TEST(udp_socket_replaced)
{
	uint16_t port = device_port(A.dev);
	int fd = udp_fd(&A, AF_INET), other = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert(flows(&A, &B, 8));
	ck_assert_int_ge(other, 0);
	ck_assert_int_eq(dup2(other, fd), fd);
	for (int i = 0; i < 3000 && !stat(&A, "udp_socket_reopens"); i++)
		usleep(1000);
	ck_assert_uint_eq(stat(&A, "udp_socket_reopens"), 1);
	/* A's packets leave from its port again, and B's reach it there. */
	ck_assert(flows(&A, &B, 2));
	ck_assert(flows(&B, &A, 2));
	ck_assert_uint_eq(device_port(A.dev), port);
	/* The number is someone else's: the device left it alone. */
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	close(fd);
	close(other);
}
END_TEST

/* ---- memory ---- */

/* A packet staged for a handshake without memory to keep it. */
START_TEST(nomem_staged)
{
	static uint8_t pkt[2048];
	size_t len = ping_pkt(pkt, true, 333);

	fail_alloc(&fail_malloc_size, len);
	inject(&A, NULL, pkt, len);
	for (int i = 0; i < 2000 && !stat(&A, "drop_no_memory"); i++)
		usleep(1000);
	ck_assert_uint_eq(stat(&A, "drop_no_memory"), 1);
	ck_assert_uint_eq(logged("out of memory"), 1);
	fail_alloc(&fail_malloc_size, 0);
	ck_assert(flows(&A, &B, 8));
}
END_TEST

/* No memory for a session's keys: the handshake fails, counted, and the
 * retransmission five seconds later makes it. */
START_TEST(nomem_handshake)
{
	uint64_t n = 0;

	fail_alloc(&fail_calloc_size, sizeof(struct noise_keypair));
	ck_assert(!through(&A, &B, 200, 1000));
	for (int i = 0; i < 300 && !(n = stat(&A, "drop_no_memory") + stat(&B, "drop_no_memory"));
	     i++)
		usleep(10 * 1000);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(stat(&A, "drop_bad_mac") + stat(&B, "drop_bad_mac"), 0);
	fail_alloc(&fail_calloc_size, 0);
	jump(6);
	ck_assert(flows(&A, &B, 8));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("device_faults");
	TCase *t = tcase_create("tun"), *u = tcase_create("udp"), *m = tcase_create("memory");

	tcase_add_checked_fixture(t, faults_setup, faults_teardown);
	tcase_add_checked_fixture(u, faults_setup, faults_teardown);
	tcase_add_checked_fixture(m, faults_setup, faults_teardown);
	tcase_set_timeout(t, 60);
	tcase_set_timeout(u, 60);
	tcase_set_timeout(m, 60);
	tcase_add_test(t, tun_write_eio);
	tcase_add_test(t, tun_write_einval);
	tcase_add_test(t, tun_read_eio);
	tcase_add_test(t, tun_read_persistent);
	tcase_add_test(u, udp_send_errors);
	tcase_add_test(u, udp_recv_persistent);
	tcase_add_test(u, udp_socket_closed);
	tcase_add_test(u, udp_socket_replaced);
	tcase_add_test(m, nomem_staged);
	tcase_add_test(m, nomem_handshake);
	suite_add_tcase(s, t);
	suite_add_tcase(s, u);
	suite_add_tcase(s, m);
	return s;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	return vg_test_run(suite(), true);
}
