/* SPDX-License-Identifier: MIT */
/*
 * KSM: merge identical anonymous pages of MADV_MERGEABLE ranges into one
 * write-protected KSM page; a write breaks it again by COW.
 *
 * The algorithm is ksmd's (mm/ksm.c), one pass a full scan: pages are met
 * in mm order (oldest first) and address order; a page first tries the
 * stable tree (the KSM pages); else, once its checksum held since the
 * previous pass, the unstable tree of this pass: not found, it is inserted;
 * found, the page met now becomes the KSM page and the tree's page (met
 * earlier) is merged into it. The unstable tree is rebuilt every pass. So
 * a pinned page met first sits in the unstable tree and every twin fails to
 * merge with it, pass after pass, while the pin is held — as on Linux.
 *
 * Each page enters a merge through write_protect_page(), the protocol that
 * keeps KSM off pinned pages (ksm_clear_then_check):
 *   clear the entry (an SC exchange: GUP-fast's recheck now fails), then
 *   read the counts; a reference beyond the mappings' and ours means a pin
 *   or a GUP reference may be writing it: restore the entry and skip.
 * With the switch off the counts are read first and the entry changed
 * after, and a GUP-fast pin slips in between (explorer finds it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pinmm/daemons.h>

#include "../mem/frame_io.h"
#include "../mm/mm.h"
#include "daemons.h"

struct ksm_item {
	uint64_t hash;
	struct pinmm_mm *mm;
	uint64_t addr;
	struct pinmm_page *page;	/* referenced while listed */
	int scan_refs;			/* items listing this page: our references */
};

/* A page's checksum from the previous pass (rmap_item->oldchecksum). */
struct ksm_checksum {
	unsigned mm_id;
	uint64_t addr, hash;
};

static uint64_t page_hash(struct pinmm *eng, struct pinmm_page *page)
{
	const uint64_t *w = (const uint64_t *)eng_page_virt(eng, page);
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a over words */

	for (unsigned i = 0; i < PINMM_PAGE_SIZE / 8; i++)
		h = (h ^ __atomic_load_n(&w[i], __ATOMIC_RELAXED)) * 0x100000001b3ull;
	return h;
}

static bool pages_identical(struct pinmm *eng, struct pinmm_page *a, struct pinmm_page *b)
{
	uint8_t x[PINMM_PAGE_SIZE], y[PINMM_PAGE_SIZE];

	frame_copy_from(x, eng_page_virt(eng, a), PINMM_PAGE_SIZE);
	frame_copy_from(y, eng_page_virt(eng, b), PINMM_PAGE_SIZE);
	return !memcmp(x, y, PINMM_PAGE_SIZE);
}

/* Make the entry at addr mapping page read-only, unless the page may be
 * pinned. mmap_lock of mm held for read. */
static bool write_protect_page(struct pinmm *eng, struct pinmm_mm *mm, uint64_t addr,
			       struct pinmm_page *page, int our_refs)
{
	struct pt_table *pte = pte_table_lock(mm, addr);
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	bool ok = false;

	if (!pte)
		return false;
	pte_t e = pt_read(pte, i);
	if (!pte_present(e) || pte_special(e) || pte_pfn(e) != eng_page_pfn(eng, page))
		goto out;
	/* expected: one reference per mapping, plus ours */
	int expected = page_mapcount(page) + our_refs;
	if (pm_policy(eng, PINMM_SW_KSM_CLEAR_THEN_CHECK)) {
		pte_t old = pt_xchg(pte, i, 0);		/* clear ... */
		if (folio_ref_count(page) != expected) {	/* ... then check */
			pt_write(pte, i, old);
			goto out;
		}
		e = old;
	} else {
		if (folio_ref_count(page) != expected)	/* check ... */
			goto out;
		pm_preempt(PM_PT_KSM_CHECKED, page, 0);	/* ... GUP-fast here ... */
	}
	if (e & PTE_DIRTY)
		page_set(page, PG_dirty);
	page_clear(page, PG_anon_exclusive);
	pt_write(pte, i, e & ~(PTE_WRITE | PTE_DIRTY));	/* ... then replace */
	ok = true;
out:
	pm_mutex_unlock(&pte->ptl);
	return ok;
}

