// Headers for libmnl and rtnetlink, plus small inline helpers for macros Swift cannot import.
#ifndef ANYCASTD_CMNL_SHIM_H
#define ANYCASTD_CMNL_SHIM_H
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/netconf.h>
#include <linux/ip.h>
#include <net/if.h>
#endif
