// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the UAPI: the input is a client's byte stream, fed
 * to a connection over the in-memory store in pieces whose sizes come from
 * the first byte.  Checks that every reply ends with one of wireguard-go's
 * errno lines and that the connection always finishes at EOF.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_replies(const char *out, size_t len)
{
	static const char *const ok[] = { "0", "-5", "-71", "-22", "-98", "-55" };
	const char *p = out, *end, *e;
	size_t i;
	bool good;

	if (!len)
		return;
	end = out + len;
	while (p < end) {
		e = memmem(p, (size_t)(end - p), "errno=", 6);
		if (!e)
			abort();
		e += 6;
		good = false;
		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			size_t n = strlen(ok[i]);

			if ((size_t)(end - e) >= n + 2 && !memcmp(e, ok[i], n) &&
			    !memcmp(e + n, "\n\n", 2)) {
				p = e + n + 2;
				good = true;
				break;
			}
		}
		if (!good)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uapi_store st;
	struct uapi_conn c;
	struct uapi_txn txn;
	size_t off = 1, step;

	if (size < 1)
		return 0;
	if (sodium_init() < 0)
		abort();
	step = (size_t)(data[0] % 64) + 1;
	uapi_store_init(&st);
	uapi_conn_init(&c, &uapi_store_ops, &st);
	while (off < size && !uapi_conn_done(&c)) {
		size_t n = size - off < step ? size - off : step;

		if (uapi_conn_input(&c, data + off, n, false))
			abort();
		off += n;
	}
	if (uapi_conn_input(&c, NULL, 0, true) || !uapi_conn_done(&c))
		abort();
	check_replies(c.out, c.out_len);
	uapi_conn_free(&c);
	uapi_store_free(&st);

	/* The one-shot parser must agree with itself on the raw bytes. */
	if (!uapi_parse_set(&txn, (const char *)data + 1, size - 1))
		uapi_txn_clear(&txn);
	return 0;
}
