/* SPDX-License-Identifier: MIT */
/*
 * pinmm/daemons.h - the system's own activity: THP, files and page cache,
 * KSM, khugepaged, migration/compaction/NUMA hinting, reclaim and swap,
 * uprobes. Each mechanism is one deterministic pass (for tests and
 * scenarios) and can also run as a background thread (for stress).
 *
 * Every path keeps off pages that may be pinned, as GUARANTEE.md's G3 says,
 * unless its fix switch is off. Until a mechanism exists its calls return
 * -EOPNOTSUPP (pinmm_switch_implemented() tells which switches exist).
 */
#ifndef PINMM_DAEMONS_H
#define PINMM_DAEMONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pinmm/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------- files --- */

struct pinmm_file;	/* an in-memory file with a page cache */

/* A file of size bytes, every byte fill. -EINVAL, -ENOMEM. */
/*
 * The kind of file system a file lives on. SHMEM (memfd, tmpfs) keeps no
 * dirty accounting; DISK (ext4-like) tracks dirty pages for writeback, so
 * Linux (>= 6.5) refuses a writable FOLL_LONGTERM pin of its MAP_SHARED
 * mappings with EFAULT (slow and fast GUP), and pinmm_file_writeback()
 * cleans its dirty pages (write-protecting their shared mappings: the
 * next store faults and dirties the same page again).
 *
 * HUGETLB is a memfd made with MFD_HUGETLB: size whole 2 MiB pages
 * (-EINVAL otherwise), all taken from the hugetlb pool at once as
 * fallocate(2) does (-ENOMEM when the pool cannot), shared by every
 * mapping; a writable mapping past its end makes it that long (a fault
 * past the end is -EFAULT, SIGBUS); no write(2) (pinmm_file_write
 * answers -EINVAL), no uprobes (-EIO).
 */
enum pinmm_file_kind { PINMM_FILE_SHMEM, PINMM_FILE_DISK, PINMM_FILE_HUGETLB };
int pinmm_file_create_kind(struct pinmm *eng, uint64_t size, uint8_t fill,
			   enum pinmm_file_kind kind, struct pinmm_file **out);
/* Write the dirty pages of a DISK file back; how many, or -EINVAL (NULL).
 * SHMEM files have nothing to write back (0). */
long pinmm_file_writeback(struct pinmm_file *file);
/* A SHMEM file (pinmm_file_create_kind with PINMM_FILE_SHMEM). */
int pinmm_file_create(struct pinmm *eng, uint64_t size, uint8_t fill,
		      struct pinmm_file **out);
/* Drop the creator's reference; the file lives while mappings use it. */
void pinmm_file_put(struct pinmm_file *file);
/* pread/pwrite through the page cache. */
int pinmm_file_read(struct pinmm_file *file, uint64_t off, void *buf, size_t len);
int pinmm_file_write(struct pinmm_file *file, uint64_t off, const void *buf,
		     size_t len);
/* mmap of a file (PINMM_MAP_SHARED or PINMM_MAP_PRIVATE), off page
 * aligned. Same errors as pinmm_mmap(). */
int pinmm_mmap_file(struct pinmm_mm *mm, uint64_t addr, uint64_t len,
		    unsigned prot, unsigned flags, struct pinmm_file *file,
		    uint64_t off, uint64_t *out_addr);

/* ------------------------------------------------------------ THP --- */

/* Split the PMD mapping at addr into 512 PTEs (same pages, same
 * addresses). 0, -EINVAL when no PMD maps addr, -EFAULT when no VMA
 * covers it. */
int pinmm_split_pmd(struct pinmm_mm *mm, uint64_t addr);
/* Linux's /sys/kernel/mm/transparent_hugepage/use_zero_page (default on):
 * a read fault of an untouched THP-enabled range maps the huge zero page
 * (a read-only PMD of zeroes; a write or unshare fault replaces it by a
 * new THP). Off: the read fault allocates the THP at once. -EINVAL for a
 * NULL engine. */
int pinmm_thp_set_use_zero_page(struct pinmm *eng, bool on);

