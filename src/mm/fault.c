/* SPDX-License-Identifier: MIT */
/*
 * Page faults: anonymous first touch (zero page for reads), write-protect
 * faults with copy-on-write, unshare faults, shmem faults.
 *
 * The reuse decision is where the pin guarantee is won or lost:
 *  - anon_exclusive on (Linux >= 5.19): a page marked anon-exclusive is
 *    reused; otherwise it is reused only when our mapping holds its only
 *    reference (refcount == 1) — a pin, a GUP reference or another mapping
 *    means copy. A pinned page stays exclusive, so it is never copied away
 *    from.
 *  - anon_exclusive off (before 5.8): reuse when mapcount == 1, blind to
 *    pins and GUP references — "COW can break either way".
 *  - a page of a large folio (large_cow_reuse, 6.15): reused when all the
 *    folio's references are mappings, all in this mm.
 */
#include <errno.h>

#include "../mem/frame_io.h"
#include "mm.h"

int vma_access_ok(const struct vm_area *vma, bool write)
{
	if (write ? !(vma->flags & VM_WRITE) : !(vma->flags & VM_READ))
		return -EACCES;
	return 0;
}

pte_t vma_pte_flags(const struct vm_area *vma, bool writable)
{
	pte_t f = PTE_YOUNG;

	if (writable && (vma->flags & VM_WRITE))
		f |= PTE_WRITE | PTE_DIRTY;
	if (!(vma->flags & VM_ACCESS_MASK))
		f |= PTE_PROTNONE;
	return f;
}

/* A fresh exclusive anon page for addr (zeroed, or a copy of src). */
static struct pinmm_page *alloc_anon_page(struct pinmm *eng,
					  struct pinmm_page *src)
{
	struct pinmm_page *p = pm_alloc_folio(eng, 0,
					      PM_GFP_MOVABLE | (src ? 0 : PM_GFP_ZERO));

	if (p && src)
		frame_copy(eng_page_virt(eng, p), eng_page_virt(eng, src),
			   PINMM_PAGE_SIZE);
	return p;
}

static int do_anonymous_page(struct pinmm_mm *mm, struct vm_area *vma,
			     struct pt_table *pte, uint64_t addr, unsigned flags)
{
	struct pinmm *eng = mm->eng;
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	struct pinmm_page *page;

	if (!(flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE))) {
		/* a read maps the shared zero page, read-only */
		pm_mutex_lock(&pte->ptl);
		if (pte_none(pt_read(pte, i)))
			pt_write(pte, i, mk_pte(eng_page_pfn(eng, eng->zero_page),
						PTE_SPECIAL | PTE_YOUNG |
						(vma_pte_flags(vma, false) & PTE_PROTNONE)));
		pm_mutex_unlock(&pte->ptl);
		return 0;
	}
	if (!do_anonymous_mthp(mm, vma, pte, addr, flags))
		return 0;
	page = alloc_anon_page(eng, NULL);
	if (!page)
		return -ENOMEM;
	pm_mutex_lock(&pte->ptl);
	if (!pte_none(pt_read(pte, i))) {
		/* someone else faulted it in meanwhile */
		pm_mutex_unlock(&pte->ptl);
		folio_put(page);
		return 0;
	}
	page_add_anon_rmap_new(page, vma, addr);
	page_set(page, PG_anon_exclusive);
	/* an unshare of an empty entry makes an exclusive page, mapped R/O */
	pt_write(pte, i, mk_pte(eng_page_pfn(eng, page),
				vma_pte_flags(vma, flags & FAULT_FLAG_WRITE)));
	pm_mutex_unlock(&pte->ptl);
	return 0;
}

static int do_wp_page(struct pinmm_mm *mm, struct vm_area *vma,
		      struct pt_table *pte, uint64_t addr, pte_t old,
		      unsigned flags);

