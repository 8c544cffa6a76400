// SPDX-License-Identifier: MIT
#include "config.h"

#include <string.h>
#include <sodium.h>

#include "tools/vg_encoding.h"

/* Branch-free base64 character mapping: each range test yields an
 * all-ones mask when true, so no table lookup depends on secret data. */
static char b64_char(unsigned int v)
{
	int x = (int)v;

	return (char)(x + 'A' + (((25 - x) >> 8) & 6) - (((51 - x) >> 8) & 75) -
		      (((61 - x) >> 8) & 15) + (((62 - x) >> 8) & 3));
}

static void encode_block(char out[4], const uint8_t *in, int bytes)
{
	unsigned int v = (unsigned int)in[0] << 16;

	if (bytes > 1)
		v |= (unsigned int)in[1] << 8;
	if (bytes > 2)
		v |= in[2];
	out[0] = b64_char((v >> 18) & 63);
	out[1] = b64_char((v >> 12) & 63);
	out[2] = bytes > 1 ? b64_char((v >> 6) & 63) : '=';
	out[3] = bytes > 2 ? b64_char(v & 63) : '=';
}

void vg_key_to_base64(char out[VG_KEY_B64_SIZE], const uint8_t key[VG_KEY_LEN])
{
	unsigned int i;

	for (i = 0; i < VG_KEY_LEN / 3; ++i)
		encode_block(&out[i * 4], &key[i * 3], 3);
	encode_block(&out[i * 4], &key[i * 3], 2);
	out[VG_KEY_B64_SIZE - 1] = '\0';
}

/* Returns the 6-bit value of a base64 character, or -1, branch-free. */
static int b64_value(char c)
{
	int ch = (unsigned char)c, ret = -1;

	ret += (((64 - ch) & (ch - 91)) >> 8) & (ch - 64);	/* A-Z */
	ret += (((96 - ch) & (ch - 123)) >> 8) & (ch - 70);	/* a-z */
	ret += (((47 - ch) & (ch - 58)) >> 8) & (ch + 5);	/* 0-9 */
	ret += (((42 - ch) & (ch - 44)) >> 8) & 63;		/* + */
	ret += (((46 - ch) & (ch - 48)) >> 8) & 64;		/* / */
	return ret;
}

/* An invalid character sets the top bit of the result. */
static uint32_t decode_block(const char in[4])
{
	return (uint32_t)b64_value(in[0]) << 18 | (uint32_t)b64_value(in[1]) << 12 |
	       (uint32_t)b64_value(in[2]) << 6 | (uint32_t)b64_value(in[3]);
}

bool vg_key_from_base64(uint8_t key[VG_KEY_LEN], const char *b64)
{
	unsigned int i, bad = 0;
	char last[4];
	uint32_t v;

	if (strlen(b64) != VG_KEY_B64_SIZE - 1 || b64[VG_KEY_B64_SIZE - 2] != '=')
		return false;
	for (i = 0; i < VG_KEY_LEN / 3; ++i) {
		v = decode_block(&b64[i * 4]);
		bad |= v >> 31;
		key[i * 3 + 0] = (v >> 16) & 0xff;
		key[i * 3 + 1] = (v >> 8) & 0xff;
		key[i * 3 + 2] = v & 0xff;
	}
	memcpy(last, &b64[i * 4], 3);
	last[3] = 'A';
	v = decode_block(last);
	/* The two unused low bits of the last character must be zero,
	 * so that every key has exactly one spelling. */
	bad |= (v >> 31) | (v & 0xff);
	key[i * 3 + 0] = (v >> 16) & 0xff;
	key[i * 3 + 1] = (v >> 8) & 0xff;
	return !bad;
}

void vg_key_to_hex(char out[VG_KEY_HEX_SIZE], const uint8_t key[VG_KEY_LEN])
{
	sodium_bin2hex(out, VG_KEY_HEX_SIZE, key, VG_KEY_LEN);
}

/* Returns the nibble value of a hex digit (either case), or -1. */
static int hex_value(char c)
{
	int ch = (unsigned char)c, ret = -1;

	ret += (((47 - ch) & (ch - 58)) >> 8) & (ch - 47);	/* 0-9 */
	ret += (((96 - ch) & (ch - 103)) >> 8) & (ch - 86);	/* a-f */
	ret += (((64 - ch) & (ch - 71)) >> 8) & (ch - 54);	/* A-F */
	return ret;
}

bool vg_key_from_hex(uint8_t key[VG_KEY_LEN], const char *hex)
{
	unsigned int i, bad = 0;
	uint32_t hi, lo;

	if (strlen(hex) != VG_KEY_HEX_SIZE - 1)
		return false;
	for (i = 0; i < VG_KEY_LEN; ++i) {
		hi = (uint32_t)hex_value(hex[i * 2]);
		lo = (uint32_t)hex_value(hex[i * 2 + 1]);
		bad |= (hi >> 31) | (lo >> 31);
		key[i] = (uint8_t)((hi << 4 | lo) & 0xff);
	}
	return !bad;
}

bool vg_key_is_zero(const uint8_t key[VG_KEY_LEN])
{
	return sodium_is_zero(key, VG_KEY_LEN);
}

void vg_key_clamp(uint8_t key[VG_KEY_LEN])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

bool vg_key_public(uint8_t pub[VG_KEY_LEN], const uint8_t priv[VG_KEY_LEN])
{
	if (sodium_init() < 0)
		return false;
	return crypto_scalarmult_base(pub, priv) == 0;
}

size_t vg_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range rules out overlong forms, surrogates and
	 * code points past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}