/*
 * Which anonymous THP sizes faults may allocate, per size, as Linux's
 * /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled: never,
 * madvise (MADV_HUGEPAGE / PINMM_MAP_HUGEPAGE regions) or always (every
 * anonymous private region but MADV_NOHUGEPAGE ones). size is a power of
 * two from 16 KiB to 2 MiB; below 2 MiB they are multi-size THPs (mTHP,
 * Linux >= 6.8): folios mapped by PTEs, allocated whole on a write fault
 * of an empty, aligned range inside the region, the largest size enabled
 * first. Defaults: 2 MiB madvise, the others never. -EINVAL for a bad size
 * or mode.
 */
enum pinmm_thp_mode { PINMM_THP_NEVER, PINMM_THP_MADVISE, PINMM_THP_ALWAYS };
int pinmm_thp_set_enabled(struct pinmm *eng, uint64_t size, enum pinmm_thp_mode mode);
int pinmm_thp_get_enabled(struct pinmm *eng, uint64_t size, enum pinmm_thp_mode *mode);

/* Split the folio at addr into small folios; -EBUSY while references
 * other than its mappings exist, -EINVAL when it is not a large folio. */
int pinmm_split_folio(struct pinmm_mm *mm, uint64_t addr);

/* ---------------------------------------------------------- passes --- */

/* KSM: merge identical pages of MADV_MERGEABLE ranges; returns how many
 * of the mappings the last pass scanned share a KSM page at its end (as
 * ksmd counts pages_shared + pages_sharing while it merges; 0 without a
 * pass). */
long pinmm_ksm_scan(struct pinmm *eng, unsigned passes);
/* khugepaged: collapse aligned 2 MiB ranges of MADV_HUGEPAGE VMAs;
 * returns how many ranges were collapsed. */
long pinmm_khugepaged_scan(struct pinmm *eng, unsigned passes);

/*
 * khugepaged's limits per 2 MiB range, as Linux's
 * /sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_*: how many
 * entries may be empty (or the zero page), map a page other processes map
 * too, or be swapped out (swapped in by the collapse). Defaults 511, 256,
 * 64. MADV_COLLAPSE ignores them. Each at most 511: else -EINVAL.
 */
struct pinmm_khugepaged_tunables {
	unsigned max_ptes_none, max_ptes_shared, max_ptes_swap;
};
int pinmm_khugepaged_get_tunables(const struct pinmm *eng, struct pinmm_khugepaged_tunables *t);
int pinmm_khugepaged_set_tunables(struct pinmm *eng, const struct pinmm_khugepaged_tunables *t);
/* Migrate the folio mapped at addr to a new frame (same zone kind).
 * -EBUSY when it may be pinned (migrate_refuses_pinned), -EFAULT. */
int pinmm_migrate(struct pinmm_mm *mm, uint64_t addr);
/* NUMA hinting: make the entry PROT_NONE-hinted and take the hinting fault
 * that may migrate the folio; a pinned folio silently stays. */
int pinmm_numa_hint(struct pinmm_mm *mm, uint64_t addr);
/* Compaction: move movable pages to free whole 2 MiB blocks; returns how
 * many pages moved. Pinned pages are skipped silently. */
long pinmm_compact(struct pinmm *eng);
/* Reclaim up to nr_pages cold anonymous pages to swap; returns how many
 * were swapped out. Pinned pages are never unmapped. */
long pinmm_reclaim(struct pinmm *eng, unsigned long nr_pages);

/* uprobes: install / remove a breakpoint at file offset off in every
 * mapping of that text page. -EBUSY when a page it would replace may be
 * pinned (nothing changed), -EINVAL; -EIO for a HUGETLB file (hugetlbfs
 * has no ->read_folio for uprobes to read the text page with). */
int pinmm_uprobe_register(struct pinmm_file *file, uint64_t off);
int pinmm_uprobe_unregister(struct pinmm_file *file, uint64_t off);

/* ------------------------------------------------- daemon threads --- */

enum pinmm_daemon {
	PINMM_KSMD, PINMM_KHUGEPAGED, PINMM_KCOMPACTD, PINMM_KSWAPD,
	PINMM_DAEMON_NR
};
/* Run the daemon's pass in a background thread every interval_us
 * microseconds until stopped. -EBUSY if running. */
int pinmm_daemon_start(struct pinmm *eng, enum pinmm_daemon d,
		       unsigned interval_us);
int pinmm_daemon_stop(struct pinmm *eng, enum pinmm_daemon d);

#ifdef __cplusplus
}
#endif
#endif
