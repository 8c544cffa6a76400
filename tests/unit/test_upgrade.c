/* SPDX-License-Identifier: MIT */
/*
 * Live upgrade (device/upgrade.h): device A hands its state and sessions
 * over its UAPI socket to a second device, which then carries traffic
 * both ways with B without a new handshake; a different state format is
 * refused and A keeps running; a truncated or garbled state is refused
 * with -EBADMSG, and A, which only read, is untouched.
 */
#include "config.h"

#include "tests/unit/device_testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "device/upgrade.h"

static char dir[64];

/* A like setup()'s, but serving its UAPI on dir/vga.sock. */
static void side_open_uapi(struct side *s, const char *name, unsigned int queues, int listen_fd)
{
	struct tun_mem_options mo;
	struct device_options o;
	struct tun_event up = { .type = TUN_EVENT_UP };

	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.queues = queues;
	mo.tso = mo.uso = true;
	ck_assert_int_eq(tun_mem_open(&s->tun, name, &mo), 0);
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	o.clock = test_clock;
	ck_assert_int_eq(device_new(&s->dev, s->tun, &o), 0);
	if (listen_fd >= 0)
		ck_assert_int_eq(device_uapi_start(s->dev, listen_fd, NULL), 0);
	ck_assert_int_eq(device_start(s->dev), 0);
	ck_assert_int_eq(tun_mem_push_event(s->tun, &up), 0);
	for (int i = 0; i < 2000 && !device_port(s->dev); i++)
		usleep(1000);
	ck_assert_uint_ne(device_port(s->dev), 0);
}

/* The new device: created, not started, link events still to come. */
static void side_new(struct side *s, const char *name, unsigned int queues)
{
	struct tun_mem_options mo;
	struct device_options o;

	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.queues = queues;
	mo.tso = mo.uso = true;
	ck_assert_int_eq(tun_mem_open(&s->tun, name, &mo), 0);
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	o.clock = test_clock;
	ck_assert_int_eq(device_new(&s->dev, s->tun, &o), 0);
}

/* Until a packet from A comes out of B (the handshake done), ~24 s at most. */
static void prime(void)
{
	static uint8_t pkt[2048], got[70000];
	struct pkt_spec sp = pkt_default(false, PKT_UDP, 64, 1000);
	size_t len;
	int i;

	sp.src = 1;
	sp.dst = 2;
	sp.ttl = 64;
	len = pkt_build(pkt, &sp);
	for (i = 0; i < 3; i++) {
		inject(&A, NULL, pkt, len);
		if (take(&B, got, sizeof(got)) > 0)
			break;
	}
	ck_assert_msg(i < 3, "no session between A and B");
	/* A staged copy may follow: the next roundtrip must not take it. */
	usleep(200000);
	for (unsigned int q = 0; q < tun_queues(B.tun); q++)
		while (tun_mem_take(B.tun, q, got, sizeof(got)) > 0)
			;
}

static void up_setup(unsigned int queues)
{
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/vg-upgrade-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	net = vg_memnet_new();
	ck_assert_ptr_nonnull(net);
	fd = uapi_listen(dir, "vga");
	ck_assert_int_ge(fd, 0);
	side_open_uapi(&A, "vga", queues, fd);
	crypto_box_keypair(A.pub, A.priv);
	side_open_uapi(&B, "vgb", queues, -1);
	crypto_box_keypair(B.pub, B.priv);
	configure(&A, &B, PORT_A, PORT_B, 2);
	configure(&B, &A, PORT_B, PORT_A, 1);
	/* Sessions both ways, and some bytes counted; on a loaded machine the
	 * first handshake may need its retransmission. */
	prime();
	roundtrip(&A, &B, false, PKT_UDP, 100, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 100, 2, 1);
	roundtrip(&A, &B, true, PKT_TCP, 1000, 1, 2);
}

static void up_teardown(void)
{
	char path[128];

	teardown();
	snprintf(path, sizeof(path), "%s/vga.sock", dir);
	unlink(path);
	rmdir(dir);
}

static void setup1(void)
{
	up_setup(1);
}

static void setup2(void)
{
	up_setup(2);
}

/* The line of a get=1 reply that starts with key (the peer's only one). */
static void line_of(char *out, size_t cap, struct device *d, const char *key)
{
	char *text = uapi_call(d, "get=1\n\n"), *p, *e;

	p = strstr(text, key);
	ck_assert_msg(p != NULL, "no %s", key);
	e = strchr(p, '\n');
	snprintf(out, cap, "%.*s", (int)(e - p), p);
	free(text);
}

