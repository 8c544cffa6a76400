/* SPDX-License-Identifier: MIT */
/*
 * WireGuard wire formats and protocol constants, exactly as in the
 * WireGuard paper and the kernel module.  Multi-byte integers on the wire
 * are little-endian: the type and the counter are converted with
 * htole32/le64toh and friends.  Indices are opaque, as the kernel's __le32
 * ones: vguard keeps them as the four bytes on the wire and never converts
 * them, so the fields hold wire bytes on any host.  The structs are packed
 * and their sizes are checked at compile time below.  The data plane
 * builds/parses struct message_data headers itself (16 bytes in front of
 * the ciphertext).  tests/unit/test_wire checks every message against
 * committed bytes.
 */
#ifndef VGUARD_DEVICE_MESSAGES_H
#define VGUARD_DEVICE_MESSAGES_H

#include <endian.h>
#include <stdint.h>

#include "device/crypto.h"

#define NOISE_PUBLIC_KEY_LEN 32
#define NOISE_SYMMETRIC_KEY_LEN 32
#define NOISE_TIMESTAMP_LEN TAI64N_SIZE
#define NOISE_AUTHTAG_LEN 16
#define NOISE_HASH_LEN 32
#define NOISE_ENCRYPTED_LEN(plain) ((plain) + NOISE_AUTHTAG_LEN)

#define COOKIE_LEN 16
#define COOKIE_NONCE_LEN XAEAD_NONCE_SIZE

/* Times are in nanoseconds of the injected monotonic clock. */
#define WG_NSEC_PER_SEC 1000000000ULL
#define REKEY_AFTER_MESSAGES (1ULL << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))
#define REKEY_TIMEOUT (5 * WG_NSEC_PER_SEC)
#define REKEY_TIMEOUT_JITTER_MAX_MS 334
#define REKEY_AFTER_TIME (120 * WG_NSEC_PER_SEC)
#define REKEY_ATTEMPT_TIME (90 * WG_NSEC_PER_SEC)
#define REJECT_AFTER_TIME (180 * WG_NSEC_PER_SEC)
#define INITIATIONS_PER_SECOND 50
#define MAX_PEERS_PER_DEVICE (1U << 20)
#define KEEPALIVE_TIMEOUT (10 * WG_NSEC_PER_SEC)
#define MAX_TIMER_HANDSHAKES (90 / 5)
#define MAX_QUEUED_INCOMING_HANDSHAKES 4096
#define MAX_STAGED_PACKETS 128
#define COOKIE_SECRET_MAX_AGE (120 * WG_NSEC_PER_SEC)
#define UNDER_LOAD_AFTER_TIME WG_NSEC_PER_SEC
#define UNDER_LOAD_QUEUE_LEN (1024 / 8)

enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4,
};

struct message_header {
	/* One byte of type and three zero bytes, read as a little-endian u32. */
	uint32_t type;
} __attribute__((packed));

struct message_macs {
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
} __attribute__((packed));

struct message_handshake_initiation {
	struct message_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_static[NOISE_ENCRYPTED_LEN(NOISE_PUBLIC_KEY_LEN)];
	uint8_t encrypted_timestamp[NOISE_ENCRYPTED_LEN(NOISE_TIMESTAMP_LEN)];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_response {
	struct message_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[NOISE_ENCRYPTED_LEN(0)];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_cookie {
	struct message_header header;
	uint32_t receiver_index;
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[NOISE_ENCRYPTED_LEN(COOKIE_LEN)];
} __attribute__((packed));

struct message_data {
	struct message_header header;
	uint32_t key_idx;
	uint64_t counter;
	uint8_t encrypted_data[];
} __attribute__((packed));

#define MESSAGE_INITIATION_LEN 148
#define MESSAGE_RESPONSE_LEN 92
#define MESSAGE_COOKIE_LEN 64
#define MESSAGE_DATA_HEADER_LEN 16
#define MESSAGE_DATA_MIN_LEN (MESSAGE_DATA_HEADER_LEN + NOISE_AUTHTAG_LEN)
#define MESSAGE_PADDING_MULTIPLE 16

_Static_assert(sizeof(struct message_handshake_initiation) == MESSAGE_INITIATION_LEN,
	       "initiation is 148 bytes");
_Static_assert(sizeof(struct message_handshake_response) == MESSAGE_RESPONSE_LEN,
	       "response is 92 bytes");
_Static_assert(sizeof(struct message_handshake_cookie) == MESSAGE_COOKIE_LEN,
	       "cookie reply is 64 bytes");
_Static_assert(sizeof(struct message_data) == MESSAGE_DATA_HEADER_LEN,
	       "data header is 16 bytes");

#endif
