/* SPDX-License-Identifier: MIT */
/*
 * Page migration: move a folio to a new frame behind the backs of its
 * mappings, as compaction, NUMA balancing and longterm pinning need.
 *
 *   1. take a reference and the folio lock;
 *   2. through the rmap, replace every entry mapping it with a migration
 *      entry (an SC exchange: the clear) — faults on it wait;
 *   3. check the reference count: only our reference (and the page cache's)
 *      may remain (the check). A pin, a GUP reference, anything else: put
 *      the entries back and refuse (migrate_refuses_pinned);
 *   4. copy the bytes, move the page-cache slot, point the entries at the
 *      new folio, unlock, drop the old one.
 *
 * Against GUP-fast it is the clear-then-check protocol of docs/design.md:
 * GUP-fast either sees the migration entry, or step 3 sees its reference.
 * An anonymous THP migrates whole (THP migration): a PMD mapping becomes
 * one PMD migration entry (huge_migrate.c), PTE mappings of its pages
 * become PTE migration entries, and the new THP is mapped the same ways.
 */
#include <errno.h>

#include <pinmm/daemons.h>

#include "../mem/frame_io.h"
#include "../mm/mm.h"
#include "daemons.h"

struct migrate_walk {
	struct pinmm *eng;
	struct pinmm_page *old, *new;	/* new: NULL while unmapping */
	bool check;		/* migrate_refuses_pinned: refuse a pinned folio */
	bool pinned;		/* a pin was seen: stop */
};

/* The PMD leaf (or, restoring, PMD migration entry) at addr when the
 * folio is a THP that vma can map by a PMD there; NULL otherwise. Locked. */
static struct pt_table *folio_pmd_lock(struct pinmm_page *folio, struct vm_area *vma,
				       uint64_t addr)
{
	if (folio_order(folio) != PINMM_HPAGE_ORDER || !IS_ALIGNED(addr, PINMM_PMD_SIZE) ||
	    addr < vma->start || addr + PINMM_PMD_SIZE > vma->end)
		return NULL;
	return pmd_huge_lock(vma->mm, addr);
}

static bool migrate_pte_one(struct pt_table *pte, unsigned i, pte_t e, unsigned long j,
			    void *arg)
{
	struct migrate_walk *w = arg;

	w->pinned = !try_to_migrate_pte(w->eng, pte, i, e, w->old, j, w->check);
	return !w->pinned;
}

/*
 * Step 2 for one mapping: each entry mapping a page of the folio becomes a
 * migration entry — the PMD leaf of a PMD-mapped THP (one entry for the
 * whole folio, THP migration), or each PTE.
 */
static bool try_to_migrate_one(struct pinmm_page *folio, struct vm_area *vma,
			       uint64_t addr, void *arg)
{
	struct migrate_walk *w = arg;
	struct pt_table *pmd = folio_pmd_lock(folio, vma, addr);

	if (!pmd)
		return folio_walk_ptes(vma, addr, folio_nr_pages(folio), migrate_pte_one, w);
	unsigned i = pt_index(addr, PT_LEVEL_PMD);
	pte_t e = pt_read(pmd, i);
	if (pte_huge(e) && pte_pfn(e) == eng_page_pfn(w->eng, folio) &&
	    !set_pmd_migration_entry(w->eng, pmd, i, e, folio, w->check))
		w->pinned = true;
	pm_mutex_unlock(&pmd->ptl);
	return !w->pinned;	/* PMD-mapped here: no PTE of it */
}

static bool remove_migration_pte_one(struct pt_table *pte, unsigned i, pte_t e,
				     unsigned long j, void *arg)
{
	struct migrate_walk *w = arg;

	remove_migration_pte(w->eng, pte, i, e, eng_page_pfn(w->eng, w->old) + j, &w->new[j],
			     w->new);
	return true;
}