/* Point the (write-protected) entry at addr from page to kpage. */
static bool replace_page(struct pinmm *eng, struct pinmm_mm *mm, uint64_t addr,
			 struct pinmm_page *page, struct pinmm_page *kpage)
{
	struct pt_table *pte = pte_table_lock(mm, addr);
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	bool ok = false;

	if (!pte)
		return false;
	pte_t e = pt_read(pte, i);
	if (pte_present(e) && !pte_write(e) && pte_pfn(e) == eng_page_pfn(eng, page)) {
		folio_get(kpage);
		page_dup_rmap(kpage);
		pt_xchg(pte, i, mk_pte(eng_page_pfn(eng, kpage),
				       (e & (PTE_YOUNG | PTE_PROTNONE)) & ~PTE_WRITE));
		zap_present_pte(eng, e);
		ok = true;
	}
	pm_mutex_unlock(&pte->ptl);
	return ok;
}

/* Collect the candidate pages of one mm (mmap_lock held for read). */
static int collect_mm(struct pinmm *eng, struct pinmm_mm *mm, struct ksm_item **items,
		      size_t *nr, size_t *cap)
{
	for (struct vm_area *v = RB_MIN(vma_tree, &mm->vmas); v; v = vma_next(mm, v)) {
		if (!(v->flags & VM_MERGEABLE) || (v->flags & VM_SHARED))
			continue;
		for (uint64_t a = v->start; a < v->end; a += PINMM_PAGE_SIZE) {
			struct pt_table *pte = pte_table_lock(mm, a);
			struct pinmm_page *page = NULL;

			if (!pte) {
				a = ALIGN_DOWN(a, PINMM_PMD_SIZE) + PINMM_PMD_SIZE - PINMM_PAGE_SIZE;
				continue;
			}
			pte_t e = pt_read(pte, pt_index(a, PT_LEVEL_PTE));
			if (pte_present(e) && !pte_special(e)) {
				page = eng_pfn_page(eng, pte_pfn(e));
				if (page_folio(page) == page && folio_order(page) == 0 &&
				    page_test(page, PG_anon))
					folio_get(page);
				else
					page = NULL;
			}
			pm_mutex_unlock(&pte->ptl);
			if (!page)
				continue;
			if (*nr == *cap) {
				size_t ncap = *cap ? 2 * *cap : 256;
				struct ksm_item *n = realloc(*items, ncap * sizeof(*n));
				if (!n) {
					folio_put(page);
					return -ENOMEM;
				}
				*items = n;
				*cap = ncap;
			}
			(*items)[(*nr)++] = (struct ksm_item){ page_hash(eng, page), mm, a, page, 0 };
		}
	}
	return 0;
}

static int page_ptr_cmp(const void *x, const void *y)
{
	const struct pinmm_page *a = *(struct pinmm_page *const *)x;
	const struct pinmm_page *b = *(struct pinmm_page *const *)y;

	return a < b ? -1 : a > b;
}

/* How many references the scan holds on each item's page (one per item
 * listing it: a page shared after fork is listed once per mapping). */
