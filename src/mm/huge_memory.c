/* SPDX-License-Identifier: MIT */
/*
 * Transparent huge pages: anonymous 2 MiB folios (order 9) mapped by a PMD
 * leaf. A PMD mapping holds one reference and counts in the folio's
 * entire_mapcount; splitting the PMD turns it into 512 PTE mappings of the
 * same pages (one reference and one mapcount each) — allowed under pins,
 * since nothing moves. Splitting the folio itself is refused while any
 * reference beyond its mappings exists.
 */
#include <errno.h>

#include <pinmm/daemons.h>

#include "../daemons/daemons.h"
#include "mm.h"

#define HPAGE_NR (1ul << PINMM_HPAGE_ORDER)

bool vma_thp_suitable(const struct vm_area *vma, uint64_t haddr)
{
	return thp_vma_allowable_order(vma, PINMM_HPAGE_ORDER) && haddr >= vma->start &&
	       haddr + PINMM_PMD_SIZE <= vma->end;
}

/* Set up a fresh THP as anonymous memory of vma at haddr, exclusive. */
void prep_anon_thp(struct pinmm_page *folio, struct vm_area *vma, uint64_t haddr)
{
	folio_set_anon(folio, vma, haddr);
	for (unsigned long j = 0; j < HPAGE_NR; j++)
		page_set(&folio[j], PG_anon_exclusive);
	pm_access(&folio->entire_mapcount, PM_ACC_WRITE);
	atomic_store(&folio->entire_mapcount, 1);
}

/*
 * The huge zero page: 2 MiB of zeroes that read faults of THP-enabled
 * ranges map read-only with a special PMD leaf (Linux's use_zero_page,
 * default on). Like the small zero page it counts no references or
 * mappings; a write or unshare fault replaces it by a new THP. Made on
 * first use, kept until the engine goes.
 */
struct pinmm_page *get_huge_zero_folio(struct pinmm *eng)
{
	struct pinmm_page *z = atomic_load(&eng->huge_zero), *none = NULL;

	if (z)
		return z;
	z = pm_alloc_folio(eng, PINMM_HPAGE_ORDER, PM_GFP_ZERO);
	if (!z)
		return NULL;
	for (unsigned long j = 0; j < HPAGE_NR; j++) {
		page_set(&z[j], PG_zero);
		page_set(&z[j], PG_reserved);
	}
	if (atomic_compare_exchange_strong(&eng->huge_zero, &none, z))
		return z;
	for (unsigned long j = 0; j < HPAGE_NR; j++) {
		page_clear(&z[j], PG_zero);
		page_clear(&z[j], PG_reserved);
	}
	folio_put(z);
	return none;	/* another fault made it first */
}

void put_huge_zero_folio(struct pinmm *eng)
{
	struct pinmm_page *z = atomic_exchange(&eng->huge_zero, NULL);

	if (!z)
		return;
	for (unsigned long j = 0; j < HPAGE_NR; j++) {
		page_clear(&z[j], PG_zero);
		page_clear(&z[j], PG_reserved);
	}
	folio_put(z);
}

int pinmm_thp_set_use_zero_page(struct pinmm *eng, bool on)
{
	if (!eng)
		return -EINVAL;
	atomic_store(&eng->thp_use_zero_page, on);
	return 0;
}

static bool is_huge_zero_pmd(pte_t e)
{
	return pte_huge(e) && pte_special(e);
}

/* A read fault maps the huge zero page. 0 done, 1 none to be had. */
static int do_huge_zero_page(struct pinmm *eng, struct vm_area *vma, struct pt_table *pmd,
			     unsigned i)
{
	struct pinmm_page *zero = get_huge_zero_folio(eng);

	if (!zero || pmd_deposit(pmd, i))
		return 1;
	pm_mutex_lock(&pmd->ptl);
	if (pte_none(pt_read(pmd, i)))
		pt_write(pmd, i, mk_pte(eng_page_pfn(eng, zero),
					PTE_HUGE | PTE_SPECIAL | PTE_YOUNG |
					(vma_pte_flags(vma, false) & PTE_PROTNONE)));
	pm_mutex_unlock(&pmd->ptl);
	return 0;
}

/* First touch of an empty PMD in a THP-enabled VMA. 0 done, 1 fall back to
 * small pages, -errno. mmap_lock held for read. */
