/* SPDX-License-Identifier: MIT */
/*
 * pinmm/check.h - the narrow inspection API, the G5 invariants and the G1
 * coherence oracle. Readers of engine state outside the engine (checker,
 * scenario interpreter, tests) go through here.
 */
#ifndef PINMM_CHECK_H
#define PINMM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pinmm/gup.h>
#include <pinmm/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* -------------------------------------------------------- inspection --- */

/* What maps addr in mm, without faulting. */
struct pinmm_mapping {
	bool present;		/* a page is mapped */
	bool writable;		/* the entry allows writes now */
	bool huge;		/* mapped by a PMD leaf */
	bool zero_page;		/* the shared zero page */
	bool swapped;		/* the entry is a swap entry */
	bool anon_exclusive;	/* the page is marked exclusive to mm (a swap
				 * entry: it carries the exclusive marker) */
	uint64_t pfn;		/* frame of the 4 KiB page at addr */
	struct pinmm_page *page;
	unsigned order;		/* order of the folio */
};
/* 0, or -EFAULT when addr is in no VMA (mapping zeroed). */
int pinmm_follow_page(struct pinmm_mm *mm, uint64_t addr,
		      struct pinmm_mapping *out);

struct pinmm_folio_info {
	int refcount;
	int mapcount;		/* of this page (PTE maps + entire maps) */
	int pincount;		/* exact pins (0 when pin_accounting is off) */
	unsigned order;
	enum pinmm_zone zone;
	bool anon, ksm, dirty, swapcache, zero;
	bool maybe_dma_pinned;	/* what folio_maybe_dma_pinned() answers */
};
/* NULL page: *out zeroed; NULL out: nothing. */
void pinmm_folio_info(const struct pinmm_page *page,
		      struct pinmm_folio_info *out);

struct pinmm_stats {
	size_t frames_total[PINMM_ZONE_NR];
	size_t frames_free[PINMM_ZONE_NR];
	size_t frames_used;	/* allocated frames, excluding the zero page */
	size_t nr_mms;		/* live address spaces */
	size_t page_tables;	/* live page-table pages */
	size_t gup_fast_fallbacks;	/* GUP-fast attempts that fell back */
	size_t cow_copies, cow_reuses, fork_early_copies;
	size_t swap_slots;	/* swap slots in use */
	size_t swap_cache;	/* of which a folio is cached for */
};
/* NULL eng: *out zeroed; NULL out: nothing. */
void pinmm_get_stats(struct pinmm *eng, struct pinmm_stats *out);

/* ------------------------------------------------------- invariants --- */

struct pinmm_violation_report {
	unsigned nr;		/* violations found */
	char first[256];	/* the first, in words */
};

/*
 * G5 at a quiescent point (no other engine call running): every frame's
 * refcount equals what explains it (mappings, pins, gets, page cache, swap
 * cache), mapcounts equal what the page tables say, pincount >= 0, free
 * frames are exactly the buddy allocator's, a writable private anon entry
 * maps an anon-exclusive page, the rmap (anon_vma or file, and the page's
 * index) leads to every mapping the page tables hold, and every swap slot
 * in use is referred to by exactly its count of swap entries. Returns 0 if
 * all holds, else -EUCLEAN with the report filled (rep may be NULL);
 * -EINVAL for a NULL eng, -ENOMEM. Outstanding pins and gets are taken
 * from the engine's own books.
 */
int pinmm_check_invariants(struct pinmm *eng,
			   struct pinmm_violation_report *rep);

/* ------------------------------------------------------ G1 oracle --- */

enum pinmm_coherence {
	PINMM_COHERENT = 0,
	PINMM_NOT_MAPPED,	/* the entry at addr does not map the pinned frame */
	PINMM_DEV_TO_CPU_LOST,	/* a device write was not seen by a CPU load */
	PINMM_CPU_TO_DEV_LOST,	/* a CPU store was not seen by a device read */
	PINMM_CPU_FAULT,	/* the CPU access itself failed */
};
/*
 * G1 for every page of a held pin, with fresh values: the device writes a
 * new byte, the CPU loads it at addr; the CPU stores a new byte, the device
 * reads it. The bytes it touches are restored. mm is where to look (the
 * pin's own mm unless it moved with mremap: pass the address to check).
 * *bad_page is the first failing page index, left alone when coherent
 * (bad_page may be NULL). A NULL
 * or released pin is PINMM_NOT_MAPPED; a NULL mm, PINMM_CPU_FAULT.
 */
enum pinmm_coherence pinmm_check_coherent(struct pinmm_pin *pin,
					  struct pinmm_mm *mm, uint64_t addr,
					  unsigned long *bad_page);
/* The entry at addr (+ i pages) maps the pin's page i, for every i (false
 * for a NULL or released pin, or a NULL mm). */
bool pinmm_check_mapped(const struct pinmm_pin *pin, struct pinmm_mm *mm,
			uint64_t addr);
const char *pinmm_coherence_str(enum pinmm_coherence c);

/* A fingerprint of the engine's state: every process's page-table entries
 * (by address), every frame in use (counts, flags, bytes), the pins and
 * references held. Two runs that did the same steps in the same order give
 * the same number, in any process; 0 for a NULL eng. The explorer compares
 * the end states its searches reach with it. */
uint64_t pinmm_state_digest(struct pinmm *eng);

/* --------------------------------------------- injected alloc failure --- */

enum pinmm_alloc_kind {
	PINMM_ALLOC_FRAME, PINMM_ALLOC_PGTABLE, PINMM_ALLOC_VMA,
	PINMM_ALLOC_MM, PINMM_ALLOC_ANON_VMA, PINMM_ALLOC_NR
};
/* Make the nth allocation from now (1-based) fail, and every one after it
 * if sticky; 0 turns injection off. Returns how many allocations happened
 * since the last call (to size sweeps); 0 for a NULL eng. */
unsigned long pinmm_fail_alloc_nth(struct pinmm *eng, unsigned long nth,
				   bool sticky);

#ifdef __cplusplus
}
#endif
#endif
