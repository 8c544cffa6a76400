/* SPDX-License-Identifier: MIT */
/* Helpers every Check suite needs; header-only so each test binary stays a
 * single source file. */
#ifndef VGUARD_TESTS_TESTUTIL_H
#define VGUARD_TESTS_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stdlib.h>

/* Runs s in CK_NORMAL mode and turns the result into an exit status.
 * fork_each: give every test its own process even when CK_FORK=no, for
 * tests whose state (namespaces, global fds) must not leak into the next. */
static inline int vg_test_run(Suite *s, bool fork_each)
{
	SRunner *sr = srunner_create(s);
	int failed;

	if (fork_each)
		srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * scripts/test-cross.sh sets VGUARD_TEST_QEMU_CROSS_ENDIAN=1 when the tests
 * run under qemu-user on a host of the other byte order.  qemu passes the
 * payloads of UDP_GRO, UDP_SEGMENT and IP_PKTINFO control messages through
 * without converting them, so what reads them from real sockets cannot
 * work there; the suites that do are skipped (README.md, "Architectures").
 */
static inline bool vg_test_qemu_cross_endian(void)
{
	const char *e = getenv("VGUARD_TEST_QEMU_CROSS_ENDIAN");

	return e && *e && *e != '0';
}

#endif
