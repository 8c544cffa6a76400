/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TOOLS_VG_ENCODING_H
#define VGUARD_TOOLS_VG_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_KEY_LEN 32
#define VG_KEY_B64_SIZE 45	/* 44 characters and the NUL */
#define VG_KEY_HEX_SIZE 65	/* 64 characters and the NUL */

/* Keys are secrets: both decoders run in time independent of the
 * characters they are given (only the length is checked early). */
void vg_key_to_base64(char out[VG_KEY_B64_SIZE], const uint8_t key[VG_KEY_LEN]);
bool vg_key_from_base64(uint8_t key[VG_KEY_LEN], const char *b64);
void vg_key_to_hex(char out[VG_KEY_HEX_SIZE], const uint8_t key[VG_KEY_LEN]);
bool vg_key_from_hex(uint8_t key[VG_KEY_LEN], const char *hex);
bool vg_key_is_zero(const uint8_t key[VG_KEY_LEN]);

/* Curve25519 secret clamping, as done by `genkey` and the daemon. */
void vg_key_clamp(uint8_t key[VG_KEY_LEN]);
/* The public key of a private key; returns false if libsodium fails. */
bool vg_key_public(uint8_t pub[VG_KEY_LEN], const uint8_t priv[VG_KEY_LEN]);

/* The length of the well-formed UTF-8 sequence s starts with (RFC 3629:
 * shortest form, no surrogates, nothing above U+10FFFF), or 0. */
size_t vg_utf8_len(const unsigned char *s);

#endif
