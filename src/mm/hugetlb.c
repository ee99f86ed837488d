/* SPDX-License-Identifier: MIT */
/*
 * hugetlb: 2 MiB pages from a pool set aside beforehand (Linux's
 * nr_hugepages), mapped by PMD leaves of MAP_HUGETLB regions, never split,
 * swapped, merged, collapsed or migrated here.
 *
 * The pool takes its pages from the normal zone. A free pool page has
 * refcount 0 (a GUP-fast that races with its freeing cannot take it) and
 * PG_hugetlb; freeing a hugetlb folio puts it back in the pool. mmap of a
 * private region reserves one page per 2 MiB for its owner, or fails with
 * ENOMEM; its faults use the reservation first. A fork's child owns no
 * reservation: its COW copies come from the pages nobody reserved, and an
 * empty pool is Linux's SIGBUS (-EFAULT here).
 *
 * COW follows Linux's hugetlb_wp(): a write (or unshare) fault reuses the
 * page when it is anonymous and mapped once (folio_mapcount() == 1) -
 * whatever other references exist. That is the kernel's known hole (cow.c
 * marks its vmsplice() cases XFAIL for hugetlb): a FOLL_GET reference of a
 * page whose other mapping went away does not stop the reuse.
 *
 * Mappings of a hugetlb file (hugetlbfs.c: memfd MFD_HUGETLB, and the file
 * behind MAP_SHARED|MAP_HUGETLB) fault its page-cache pages: a shared
 * mapping maps them (writable at once when the VMA is), a private one
 * maps them read-only and copies on write or unshare, as any COW of a
 * page that is not anonymous.
 */
#include <errno.h>
#include <stdlib.h>

#include "../mem/frame_io.h"
#include "mm.h"

/* Put a pool page on the free stack. h->lock held. */
static void pool_push(struct pm_hugetlb *h, struct pinmm_page *folio)
{
	h->free[h->nr_free++] = folio;
}

int pinmm_hugetlb_set_pool(struct pinmm *eng, unsigned long nr)
{
	struct pm_hugetlb *h;
	int err = 0;

	if (!eng || nr > (eng->mem.nr_frames >> PINMM_HPAGE_ORDER))
		return -EINVAL;
	h = &eng->hugetlb;
	pm_mutex_lock(&h->lock);
	if (nr > h->cap) {
		struct pinmm_page **f = realloc(h->free, nr * sizeof(*f));
		if (!f) {
			pm_mutex_unlock(&h->lock);
			return -ENOMEM;
		}
		h->free = f;
		h->cap = nr;
	}
	while (h->nr_total < nr) {
		struct pinmm_page *folio = pm_alloc_folio(eng, PINMM_HPAGE_ORDER, 0);

		if (!folio) {
			err = -ENOMEM;	/* as many as could be had */
			break;
		}
		page_set(folio, PG_hugetlb);
		pm_access(&folio->refcount, PM_ACC_WRITE);
		atomic_store(&folio->refcount, 0);
		pool_push(h, folio);
		h->nr_total++;
	}
	/* shrink: only pages that are free and not reserved go */
	while (h->nr_total > nr && h->nr_free > h->nr_resv) {
		struct pinmm_page *folio = h->free[--h->nr_free];

		page_clear(folio, PG_hugetlb);
		pm_access(&folio->refcount, PM_ACC_WRITE);
		atomic_store(&folio->refcount, 1);
		folio_put(folio);
		h->nr_total--;
	}
	if (h->nr_total > nr)
		err = -EBUSY;	/* the rest is in use (Linux keeps it as surplus) */
	pm_mutex_unlock(&h->lock);
	return err;
}

int pinmm_hugetlb_info(struct pinmm *eng, struct pinmm_hugetlb_info *out)
{
	if (!eng || !out)
		return -EINVAL;
	pm_mutex_lock(&eng->hugetlb.lock);
	out->total = eng->hugetlb.nr_total;
	out->free = eng->hugetlb.nr_free;
	out->resv = eng->hugetlb.nr_resv;
	pm_mutex_unlock(&eng->hugetlb.lock);
	return 0;
}

void hugetlb_free_folio(struct pinmm *eng, struct pinmm_page *folio)
{
	for (unsigned long j = 0; j < HPAGE_PMD_NR; j++)
		page_clear(&folio[j], PG_anon_exclusive);
	page_clear(folio, PG_anon);
	page_clear(folio, PG_dirty);
	set_folio_mapping(folio, NULL);
	pm_mutex_lock(&eng->hugetlb.lock);
	pool_push(&eng->hugetlb, folio);
	pm_mutex_unlock(&eng->hugetlb.lock);
}

void hugetlb_pool_destroy(struct pinmm *eng)
{
	struct pm_hugetlb *h = &eng->hugetlb;

	while (h->nr_free) {
		struct pinmm_page *folio = h->free[--h->nr_free];

		page_clear(folio, PG_hugetlb);
		pm_access(&folio->refcount, PM_ACC_WRITE);
		atomic_store(&folio->refcount, 1);
		folio_put(folio);
	}
	free(h->free);
	pm_mutex_destroy(&h->lock);
}

