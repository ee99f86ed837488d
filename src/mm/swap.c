/* SPDX-License-Identifier: MIT */
/*
 * The swap device: an in-memory array of 4 KiB slots, each with a count of
 * the swap entries (PTEs) that refer to it. There is no swap cache: a
 * swap-in reads the slot into a fresh page, and each process that faults
 * on a shared entry (after fork) gets its own copy, as COW would give it.
 * A slot is "being written" from its allocation until reclaim has copied
 * the unmapped page into it (swap_write); a swap-in waits that out (Linux
 * finds the page in the swap cache instead).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../mem/frame_io.h"
#include "mm.h"

long swap_alloc(struct pinmm *eng)
{
	struct pm_swap *sw = &eng->swap;
	uint8_t *buf;
	long slot = -ENOMEM;

	if (pm_should_fail_alloc(eng, PINMM_ALLOC_FRAME))
		return -ENOMEM;
	buf = malloc(PINMM_PAGE_SIZE);
	if (!buf)
		return -ENOMEM;
	pm_mutex_lock(&sw->lock);
	/* no free slot below the hint: searching from it keeps this O(1)
	 * while slots are taken in order */
	for (size_t i = sw->free_hint; i < sw->nr; i++) {
		if (!sw->data[i]) {
			slot = (long)i;
			break;
		}
	}
	if (slot < 0) {
		if (sw->nr >= eng->cfg.swap_pages) {
			/* the device is full, or there is none */
			pm_mutex_unlock(&sw->lock);
			free(buf);
			return -ENOMEM;
		}
		if (sw->nr == sw->cap) {
			size_t cap = sw->cap ? 2 * sw->cap : 64;
			uint8_t **d = realloc(sw->data, cap * sizeof(*d));
			int *c = d ? realloc(sw->count, cap * sizeof(*c)) : NULL;
			bool *w = c ? realloc(sw->writing, cap * sizeof(*w)) : NULL;
			if (d)
				sw->data = d;
			if (c)
				sw->count = c;
			if (!w) {
				pm_mutex_unlock(&sw->lock);
				free(buf);
				return -ENOMEM;
			}
			sw->writing = w;
			sw->cap = cap;
		}
		slot = (long)sw->nr++;
	}
	sw->data[slot] = buf;
	sw->count[slot] = 0;
	sw->writing[slot] = true;
	sw->free_hint = (size_t)slot + 1;
	pm_mutex_unlock(&sw->lock);
	return slot;
}

void swap_dup(struct pinmm *eng, uint64_t slot)
{
	pm_mutex_lock(&eng->swap.lock);
	eng->swap.count[slot]++;
	pm_mutex_unlock(&eng->swap.lock);
}

void swap_free(struct pinmm *eng, uint64_t slot)
{
	struct pm_swap *sw = &eng->swap;
	uint8_t *buf = NULL;

	pm_mutex_lock(&sw->lock);
	if (--sw->count[slot] <= 0) {
		buf = sw->data[slot];
		sw->data[slot] = NULL;
		sw->count[slot] = 0;
		if (slot < sw->free_hint)
			sw->free_hint = slot;
	}
	pm_mutex_unlock(&sw->lock);
	free(buf);
}

void swap_write(struct pinmm *eng, uint64_t slot, const void *frame)
{
	pm_mutex_lock(&eng->swap.lock);
	frame_copy_from(eng->swap.data[slot], frame, PINMM_PAGE_SIZE);
	eng->swap.writing[slot] = false;
	pm_mutex_unlock(&eng->swap.lock);
}

/* Is the slot still waiting for its contents? */
static bool swap_busy(struct pinmm *eng, uint64_t slot)
{
	pm_mutex_lock(&eng->swap.lock);
	bool busy = eng->swap.writing[slot];
	pm_mutex_unlock(&eng->swap.lock);
	return busy;
}

void swap_read(struct pinmm *eng, uint64_t slot, void *frame)
{
	pm_mutex_lock(&eng->swap.lock);
	frame_copy_to(frame, eng->swap.data[slot], PINMM_PAGE_SIZE);
	pm_mutex_unlock(&eng->swap.lock);
}

void swap_destroy(struct pinmm *eng)
{
	for (size_t i = 0; i < eng->swap.nr; i++)
		free(eng->swap.data[i]);
	free(eng->swap.data);
	free(eng->swap.count);
	free(eng->swap.writing);
	pm_mutex_destroy(&eng->swap.lock);
}

/*
 * Swap-in: the entry at addr refers to a slot; read it into a new page and
 * map that. The page is exclusive when the entry was (no fork shared it).
 * mmap_lock held for read.
 */
int do_swap_page(struct pinmm_mm *mm, struct vm_area *vma, struct pt_table *pte,
		 uint64_t addr, pte_t entry, unsigned flags)
{
	struct pinmm *eng = mm->eng;
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	struct pinmm_page *page = pm_alloc_folio(eng, 0, PM_GFP_MOVABLE);
	bool exclusive = entry & PTE_SWP_EXCLUSIVE;

	if (!page)
		return -ENOMEM;
	pm_mutex_lock(&pte->ptl);
	if (pt_read(pte, i) != entry) {
		pm_mutex_unlock(&pte->ptl);
		folio_put(page);
		return 0;	/* someone else swapped it in */
	}
	/* reclaim has not written it yet (or will put the page back): wait,
	 * without the lock its restore needs */
	if (swap_busy(eng, pte_swp_offset(entry))) {
		pm_mutex_unlock(&pte->ptl);
		folio_put(page);
		pm_cpu_relax();
		return 0;
	}
	/* read under the entry's lock: while the entry is there it holds its
	 * slot, which another swap-in could otherwise free (and reuse) first */
	swap_read(eng, pte_swp_offset(entry), eng_page_virt(eng, page));
	page_add_anon_rmap_new(page, vma, addr);
	if (exclusive)
		page_set(page, PG_anon_exclusive);
	pt_write(pte, i, mk_pte(eng_page_pfn(eng, page),
				vma_pte_flags(vma, exclusive && (flags & FAULT_FLAG_WRITE))));
	pm_mutex_unlock(&pte->ptl);
	swap_free(eng, pte_swp_offset(entry));
	return 0;
}
