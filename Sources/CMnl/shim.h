// Headers for libmnl and rtnetlink, plus small inline helpers for macros Swift cannot import.
// Netlink (the only importer) walks attributes with these helpers instead of mnl_attr_for_each*.
#ifndef ANYCASTD_CMNL_SHIM_H
#define ANYCASTD_CMNL_SHIM_H
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/netconf.h>
#include <linux/netlink.h>
#include <linux/ip.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>

/// The first attribute after a header of `offset` bytes (mnl_attr_for_each's start).
static inline const struct nlattr *acd_msg_first_attr(const struct nlmsghdr *nlh, size_t offset) {
    return (const struct nlattr *)mnl_nlmsg_get_payload_offset(nlh, offset);
}

/// Whether `attr` is a whole attribute inside the message (mnl_attr_for_each's condition).
static inline bool acd_msg_attr_ok(const struct nlmsghdr *nlh, const struct nlattr *attr) {
    return mnl_attr_ok(attr, (int)((const char *)mnl_nlmsg_get_payload_tail(nlh) - (const char *)attr));
}

/// The first attribute nested in `nest` (mnl_attr_for_each_nested's start).
static inline const struct nlattr *acd_nest_first_attr(const struct nlattr *nest) {
    return (const struct nlattr *)mnl_attr_get_payload(nest);
}

/// Whether `attr` is a whole attribute inside `nest` (mnl_attr_for_each_nested's condition).
static inline bool acd_nest_attr_ok(const struct nlattr *nest, const struct nlattr *attr) {
    const char *end = (const char *)mnl_attr_get_payload(nest) + mnl_attr_get_payload_len(nest);
    return mnl_attr_ok(attr, (int)(end - (const char *)attr));
}

/// The extended-ack attributes of an NLMSG_ERROR message (NLM_F_ACK_TLVS), or NULL when there are none.
/// They follow the struct nlmsgerr, whose echoed request is only a header when NLM_F_CAPPED is set.
static inline const struct nlattr *acd_ack_first_tlv(const struct nlmsghdr *nlh, size_t *remaining) {
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return NULL;
    const struct nlmsgerr *err = (const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh);
    size_t offset = sizeof(struct nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
    offset = MNL_ALIGN(offset);
    size_t payload = mnl_nlmsg_get_payload_len(nlh);
    if (offset >= payload) return NULL;
    *remaining = payload - offset;
    return (const struct nlattr *)((const char *)err + offset);
}

/// The errno carried by an NLMSG_ERROR message, as a positive number (0 for an ACK).
static inline int acd_ack_errno(const struct nlmsghdr *nlh) {
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr)) return EBADMSG;
    const struct nlmsgerr *err = (const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh);
    return -err->error;
}

/// The sequence number of the request an NLMSG_ERROR message answers.
static inline uint32_t acd_ack_request_seq(const struct nlmsghdr *nlh) {
    const struct nlmsgerr *err = (const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh);
    return err->msg.nlmsg_seq;
}
#endif
