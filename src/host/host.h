/* SPDX-License-Identifier: MIT */
/*
 * host.h - internals of the host backend (host*.c): the command protocol
 * between the controller (the process running pinmm_host_run) and the
 * worker processes that stand for the scenario's processes, and the sysfs
 * save/restore that every exit path goes through.
 *
 * Every scenario process is a real process: `main` is a child of the
 * controller, `fork` in a worker is a real fork (the new worker's socket
 * travels to the controller with SCM_RIGHTS), so regions sit at the same
 * addresses in parent and child, as fork gives. Workers are one process
 * group; the controller kills the group at the end and on any signal.
 */
#ifndef PM_SCN_HOST_H
#define PM_SCN_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum hop {
	H_MMAP, H_MUNMAP, H_MPROTECT, H_MADVISE, H_MREMAP, H_FORK, H_EXIT,
	H_WRITE, H_READ, H_PAGEMAP, H_SMAPS_HUGE, H_REGISTER, H_VMSPLICE,
	H_ODIRECT, H_KPAGEFLAGS,
};

#define H_MMAP_SHARED 1
#define H_MMAP_POPULATE 2
#define H_MMAP_FIXED 4
#define H_MMAP_THP 8
#define H_MMAP_NOTHP 16
#define H_MMAP_HUGETLB 32
#define H_MREMAP_DONTUNMAP 1
#define H_PATHLEN 200

/* hcmd.flags of H_WRITE: a FOLL_FORCE store through /proc/self/mem */
#define H_WRITE_FORCE 1

struct hcmd {
	int op;
	int flags;
	uint64_t addr, len, len2, off, align;
	int prot;		/* PROT_*, or the madvise advice */
	uint8_t byte;
	char path[H_PATHLEN];	/* a file in the run's temp dir */
};

#define H_DATA 512		/* u64 per reply: pagemap entries */

struct hrep {
	int err;		/* 0 or a positive errno */
	uint64_t addr;
	/* H_READ: first, uniform, diff, diff_at; H_FORK: pid */
	uint64_t v[4];
	uint32_t n;
	uint64_t data[H_DATA];
};

/* host_worker.c: the command loop of a worker (never returns) */
void pm_host_worker(int sock) __attribute__((noreturn));
/* one message with an optional fd (SCM_RIGHTS); -errno, 0 on EOF for recv */
ssize_t pm_host_send(int sock, const void *buf, size_t len, int fd);
ssize_t pm_host_recv(int sock, void *buf, size_t len, int *fd);
/* a fresh range of len with a PROT_NONE guard page each side, aligned:
 * the address inside, or MAP_FAILED */
void *pm_host_reserve(uint64_t len, uint64_t align);

/* host_sys.c: sysfs settings, saved (and journalled) on first change,
 * restored by pm_host_restore() (async-signal-safe; atexit and the signal
 * handlers too) */
enum hsys { HS_KSM_RUN, HS_KSM_PAGES, HS_KSM_SLEEP, HS_KSM_SMART, HS_THP_SCAN_SLEEP,
	    HS_THP_ALLOC_SLEEP, HS_THP_ENABLED,
	    /* hugepages-<size>kB/enabled, orders 2 (16 kB) .. 9 (2048 kB) */
	    HS_MTHP_ORDER2, HS_MTHP_ORDER9 = HS_MTHP_ORDER2 + 7,
	    HS_NR_HUGEPAGES,	/* the hugetlb pool, /proc/sys/vm/nr_hugepages */
	    HS_NR };
int pm_host_sys_set(enum hsys s, const char *val);
int pm_host_sys_read(const char *path, char *buf, size_t len);
long pm_host_sys_long(const char *path);
int pm_host_sys_write(const char *path, const char *val);	/* async-signal-safe */
/* dst = a b c (NULL: nothing), cut to len: paths in a signal handler */
void pm_host_cat(char *dst, size_t len, const char *a, const char *b, const char *c);
void pm_host_restore(void);
/* cleanup state the signal handlers reach (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2: restore, then die of the signal;
 * SIGALRM: the timeout) */
void pm_host_guard_install(void);
void pm_host_guard_child(void);		/* in a worker: none of it is its own */
void pm_host_guard_pgid(pid_t pgid);
/* the run's temp dir BASE/pinmm-host.XXXXXXXXXXXX (journalled, then made;
 * removed with its files at cleanup): 0 or -errno */
int pm_host_guard_mktmp(const char *base, char *dir, size_t len);
void pm_host_cleanup(void);		/* restore, kill the group, remove files */
/* What a run sets up besides the knobs (a zram device, a swap device, a
 * uprobe): one journal line "KEY A [B]", written before the change and
 * undone, newest first, at cleanup (the signal handlers too) and by the
 * next run or --restore after a kill. undo must be async-signal-safe and
 * check A and B, which come from a file: 0 (done, or nothing to do), or
 * -errno (the line stays in the journal for the next run). */
struct pm_undo {
	const char *key;		/* the line's first word */
	const char *what;		/* "removed WHAT A" on stderr after a kill */
	int (*undo)(const char *a, const char *b);
};
extern const struct pm_undo pm_undo_zram, pm_undo_swap, pm_undo_uprobe;
int pm_host_guard_add(const struct pm_undo *u, const char *a, const char *b);
int pm_host_guard_undo(const struct pm_undo *u, const char *a);	/* now */

/* host_swap.c: a zram swap device of size bytes for the run (undone at
 * cleanup): 0 and its path in dev, or -errno and why it cannot be had */
int pm_host_swap_on(uint64_t size, char *dev, size_t devlen, char *why, size_t len);
/* host_uprobe.c: a tracefs uprobe at path:off, enabled (undone at cleanup),
 * and its removal: 0, the kernel's -errno, or -EOPNOTSUPP and why the
 * kernel cannot be asked */
int pm_host_uprobe_register(const char *path, uint64_t off, char *why, size_t len);
int pm_host_uprobe_unregister(const char *path, uint64_t off, char *why, size_t len);
extern volatile int pm_host_timed_out;
/* an exclusive lock over every host run on this machine (sysfs is global),
 * /run/pinmm/host.lock; once held, what a killed run's journal lists is put
 * back first (one line per knob on stderr, their number in *recovered).
 * The fd, or -ETIMEDOUT when the timeout expired while waiting, -errno. */
int pm_host_lock(int *recovered);
void pm_host_unlock(int fd);

/* host_journal.c: /run/pinmm/journal (async-signal-safe but _read) */
struct pm_journal {
	char text[4096];
	size_t len;
	unsigned entries;
	bool overflow;
};
void pm_host_journal_start(struct pm_journal *j);	/* header, pid */
void pm_host_journal_add(struct pm_journal *j, const char *key, const char *a,
			 const char *b);
/* the two journals in /run/pinmm (host_journal.c) */
#define PM_JOURNAL "journal"
#define PM_JOURNAL_UNDO "journal.undo"
int pm_host_journal_commit(const struct pm_journal *j, const char *name);	/* or remove: no entries */
int pm_host_journal_remove(const char *name);
ssize_t pm_host_journal_read(const char *name, char *buf, size_t len);	/* -ENOENT: none */
int pm_host_journal_dir(void);		/* /run/pinmm, ours and 0700: its fd */
int pm_host_journal_open(const char *name, int flags);	/* in it, 0600 */
int pm_host_rmtree(const char *dir);	/* a flat dir of ours and its files */

#endif