int hugetlb_reserve(struct pinmm *eng, unsigned long nr)
{
	struct pm_hugetlb *h = &eng->hugetlb;
	int err = 0;

	pm_mutex_lock(&h->lock);
	if (h->nr_free - h->nr_resv < nr)
		err = -ENOMEM;
	else
		h->nr_resv += nr;
	pm_mutex_unlock(&h->lock);
	return err;
}

void hugetlb_unreserve(struct pinmm *eng, unsigned long nr)
{
	pm_mutex_lock(&eng->hugetlb.lock);
	eng->hugetlb.nr_resv -= nr;
	pm_mutex_unlock(&eng->hugetlb.lock);
}

struct pinmm_page *hugetlb_dequeue(struct pinmm *eng, bool reserved)
{
	struct pm_hugetlb *h = &eng->hugetlb;
	struct pinmm_page *folio = NULL;

	pm_mutex_lock(&h->lock);
	if (reserved) {
		h->nr_resv--;
		folio = h->free[--h->nr_free];
	} else if (h->nr_free > h->nr_resv) {
		folio = h->free[--h->nr_free];
	}
	pm_mutex_unlock(&h->lock);
	if (folio) {
		pm_access(&folio->refcount, PM_ACC_WRITE);
		atomic_store(&folio->refcount, 1);
	}
	return folio;
}

/* A page from the pool for vma: its owner's reservation first, else one
 * nobody reserved; NULL when there is none. */
static struct pinmm_page *hugetlb_alloc(struct pinmm *eng, struct vm_area *vma)
{
	bool reserved = false;

	pm_mutex_lock(&eng->hugetlb.lock);
	if (vma->hugetlb_resv) {
		vma->hugetlb_resv--;
		reserved = true;
	}
	pm_mutex_unlock(&eng->hugetlb.lock);
	return hugetlb_dequeue(eng, reserved);
}

/* hugetlb_wp(): write or unshare fault on the read-only leaf e at entry i
 * of pmd (lock held). */
static int hugetlb_wp(struct pinmm *eng, struct vm_area *vma, struct pt_table *pmd, unsigned i,
		      pte_t e, uint64_t haddr, unsigned flags)
{
	struct pinmm_page *old = eng_pfn_page(eng, pte_pfn(e)), *folio;
	bool write = (flags & FAULT_FLAG_WRITE) && !(flags & FAULT_FLAG_UNSHARE) &&
		     (vma->flags & VM_WRITE);

	/* MAP_SHARED: the page-cache page itself takes the write */
	if (vma->flags & VM_SHARED) {
		if (write)
			pt_set_bits(pmd, i, PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
		return 0;
	}
	/* mapped once: ours, whoever else holds a reference (the hole) */
	if (page_test(old, PG_anon) && folio_entire_mapcount(old) == 1) {
		for (unsigned long j = 0; j < HPAGE_PMD_NR; j++)
			page_set(&old[j], PG_anon_exclusive);
		if (write)
			pt_set_bits(pmd, i, PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
		atomic_fetch_add(&eng->stats.cow_reuses, 1);
		return 0;
	}
	/* shared anon, or a page-cache page of a private file mapping: copy */
	folio = hugetlb_alloc(eng, vma);
	if (!folio)
		return -EFAULT;	/* SIGBUS */
	frame_copy(eng_page_virt(eng, folio), eng_page_virt(eng, old), PINMM_PMD_SIZE);
	prep_anon_thp(folio, vma, haddr);
	pt_xchg(pmd, i, mk_pte(eng_page_pfn(eng, folio),
			       PTE_HUGE | (e & PTE_PROTNONE) | vma_pte_flags(vma, write)));
	zap_pmd_folio(old, e);
	atomic_fetch_add(&eng->stats.cow_copies, 1);
	return 0;
}

/* hugetlb_no_page() of an anonymous page: a new page, exclusive; writable
 * for a write fault, else read-only until a write reuses it. ptl held. */
static int hugetlb_no_page_anon(struct pinmm *eng, struct vm_area *vma, struct pt_table *pmd,
				unsigned i, uint64_t haddr, unsigned flags)
{
	struct pinmm_page *folio = hugetlb_alloc(eng, vma);

	if (!folio)
		return -EFAULT;	/* SIGBUS */
	frame_fill(eng_page_virt(eng, folio), 0, PINMM_PMD_SIZE);
	prep_anon_thp(folio, vma, haddr);
	pt_write(pmd, i, mk_pte(eng_page_pfn(eng, folio),
				PTE_HUGE | vma_pte_flags(vma, (flags & FAULT_FLAG_WRITE) &&
							  !(flags & FAULT_FLAG_UNSHARE))));
	return 0;
}

int hugetlb_fault(struct pinmm_mm *mm, struct vm_area *vma, uint64_t addr, unsigned flags)
{
	struct pinmm *eng = mm->eng;
	uint64_t haddr = ALIGN_DOWN(addr, PINMM_PMD_SIZE);
	unsigned i = pt_index(haddr, PT_LEVEL_PMD);
	struct pt_table *pmd = pmd_table_alloc(mm, haddr);
	bool shared = vma->flags & VM_SHARED;
	struct pinmm_page *cached = NULL;
	int err = 0;

	if (!pmd)
		return -ENOMEM;
	if (vma->file && pte_none(pt_read(pmd, i))) {
		/* the file's page first (its lock comes before the ptl): a
		 * shared mapping allocates it into the page cache, a private
		 * one maps it if it is there */
		cached = hugetlb_filemap_get(vma->file, vma->pgoff +
					     ((haddr - vma->start) >> PINMM_PAGE_SHIFT),
					     shared, &err);
		if (err)
			return err;
	}
	pm_mutex_lock(&pmd->ptl);
	pte_t e = pt_read(pmd, i);
	if (pte_none(e) && cached) {
		/* hugetlb_add_file_rmap(): our reference is the mapping's;
		 * writable at once in a writable shared mapping (make_huge_pte) */
		pm_access(&cached->entire_mapcount, PM_ACC_ADD);
		atomic_fetch_add(&cached->entire_mapcount, 1);
		pt_write(pmd, i, mk_pte(eng_page_pfn(eng, cached),
					PTE_HUGE | vma_pte_flags(vma, shared)));
		cached = NULL;
		/* a private mapping's write copies it now */
		if (!shared && (flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)))
			err = hugetlb_wp(eng, vma, pmd, i, pt_read(pmd, i), haddr, flags);
	} else if (pte_none(e)) {
		err = hugetlb_no_page_anon(eng, vma, pmd, i, haddr, flags);
	} else if (pte_huge(e)) {
		if (pte_protnone(e) && (vma->flags & VM_ACCESS_MASK))
			pt_clear_bits(pmd, i, PTE_PROTNONE);
		if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) && !pte_write(e))
			err = hugetlb_wp(eng, vma, pmd, i, pt_read(pmd, i), haddr, flags);
	}
	pm_mutex_unlock(&pmd->ptl);
	if (cached)
		folio_put(cached);	/* someone else mapped it meanwhile */
	return err;
}

