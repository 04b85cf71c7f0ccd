// Process-level Linux calls that Swift cannot make directly (variadic in glibc).
#ifndef ANYCASTD_CPROCESS_H
#define ANYCASTD_CPROCESS_H

/// Empties this process's ambient capability set (PR_CAP_AMBIENT_CLEAR_ALL), so that programs it starts
/// get no capabilities from it; its own permitted and effective sets are unchanged. Returns 0, or -1 with
/// errno set (EINVAL on kernels before 4.3, which have no ambient set).
int acd_clear_ambient_capabilities(void);

/// The ambient set as a bit mask (bit N = capability N), or -1 with errno set.
long long acd_ambient_capabilities(void);

/// Adds one capability (which must be permitted) to the inheritable and ambient sets: for tests that
/// need a process whose children would inherit it. Returns 0, or -1 with errno set.
int acd_raise_ambient_capability(int cap);

/// Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER, Linux 3.4+): orphaned descendants are
/// re-parented to it instead of to init, so the exec checks' escaped helpers (setsid, double fork) can be
/// found among its children, killed and reaped. Returns 0, or -1 with errno set.
int acd_set_child_subreaper(void);

/// 1 when this process is a child subreaper, 0 when not, -1 with errno set on error.
int acd_is_child_subreaper(void);

#endif