static uint64_t handshakes(struct device *d)
{
	char *text = uapi_call(d, "stats=1\n\n");
	uint64_t n = stat_of(text, "handshake_initiations_sent") +
		     stat_of(text, "handshake_responses_sent");

	free(text);
	return n;
}

/* The whole exchange, as the daemon does it (tools/vguard_upgrade.c). */
static void hand_over(struct side *to, unsigned int queues)
{
	struct device_upgrade *u;
	char reason[256] = "";
	const int *fds;
	unsigned int n;
	int fd;

	side_new(to, "vga2", queues);
	fd = device_upgrade_connect(dir, "vga");
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(device_upgrade_begin(&u, fd, 0, reason, sizeof(reason)) == 0, "%s", reason);
	fds = device_upgrade_tun_fds(u, &n);
	ck_assert_uint_eq(n, queues);
	ck_assert_int_ge(fds[0], 0);
	ck_assert_int_eq(device_upgrade_apply(u, to->dev), 0);
	ck_assert_int_eq(device_upgrade_commit(u), 0);
	fd = device_upgrade_uapi_fd(u);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(device_uapi_start(to->dev, fd, NULL), 0);
	ck_assert_int_eq(device_start(to->dev), 0);
	device_upgrade_end(u, 0);
}

static void check_handover(unsigned int queues)
{
	struct tun_event up = { .type = TUN_EVENT_UP };
	char hs_a[96], hs_b[96], now_a[96], now_b[96], rx[64], rx2[64];
	uint64_t n_a = handshakes(A.dev), n_b = handshakes(B.dev);
	struct side to;

	line_of(hs_a, sizeof(hs_a), A.dev, "last_handshake_time_nsec=");
	line_of(hs_b, sizeof(hs_b), B.dev, "last_handshake_time_nsec=");
	line_of(rx, sizeof(rx), A.dev, "rx_bytes=");
	hand_over(&to, queues);
	ck_assert_int_eq(device_wait(A.dev), DEVICE_EXIT_UPGRADED);
	device_free(A.dev);
	A.dev = to.dev;
	A.tun = to.tun;
	/* The memory network has no fds to pass: the new device binds the
	 * port the old one just let go, at its first link up. */
	ck_assert_int_eq(tun_mem_push_event(A.tun, &up), 0);
	for (int i = 0; i < 2000 && device_port(A.dev) != PORT_A; i++)
		usleep(1000);
	ck_assert_uint_eq(device_port(A.dev), PORT_A);
	line_of(rx2, sizeof(rx2), A.dev, "rx_bytes=");
	ck_assert_str_eq(rx, rx2);

	roundtrip(&B, &A, false, PKT_UDP, 200, 2, 1);
	roundtrip(&A, &B, false, PKT_TCP, 1200, 1, 2);
	roundtrip(&B, &A, true, PKT_UDP, 300, 2, 1);
	roundtrip(&A, &B, true, PKT_UDP, 300, 1, 2);

	line_of(now_a, sizeof(now_a), A.dev, "last_handshake_time_nsec=");
	line_of(now_b, sizeof(now_b), B.dev, "last_handshake_time_nsec=");
	ck_assert_str_eq(hs_a, now_a);
	ck_assert_str_eq(hs_b, now_b);
	ck_assert_uint_eq(handshakes(A.dev), n_a);
	ck_assert_uint_eq(handshakes(B.dev), n_b);
}

START_TEST(test_handover)
{
	check_handover(1);
}
END_TEST

START_TEST(test_handover_queues)
{
	check_handover(2);
}
END_TEST

/* Twice in a row: the state the new device saves is as good. */
START_TEST(test_handover_twice)
{
	check_handover(1);
	/* The new device serves the same socket: hand over once more. */
	check_handover(1);
}
END_TEST

START_TEST(test_refused_version)
{
	struct device_upgrade *u = NULL;
	char reason[256] = "";
	int fd = device_upgrade_connect(dir, "vga");

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(device_upgrade_begin(&u, fd, DEVICE_UPGRADE_VERSION + 1, reason,
					      sizeof(reason)), -EPROTO);
	ck_assert_ptr_null(u);
	ck_assert_msg(strstr(reason, "state formats differ") != NULL, "%s", reason);
	roundtrip(&A, &B, false, PKT_UDP, 100, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 100, 2, 1);
}
END_TEST

/* The new process gives up before it is ready: A carries on. */
START_TEST(test_new_fails)
{
	uint64_t n_a = handshakes(A.dev);
	struct device_upgrade *u;
	char reason[256] = "";
	int fd = device_upgrade_connect(dir, "vga");

	ck_assert_int_ge(fd, 0);
	ck_assert_msg(device_upgrade_begin(&u, fd, 0, reason, sizeof(reason)) == 0, "%s", reason);
	device_upgrade_end(u, -EIO);
	roundtrip(&A, &B, false, PKT_UDP, 100, 1, 2);
	roundtrip(&B, &A, true, PKT_TCP, 500, 2, 1);
	ck_assert_uint_eq(handshakes(A.dev), n_a);
	/* And a real handover still works afterwards. */
	check_handover(1);
}
END_TEST

