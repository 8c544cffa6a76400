// SPDX-License-Identifier: MIT
/*
 * Fallback for builds without tools/liboffloadcheck.a. It sits in its own
 * archive linked after $(OFFLOAD_CHECK_LIBS), so the linker only takes it
 * when no real offload_check_main() was found first.
 */
#include "config.h"

#include <stdio.h>

#include "tools/offload_check.h"

int offload_check_main(int argc, char **argv)
{
	fprintf(stderr, "offload-check is not built into this vg\n");
	return 1;
}
