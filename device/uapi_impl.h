/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_DEVICE_UAPI_IMPL_H
#define VGUARD_DEVICE_UAPI_IMPL_H

/*
 * Shared only between the files of device/libuapi.a: the memory helpers,
 * the growable string replies are built in, and the value parsers the
 * set=1 parser needs beyond the public ones in device/uapi.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "device/uapi.h"

/* Upper bound on a transaction's size (peer sections plus allowed-IP
 * operations), so a client cannot make us buffer without limit. */
#define UAPI_MAX_TXN_ITEMS (1u << 22)

/* ---- memory (uapi_format.c) ---- */

/*
 * realloc() for memory that may hold keys: realloc may move the block and
 * leave the old copy in freed memory, so this allocates a new block, copies
 * the first used bytes, then wipes and frees the old one.  NULL on failure,
 * old untouched.
 */
void *uapi_realloc_wipe(void *old, size_t old_size, size_t used, size_t new_size);
/* Room for item n of an array of *cap items of size bytes (doubling, 4 at
 * first); 0 or -ENOMEM.  The _secret variant moves by uapi_realloc_wipe. */
int uapi_grow(void **arr, size_t *cap, size_t n, size_t size);
int uapi_grow_secret(void **arr, size_t *cap, size_t n, size_t size);

/* ---- a growable string (uapi_format.c) ---- */

/* After the first allocation failure oom sticks and every add is dropped. */
struct uapi_sbuf {
	char *p;			/* NUL-terminated once allocated */
	size_t len, cap;
	bool oom;
};

bool uapi_sbuf_reserve(struct uapi_sbuf *b, size_t more);
void uapi_sbuf_add(struct uapi_sbuf *b, const char *s, size_t n);
__attribute__((format(printf, 2, 3)))
void uapi_sbuf_printf(struct uapi_sbuf *b, const char *fmt, ...);
/* Appends "key=<64 lower-case hex digits>\n". */
void uapi_sbuf_key(struct uapi_sbuf *b, const char *key, const uint8_t k[UAPI_KEY_LEN]);
/* Wipes the whole allocation, frees it and resets b. */
void uapi_sbuf_wipe(struct uapi_sbuf *b);

/* ---- values (uapi_format.c) ---- */

static inline bool uapi_str_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(s, lit, len);
}

/* strconv.ParseUint(s, 10, bits): digits only, leading zeros allowed;
 * 0 or -EINVAL. */
int uapi_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out);
/* loadExactHex: exactly 64 hex digits, either case; 0 or -EINVAL (k wiped). */
int uapi_parse_key(uint8_t k[UAPI_KEY_LEN], const char *s, size_t len);

/* ---- stats=1 (uapi_emit.c) ---- */

struct uapi_emitter {
	struct uapi_sbuf b;
};

#endif
