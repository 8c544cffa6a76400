/* SPDX-License-Identifier: MIT */
/*
 * A set is a transaction: whatever allocation or socket operation fails
 * partway, the device keeps the configuration it had, `get` shows it,
 * traffic keeps flowing, and the set returns an error.  The test binary is
 * linked with --wrap for the allocator and the socket seams, so the k-th
 * such call made by the thread running the set fails, for every k.
 */
#include "config.h"

#include <stdint.h>
#include <sys/mman.h>

#include "device_testutil.h"

/* Counted down on the thread that runs the set; fail when it hits 0. */
static __thread long fail_in = -1;
static __thread long calls;

static bool fail_now(void)
{
	if (fail_in < 0)
		return false;
	calls++;
	return fail_in-- == 0;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__real_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
int __real_vg_bind_open_mem(struct vg_bind **out, struct vg_memnet *net,
			    const struct vg_bind_config *cfg);
int __real_vg_bind_set_fwmark(struct vg_bind *b, uint32_t mark);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
int __wrap_vg_bind_open_mem(struct vg_bind **out, struct vg_memnet *net,
			    const struct vg_bind_config *cfg);
int __wrap_vg_bind_set_fwmark(struct vg_bind *b, uint32_t mark);

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return fail_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	return fail_now() ? NULL : __real_aligned_alloc(a, n);
}

void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
	return fail_now() ? MAP_FAILED : __real_mmap(a, n, prot, flags, fd, off);
}

int __wrap_vg_bind_open_mem(struct vg_bind **out, struct vg_memnet *n,
			    const struct vg_bind_config *cfg)
{
	return fail_now() ? -EADDRINUSE : __real_vg_bind_open_mem(out, n, cfg);
}

int __wrap_vg_bind_set_fwmark(struct vg_bind *b, uint32_t mark)
{
	return fail_now() ? -EPERM : __real_vg_bind_set_fwmark(b, mark);
}

/* get=1 without what traffic moves (bytes, handshake time). */
static char *config_of(struct device *d)
{
	char *g = uapi_call(d, "get=1\n\n"), *out = calloc(1, strlen(g) + 1), *line, *save;

	ck_assert_ptr_nonnull(out);
	for (line = strtok_r(g, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "rx_bytes=", 9) || !strncmp(line, "tx_bytes=", 9) ||
		    !strncmp(line, "last_handshake_time", 19))
			continue;
		strcat(out, line);
		strcat(out, "\n");
	}
	free(g);
	return out;
}

static uint8_t third_pub[32];
static uint16_t round_no;

/* The set, with the k-th fallible call on this thread failing (k < 0:
 * none); returns the set's result and, in *seen, how many calls it made. */
static int set_failing(struct device *d, const char *text, long k, long *seen)
{
	struct uapi_txn txn;
	int ret;

	memset(&txn, 0, sizeof(txn));
	ck_assert_int_eq(uapi_parse_set(&txn, text, strlen(text)), 0);
	calls = 0;
	fail_in = k;
	ret = device_uapi_ops.set(d, &txn);
	fail_in = -1;
	*seen = calls;
	uapi_txn_clear(&txn);
	return ret;
}

/* Runs the set text on A with the k-th fallible call failing, for every
 * k until it succeeds; after each failure A must be exactly as before. */
static void each_failure(const char *text)
{
	char *before = config_of(A.dev), *after;
	uint16_t port = device_port(A.dev);
	long k, seen;
	int ret;

	for (k = 0;; k++) {
		ret = set_failing(A.dev, text, k, &seen);
		if (!ret)
			break;
		ck_assert_msg(ret < 0, "failure %ld: %d", k, ret);
		after = config_of(A.dev);
		ck_assert_msg(!strcmp(before, after), "failure %ld of \"%s\" changed:\n%s\nto\n%s",
			      k, text, before, after);
		free(after);
		ck_assert_uint_eq(device_port(A.dev), port);
		/* Traffic still flows both ways, through the unchanged table. */
		round_no++;
		roundtrip(&A, &B, false, PKT_UDP, 20 + round_no % 200, 1, 2);
		roundtrip(&B, &A, true, PKT_UDP, 20 + round_no % 200, 2, 1);
	}
	ck_assert_msg(k > 0, "\"%s\": no fallible call seen", text);
	after = config_of(A.dev);
	ck_assert_msg(strcmp(before, after), "\"%s\" changed nothing", text);
	free(after);
	free(before);
}

static void setup_faults(void)
{
	uint8_t priv[32];

	setup(false, false, 2);
	crypto_box_keypair(third_pub, priv);
	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
}

START_TEST(test_add_peer_fails_cleanly)
{
	char k[65], text[512];

	hex(k, third_pub);
	snprintf(text, sizeof(text), "public_key=%s\nendpoint=127.0.0.1:40000\n"
		 "allowed_ip=10.9.0.0/16\nallowed_ip=192.0.2.2/32\n", k);
	/* 192.0.2.2 moves to the new peer: a failed set must leave it to B. */
	each_failure(text);
}
END_TEST

START_TEST(test_remove_and_replace_fail_cleanly)
{
	char kb[65], text[512];

	hex(kb, B.pub);
	snprintf(text, sizeof(text), "replace_peers=true\npublic_key=%s\n"
		 "endpoint=127.0.0.1:%u\nallowed_ip=192.0.2.2/32\nallowed_ip=2001:db8::2/128\n"
		 "allowed_ip=198.51.100.0/24\n", kb, PORT_B);
	each_failure(text);
}
END_TEST

START_TEST(test_port_and_mark_fail_cleanly)
{
	each_failure("listen_port=51900\nfwmark=7\n");
	each_failure("fwmark=9\n");
}
END_TEST

START_TEST(test_key_change_fails_cleanly)
{
	uint8_t pub[32], priv[32];
	char k[65], text[128];

	crypto_box_keypair(pub, priv);
	hex(k, priv);
	snprintf(text, sizeof(text), "private_key=%s\n", k);
	each_failure(text);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config_faults");
	TCase *tc = tcase_create("set");

	tcase_add_checked_fixture(tc, setup_faults, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_add_peer_fails_cleanly);
	tcase_add_test(tc, test_remove_and_replace_fail_cleanly);
	tcase_add_test(tc, test_port_and_mark_fail_cleanly);
	tcase_add_test(tc, test_key_change_fails_cleanly);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(suite(), false);
}
