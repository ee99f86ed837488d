/* SPDX-License-Identifier: MIT */
/*
 * fork(): copy the address space. Private anonymous pages are shared
 * copy-on-write, except a page that may be pinned, which the child gets its
 * own copy of at once (fork_copy_pinned): sharing it would let the
 * parent's next write copy away from the pin.
 *
 * The race with GUP-fast: fork decides "not pinned, share it" and then
 * write-protects the parent's entry; a FOLL_PIN GUP-fast may pin between the
 * two. fork therefore makes mm->write_protect_seq odd for the whole copy
 * (a sequentially consistent increment, before any decision), and GUP-fast
 * samples it before its walk and rechecks it after taking its pins: either
 * GUP-fast sees fork's increment and backs off to the slow path (which
 * waits for mmap_lock), or fork's later check of the pin count sees the pin.
 */
#include <errno.h>

#include "../mem/frame_io.h"
#include "mm.h"

/* May this anon folio be pinned? Exact with pin accounting; legacy has no
 * way to tell a pin from any other reference. */
bool folio_maybe_dma_pinned(struct pinmm *eng, struct pinmm_page *folio)
{
	if (!pm_policy(eng, PINMM_SW_PIN_ACCOUNTING))
		return false;
	return folio_pincount(folio) > 0;
}

/* The child's own copy of a pinned page; its entry is returned. */
static int copy_pinned_page(struct pinmm *eng, struct vm_area *dst_vma,
			    uint64_t addr, struct pinmm_page *src, pte_t *out)
{
	struct pinmm_page *page = pm_alloc_folio(eng, 0, PM_GFP_MOVABLE);

	if (!page)
		return -ENOMEM;
	frame_copy(eng_page_virt(eng, page), eng_page_virt(eng, src), PINMM_PAGE_SIZE);
	page_add_anon_rmap_new(page, dst_vma, addr);
	page_set(page, PG_anon_exclusive);
	pte_t f = PTE_YOUNG | PTE_DIRTY;
	if (dst_vma->flags & VM_WRITE)
		f |= PTE_WRITE;
	if (!(dst_vma->flags & VM_ACCESS_MASK))
		f |= PTE_PROTNONE;
	*out = mk_pte(eng_page_pfn(eng, page), f);
	atomic_fetch_add(&eng->stats.fork_early_copies, 1);
	return 0;
}

/* Copy one present entry of the parent; ptl of src held. */
static int copy_present_pte(struct pinmm *eng, struct vm_area *dst_vma,
			    struct pt_table *src, unsigned i, uint64_t addr,
			    pte_t e, pte_t *out)
{
	struct pinmm_page *page, *folio;

	if (pte_special(e)) {
		*out = e;	/* the zero page */
		return 0;
	}
	page = eng_pfn_page(eng, pte_pfn(e));
	folio = page_folio(page);
	if (pm_policy(eng, PINMM_SW_FORK_COPY_PINNED) &&
	    (!pm_policy(eng, PINMM_SW_ANON_EXCLUSIVE) || page_anon_exclusive(page)) &&
	    folio_maybe_dma_pinned(eng, folio))
		return copy_pinned_page(eng, dst_vma, addr, page, out);

	/* share it copy-on-write */
	folio_get(folio);
	page_dup_rmap(page);
	page_clear(page, PG_anon_exclusive);
	pm_preempt(PM_PT_FORK_CHECKED, page, 0);
	if (pte_write(e))
		pt_clear_bits(src, i, PTE_WRITE);
	*out = e & ~PTE_WRITE;
	return 0;
}

/*
 * A PMD-mapped THP: share it COW as a whole (one PMD mapping more), unless
 * it may be pinned — then split the parent's PMD and let the PTE copy give
 * the child its own copies of the pages (returns 1 for that).
 */
static int copy_huge_pmd(struct pinmm_mm *dst, struct pinmm_mm *src, uint64_t addr)
{
	struct pinmm *eng = src->eng;
	struct pt_table *dpmd = pmd_table_alloc(dst, addr), *spmd;
	unsigned i = pt_index(addr, PT_LEVEL_PMD);

	if (!dpmd || pmd_deposit(dpmd, i))
		return -ENOMEM;
	spmd = pmd_leaf_lock_wait(src, addr);
	if (!spmd)
		return 1;	/* split meanwhile: copy the PTEs */
	pte_t e = pt_read(spmd, i);
	struct pinmm_page *folio = eng_pfn_page(eng, pte_pfn(e));
	if (pte_special(e)) {
		/* the huge zero page: shared as it is, no references */
		pt_write(dpmd, i, e);
		pm_mutex_unlock(&spmd->ptl);
		return 0;
	}
	if (pm_policy(eng, PINMM_SW_FORK_COPY_PINNED) &&
	    folio_maybe_dma_pinned(eng, folio)) {
		split_huge_pmd_locked(eng, spmd, i);
		pm_mutex_unlock(&spmd->ptl);
		return 1;
	}
	share_pmd_leaf(spmd, dpmd, i, e, folio);
	pm_mutex_unlock(&spmd->ptl);
	return 0;
}

static int copy_page_range(struct pinmm_mm *dst, struct pinmm_mm *src,
			   struct vm_area *dst_vma, struct vm_area *src_vma)
{
	struct pinmm *eng = src->eng;

