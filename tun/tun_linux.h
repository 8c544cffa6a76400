/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TUN_TUN_LINUX_H
#define VGUARD_TUN_TUN_LINUX_H

/* Private to tun/: the Linux TUN's state, shared by tun_linux.c (queues,
 * offloads, MTU) and tun_watch.c (the link watcher). */

#include <stdbool.h>

#include "tun/tun_impl.h"
#include "tun/tun_netns.h"

#define TUN_EVENT_RING 32

/* Where the interface is, from the namespace of our sockets (home). */
enum tun_where {
	TUN_HOME,
	TUN_AWAY,		/* in namespace nsid, followed there */
	TUN_LOST,		/* elsewhere, and it cannot be followed */
};

struct tun_linux {
	struct mnl_socket *nl;	/* link events */
	struct tun_rtnl rq;	/* questions: namespace ids, link state */
	int ctl;		/* AF_INET datagram socket for the ioctls */
	int ep;			/* the event fd: nl and timer */
	int timer;		/* armed while not home */
	struct tun_nsref home;
	bool home_known;
	enum tun_where where;
	int nsid;		/* its namespace's id at home, TUN_NSID_HOME there */
	bool all_nsid;		/* nl hears every namespace with an id */
	int msg_nsid;		/* origin of the message being parsed */
	bool moved;		/* it left the namespace it was heard in */
	struct tun_event ring[TUN_EVENT_RING];
	unsigned int head, count;
};

/* The name the interface has now (it may be renamed, or moved and
 * renamed); 0 or -errno. */
int tun_linux_name(struct tun *t, char name[IFNAMSIZ]);

/* Opens the watcher (t->event_fd) and finds the interface: t->ifindex
 * and where it is.  The sockets stay in the calling thread's namespace,
 * the home. */
int tun_watch_open(struct tun *t);
/* Once the device is set up: events from now on, the first one "up" if
 * the link is. */
int tun_watch_start(struct tun *t);
void tun_watch_close(struct tun_linux *l);
/* ops->event: one raw event, 0 when none is pending, or -errno. */
int tun_watch_event(struct tun *t, struct tun_event *ev);

#endif