/*
 * Fault on an empty entry of a file mapping (shared anonymous memory is an
 * unnamed file). A shared mapping maps the page-cache page itself; a private
 * one maps it read-only and copies it on the first write (do_cow_fault).
 */
static int do_file_fault(struct pinmm_mm *mm, struct vm_area *vma,
			 struct pt_table *pte, uint64_t addr, unsigned flags)
{
	struct pinmm *eng = mm->eng;
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	uint64_t index = vma->pgoff + ((addr - vma->start) >> PINMM_PAGE_SHIFT);
	struct pinmm_page *page = filemap_get_page(eng, vma->file, index);
	bool shared = vma->flags & VM_SHARED;
	int err = 0;

	if (!page)
		return index >= vma->file->nr_pages ? -EFAULT : -ENOMEM;
	pm_mutex_lock(&pte->ptl);
	pte_t e = pt_read(pte, i);
	if (pte_none(e)) {
		page_dup_rmap(page);	/* the mapping keeps our reference */
		pt_write(pte, i, mk_pte(eng_page_pfn(eng, page),
					vma_pte_flags(vma, shared && (flags & FAULT_FLAG_WRITE))));
		page = NULL;
		e = pt_read(pte, i);
	}
	if (!shared && (flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) &&
	    pte_present(e) && !pte_write(e))
		err = do_wp_page(mm, vma, pte, addr, e, flags);
	else if ((flags & FAULT_FLAG_WRITE) && pte_present(e) && !pte_write(e))
		pt_set_bits(pte, i, PTE_WRITE | PTE_DIRTY);
	pm_mutex_unlock(&pte->ptl);
	if (page)
		folio_put(page);
	return err;
}

/*
 * A large anon folio (Linux >= 6.15, "mm: COW reuse support for PTE-mapped
 * THP"): reused when every reference is one of its mappings and every
 * mapping is in this mm. Linux knows the second from the per-mm mapcounts
 * of folio->_mm_id; here the mappings are counted in this PTE table, under
 * its lock (a folio mapped from another table of this mm, after mremap,
 * is copied: Linux would reuse it). Only one page mapped: copy, so the
 * rest can be freed. ptl held.
 */
static bool wp_can_reuse_large_anon(struct pinmm *eng, struct pt_table *pte,
				    struct pinmm_page *folio)
{
	uint64_t pfn = eng_page_pfn(eng, folio), nr = folio_nr_pages(folio);
	int mapcount = folio_large_mapcount(folio), here = 0;

	if (!pm_policy(eng, PINMM_SW_LARGE_COW_REUSE) || mapcount <= 1 ||
	    folio_entire_mapcount(folio))
		return false;
	for (unsigned i = 0; i < PT_ENTRIES && here <= mapcount; i++) {
		pte_t e = pt_read(pte, i);

		here += pte_present(e) && !pte_special(e) && pte_pfn(e) - pfn < nr;
	}
	if (here != mapcount)
		return false;	/* another mm maps some page of it */
	/* freeing the swap cache fails while some entry still refers to it */
	if (page_test(folio, PG_swapcache))
		folio_free_swap(eng, folio);
	return folio_ref_count(folio) == mapcount;
}

/* Can the write (or unshare) fault keep this anon page? ptl held. */
static bool wp_can_reuse_anon(struct pinmm *eng, struct pt_table *pte, struct pinmm_page *page)
{
	struct pinmm_page *folio = page_folio(page);

	if (!pm_policy(eng, PINMM_SW_ANON_EXCLUSIVE)) {
		/* legacy: blind to GUP; reuse_swap_page() counted the swap
		 * entries too, and let the swap cache go */
		if (page_mapcount(page) != 1)
			return false;
		return !page_test(folio, PG_swapcache) || folio_free_swap(eng, folio);
	}
	if (page_anon_exclusive(page))
		return true;
	if (page_test(folio, PG_ksm))
		return false;
	if (folio_order(folio) > 0)
		return wp_can_reuse_large_anon(eng, pte, folio);
	/* the swap cache's reference goes first, when no other entry refers
	 * to the slot (wp_can_reuse_anon_folio()) */
	if (page_test(folio, PG_swapcache) && folio_ref_count(folio) <= 2)
		folio_free_swap(eng, folio);
	/*
	 * Only our mapping references it: nobody (no other mm, no pin, no GUP
	 * reference, no swap entry through the cache) can observe the page, so
	 * it becomes ours. GUP-fast cannot raise the count now: it only pins
	 * through a writable entry or an exclusive page (R/O pins of shared
	 * pages go to the slow path, which takes this ptl).
	 */
	return folio_ref_count(folio) == 1;
}