int do_huge_pmd_anonymous_page(struct pinmm_mm *mm, struct vm_area *vma, uint64_t addr,
			       unsigned flags)
{
	struct pinmm *eng = mm->eng;
	uint64_t haddr = ALIGN_DOWN(addr, PINMM_PMD_SIZE);
	unsigned i = pt_index(haddr, PT_LEVEL_PMD);
	struct pt_table *pmd = pmd_table_alloc(mm, haddr);
	struct pinmm_page *folio;

	if (!pmd)
		return -ENOMEM;
	if (!pte_none(pt_read(pmd, i)))
		return 1;
	if (!(flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) &&
	    atomic_load(&eng->thp_use_zero_page))
		return do_huge_zero_page(eng, vma, pmd, i);
	if (pmd_deposit(pmd, i))
		return 1;	/* no memory for the split-time table */
	folio = pm_alloc_folio(eng, PINMM_HPAGE_ORDER, PM_GFP_MOVABLE | PM_GFP_ZERO);
	if (!folio)
		return 1;	/* no 2 MiB block: small pages will do */
	pm_mutex_lock(&pmd->ptl);
	if (!pte_none(pt_read(pmd, i))) {
		pm_mutex_unlock(&pmd->ptl);
		folio_put(folio);
		return 1;
	}
	prep_anon_thp(folio, vma, haddr);
	/* writable at once when the VMA allows, as Linux maps a new THP */
	pt_write(pmd, i, mk_pte(eng_page_pfn(eng, folio), PTE_HUGE | vma_pte_flags(vma, true)));
	pm_mutex_unlock(&pmd->ptl);
	return 0;
}

/* Turn the PMD leaf at entry i of pmd into a PTE table of the same pages.
 * pmd's lock held. 0 or -ENOMEM. */
int split_huge_pmd_locked(struct pinmm *eng, struct pt_table *pmd, unsigned i)
{
	pte_t old = pt_read(pmd, i);
	struct pinmm_page *folio = eng_pfn_page(eng, pte_pfn(old));
	pte_t flags = old & (PTE_WRITE | PTE_DIRTY | PTE_YOUNG | PTE_PROTNONE);
	struct pt_table *pte;

	if (!pte_huge(old))
		return 0;
	pte = pmd_withdraw(pmd, i);
	if (!pte)
		pte = pt_alloc(eng, PT_LEVEL_PTE);	/* none deposited: unusual */
	if (!pte)
		return -ENOMEM;
	if (is_huge_zero_pmd(old)) {
		/* each PTE maps the small zero page (__split_huge_zero_page_pmd) */
		for (unsigned long j = 0; j < HPAGE_NR; j++)
			atomic_store(&pte->ent[j], mk_pte(eng_page_pfn(eng, eng->zero_page),
							  PTE_SPECIAL | (flags & ~PTE_WRITE)));
		pt_xchg(pmd, i, mk_table_entry(pte));
		return 0;
	}
	for (unsigned long j = 0; j < HPAGE_NR; j++) {
		atomic_store(&pte->ent[j], mk_pte(pte_pfn(old) + j, flags));
		page_dup_rmap(&folio[j]);
	}
	/* the PMD's reference becomes one per PTE */
	pm_access(&folio->refcount, PM_ACC_ADD);
	atomic_fetch_add(&folio->refcount, (int)HPAGE_NR - 1);
	pm_access(&folio->entire_mapcount, PM_ACC_ADD);
	atomic_fetch_sub(&folio->entire_mapcount, 1);
	/* an exchange: a GUP-fast walker that read the leaf fails its recheck */
	pt_xchg(pmd, i, mk_table_entry(pte));
	return 0;
}

int split_huge_pmd_address(struct pinmm_mm *mm, uint64_t addr)
{
	struct pt_table *pmd = pmd_leaf_lock_wait(mm, addr);
	int err;

	if (!pmd)
		return -EINVAL;
	err = split_huge_pmd_locked(mm->eng, pmd, pt_index(addr, PT_LEVEL_PMD));
	pm_mutex_unlock(&pmd->ptl);
	return err;
}

