/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TOOLS_OFFLOAD_CHECK_H
#define VGUARD_TOOLS_OFFLOAD_CHECK_H

/* `vg offload-check [--json]`: argv[0] is "offload-check". Returns the
 * process exit status. */
int offload_check_main(int argc, char **argv);

#endif
