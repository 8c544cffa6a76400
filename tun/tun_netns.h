/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TUN_TUN_NETNS_H
#define VGUARD_TUN_TUN_NETNS_H

/*
 * Private to tun/: where a Linux TUN device is, seen from its "home", the
 * network namespace of the sockets that watch it (and of the daemon's UDP
 * sockets).  The interface may be moved to any other namespace while its
 * queues keep working (README.md, "Network namespaces").
 *
 * Another namespace is named by its id at home (NETNSA_NSID), which the
 * kernel attaches to link messages heard with NETLINK_LISTEN_ALL_NSID and
 * accepts in IFLA_TARGET_NETNSID.  Naming it by id rather than entering it
 * keeps no socket in it, so that namespace can still go away (taking the
 * interface with it) as it would with the kernel's WireGuard.
 */

#include <stdbool.h>
#include <sys/types.h>

struct mnl_socket;

/* The home namespace in message origins and link queries. */
#define TUN_NSID_HOME (-1)	/* NETNSA_NSID_NOT_ASSIGNED */

/* A namespace's identity (the nsfs inode). */
struct tun_nsref {
	dev_t dev;
	ino_t ino;
};

static inline bool tun_nsref_equal(const struct tun_nsref *a, const struct tun_nsref *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* A request socket for rtnetlink questions and their answers. */
struct tun_rtnl {
	struct mnl_socket *nl;
	unsigned int seq;
};

struct tun_link_info {
	int ifindex;
	unsigned int flags;	/* IFF_* */
	unsigned int mtu;
};

int tun_rtnl_open(struct tun_rtnl *r);
void tun_rtnl_close(struct tun_rtnl *r);

/* The namespace of socket fd (SIOCGSKNS). */
int tun_netns_of_socket(int fd, struct tun_nsref *ns);

/* The namespace the device of TUN fd is in now: an fd of it
 * (TUNGETDEVNETNS, Linux >= 5.2) or -errno (-EBADFD: deleted). */
int tun_netns_of_tun(int fd);

int tun_netns_ident(int nsfd, struct tun_nsref *ns);

/* True when the TUN fd's device is in another namespace than the calling
 * thread's sockets; false also when that cannot be told. */
bool tun_netns_elsewhere(int fd);

/* The id at home of namespace nsfd, given one if it has none (as the
 * kernel does when it moves an interface); 0 or -errno. */
int tun_netns_id(struct tun_rtnl *r, int nsfd, int *nsid);

/* A link's state, in the namespace with id nsid at home (TUN_NSID_HOME:
 * home), by index or, with ifindex 0, by name; 0 or -errno (-ENODEV). */
int tun_netns_link(struct tun_rtnl *r, int nsid, int ifindex, const char *name,
		   struct tun_link_info *li);

#endif