int pinmm_split_pmd(struct pinmm_mm *mm, uint64_t addr)
{
	int err = mm_read_lock_vma(mm, addr);

	if (err)
		return err;
	/* a hugetlb page is mapped whole, always */
	err = vma_lookup(mm, addr)->flags & VM_HUGETLB ? -EINVAL
						      : split_huge_pmd_address(mm, addr);
	pm_up_read(&mm->mmap_lock);
	return err;
}

/*
 * Write (or unshare) fault on a read-only PMD leaf; pmd's lock held.
 * Reuse the THP when it is ours alone, as do_wp_page() does for small
 * pages; otherwise split the PMD and let the fault retry on PTEs, where
 * COW copies 4 KiB at a time.
 */
/* Write or unshare fault on the huge zero page: a new zeroed THP in its
 * place (read-only for an unshare or a forced write), or, when no 2 MiB
 * block is free, small zero pages and a retry (do_huge_zero_wp_pmd()). */
static int do_huge_zero_wp_pmd(struct pinmm *eng, struct vm_area *vma, struct pt_table *pmd,
			       unsigned i, uint64_t haddr, unsigned flags)
{
	struct pinmm_page *folio = pm_alloc_folio(eng, PINMM_HPAGE_ORDER,
						  PM_GFP_MOVABLE | PM_GFP_ZERO);
	pte_t e = pt_read(pmd, i);

	if (!folio)
		return split_huge_pmd_locked(eng, pmd, i);
	prep_anon_thp(folio, vma, haddr);
	bool write = (flags & FAULT_FLAG_WRITE) &&
		     !(flags & (FAULT_FLAG_UNSHARE | FAULT_FLAG_FORCE));
	pt_xchg(pmd, i, mk_pte(eng_page_pfn(eng, folio),
			       PTE_HUGE | (e & PTE_PROTNONE) | vma_pte_flags(vma, write)));
	atomic_fetch_add(&eng->stats.cow_copies, 1);
	return 0;
}

