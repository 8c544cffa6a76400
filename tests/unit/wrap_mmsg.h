// SPDX-License-Identifier: MIT
/*
 * The link-time names of sendmmsg and recvmmsg for the -Wl,--wrap seams.
 * A 32-bit glibc target built with a 64-bit time_t (configure.ac) has its
 * headers redirect both calls to __sendmmsg64 and __recvmmsg64, so there
 * those are the symbols the code under test references and the seams wrap;
 * the makefiles wrap both spellings.
 */
#ifndef VGUARD_TESTS_WRAP_MMSG_H
#define VGUARD_TESTS_WRAP_MMSG_H

#include <sys/socket.h>
#include <time.h>

#ifdef __USE_TIME_BITS64
#define WRAP_SENDMMSG __wrap___sendmmsg64
#define REAL_SENDMMSG __real___sendmmsg64
#define WRAP_RECVMMSG __wrap___recvmmsg64
#define REAL_RECVMMSG __real___recvmmsg64
#else
#define WRAP_SENDMMSG __wrap_sendmmsg
#define REAL_SENDMMSG __real_sendmmsg
#define WRAP_RECVMMSG __wrap_recvmmsg
#define REAL_RECVMMSG __real_recvmmsg
#endif

int REAL_SENDMMSG(int fd, struct mmsghdr *m, unsigned int n, int flags);
int REAL_RECVMMSG(int fd, struct mmsghdr *m, unsigned int n, int flags, struct timespec *t);
int WRAP_SENDMMSG(int fd, struct mmsghdr *m, unsigned int n, int flags);
int WRAP_RECVMMSG(int fd, struct mmsghdr *m, unsigned int n, int flags, struct timespec *t);

#endif