/* Step 4 (or the undo of step 2): migration entries -> present entries. */
static bool remove_migration_ptes(struct pinmm_page *folio, struct vm_area *vma,
				  uint64_t addr, void *arg)
{
	struct migrate_walk *w = arg;
	struct pt_table *pmd = folio_pmd_lock(folio, vma, addr);

	if (!pmd)
		return folio_walk_ptes(vma, addr, folio_nr_pages(folio), remove_migration_pte_one,
				       w);
	unsigned i = pt_index(addr, PT_LEVEL_PMD);
	pte_t e = pt_read(pmd, i);
	if (is_pmd_migration_entry(e) && pte_swp_offset(e) == eng_page_pfn(w->eng, w->old))
		remove_migration_pmd(w->eng, pmd, i, e, w->new);
	pm_mutex_unlock(&pmd->ptl);
	return true;
}

/*
 * Carry the identity of old over to new (same rmap, same cache slot).
 * false: a page-cache folio gained a reference since its count was
 * checked, and stays. The page cache is the one way to a folio whose
 * entries are all migration entries: a fault in any process may look it up
 * there and map it. So the count is checked again under the cache's lock,
 * which every lookup takes, and the slot changes under the same lock (as
 * Linux freezes the count in folio_migrate_mapping()); else such a fault
 * would map the old page after it left the cache.
 */
static bool folio_migrate_mapping(struct pinmm_page *old, struct pinmm_page *new,
				  int expected)
{
	if (page_test(old, PG_pagecache)) {
		struct pinmm_file *f = folio_mapping(old);

		pm_mutex_lock(&f->lock);
		pm_preempt(PM_PT_REF_GET, old, folio_ref_count(old));
		if (folio_ref_count(old) != expected) {
			pm_mutex_unlock(&f->lock);
			return false;
		}
		if (f->cache[old->index] == old) {
			f->cache[old->index] = new;
			folio_get(new);		/* the cache's reference moves */
			page_set(new, PG_pagecache);
			page_clear(old, PG_pagecache);
			folio_put(old);
		}
		set_folio_mapping(new, f);
		new->index = old->index;
		if (page_test(old, PG_dirty))
			page_set(new, PG_dirty);
		pm_mutex_unlock(&f->lock);
		return true;
	}
	set_folio_mapping(new, folio_mapping(old));
	new->index = old->index;
	if (page_test(old, PG_anon))
		page_set(new, PG_anon);
	if (page_test(old, PG_dirty))
		page_set(new, PG_dirty);
	return true;
}

/* small anonymous and page-cache folios, and large anonymous ones (THPs
 * and mTHPs, whole) */
static bool migratable(struct pinmm_page *folio)
{
	/* hugetlb migration is not modelled; a swap-cache folio stays: its
	 * slot would keep pointing here */
	if (page_test(folio, PG_ksm) || page_test(folio, PG_zero) ||
	    page_test(folio, PG_hugetlb) || page_test(folio, PG_swapcache))
		return false;
	if (folio_order(folio) == 0)
		return page_test(folio, PG_anon) || page_test(folio, PG_pagecache);
	return page_test(folio, PG_anon);
}

int migrate_folio(struct pinmm *eng, struct pinmm_page *folio, unsigned gfp)
{
	struct pinmm_page *new;

	/* the caller holds a reference */
	if (!migratable(folio))
		return -EBUSY;
	if (pm_policy(eng, PINMM_SW_MIGRATE_REFUSES_PINNED) &&
	    folio_maybe_dma_pinned(eng, folio))
		return -EBUSY;	/* cheap early answer; step 3 decides */
	new = pm_alloc_folio(eng, folio_order(folio), gfp);
	if (!new)
		return -ENOMEM;	/* for a THP: no free 2 MiB block */
	return migrate_folio_to(eng, folio, new);
}