int do_huge_pmd_wp_page(struct pinmm *eng, struct vm_area *vma, struct pt_table *pmd,
			unsigned i, uint64_t addr, unsigned flags)
{
	pte_t e = pt_read(pmd, i);
	struct pinmm_page *folio = eng_pfn_page(eng, pte_pfn(e));
	bool reuse;

	if (is_huge_zero_pmd(e))
		return do_huge_zero_wp_pmd(eng, vma, pmd, i, ALIGN_DOWN(addr, PINMM_PMD_SIZE), flags);

	if (pm_policy(eng, PINMM_SW_ANON_EXCLUSIVE))
		reuse = page_anon_exclusive(folio) || folio_ref_count(folio) == 1;
	else
		reuse = folio_entire_mapcount(folio) == 1;
	if (reuse) {
		for (unsigned long j = 0; j < HPAGE_NR; j++)
			page_set(&folio[j], PG_anon_exclusive);
		if (!(flags & (FAULT_FLAG_UNSHARE | FAULT_FLAG_FORCE)) && (vma->flags & VM_WRITE))
			pt_set_bits(pmd, i, PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
		return 0;
	}
	return split_huge_pmd_locked(eng, pmd, i);
}

/* Zap the PMD leaf at entry i (lock held): the whole THP mapping goes. */
void zap_huge_pmd(struct pinmm *eng, struct pt_table *pmd, unsigned i)
{
	pte_t old = pt_xchg(pmd, i, 0);
	struct pinmm_page *folio = eng_pfn_page(eng, pte_pfn(old));
	struct pt_table *deposited = pmd_withdraw(pmd, i);

	/* RCU: khugepaged deposits the PTE table it emptied, which a GUP-fast
	 * or rmap walker may have read just before and not yet let go of */
	if (deposited)
		pt_free_rcu(deposited);
	if (is_huge_zero_pmd(old))
		return;		/* the huge zero page holds no references */
	zap_pmd_folio(folio, old);
}

void share_pmd_leaf(struct pt_table *spmd, struct pt_table *dpmd, unsigned i, pte_t e,
		    struct pinmm_page *folio)
{
	folio_get(folio);
	pm_access(&folio->entire_mapcount, PM_ACC_ADD);
	atomic_fetch_add(&folio->entire_mapcount, 1);
	for (unsigned long j = 0; j < HPAGE_NR; j++)
		page_clear(&folio[j], PG_anon_exclusive);
	pm_preempt(PM_PT_FORK_CHECKED, folio, 0);
	if (pte_write(e))
		pt_clear_bits(spmd, i, PTE_WRITE);
	/* the child's table under its lock, as the PTE copy does: rmap
	 * walkers reach it through the anon_vma already */
	pm_mutex_lock(&dpmd->ptl);
	pt_write(dpmd, i, e & ~PTE_WRITE);
	pm_mutex_unlock(&dpmd->ptl);
}

void zap_pmd_folio(struct pinmm_page *folio, pte_t old)
{
	if (old & PTE_DIRTY)
		page_set(folio, PG_dirty);
	pm_access(&folio->entire_mapcount, PM_ACC_WRITE);
	if (atomic_fetch_sub(&folio->entire_mapcount, 1) == 1)
		for (unsigned long j = 0; j < HPAGE_NR; j++)
			if (!page_pte_mapcount(&folio[j]))
				page_clear(&folio[j], PG_anon_exclusive);
	folio_put(folio);	/* the mapping's reference */
}

/*
 * Split a large folio into small ones (Linux's split_folio()): unmap every
 * PTE of it into migration entries through the rmap, freeze the count at
 * zero (refused, -EBUSY, if anything but the caller still holds it: a pin,
 * a GUP or scan reference), rewrite the descriptors as small folios, and map
 * each page again. While the entries are migration entries nobody can take
 * a reference through the page tables, and faults on them wait for the
 * pages' lock, which every page holds until it is mapped again.
 * PMD mappings must be split already (entire_mapcount 0).
 */
struct split_walk {
	struct pinmm *eng;
	struct pinmm_page *folio;
	unsigned long nr;	/* its pages, from before the split */
	bool remap;		/* false: unmap into migration entries */
	bool pinned;		/* a pin was seen while unmapping: stop */
};

static bool split_pte_one(struct pt_table *pte, unsigned i, pte_t e, unsigned long j, void *arg)
{
	struct split_walk *w = arg;
	struct pinmm_page *page = &w->folio[j];

	if (w->remap) {
		/* page_folio(): the page itself once split */
		remove_migration_pte(w->eng, pte, i, e, eng_page_pfn(w->eng, page), page,
				     page_folio(page));
		return true;
	}
	/* as migration: a page that may be pinned keeps its entry (and the
	 * split is refused) */
	w->pinned = !try_to_migrate_pte(w->eng, pte, i, e, w->folio, j, true);
	return !w->pinned;
}

static bool split_one(struct pinmm_page *folio, struct vm_area *vma, uint64_t addr, void *arg)
{
	(void)folio;
	struct split_walk *w = arg;

	/* the size from before: the remap runs after the split */
	return folio_walk_ptes(vma, addr, w->nr, split_pte_one, arg);
}

/* rmap callback: split the PMD mapping of the folio at addr, if any. */
static bool split_pmd_one(struct pinmm_page *folio, struct vm_area *vma, uint64_t addr, void *arg)
{
	struct pinmm *eng = arg;
	struct pt_table *pmd;

	if (!IS_ALIGNED(addr, PINMM_PMD_SIZE) || addr < vma->start ||
	    addr + PINMM_PMD_SIZE > vma->end)
		return true;	/* only PTE-mapped here */
	pmd = pmd_leaf_lock(vma->mm, addr);
	if (pmd) {
		unsigned i = pt_index(addr, PT_LEVEL_PMD);

		if (pte_pfn(pt_read(pmd, i)) == eng_page_pfn(eng, folio))
			split_huge_pmd_locked(eng, pmd, i);
		pm_mutex_unlock(&pmd->ptl);
	}
	return true;
}

void folio_split_pmds(struct pinmm *eng, struct rmap_pin *rp, struct pinmm_page *folio)
{
	if (folio_entire_mapcount(folio))
		rmap_walk_pinned(rp, folio, split_pmd_one, eng);
}

int split_folio_locked(struct pinmm *eng, struct pinmm_page *folio, int extra, bool keep_locked)
{
	struct split_walk w = { .eng = eng, .folio = folio, .nr = folio_nr_pages(folio) };
	struct rmap_pin rp;

	/* a folio in the swap cache keeps its run of slots whole here */
	if (page_test(folio, PG_swapcache) || !rmap_pin_get(eng, folio, &rp))
		return -EBUSY;
	/* PMD-mapped in other processes too (a fork's child): split those
	 * mappings first, through the rmap, as Linux's unmap_folio() does
	 * (TTU_SPLIT_HUGE_PMD); the pages stay where they are */
	folio_split_pmds(eng, &rp, folio);
	if (folio_entire_mapcount(folio)) {
		rmap_pin_put(&rp);
		return -EBUSY;	/* a PMD map the walk could not reach */
	}
	rmap_walk_pinned(&rp, folio, split_one, &w);
	pm_access(&folio->refcount, PM_ACC_WRITE);
	int expected = extra;
	if (w.pinned || !atomic_compare_exchange_strong(&folio->refcount, &expected, 0)) {
		/* someone holds it: put every page back where it was */
		w.remap = true;
		rmap_walk_pinned(&rp, folio, split_one, &w);
		rmap_pin_put(&rp);
		return -EBUSY;
	}
	/* frozen: the shrinker cannot take it now; off its queue before the
	 * second page's links are rewritten */
	folio_unqueue_deferred_split(folio);
	for (unsigned long j = 0; j < w.nr; j++) {
		struct pinmm_page *p = &folio[j];
		uint32_t keep = atomic_load(&p->flags) &
				((1u << PG_anon) | (1u << PG_anon_exclusive) | (1u << PG_dirty));

		keep |= atomic_load(&folio->flags) & ((1u << PG_anon) | (1u << PG_dirty));
		atomic_store(&p->flags, keep | (1u << PG_locked));
		set_page_order(p, 0);
		set_page_head_off(p, 0);
		set_folio_mapping(p, folio_mapping(folio));
		p->index = folio->index + j;
		pm_access(&p->flags, PM_ACC_WRITE);
		pm_access(&p->entire_mapcount, PM_ACC_WRITE);
		pm_access(&p->pincount, PM_ACC_WRITE);
		pm_access(&p->mapcount, PM_ACC_WRITE);
		pm_access(&p->refcount, PM_ACC_WRITE);
		atomic_store(&p->entire_mapcount, 0);
		atomic_store(&p->pincount, 0);
		atomic_store(&p->mapcount, 0);
		/* each new small folio is ours until it is unlocked: its
		 * mappings come back one by one, and a mapping whose mm exits
		 * meanwhile must not free the page under us */
		atomic_store(&p->refcount, 1);
	}
	/* the caller's references stay on the first page */
	pm_access(&folio->refcount, PM_ACC_WRITE);
	atomic_store(&folio->refcount, extra);
	w.remap = true;
	rmap_walk_pinned_nr(&rp, folio, w.nr, split_one, &w);
	rmap_pin_put(&rp);
	for (unsigned long j = 0; j < w.nr; j++) {
		if (j || !keep_locked)
			page_clear(&folio[j], PG_locked);
		if (j)
			folio_put(&folio[j]);	/* frees what nobody maps now */
	}
	return 0;
}

int pinmm_split_folio(struct pinmm_mm *mm, uint64_t addr)
{
	struct pinmm_page *folio;
	int err;

	if (!mm)
		return -EINVAL;
	if (atomic_load(&mm->dead))
		return -ESRCH;
	pm_down_write(&mm->mmap_lock);
	if (!vma_lookup(mm, addr)) {
		pm_up_write(&mm->mmap_lock);
		return -EFAULT;
	}
	/* our own reference keeps it from going away meanwhile */
	folio = folio_get_at(mm, addr, &err);
	if (!folio || !folio_order(folio) || page_test(folio, PG_hugetlb)) {
		/* nothing mapped, a small folio, or a hugetlb page */
		pm_up_write(&mm->mmap_lock);
		if (folio)
			folio_put(folio);
		return -EINVAL;
	}
	split_huge_pmd_address(mm, addr);	/* PTE-map it here first */
	if (folio_order(folio) == 0)
		err = 0;	/* someone split it meanwhile */
	else if (!folio_trylock(folio))
		err = -EAGAIN;
	else if ((err = split_folio_locked(mm->eng, folio, 1, false)))
		folio_unlock(folio);	/* on success every page was unlocked */
	pm_up_write(&mm->mmap_lock);
	folio_put(folio);
	return err;
}
