/* SPDX-License-Identifier: MIT */
/*
 * KSM: merge identical anonymous pages of MADV_MERGEABLE ranges into one
 * write-protected KSM page; a write breaks it again by COW.
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
			(*items)[(*nr)++] = (struct ksm_item){ page_hash(eng, page), mm, a, page };
		}
	}
	return 0;
}

static int item_cmp(const void *x, const void *y)
{
	const struct ksm_item *a = x, *b = y;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	/* KSM pages first in a group: they are the merge targets */
	bool ka = page_test(a->page, PG_ksm), kb = page_test(b->page, PG_ksm);
	if (ka != kb)
		return ka ? -1 : 1;
	return a->page < b->page ? -1 : a->page > b->page;
}

/* How many references the scan holds on page (one per item listing it). */
static int scan_refs(const struct ksm_item *g, size_t n, const struct pinmm_page *page)
{
	int refs = 0;

	for (size_t j = 0; j < n; j++)
		refs += g[j].page == page;
	return refs;
}

/* Can g[k] serve as the group's KSM page? Write-protects it if needed. */
static bool make_kpage(struct pinmm *eng, struct ksm_item *g, size_t n, size_t k)
{
	struct pinmm_page *kpage = g[k].page;
	bool ok;

	if (page_test(kpage, PG_ksm))
		return true;
	pm_down_read(&g[k].mm->mmap_lock);
	ok = !atomic_load(&g[k].mm->dead) &&
	     write_protect_page(eng, g[k].mm, g[k].addr, kpage, scan_refs(g, n, kpage));
	pm_up_read(&g[k].mm->mmap_lock);
	if (ok)
		page_set(kpage, PG_ksm);
	return ok;
}

/* Merge the items of one group of equal hashes into one KSM page: the
 * first that can be write-protected (a pinned one cannot). */
static void merge_group(struct pinmm *eng, struct ksm_item *g, size_t n)
{
	size_t k = 0;

	while (k < n && !make_kpage(eng, g, n, k))
		k++;
	if (k == n)
		return;
	struct pinmm_page *kpage = g[k].page;
	for (size_t j = 0; j < n; j++) {
		struct ksm_item *it = &g[j];

		if (it->page == kpage || !pages_identical(eng, it->page, kpage))
			continue;
		pm_down_read(&it->mm->mmap_lock);
		if (!atomic_load(&it->mm->dead) &&
		    write_protect_page(eng, it->mm, it->addr, it->page,
				       scan_refs(g, n, it->page)) &&
		    pages_identical(eng, it->page, kpage))	/* unchanged since? */
			replace_page(eng, it->mm, it->addr, it->page, kpage);
		pm_up_read(&it->mm->mmap_lock);
	}
}

static int ksm_pass(struct pinmm *eng)
{
	struct ksm_item *items = NULL;
	size_t nr = 0, cap = 0;
	int err = 0;

	size_t nr_mms;
	struct pinmm_mm **mms = pm_snapshot_mms(eng, &nr_mms);

	for (size_t m = 0; m < nr_mms && !err; m++) {
		pm_down_read(&mms[m]->mmap_lock);
		if (!atomic_load(&mms[m]->dead))
			err = collect_mm(eng, mms[m], &items, &nr, &cap);
		pm_up_read(&mms[m]->mmap_lock);
	}
	free(mms);

	if (!err && nr) {
		qsort(items, nr, sizeof(*items), item_cmp);
		for (size_t i = 0, j; i < nr; i = j) {
			for (j = i + 1; j < nr && items[j].hash == items[i].hash; j++)
				;
			if (j - i > 1)
				merge_group(eng, &items[i], j - i);
		}
	}
	for (size_t i = 0; i < nr; i++)
		folio_put(items[i].page);
	free(items);
	return err;
}

long pinmm_ksm_scan(struct pinmm *eng, unsigned passes)
{
	long shared = 0;

	if (!eng)
		return -EINVAL;
	for (unsigned p = 0; p < passes; p++) {
		int err = ksm_pass(eng);
		if (err)
			return err;
	}
	/* how many mappings now share a KSM page */
	for (uint64_t pfn = 0; pfn < eng->mem.nr_frames; pfn++) {
		struct pinmm_page *p = eng_pfn_page(eng, pfn);

		if (page_test(p, PG_ksm) && !page_test(p, PG_buddy))
			shared += page_mapcount(p);
	}
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