static int count_scan_refs(struct ksm_item *items, size_t nr)
{
	struct pinmm_page **v = malloc((nr ? nr : 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		v[i] = items[i].page;
	qsort(v, nr, sizeof(*v), page_ptr_cmp);
	for (size_t i = 0; i < nr; i++) {
		struct pinmm_page **lo = bsearch(&items[i].page, v, nr, sizeof(*v), page_ptr_cmp);
		while (lo > v && lo[-1] == items[i].page)
			lo--;
		int n = 0;
		while (lo + n < v + nr && lo[n] == items[i].page)
			n++;
		items[i].scan_refs = n;
	}
	free(v);
	return 0;
}

static bool item_write_protect(struct pinmm *eng, struct ksm_item *it)
{
	bool ok;

	pm_down_read(&it->mm->mmap_lock);
	ok = !atomic_load(&it->mm->dead) &&
	     write_protect_page(eng, it->mm, it->addr, it->page, it->scan_refs);
	pm_up_read(&it->mm->mmap_lock);
	return ok;
}

/* try_to_merge_with_ksm_page(): write-protect it->page, then map kpage
 * in its place if the bytes are still the same. */
static bool merge_into(struct pinmm *eng, struct ksm_item *it, struct pinmm_page *kpage)
{
	bool ok = false;

	pm_down_read(&it->mm->mmap_lock);
	if (!atomic_load(&it->mm->dead) &&
	    write_protect_page(eng, it->mm, it->addr, it->page, it->scan_refs) &&
	    pages_identical(eng, it->page, kpage))	/* unchanged since? */
		ok = replace_page(eng, it->mm, it->addr, it->page, kpage);
	pm_up_read(&it->mm->mmap_lock);
	return ok;
}

/* An identical page among the first n of a list of candidates, or -1. */
static long find_identical(struct pinmm *eng, struct pinmm_page *page, uint64_t hash,
			   const struct ksm_item *tree, const size_t *idx, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (tree[idx[k]].hash == hash && tree[idx[k]].page != page &&
		    pages_identical(eng, tree[idx[k]].page, page))
			return (long)k;
	return -1;
}

static int mm_id_cmp(const void *x, const void *y)
{
	unsigned a = (*(struct pinmm_mm *const *)x)->id, b = (*(struct pinmm_mm *const *)y)->id;

	return a < b ? -1 : a > b;
}

static int checksum_cmp(const void *x, const void *y)
{
	const struct ksm_checksum *a = x, *b = y;

	if (a->mm_id != b->mm_id)
		return a->mm_id < b->mm_id ? -1 : 1;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* Did the page at (mm, addr) have this checksum in the previous pass? */
static bool checksum_held(const struct pinmm *eng, const struct ksm_item *it)
{
	struct ksm_checksum key = { it->mm->id, it->addr, 0 };

	if (!eng->ksm.nr_checksums)
		return false;	/* the first pass: nothing seen yet */
	const struct ksm_checksum *old = bsearch(&key, eng->ksm.checksums, eng->ksm.nr_checksums,
						 sizeof(key), checksum_cmp);

	return old && old->hash == it->hash;
}

/* cmp_and_merge_page() over the pass's items, in scan order. stable[] and
 * unstable[] hold item indexes: the KSM pages met, and this pass's tree. */
/* One pass of merging; returns how many of the items map a KSM page at
 * its end (ksm_pages_sharing + ksm_pages_shared, as ksmd counts them while
 * it merges, not by a walk of every frame afterwards). */
static long ksm_merge_pass(struct pinmm *eng, struct ksm_item *items, size_t nr,
			   size_t *stable, size_t *unstable)
{
	size_t nr_stable = 0, nr_unstable = 0;
	long sharing = 0;

	for (size_t i = 0; i < nr; i++)
		if (page_test(items[i].page, PG_ksm))
			stable[nr_stable++] = i;
	for (size_t i = 0; i < nr; i++) {
		struct ksm_item *it = &items[i];
		long k;

		if (page_test(it->page, PG_ksm)) {
			sharing++;	/* merged already */
			continue;
		}
		k = find_identical(eng, it->page, it->hash, items, stable, nr_stable);
		if (k >= 0 && merge_into(eng, it, items[stable[k]].page)) {
			sharing++;
			continue;
		}
		if (!checksum_held(eng, it))
			continue;	/* changed (or new) since the last pass */
		k = find_identical(eng, it->page, it->hash, items, unstable, nr_unstable);
		if (k < 0) {
			unstable[nr_unstable++] = i;
			continue;
		}
		/* try_to_merge_two_pages(): this page becomes the KSM page,
		 * then the tree's page is merged into it */
		struct ksm_item *tree = &items[unstable[k]];
		if (!item_write_protect(eng, it))
			continue;	/* may be pinned: the tree entry stays */
		page_set(it->page, PG_ksm);
		if (!merge_into(eng, tree, it->page)) {
			/* break_cow(): the page stays this mapping's own */
			page_clear(it->page, PG_ksm);
			continue;
		}
		unstable[k] = unstable[--nr_unstable];
		stable[nr_stable++] = i;
		sharing += 2;	/* this mapping and the tree's */
	}
	return sharing;
}

/* Keep this pass's checksums for the next one. */
static int ksm_save_checksums(struct pinmm *eng, const struct ksm_item *items, size_t nr)
{
	struct ksm_checksum *c = malloc((nr ? nr : 1) * sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		c[i] = (struct ksm_checksum){ items[i].mm->id, items[i].addr, items[i].hash };
	qsort(c, nr, sizeof(*c), checksum_cmp);
	free(eng->ksm.checksums);
	eng->ksm.checksums = c;
	eng->ksm.nr_checksums = nr;
	return 0;
}

static int ksm_pass(struct pinmm *eng, long *sharing)
{
	struct ksm_item *items = NULL;
	size_t nr = 0, cap = 0, *stable = NULL, *unstable = NULL;
	int err = 0;

	size_t nr_mms;
	struct pinmm_mm **mms = pm_snapshot_mms(eng, &nr_mms);

	/* ksmd's mm list: the order the mms joined, oldest first */
	if (mms)
		qsort(mms, nr_mms, sizeof(*mms), mm_id_cmp);
	for (size_t m = 0; m < nr_mms && !err; m++) {
		pm_down_read(&mms[m]->mmap_lock);
		if (!atomic_load(&mms[m]->dead))
			err = collect_mm(eng, mms[m], &items, &nr, &cap);
		pm_up_read(&mms[m]->mmap_lock);
	}
	free(mms);

	if (!err)
		err = count_scan_refs(items, nr);
	if (!err && nr) {
		stable = malloc(nr * sizeof(*stable));
		unstable = malloc(nr * sizeof(*unstable));
		if (!stable || !unstable)
			err = -ENOMEM;
	}
	if (!err) {
		pm_mutex_lock(&eng->ksm.lock);
		*sharing = nr ? ksm_merge_pass(eng, items, nr, stable, unstable) : 0;
		err = ksm_save_checksums(eng, items, nr);
		pm_mutex_unlock(&eng->ksm.lock);
	}
	for (size_t i = 0; i < nr; i++)
		folio_put(items[i].page);
	free(stable);
	free(unstable);
	free(items);
	return err;
}

void ksm_state_destroy(struct pinmm *eng)
{
	free(eng->ksm.checksums);
	pm_mutex_destroy(&eng->ksm.lock);
}

long pinmm_ksm_scan(struct pinmm *eng, unsigned passes)
{
	long shared = 0;

	if (!eng)
		return -EINVAL;
	for (unsigned p = 0; p < passes; p++) {
		int err = ksm_pass(eng, &shared);
		if (err)
			return err;
	}
	/* how many mappings share a KSM page after the last pass */
	return shared;
}

/* MADV_UNMERGEABLE: give every KSM page of the range back as a private
 * copy (an unshare fault), before the flag goes. mmap_lock held. */
int ksm_unmerge_range(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end; a += PINMM_PAGE_SIZE) {
		struct vm_area *vma = vma_lookup(mm, a);
		struct pt_table *pte;
		bool ksm = false;

		if (!vma)
			continue;
		pte = pte_table_lock(mm, a);
		if (pte) {
			pte_t e = pt_read(pte, pt_index(a, PT_LEVEL_PTE));
			ksm = pte_present(e) && !pte_special(e) &&
			      page_test(eng_pfn_page(mm->eng, pte_pfn(e)), PG_ksm);
			pm_mutex_unlock(&pte->ptl);
		}
		if (ksm) {
			int err = handle_mm_fault(mm, vma, a, FAULT_FLAG_UNSHARE);
			if (err)
				return err;
		}
	}
	return 0;
}
