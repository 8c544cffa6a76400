// SPDX-License-Identifier: MIT
/* IPv6 endpoint zones in the UAPI's text form: get prints them as
 * wireguard-go does, and what get prints, set takes back to the same
 * scope, also through the text wg showconf makes of it (getaddrinfo,
 * getnameinfo), so that `wg showconf | wg setconf` keeps a link-local
 * endpoint usable.  Uses the loopback interface, present in every
 * network namespace. */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <arpa/inet.h>

#include <check.h>

#include "device/uapi.h"
#include "tests/unit/testutil.h"

static const char *fmt(const struct vg_endpoint *ep)
{
	static char buf[UAPI_ADDRSTRLEN];

	uapi_format_endpoint(buf, ep);
	return buf;
}

static struct vg_endpoint parsed(const char *s)
{
	struct vg_endpoint ep;

	ck_assert_msg(!uapi_parse_endpoint(&ep, s, strlen(s)), "parse %s", s);
	return ep;
}

/* set, then get. */
static const char *reformat(const char *s)
{
	struct vg_endpoint ep = parsed(s);

	return fmt(&ep);
}

/* An endpoint as a received datagram's source gives it. */
static struct vg_endpoint learned(const char *addr, uint32_t scope)
{
	struct vg_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.dst.in6.sin6_family = AF_INET6;
	ep.dst.in6.sin6_port = htons(51820);
	ep.dst.in6.sin6_scope_id = scope;
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &ep.dst.in6.sin6_addr), 1);
	return ep;
}

static unsigned int lo_index(void)
{
	unsigned int lo = if_nametoindex("lo");

	ck_assert_uint_ne(lo, 0);
	return lo;
}

START_TEST(test_get_prints_zone)
{
	char want[64];
	struct vg_endpoint ep;

	/* As given: a number stays a number, a name stays the name. */
	ck_assert_str_eq(reformat("[fe80::1%7]:9"), "[fe80::1%7]:9");
	ck_assert_str_eq(reformat("[fe80::1%0]:9"), "[fe80::1%0]:9");
	ck_assert_str_eq(reformat("[fe80::1%4294967295]:9"),
			 "[fe80::1%4294967295]:9");
	ck_assert_str_eq(reformat("[fe80::1%lo]:9"), "[fe80::1%lo]:9");
	ck_assert_str_eq(reformat("[fd00::1%lo]:9"), "[fd00::1%lo]:9");
	/* No zone, none printed. */
	ck_assert_str_eq(reformat("[fe80::1]:9"), "[fe80::1]:9");
	/* Learned from a packet: the interface's name, or the index when no
	 * interface has it. */
	ep = learned("fe80::2", lo_index());
	ck_assert_str_eq(fmt(&ep), "[fe80::2%lo]:51820");
	ep = learned("fe80::2", 3999999999u);
	ck_assert_str_eq(fmt(&ep), "[fe80::2%3999999999]:51820");
	ep = learned("fe80::2", 0);
	ck_assert_str_eq(fmt(&ep), "[fe80::2]:51820");
	snprintf(want, sizeof(want), "[fe80::1%%%u]:9", lo_index());
	ck_assert_str_eq(reformat(want), want);
}
END_TEST

/* get then set: the same scope. */
START_TEST(test_round_trip)
{
	static const char *const cases[] = {
		"[fe80::1%lo]:9", "[fe80::1%1]:9", "[fe80::abcd:1%0]:65535", "[fe80::1]:9",
	};
	struct vg_endpoint a, b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		a = parsed(cases[i]);
		b = parsed(fmt(&a));
		ck_assert_uint_eq(a.dst.in6.sin6_scope_id, b.dst.in6.sin6_scope_id);
		ck_assert_str_eq(fmt(&b), cases[i]);
	}
	a = learned("fe80::2", lo_index());
	b = parsed(fmt(&a));
	ck_assert_uint_eq(b.dst.in6.sin6_scope_id, lo_index());
	ck_assert(vg_endpoint_dst_equal(&a, &b));
}
END_TEST

/*
 * What wg does with get's text: getaddrinfo() for its own configuration,
 * getnameinfo() for showconf and for the set it sends.  A link-local
 * endpoint comes back to the daemon with its scope.
 */
START_TEST(test_through_wg_text)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	char host[NI_MAXHOST], serv[NI_MAXSERV], text[NI_MAXHOST + NI_MAXSERV + 4];
	struct vg_endpoint ep = learned("fe80::2", lo_index()), back;
	struct addrinfo *res;
	const char *s = fmt(&ep);
	char addr[64];
	size_t n;

	/* wg splits "[host]:port" itself, then resolves host. */
	ck_assert(s[0] == '[');
	n = (size_t)(strchr(s, ']') - s - 1);
	memcpy(addr, s + 1, n);
	addr[n] = '\0';
	ck_assert_int_eq(getaddrinfo(addr, "51820", &hints, &res), 0);
	ck_assert_uint_eq(((struct sockaddr_in6 *)res->ai_addr)->sin6_scope_id, lo_index());
	ck_assert_int_eq(getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof(host),
				     serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV), 0);
	freeaddrinfo(res);
	snprintf(text, sizeof(text), "[%s]:%s", host, serv);
	ck_assert_str_eq(text, "[fe80::2%lo]:51820");
	back = parsed(text);
	ck_assert_uint_eq(back.dst.in6.sin6_scope_id, lo_index());
}
END_TEST

static Suite *endpoint_suite(void)
{
	Suite *s = suite_create("uapi_endpoint");
	TCase *tc = tcase_create("zones");

	tcase_add_test(tc, test_get_prints_zone);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_through_wg_text);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(endpoint_suite(), false);
}
