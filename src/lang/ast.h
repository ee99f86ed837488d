/* SPDX-License-Identifier: MIT */
/*
 * The parsed form of a scenario (src/lang/; read by the interpreter, the reports and the host backend).
 *
 * Everything static is settled by the parser: numbers are folded, names are
 * resolved to indices into the scenario's name tables (defined in textual
 * order), options are checked. The interpreter only looks things up by
 * index, so a scenario that parsed cannot name something that does not
 * exist.
 */
#ifndef PM_SCN_AST_H
#define PM_SCN_AST_H

#include <stdbool.h>
#include <stdint.h>

#include <pinmm/mm.h>
#include <pinmm/policy.h>
#include <pinmm/scenario.h>

/* Name tables: one per kind of name. Process 0 is `main`. */
enum scn_ns { NS_REGION, NS_PIN, NS_PROC, NS_FILE, NS_THREAD, NS_NR };

struct scn_names {
	char **v;
	unsigned nr, cap;
};

/* REGION[+OFFSET] */
struct scn_addr {
	int region;
	int64_t off;
};

enum stmt_kind {
	/* processes and memory */
	ST_MMAP, ST_FILE, ST_MUNMAP, ST_MREMAP, ST_MREMAP_PART, ST_MPROTECT,
	ST_MADVISE, ST_FORK, ST_EXIT,
	/* CPU and device */
	ST_WRITE, ST_READ, ST_PIN, ST_UNPIN, ST_PUT, ST_DEV_WRITE, ST_DEV_READ,
	/* the system's own activity */
	ST_KSM_SCAN, ST_KHUGEPAGED, ST_COMPACT, ST_RECLAIM, ST_MIGRATE,
	ST_NUMA_HINT, ST_SPLIT_PMD, ST_SPLIT_FOLIO, ST_UPROBE_REGISTER,
	ST_UPROBE_UNREGISTER, ST_WRITEBACK,
	/* expectations and error handling */
	ST_EXPECT, ST_EXPECT_ERROR, ST_TRY,
	/* concurrency */
	ST_THREAD, ST_RUN,
	ST_NR
};

enum expect_kind {
	EX_READ, EX_DEV_READ, EX_COHERENT, EX_MAPPED, EX_SAME_PAGE, EX_PINNED,
	EX_HUGE, EX_ORDER, EX_SWAPPED, EX_ZONE, EX_INVARIANTS, EX_NR
};

struct stmt {
	enum stmt_kind kind;
	unsigned line, col;
	int proc;		/* the process it runs in */
	bool proc_explicit;	/* written with `in PROC:` */
	char *text;		/* the statement as written, for messages */
	union {
		struct {
			int region, file;	/* file -1: anonymous */
			bool shared, populate;
			int thp;		/* 0 default, 1 thp, -1 nothp */
			uint64_t thp_size;	/* thp=SIZE (mTHP); 0: `thp`, the PMD size */
			bool hugetlb;		/* `hugetlb`: MAP_HUGETLB from the pool */
			unsigned prot;
			uint64_t size, off, align;
			bool fixed;		/* fixed=ADDR: MAP_FIXED over it */
			struct scn_addr at;
		} mmap;
		struct {
			int file;
			uint64_t size;
			uint8_t fill;
			bool disk;	/* `disk`: dirty-tracked (ext4-like); else shmem */
			bool hugetlb;	/* `hugetlb`: memfd MFD_HUGETLB, pages from the pool */
		} file;
		struct {			/* munmap, mprotect, madvise */
			struct scn_addr a;
			uint64_t len;
			unsigned prot;
			enum pinmm_advice advice;
		} range;
		struct {
			int from, to;		/* whole-region form */
			bool has_size;
			uint64_t size;
		} mremap;
		struct {
			struct scn_addr a;
			uint64_t len;
			int to;
			bool dontunmap;
		} mremap_part;
		struct {
			int proc;		/* fork: the child; exit: who */
		} who;
		struct {			/* write, read */
			struct scn_addr a;
			uint8_t byte;
			uint64_t len;
			bool force;		/* write ... force: FOLL_FORCE, as /proc/PID/mem */
		} cpu;
		struct {			/* pin, get */
			int pin;
			struct scn_addr a;
			unsigned long pages;
			unsigned flags;		/* PINMM_FOLL_* */
			bool fast, get;
		} pin;
		struct {			/* unpin, put, dev-write, dev-read */
			int pin;
			uint8_t byte;
			unsigned long page;
			uint64_t off, len;
		} dev;
		struct {			/* ksm-scan, khugepaged, reclaim */
			unsigned long n;
		} pass;
		struct {			/* migrate, numa-hint, split-* */
			struct scn_addr a;
		} at;
		struct {
			int file;
			uint64_t off;
		} uprobe;
		struct {
			enum expect_kind kind;
			bool negate;
			bool has_addr;		/* `expect read ==` uses the last read */
			struct scn_addr a, b;
			int proc_b;		/* same-page ... in=PROC: where b is; -1: here */
			int pin;
			unsigned long page;
			uint64_t off, len;
			long value;		/* == N, BYTE, order, zone */
		} expect;
		struct {			/* expect error, try */
			int code;		/* positive errno; 0 for try */
			struct stmt *inner;
		} guard;
		struct {
			int thread;
		} thread;
	};
};

/* `breaks-with` / `holds-with` lines: policies as written and parsed */
struct scn_policies {
	unsigned nr;
	char **text;
	struct pinmm_policy *pol;
};

struct stmt_list {
	struct stmt **v;
	unsigned nr, cap;
};

struct scn_thread {
	int proc;
	unsigned line, col;
	struct stmt_list body;
};

struct pinmm_scenario {
	char *file;
	char *title;
	bool has_policy;
	struct pinmm_policy policy;
	uint32_t breaks_without;
	struct scn_policies breaks_with, holds_with;
	unsigned explore_bound;	/* 0: threads run for real (explore off) */
	bool explore_set;	/* an explore line was given */
	char *host_skip;
	uint64_t movablecore;	/* bytes of movable zone; 0: none (the default) */
	uint64_t swap;		/* bytes of swap device; 0: none (the default) */
	/* THP sizes named by `thp=SIZE` (bit = folio order; a plain `thp`
	 * adds the PMD order): only those are enabled for the run, as cow.c
	 * runs one size at a time; 0 leaves the defaults */
	uint32_t thp_orders;
	unsigned hugetlb_pages;	/* the hugetlb pool; 0: none (the default) */

	struct scn_names names[NS_NR];
	unsigned *pin_max_pages;	/* per pin name: largest pages= used */
	struct scn_thread *threads;	/* NS_THREAD's entries */
	struct stmt_list body;
};

/* `movablecore SIZE`: the largest movable zone a scenario may ask for */
#define PINMM_SCN_MAX_MOVABLECORE (1ull << 30)
/* `hugetlb pages=N`: the largest pool a scenario may ask for (1 GiB) */
#define PINMM_SCN_MAX_HUGETLB 512
/* `swap SIZE`: the largest swap device a scenario may ask for */
#define PINMM_SCN_MAX_SWAP (1ull << 30)

/* parser.c helpers shared with the statement parser */
void pm_stmt_free(struct stmt *st);
int pm_names_add(struct scn_names *n, const char *name, size_t len);
int pm_names_find(const struct scn_names *n, const char *name, size_t len);

const char *pm_errno_name(int err);	/* "EBUSY"; NULL if not a listed one */
int pm_errno_lookup(const char *name, size_t len);	/* 0 when unknown */

#endif
