/* SPDX-License-Identifier: MIT */
/*
 * Reverse mapping: from a folio to every (mm, address) that may map it.
 * Anonymous folios point at their anon_vma (mapping with the low bit set,
 * as Linux's PAGE_MAPPING_ANON), page-cache folios at their file.
 *
 * Lock order: mmap_lock -> anon_vma / file lock -> page-table lock.
 */
#include <stdlib.h>

#include "mm.h"

struct anon_vma *anon_vma_alloc(struct pinmm *eng)
{
	struct anon_vma *av;

	if (pm_should_fail_alloc(eng, PINMM_ALLOC_ANON_VMA))
		return NULL;
	av = calloc(1, sizeof(*av));
	if (!av)
		return NULL;
	av->eng = eng;
	av->dom = eng->rcu_dom;
	atomic_store(&av->refcount, 1);
	pm_mutex_init(&av->lock);
	pm_list_init(&av->vmas);
	return av;
}

static void anon_vma_free_cb(struct rcu_head *head)
{
	struct anon_vma *av = container_of(head, struct anon_vma, rcu);
	struct pm_rcu_domain *dom;

	pm_rcu_callback_begin(head);
	dom = av->dom;
	pm_mutex_destroy(&av->lock);
	free(av);
	pm_rcu_domain_put(dom);
}

void anon_vma_get(struct anon_vma *av)
{
	pm_access(&av->refcount, PM_ACC_WRITE);
	atomic_fetch_add(&av->refcount, 1);
}

void anon_vma_put(struct anon_vma *av)
{
	pm_access(&av->refcount, PM_ACC_WRITE);
	if (atomic_fetch_sub(&av->refcount, 1) != 1)
		return;
	/* pages may still point here: a walker checks under RCU */
	pm_rcu_domain_get(av->dom);
	pm_call_rcu(&av->rcu, anon_vma_free_cb);
}

static bool anon_vma_try_get(struct anon_vma *av)
{
	pm_access(&av->refcount, PM_ACC_WRITE);
	long old = atomic_load(&av->refcount);

	do {
		if (old <= 0)
			return false;
	} while (!atomic_compare_exchange_weak(&av->refcount, &old, old + 1));
	return true;
}

/*
 * New VMAs go to the tail, and walkers go from the head: a fork's child
 * VMA is linked before its entries are copied, and the copying races with
 * any walk (it holds page-table locks, not this one). Visiting the parent
 * first makes that race harmless: an entry copied before the walker
 * changed the parent's is found when it reaches the child; one copied
 * after is a copy of what the walker left (a migration or swap entry).
 * Child first, a walker could find the child's entry still empty, then
 * change only the parent's — a split or migration would leave the child
 * mapping a page it no longer owns (Linux kept this order in its anon_vma
 * lists for the same reason).
 */
void vma_link_rmap_locked(struct vm_area *vma)
{
	if (vma->anon_vma)
		pm_list_add_tail(&vma->anon_link, &vma->anon_vma->vmas);
	if (vma->file)
		pm_list_add_tail(&vma->file_link, &vma->file->i_mmap);
}

void vma_unlink_rmap(struct vm_area *vma)
{
	if (vma->anon_vma) {
		pm_mutex_lock(&vma->anon_vma->lock);
		pm_list_del(&vma->anon_link);
		pm_mutex_unlock(&vma->anon_vma->lock);
	}
	if (vma->file) {
		pm_mutex_lock(&vma->file->lock);
		pm_list_del(&vma->file_link);
		pm_mutex_unlock(&vma->file->lock);
	}
}

void vma_rmap_lock(struct vm_area *vma)
{
	if (vma->anon_vma)
		pm_mutex_lock(&vma->anon_vma->lock);
	if (vma->file)
		pm_mutex_lock(&vma->file->lock);
}