/* Replace entry i (still old) by a private copy of its page (or of the zero
 * page). Drops and retakes the ptl to allocate. */
static int wp_page_copy(struct pinmm_mm *mm, struct vm_area *vma,
			struct pt_table *pte, uint64_t addr, pte_t old,
			unsigned flags)
{
	struct pinmm *eng = mm->eng;
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	struct pinmm_page *src = eng_pfn_page(eng, pte_pfn(old));
	bool from_zero = pte_special(old);
	struct pinmm_page *page;

	if (!from_zero)
		folio_get(page_folio(src));	/* keep it while unlocked */
	pm_mutex_unlock(&pte->ptl);
	page = alloc_anon_page(eng, from_zero ? NULL : src);
	pm_mutex_lock(&pte->ptl);
	if (!page) {
		if (!from_zero)
			folio_put(page_folio(src));
		return -ENOMEM;
	}
	if (pt_read(pte, i) != old) {
		/* changed under us: let the caller retry */
		if (!from_zero)
			folio_put(page_folio(src));
		folio_put(page);
		return 0;
	}
	page_add_anon_rmap_new(page, vma, addr);
	page_set(page, PG_anon_exclusive);
	/* an unshare copy stays read-only; a write copy is writable now */
	pt_xchg(pte, i, mk_pte(eng_page_pfn(eng, page),
			       vma_pte_flags(vma, (flags & FAULT_FLAG_WRITE) &&
						  !(flags & FAULT_FLAG_FORCE))));
	if (!from_zero) {
		zap_present_pte(eng, old);
		folio_put(page_folio(src));
	}
	atomic_fetch_add(&eng->stats.cow_copies, 1);
	return 0;
}

