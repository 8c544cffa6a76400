// SPDX-License-Identifier: MIT
/*
 * The route watcher without namespaces: vg_route_check() tells a
 * still-good sticky source from a stale one on loopback.  Route changes
 * need a private network namespace, so
 * tests/integration/test_sticky_route_netns.c makes them (root).
 */
#include "config.h"

#include <check.h>

#include "conn/sticky.h"
#include "tests/unit/conn_testutil.h"
#include "tests/unit/testutil.h"

static struct vg_endpoint ep_of(const char *dst, const char *src, uint32_t ifindex)
{
	struct vg_endpoint ep = vg_test_ep(dst, 51820);

	vg_test_ep_src(&ep, src, ifindex);
	return ep;
}

START_TEST(check_loopback)
{
	struct vg_route_watch *w;
	struct vg_endpoint ep = ep_of("127.0.0.1", "127.0.0.1", 1);

	ck_assert_int_eq(vg_route_watch_open(&w), 0);
	ck_assert_int_eq(vg_route_check(w, &ep, 0), 1);
	ep.src_ifindex = 4242;	/* cached on an interface the route no longer uses */
	ck_assert_int_eq(vg_route_check(w, &ep, 0), 0);
	ep.has_src = false;	/* nothing cached: nothing to check */
	ck_assert_int_eq(vg_route_check(w, &ep, 0), 1);
	/* Nothing happened: nothing to report. */
	ck_assert_int_eq(vg_route_watch_read(w), 0);
	vg_route_watch_close(w);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sticky_route");
	TCase *tc = tcase_create("route");

	tcase_add_test(tc, check_loopback);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(suite(), false);
}