	/* hugetlb: one PMD leaf per 2 MiB, or nothing */
	for (uint64_t addr = src_vma->start;
	     (src_vma->flags & VM_HUGETLB) && addr < src_vma->end; addr += PINMM_PMD_SIZE) {
		int r = copy_hugetlb_pmd(dst, dst_vma, src, addr);
		if (r)
			return r;
	}
	for (uint64_t addr = src_vma->start;
	     !(src_vma->flags & VM_HUGETLB) && addr < src_vma->end;) {
		uint64_t next = MIN(ALIGN_DOWN(addr, PINMM_PMD_SIZE) + PINMM_PMD_SIZE,
				    src_vma->end);
		struct pt_table *spte, *dpte = NULL;
		struct pt_table *leaf = pmd_leaf_lock_wait(src, addr);

		if (leaf) {
			pm_mutex_unlock(&leaf->ptl);
			int r = copy_huge_pmd(dst, src, addr);
			if (r < 0)
				return r;
			if (r == 0) {
				addr = next;
				continue;
			}
		}

		/* nothing to copy in this PTE table? */
		pm_rcu_read_lock();
		spte = pte_table_lookup(src, addr, NULL);
		pm_rcu_read_unlock();
		if (!spte) {
			addr = next;
			continue;
		}
		dpte = pte_table_alloc(dst, addr, NULL);
		if (!dpte)
			return -ENOMEM;
		spte = pte_table_lock(src, addr);
		if (!spte) {
			addr = next;
			continue;
		}
		/* rmap walkers reach the child's tables through the anon_vma
		 * already: write them under their lock (parent's, then child's;
		 * walkers hold one at a time) */
		pm_mutex_lock(&dpte->ptl);
		for (; addr < next; addr += PINMM_PAGE_SIZE) {
			unsigned i = pt_index(addr, PT_LEVEL_PTE);
			pte_t e = pt_read(spte, i), ne;
			int err;

			if (is_migration_entry(e)) {
				/* both sides map it read-only and shared once the
				 * mover puts the folio back */
				ne = e & ~(pte_t)(PTE_WRITE | PTE_SWP_EXCLUSIVE);
				pt_write(spte, i, ne);
				pt_write(dpte, i, ne);
				continue;
			}
			if (pte_is_swp(e) && pte_swp_type(e) == SWP_SWAP) {
				swap_dup(eng, pte_swp_offset(e));
				ne = e & ~(pte_t)PTE_SWP_EXCLUSIVE;
				pt_write(spte, i, ne);
				pt_write(dpte, i, ne);
				continue;
			}
			if (!pte_present(e))
				continue;
			err = copy_present_pte(eng, dst_vma, spte, i, addr, e, &ne);
			if (err) {
				pm_mutex_unlock(&dpte->ptl);
				pm_mutex_unlock(&spte->ptl);
				return err;
			}
			pt_write(dpte, i, ne);
		}
		pm_mutex_unlock(&dpte->ptl);
		pm_mutex_unlock(&spte->ptl);
	}
	return 0;
}

int pinmm_fork(struct pinmm_mm *mm, struct pinmm_mm **child_out)
{
	struct pinmm *eng;
	struct pinmm_mm *child;
	int err = 0;

	if (!mm || !child_out)
		return -EINVAL;
	eng = mm->eng;
	child = mm_alloc(eng);
	if (!child)
		return mm_over_limit(eng) ? -EAGAIN : -ENOMEM;	/* fork(): EAGAIN */

	pm_down_write(&mm->mmap_lock);
	/* the child is on the engine's list already: daemons may walk it, so
	 * its tree and tables are built under its own lock (dup_mmap()) */
	pm_down_write(&child->mmap_lock);
	if (atomic_load(&mm->dead)) {
		err = -ESRCH;
		goto out;
	}
	/* raw_write_seqcount_begin(): odd while entries are write-protected */
	if (pm_policy(eng, PINMM_SW_FORK_GUP_FAST_SEQ)) {
		unsigned s = atomic_fetch_add(&mm->write_protect_seq, 1) + 1;
		pm_preempt(PM_PT_WP_SEQ, &mm->write_protect_seq, s);
	}
	for (struct vm_area *v = RB_MIN(vma_tree, &mm->vmas); v; v = vma_next(mm, v)) {
		struct vm_area *nv;

		if (v->flags & VM_DONTCOPY)
			continue;
		nv = vma_dup(child, v);
		if (!nv) {
			err = -ENOMEM;
			break;
		}
		vma_insert(child, nv);
		/* shared mappings refault from the page cache in the child */
		if (vma_is_anon_private(v)) {
			err = copy_page_range(child, mm, nv, v);
			if (err)
				break;
		}
	}
	if (pm_policy(eng, PINMM_SW_FORK_GUP_FAST_SEQ)) {
		unsigned s = atomic_fetch_add(&mm->write_protect_seq, 1) + 1;
		pm_preempt(PM_PT_WP_SEQ, &mm->write_protect_seq, s);
	}
out:
	pm_up_write(&child->mmap_lock);
	pm_up_write(&mm->mmap_lock);
	if (err) {
		pinmm_mm_exit(child);
		return err;
	}
	*child_out = child;
	return 0;
}
