/* SPDX-License-Identifier: MIT */
/*
 * pinmm/mm.h - the engine, address spaces and CPU access.
 *
 * Conventions (as in the kernel): functions return 0 or a negative errno;
 * counts are returned as long (>= 0) or a negative errno. Addresses and
 * lengths are bytes; a page is PINMM_PAGE_SIZE bytes. A copy of 0 bytes
 * (CPU, device or file access) is a no-op answering 0 once the other
 * arguments are checked, and its buffer may then be NULL; a range of 0
 * bytes (mmap, munmap, ...) is -EINVAL, as in Linux. A NULL engine, mm,
 * file, handle, page or output pointer is answered -EINVAL; a function
 * that returns no errno says what it does with NULL (getters answer NULL,
 * 0 or a zeroed result; void calls do nothing).
 *
 * Every call is thread-safe. A thread that calls into the engine is
 * registered with RCU on its first call and unregistered when it exits.
 *
 * fork(2): a process must not fork while another of its threads may be
 * inside the engine (daemon threads started with pinmm_daemon_start(),
 * the explorer, the caller's own threads): the child would inherit engine
 * locks held by threads it does not have, and deadlock on them. Stop the
 * daemons first (pinmm_daemon_stop()), or fork before starting them; the
 * child may then use the engines it inherited, or create its own.
 */
#ifndef PINMM_MM_H
#define PINMM_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pinmm/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PINMM_PAGE_SHIFT 12
#define PINMM_PAGE_SIZE (1ul << PINMM_PAGE_SHIFT)
#define PINMM_PMD_SHIFT 21
#define PINMM_PMD_SIZE (1ul << PINMM_PMD_SHIFT)
#define PINMM_HPAGE_ORDER 9

/* The lowest and one past the highest user address (47-bit user space). */
#define PINMM_USER_MIN 0x10000ul
#define PINMM_USER_MAX 0x7ffffffff000ul

struct pinmm;		/* the machine: physical memory, policy, all mms */
struct pinmm_mm;	/* one address space (a process) */
struct pinmm_page;	/* one 4 KiB physical page (struct page) */

enum pinmm_zone { PINMM_ZONE_NORMAL, PINMM_ZONE_MOVABLE, PINMM_ZONE_NR };

struct pinmm_config {
	size_t normal_frames;	/* 4 KiB frames outside the movable zone */
	size_t movable_frames;	/* frames of the movable zone (user pages first) */
	struct pinmm_policy policy;
	/*
	 * Limits on what the engine keeps outside its frames, so that a
	 * runaway caller gets an error, not an exhausted host (0: the
	 * default). max_map_count: VMAs per mm (vm.max_map_count, 65530:
	 * mmap, splits and fork answer -ENOMEM past it); max_mms: live
	 * processes (pinmm_fork and pinmm_mm_create answer -EAGAIN past it,
	 * as fork() past the process limit; 32768); max_page_tables: page
	 * tables of all mms together (faults and mappings answer -ENOMEM
	 * past it; default as many as the engine has frames).
	 */
	size_t max_map_count, max_mms, max_page_tables;
	/*
	 * The swap device, in 4 KiB slots: 0 is a machine without swap
	 * (reclaim and MADV_PAGEOUT keep anonymous pages). The default is as
	 * large as the engine's memory.
	 */
	size_t swap_pages;
};

/* Defaults: 128 MiB of normal zone and no movable zone (a kernel booted
 * without movablecore: user pages come from the normal zone), strict.
 * NULL: nothing. */
void pinmm_config_default(struct pinmm_config *cfg);

/* -EINVAL on a bad config (no frames, not a multiple of 512 frames per
 * zone, more than 64 GiB of frames in all, sizes that wrap, unknown policy
 * bits), -ENOMEM. A switch the engine does not implement yet
 * (pinmm_switch_implemented()) guards a mechanism that does not exist, so
 * its bit has nothing to act on; front ends refuse to ablate such a switch
 * by name rather than ignore it. */
int pinmm_create(const struct pinmm_config *cfg, struct pinmm **out);
/* Tears down every remaining mm; frames still pinned are leaked and
 * reported by the return value: 0, or -EBUSY when something was leaked. */
int pinmm_destroy(struct pinmm *eng);

/* NULL eng: a policy with no switch on. */
struct pinmm_policy pinmm_get_policy(const struct pinmm *eng);

/* ---------------------------------------------------------------- mm --- */

int pinmm_mm_create(struct pinmm *eng, struct pinmm_mm **out);
/* NULL for a NULL mm. */
struct pinmm *pinmm_mm_engine(const struct pinmm_mm *mm);
/* exit(): unmaps everything and frees the mm. Pinned pages stay alive until
 * unpinned; pins taken in this mm stay valid handles. NULL: nothing. */
void pinmm_mm_exit(struct pinmm_mm *mm);
/* A process id-like number, unique per engine, for traces (0 for NULL). */
unsigned pinmm_mm_id(const struct pinmm_mm *mm);

/* Protection bits (as PROT_*). */
#define PINMM_PROT_NONE 0x0u
#define PINMM_PROT_READ 0x1u
#define PINMM_PROT_WRITE 0x2u
#define PINMM_PROT_EXEC 0x4u