static atomic_bool freed;

static void *free_a(void *arg)
{
	device_free(arg);
	atomic_store(&freed, true);
	return NULL;
}

/* Stopped by a signal while the new process gets ready, which then gives
 * up: the old device must not start its threads again under whoever is
 * freeing it. */
START_TEST(test_stop_during_handover)
{
	struct device_upgrade *u;
	char reason[256] = "";
	pthread_t t;
	int fd = device_upgrade_connect(dir, "vga"), i;

	ck_assert_int_ge(fd, 0);
	ck_assert_msg(device_upgrade_begin(&u, fd, 0, reason, sizeof(reason)) == 0, "%s", reason);
	device_stop(A.dev);
	ck_assert_int_eq(device_wait(A.dev), DEVICE_EXIT_STOPPED);
	atomic_store(&freed, false);
	ck_assert_int_eq(pthread_create(&t, NULL, free_a, A.dev), 0);
	usleep(100000);
	device_upgrade_end(u, -EIO);
	for (i = 0; i < 5000 && !atomic_load(&freed); i++)
		usleep(1000);
	ck_assert_msg(atomic_load(&freed), "device_free() hangs");
	pthread_join(t, NULL);
	A.dev = NULL;
}
END_TEST

static int load_fresh(const uint8_t *blob, size_t len)
{
	struct side s;
	int ret;

	side_new(&s, "vgc", 1);
	ret = device_upgrade_load(s.dev, blob, len);
	device_free(s.dev);
	return ret;
}

/* A body cut at k, with a header and hash that agree with it. */
static int load_cut(const uint8_t *blob, size_t len, size_t k)
{
	uint8_t *b = malloc(32 + k + 32);
	uint64_t body = k;
	int ret;

	ck_assert_ptr_nonnull(b);
	memcpy(b, blob, 32);
	memcpy(b + 24, &body, 8);
	memcpy(b + 32, blob + 32, k);
	crypto_generichash(b + 32 + k, 32, b, 32 + k, NULL, 0);
	ret = load_fresh(b, 32 + k + 32);
	(void)len;
	free(b);
	return ret;
}

START_TEST(test_garbled)
{
	uint8_t *blob, *bad;
	size_t len, k;
	uint32_t v;

	ck_assert_int_eq(device_upgrade_save(A.dev, &blob, &len), 0);
	ck_assert_int_eq(load_fresh(blob, len), 0);
	ck_assert_int_eq(load_fresh(blob, len - 1), -EBADMSG);
	ck_assert_int_eq(load_fresh(blob, 31), -EBADMSG);
	ck_assert_int_eq(load_fresh(blob, 0), -EBADMSG);
	bad = malloc(len);
	ck_assert_ptr_nonnull(bad);
	for (k = 0; k < len; k += len / 37 + 1) {
		memcpy(bad, blob, len);
		bad[k] ^= 0x40;
		ck_assert_int_lt(load_fresh(bad, len), 0);
	}
	memcpy(bad, blob, len);
	memcpy(&v, bad + 8, 4);
	v++;
	memcpy(bad + 8, &v, 4);
	ck_assert_int_eq(load_fresh(bad, len), -EPROTO);
	memcpy(bad, blob, len);
	bad[16] ^= 1;		/* the layout fingerprint */
	ck_assert_int_eq(load_fresh(bad, len), -EPROTO);
	free(bad);
	/* Every cut the hash cannot catch, the parser does. */
	for (k = 0; k < len - 64; k += 7)
		ck_assert_int_eq(load_cut(blob, len, k), -EBADMSG);
	device_upgrade_wipe(blob, len);
	/* A only read. */
	roundtrip(&A, &B, false, PKT_UDP, 100, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 100, 2, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("upgrade");
	TCase *tc = tcase_create("handover");
	TCase *tq = tcase_create("queues");

	tcase_add_checked_fixture(tc, setup1, up_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_handover);
	tcase_add_test(tc, test_handover_twice);
	tcase_add_test(tc, test_refused_version);
	tcase_add_test(tc, test_new_fails);
	tcase_add_test(tc, test_garbled);
	tcase_add_test(tc, test_stop_during_handover);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tq, setup2, up_teardown);
	tcase_set_timeout(tq, 60);
	tcase_add_test(tq, test_handover_queues);
	suite_add_tcase(s, tq);
	return s;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	return vg_test_run(suite(), false);
}
