/* SPDX-License-Identifier: MIT */
/* The state blob's frame, shared by upgrade_state.c (writing) and
 * upgrade_load.c (reading): a header, the body, a BLAKE2b hash of both. */
#ifndef VGUARD_DEVICE_UPGRADE_IMPL_H
#define VGUARD_DEVICE_UPGRADE_IMPL_H

#define UPG_MAGIC "VGUARDUP"
#define UPG_HDR_LEN 32		/* magic, version, flags, layout, body length */
#define UPG_HASH_LEN 32

#endif