void vma_rmap_unlock(struct vm_area *vma)
{
	if (vma->file)
		pm_mutex_unlock(&vma->file->lock);
	if (vma->anon_vma)
		pm_mutex_unlock(&vma->anon_vma->lock);
}

/*
 * Where the first page of a folio (linear index idx, nr pages) would sit
 * in vma; 0 when none of its pages falls inside. For a large folio only
 * partly inside (a THP after a partial munmap or mprotect) that address
 * may lie below the VMA: callers look at each page and skip the ones
 * outside [start, end).
 */
uint64_t vma_address(const struct vm_area *vma, uint64_t idx, unsigned long nr)
{
	uint64_t vma_pages = (vma->end - vma->start) >> PINMM_PAGE_SHIFT;

	if (idx + nr <= vma->pgoff || idx >= vma->pgoff + vma_pages)
		return 0;
	/* unsigned wrap-around gives the right address below start */
	return vma->start + ((idx - vma->pgoff) << PINMM_PAGE_SHIFT);
}

bool folio_mapped(struct pinmm_page *folio)
{
	return folio_large_mapcount(folio) > 0;
}

int folio_large_mapcount(struct pinmm_page *folio)
{
	int n = folio_entire_mapcount(folio);

	for (unsigned long i = 0; i < folio_nr_pages(folio); i++)
		n += page_pte_mapcount(&folio[i]);
	return n;
}

bool rmap_pin_get(struct pinmm *eng, struct pinmm_page *folio, struct rmap_pin *rp)
{
	(void)eng;
	rp->av = NULL;
	rp->file = NULL;
	if (page_test(folio, PG_anon)) {
		struct anon_vma *av;
		bool ok;

		/* the anon_vma outlives the page's last mapping only by a
		 * grace period: look only while something maps the page */
		pm_rcu_read_lock();
		av = (struct anon_vma *)((uintptr_t)folio_mapping(folio) & ~(uintptr_t)1);
		ok = av && folio_mapped(folio) && anon_vma_try_get(av);
		pm_rcu_read_unlock();
		rp->av = ok ? av : NULL;
		return ok;
	}
	if (page_test(folio, PG_pagecache)) {
		struct pinmm_file *f;
		bool ok;

		/* The caller's folio reference keeps the page, not its file:
		 * the last munmap of shared anonymous memory (or the last put
		 * of a file) may free the file at any moment. Take a reference
		 * only while the page is still cached and the file's count is
		 * not zero; RCU keeps the object readable meanwhile. */
		pm_rcu_read_lock();
		f = folio_mapping(folio);
		ok = f && page_test(folio, PG_pagecache) && pm_file_try_get(f);
		pm_rcu_read_unlock();
		rp->file = ok ? f : NULL;
		return ok;
	}
	return false;
}

void rmap_pin_put(struct rmap_pin *rp)
{
	if (rp->av)
		anon_vma_put(rp->av);
	if (rp->file)
		pm_file_put(rp->file);
}

void rmap_walk_pinned(struct rmap_pin *rp, struct pinmm_page *folio, rmap_one_fn fn,
		      void *arg)
{
	rmap_walk_pinned_nr(rp, folio, folio_nr_pages(folio), fn, arg);
}

void rmap_walk_pinned_nr(struct rmap_pin *rp, struct pinmm_page *folio, unsigned long nr,
			 rmap_one_fn fn, void *arg)
{
	struct pm_list *pos;

	if (rp->av) {
		pm_mutex_lock(&rp->av->lock);
		pm_list_for_each(pos, &rp->av->vmas) {
			struct vm_area *vma = container_of(pos, struct vm_area, anon_link);
			uint64_t addr = vma_address(vma, folio->index, nr);

			if (addr && !fn(folio, vma, addr, arg))
				break;
		}
		pm_mutex_unlock(&rp->av->lock);
	}
	if (rp->file) {
		pm_mutex_lock(&rp->file->lock);
		pm_list_for_each(pos, &rp->file->i_mmap) {
			struct vm_area *vma = container_of(pos, struct vm_area, file_link);
			uint64_t addr = vma_address(vma, folio->index, nr);

			if (addr && !fn(folio, vma, addr, arg))
				break;
		}
		pm_mutex_unlock(&rp->file->lock);
	}
}