/* mmap flags (a subset of MAP_*, with their meaning). */
#define PINMM_MAP_PRIVATE 0x01u
#define PINMM_MAP_SHARED 0x02u
#define PINMM_MAP_FIXED 0x04u		/* replace whatever is at addr */
#define PINMM_MAP_POPULATE 0x08u	/* fault every page in (write if prot allows) */
#define PINMM_MAP_FIXED_NOREPLACE 0x10u
#define PINMM_MAP_ALIGN_2M 0x20u	/* choose a 2 MiB-aligned address */
/* pinmm's own: the VMA starts with MADV_HUGEPAGE / MADV_NOHUGEPAGE set,
 * so that POPULATE already faults THPs (a scenario's `thp` / `nothp`) */
#define PINMM_MAP_HUGEPAGE 0x40u
#define PINMM_MAP_NOHUGEPAGE 0x80u
/* MAP_HUGETLB: anonymous memory in 2 MiB pages of the hugetlb pool; the
 * length is rounded up to 2 MiB, the address 2 MiB-aligned. A private
 * mapping reserves its pages for its owner, a shared one (an unnamed
 * hugetlb file, shared across fork) for that file (-ENOMEM when the pool
 * cannot). Mappings of a hugetlb file (PINMM_FILE_HUGETLB, pinmm/daemons.h)
 * are hugetlb memory too, MAP_HUGETLB or not; with any other file it is
 * -EINVAL, as an offset that is not whole huge pages. Splits (munmap,
 * mprotect, madvise) must fall on 2 MiB boundaries (-EINVAL); mremap of it
 * is refused (-EINVAL). */
#define PINMM_MAP_HUGETLB 0x100u

/*
 * Anonymous mmap. addr is a hint (0: the engine chooses) unless FIXED.
 * Returns 0 and *out_addr, or -EINVAL (bad length/flags/alignment),
 * -ENOMEM (no address space or no memory), -EEXIST (FIXED_NOREPLACE over a
 * mapping). POPULATE failures leave the mapping in place, partly populated,
 * as Linux does, and still return 0.
 */
int pinmm_mmap(struct pinmm_mm *mm, uint64_t addr, uint64_t len,
	       unsigned prot, unsigned flags, uint64_t *out_addr);
int pinmm_munmap(struct pinmm_mm *mm, uint64_t addr, uint64_t len);

/* The hugetlb pool (Linux's /proc/sys/vm/nr_hugepages): grow or shrink it
 * to nr 2 MiB pages taken from the normal zone. 0; -ENOMEM when fewer could
 * be had, -EBUSY when pages in use or reserved keep it larger (the pool
 * holds what it could get either way); -EINVAL for a NULL engine or more
 * pages than the engine has. */
int pinmm_hugetlb_set_pool(struct pinmm *eng, unsigned long nr);
struct pinmm_hugetlb_info {
	unsigned long total, free, resv;	/* HugePages_Total/_Free/_Rsvd */
};
int pinmm_hugetlb_info(struct pinmm *eng, struct pinmm_hugetlb_info *out);
int pinmm_mprotect(struct pinmm_mm *mm, uint64_t addr, uint64_t len,
		   unsigned prot);

#define PINMM_MREMAP_MAYMOVE 0x1u
#define PINMM_MREMAP_FIXED 0x2u
#define PINMM_MREMAP_DONTUNMAP 0x4u
/* Linux mremap: resize and/or move [old, old+old_len). Pages (and their
 * pins) move with the mapping. */
int pinmm_mremap(struct pinmm_mm *mm, uint64_t old_addr, uint64_t old_len,
		 uint64_t new_len, unsigned flags, uint64_t new_addr,
		 uint64_t *out_addr);

enum pinmm_advice {
	PINMM_MADV_DONTNEED,
	PINMM_MADV_FREE,
	PINMM_MADV_DONTFORK,
	PINMM_MADV_DOFORK,
	PINMM_MADV_MERGEABLE,
	PINMM_MADV_UNMERGEABLE,
	PINMM_MADV_HUGEPAGE,
	PINMM_MADV_NOHUGEPAGE,
	PINMM_MADV_COLLAPSE,
	PINMM_MADV_PAGEOUT,
	PINMM_MADV_NR
};
/* -EINVAL (bad range/advice), -ENOMEM (range has a hole: Linux's answer),
 * -EOPNOTSUPP (advice not implemented yet). */
int pinmm_madvise(struct pinmm_mm *mm, uint64_t addr, uint64_t len,
		  enum pinmm_advice advice);

/* fork(): a new mm that is a copy of mm (DONTFORK ranges left out). */
int pinmm_fork(struct pinmm_mm *mm, struct pinmm_mm **child);

/* ------------------------------------------------------- CPU access --- */

/*
 * CPU load/store of len bytes at addr, through the page tables, faulting as
 * needed. -EFAULT: no mapping; -EACCES: protection forbids it; -ENOMEM: a
 * fault could not allocate. On error nothing was stored (a store is checked
 * page by page before any byte is written only when it stays within one
 * page; a multi-page store that fails part-way has written the pages before
 * the failing one, as a CPU would).
 */
int pinmm_load(struct pinmm_mm *mm, uint64_t addr, void *buf, size_t len);
int pinmm_store(struct pinmm_mm *mm, uint64_t addr, const void *buf,
		size_t len);
/* memset-like store of one byte value. */
int pinmm_store_fill(struct pinmm_mm *mm, uint64_t addr, uint8_t byte,
		     size_t len);

#ifdef __cplusplus
}
#endif
#endif
