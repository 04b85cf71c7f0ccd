// The libmnl shell re-exports the pure value types, so `import Netlink` still sees LinkInfo, AddressInfo,
// NetlinkOperation and the rest; pure modules import NetlinkTypes alone and never link libmnl.
@_exported import NetlinkTypes