bool rmap_walk(struct pinmm *eng, struct pinmm_page *folio, rmap_one_fn fn, void *arg)
{
	struct rmap_pin rp;

	if (!rmap_pin_get(eng, folio, &rp))
		return false;
	rmap_walk_pinned(&rp, folio, fn, arg);
	rmap_pin_put(&rp);
	return true;
}

bool try_to_unmap_pte(struct pinmm *eng, struct pt_table *pte, unsigned i, pte_t e,
		      enum pte_swp_type type, uint64_t offset, struct pinmm_page *page,
		      struct pinmm_page *folio, bool check_pins)
{
	/* what the entry had, to put back if the page stays */
	pte_t saved = (e & PTE_SWP_SAVED & ~PTE_SWP_EXCLUSIVE) |
		      (page_anon_exclusive(page) ? PTE_SWP_EXCLUSIVE : 0);

	pt_xchg(pte, i, mk_swp_entry(type, offset, saved));	/* clear ... */
	if (check_pins && folio_maybe_dma_pinned(eng, folio)) {	/* ... check */
		pt_write(pte, i, e);
		return false;
	}
	return true;
}

void restore_pte(struct pinmm *eng, struct pt_table *pte, unsigned i, pte_t swp,
		 struct pinmm_page *page, struct pinmm_page *folio)
{
	folio_get(folio);
	page_dup_rmap(page);
	if (swp & PTE_SWP_EXCLUSIVE)
		page_set(page, PG_anon_exclusive);
	pt_write(pte, i, mk_pte(eng_page_pfn(eng, page), swp & PTE_SWP_SAVED & ~PTE_SWP_EXCLUSIVE));
}

bool folio_walk_ptes(struct vm_area *vma, uint64_t addr, unsigned long nr, folio_pte_fn fn,
		     void *arg)
{
	for (unsigned long j = 0; j < nr; j++) {
		uint64_t va = addr + j * PINMM_PAGE_SIZE;
		unsigned i = pt_index(va, PT_LEVEL_PTE);
		struct pt_table *pte;
		bool more;

		if (va < vma->start)
			continue;	/* that part of the folio is not mapped here */
		if (va >= vma->end)
			break;
		pte = pte_table_lock(vma->mm, va);
		if (!pte)
			continue;
		more = fn(pte, i, pt_read(pte, i), j, arg);
		pm_mutex_unlock(&pte->ptl);
		if (!more)
			return false;
	}
	return true;
}

bool try_to_migrate_pte(struct pinmm *eng, struct pt_table *pte, unsigned i, pte_t e,
			struct pinmm_page *folio, unsigned long j, bool check_pins)
{
	uint64_t pfn = eng_page_pfn(eng, folio) + j;

	if (!pte_present(e) || pte_special(e) || pte_pfn(e) != pfn)
		return true;
	/* a page that may be pinned keeps its entry, checked right after the
	 * clear (Linux: folio_try_share_anon_rmap_pte()); never a migration
	 * entry for it: fork would copy that entry as shared, and the page
	 * would come back no longer exclusive */
	if (!try_to_unmap_pte(eng, pte, i, e, SWP_MIGRATION, pfn, &folio[j], folio, check_pins))
		return false;
	page_remove_rmap(&folio[j]);
	folio_put(folio);	/* the mapping's reference */
	return true;
}

void remove_migration_pte(struct pinmm *eng, struct pt_table *pte, unsigned i, pte_t e,
			  uint64_t old_pfn, struct pinmm_page *page, struct pinmm_page *folio)
{
	if (is_migration_entry(e) && pte_swp_offset(e) == old_pfn)
		restore_pte(eng, pte, i, e, page, folio);
}