/*
 * fork of one hugetlb PMD (copy_hugetlb_page_range()): shared copy-on-write,
 * or - a page that may be pinned, exclusive to the parent - copied for the
 * child at once (4eae4efa2c29, 5.11), from pages nobody reserved (-ENOMEM:
 * the fork fails, as Linux's).
 */
int copy_hugetlb_pmd(struct pinmm_mm *dst, struct vm_area *dst_vma, struct pinmm_mm *src,
		     uint64_t addr)
{
	struct pinmm *eng = src->eng;
	unsigned i = pt_index(addr, PT_LEVEL_PMD);
	struct pt_table *dpmd = pmd_table_alloc(dst, addr), *spmd;

	if (!dpmd)
		return -ENOMEM;
	spmd = pmd_leaf_lock(src, addr);
	if (!spmd)
		return 0;
	pte_t e = pt_read(spmd, i);
	struct pinmm_page *folio = eng_pfn_page(eng, pte_pfn(e));
	int err = 0;

	if (pm_policy(eng, PINMM_SW_FORK_COPY_PINNED) && page_anon_exclusive(folio) &&
	    folio_maybe_dma_pinned(eng, folio)) {
		struct pinmm_page *copy = hugetlb_alloc(eng, dst_vma);

		if (!copy) {
			err = -ENOMEM;
		} else {
			frame_copy(eng_page_virt(eng, copy), eng_page_virt(eng, folio),
				   PINMM_PMD_SIZE);
			prep_anon_thp(copy, dst_vma, addr);
			pm_mutex_lock(&dpmd->ptl);
			pt_write(dpmd, i, mk_pte(eng_page_pfn(eng, copy), e & PTE_FLAGS_MASK));
			pm_mutex_unlock(&dpmd->ptl);
			atomic_fetch_add(&eng->stats.fork_early_copies, 1);
		}
		pm_mutex_unlock(&spmd->ptl);
		return err;
	}
	share_pmd_leaf(spmd, dpmd, i, e, folio);
	pm_mutex_unlock(&spmd->ptl);
	return 0;
}

/* The reservation of [start, end) of an owner's VMA that no fault used: as
 * many 2 MiB slots without an anonymous page as the VMA still has reserved. */
unsigned long hugetlb_resv_in(struct vm_area *vma, uint64_t start, uint64_t end)
{
	unsigned long empty = 0;

	if (!vma->hugetlb_resv)
		return 0;
	for (uint64_t a = start; a < end; a += PINMM_PMD_SIZE) {
		struct pt_table *pmd = pmd_leaf_lock(vma->mm, a);
		bool anon = false;

		if (pmd) {
			/* a page-cache page mapped here used no reservation */
			pte_t e = pt_read(pmd, pt_index(a, PT_LEVEL_PMD));
			anon = page_test(eng_pfn_page(vma->mm->eng, pte_pfn(e)), PG_anon);
			pm_mutex_unlock(&pmd->ptl);
		}
		empty += !anon;
	}
	return MIN(empty, vma->hugetlb_resv);
}