int migrate_folio_to(struct pinmm *eng, struct pinmm_page *folio, struct pinmm_page *new)
{
	struct migrate_walk w = { .eng = eng, .old = folio,
				  .check = pm_policy(eng, PINMM_SW_MIGRATE_REFUSES_PINNED) };
	int expected, err = 0;

	if (!migratable(folio)) {
		folio_put(new);
		return -EBUSY;
	}
	if (!folio_trylock(folio)) {
		folio_put(new);
		return -EAGAIN;
	}
	if (folio_order(new) != folio_order(folio)) {
		err = -EAGAIN;	/* split since the caller looked */
		goto out_unlock;
	}
	/* keep the rmap reachable while no entry maps the folio */
	struct rmap_pin rp;
	if (!rmap_pin_get(eng, folio, &rp)) {
		err = -EAGAIN;
		goto out_unlock;
	}
	rmap_walk_pinned(&rp, folio, try_to_migrate_one, &w);

	expected = 1 + (page_test(folio, PG_pagecache) ? 1 : 0);
	pm_preempt(PM_PT_REF_GET, folio, folio_ref_count(folio));
	int seen = folio_ref_count(folio);
	if (w.pinned || (seen != expected && pm_policy(eng, PINMM_SW_MIGRATE_REFUSES_PINNED))) {
		/* someone holds it (a pin, a GUP reference): put it back */
		err = w.pinned || folio_maybe_dma_pinned(eng, folio) ? -EBUSY : -EAGAIN;
		goto put_back;
	}
	frame_copy(eng_page_virt(eng, new), eng_page_virt(eng, folio),
		   folio_nr_pages(folio) * PINMM_PAGE_SIZE);
	if (!folio_migrate_mapping(folio, new, seen)) {
		err = -EAGAIN;	/* a fault found it in the page cache meanwhile */
		goto put_back;
	}
	w.new = new;
	rmap_walk_pinned(&rp, folio, remove_migration_ptes, &w);
	goto out_rmap;
put_back:
	w.new = folio;
	rmap_walk_pinned(&rp, folio, remove_migration_ptes, &w);
out_rmap:
	rmap_pin_put(&rp);
out_unlock:
	folio_unlock(folio);
	folio_put(new);		/* the mappings hold theirs now (or it is freed) */
	return err;
}

/* Move a folio to another frame of the same kind of zone. */
static int migrate_within_zone(struct pinmm *eng, struct pinmm_page *folio)
{
	return migrate_folio(eng, folio,
			     pm_page_zone(folio) == PINMM_ZONE_MOVABLE ? PM_GFP_MOVABLE : 0);
}

int pinmm_migrate(struct pinmm_mm *mm, uint64_t addr)
{
	struct pinmm_page *folio;
	int err = mm_read_lock_vma(mm, addr);

	if (err)
		return err;
	folio = folio_get_at(mm, addr, &err);
	pm_up_read(&mm->mmap_lock);
	if (!folio)
		return err;
	err = migrate_within_zone(mm->eng, folio);
	folio_put(folio);
	return err;
}

int pinmm_numa_hint(struct pinmm_mm *mm, uint64_t addr)
{
	struct pt_table *t;
	struct pinmm_page *folio;
	unsigned i;
	uint64_t sub;
	int err = mm_read_lock_vma(mm, addr);

	if (err)
		return err;
	folio = folio_get_at(mm, addr, &err);
	if (folio) {
		/* change_prot_numa(): the next access takes a hinting fault
		 * (on the PMD leaf of a THP: do_huge_pmd_numa_page()) */
		t = entry_lock(mm, addr, &i, &sub);
		if (t) {
			if (pte_present(pt_read(t, i)))
				pt_set_bits(t, i, PTE_PROTNONE);
			pm_mutex_unlock(&t->ptl);
		}
	}
	pm_up_read(&mm->mmap_lock);
	if (!folio)
		return err;
	/* do_numa_page(): try to move it "nearer"; a pinned folio stays */
	err = migrate_within_zone(mm->eng, folio);
	folio_put(folio);
	pm_down_read(&mm->mmap_lock);
	t = entry_lock(mm, addr, &i, &sub);
	if (t) {
		struct vm_area *vma = vma_lookup(mm, addr);
		if (vma && (vma->flags & VM_ACCESS_MASK) && pte_present(pt_read(t, i)))
			pt_clear_bits(t, i, PTE_PROTNONE);
		pm_mutex_unlock(&t->ptl);
	}
	pm_up_read(&mm->mmap_lock);
	/* NUMA hinting skips what it cannot move, silently */
	return err == -ENOMEM ? err : 0;
}