/* Write or unshare fault on a present entry. ptl held on entry and exit. */
static int do_wp_page(struct pinmm_mm *mm, struct vm_area *vma,
		      struct pt_table *pte, uint64_t addr, pte_t old,
		      unsigned flags)
{
	struct pinmm *eng = mm->eng;
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	bool unshare = flags & FAULT_FLAG_UNSHARE;
	struct pinmm_page *page;

	if (pte_special(old))
		return wp_page_copy(mm, vma, pte, addr, old, flags);
	page = eng_pfn_page(eng, pte_pfn(old));
	if (!page_test(page_folio(page), PG_anon)) {
		/* private file page: COW; an unshare (R/O longterm pin) takes
		 * the copy now and keeps it read-only */
		if (!(vma->flags & VM_SHARED))
			return unshare && !pm_policy(eng, PINMM_SW_RO_LONGTERM_COW_UNSHARE)
				       ? 0 : wp_page_copy(mm, vma, pte, addr, old, flags);
		/* a shared mapping writes the page-cache page itself */
		if (!unshare)
			pt_set_bits(pte, i, PTE_WRITE | PTE_DIRTY);
		return 0;
	}
	if (unshare && pm_policy(eng, PINMM_SW_ANON_EXCLUSIVE) &&
	    page_anon_exclusive(page))
		return 0;
	if (wp_can_reuse_anon(eng, pte, page)) {
		/* the bit is kept in legacy too (for the checker); only
		 * strict acts on it */
		page_set(page, PG_anon_exclusive);
		if (!unshare && !(flags & FAULT_FLAG_FORCE))
			pt_set_bits(pte, i, PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
		atomic_fetch_add(&eng->stats.cow_reuses, 1);
		return 0;
	}
	return wp_page_copy(mm, vma, pte, addr, old, flags);
}

int handle_mm_fault(struct pinmm_mm *mm, struct vm_area *vma, uint64_t addr,
		    unsigned flags)
{
	struct pt_table *pte;
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	bool write = flags & FAULT_FLAG_WRITE;
	pte_t e;
	int err = 0;

	addr = ALIGN_DOWN(addr, PINMM_PAGE_SIZE);
	if (vma->flags & VM_HUGETLB)
		return hugetlb_fault(mm, vma, addr, flags);
	/* a PMD leaf maps it: the THP's own fault paths */
	struct pt_table *pmd = pmd_leaf_lock_wait(mm, addr);
	if (pmd) {
		unsigned pi = pt_index(addr, PT_LEVEL_PMD);
		pte_t pe = pt_read(pmd, pi);

		if (pte_protnone(pe) && (vma->flags & VM_ACCESS_MASK))
			pt_clear_bits(pmd, pi, PTE_PROTNONE);
		if ((write || (flags & FAULT_FLAG_UNSHARE)) && !pte_write(pe))
			err = do_huge_pmd_wp_page(mm->eng, vma, pmd, pi, addr, flags);
		else if (flags & FAULT_FLAG_UNSHARE)
			err = 0;	/* writable: exclusive already */
		pm_mutex_unlock(&pmd->ptl);
		return err;
	}
	if (vma_thp_suitable(vma, ALIGN_DOWN(addr, PINMM_PMD_SIZE))) {
		err = do_huge_pmd_anonymous_page(mm, vma, addr, flags);
		if (err <= 0)
			return err;
		err = 0;	/* fall back to small pages */
	}
	bool huge;
	pte = pte_table_alloc(mm, addr, &huge);
	if (!pte)	/* a THP was in the way (it may be split or gone by now):
			 * the caller retries; else no memory for a table */
		return huge ? 0 : -ENOMEM;
	e = pt_read(pte, i);
	if (pte_none(e)) {
		if (vma->file)
			return do_file_fault(mm, vma, pte, addr, flags);
		return do_anonymous_page(mm, vma, pte, addr, flags);
	}
	if (is_migration_entry(e)) {
		/* wait until the mover unlocks the folio, then retry */
		struct pinmm_page *old = eng_pfn_page(mm->eng, pte_swp_offset(e));
		/* a splitting THP holds its head's lock, a migrating page its own */
		while ((page_test(old, PG_locked) || page_test(page_folio(old), PG_locked)) &&
		       pt_read(pte, i) == e)
			pm_cpu_relax();
		return 0;
	}
	if (pte_is_swp(e) && pte_swp_type(e) == SWP_SWAP)
		return do_swap_page(mm, vma, pte, addr, e, flags);
	if (!pte_present(e))
		return -EFAULT;

	pm_mutex_lock(&pte->ptl);
	e = pt_read(pte, i);
	if (!pte_present(e)) {
		pm_mutex_unlock(&pte->ptl);
		return 0;	/* raced with a zap: the caller retries */
	}
	/* mprotect may have left a PROT_NONE mark on a now-accessible VMA */
	if (pte_protnone(e) && (vma->flags & VM_ACCESS_MASK)) {
		pt_clear_bits(pte, i, PTE_PROTNONE);
		e &= ~PTE_PROTNONE;
	}
	if ((write || (flags & FAULT_FLAG_UNSHARE)) && !pte_write(e))
		err = do_wp_page(mm, vma, pte, addr, e, flags);
	else if (!(e & PTE_YOUNG))
		pt_set_bits(pte, i, PTE_YOUNG);
	pm_mutex_unlock(&pte->ptl);
	return err;
}
