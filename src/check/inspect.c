/* SPDX-License-Identifier: MIT */
/* The narrow inspection API: what maps an address, a folio's counts. */
#include <errno.h>
#include <string.h>

#include "../mm/mm.h"

/* The same, for a caller that holds mmap_lock already. */
int follow_page_locked(struct pinmm_mm *mm, uint64_t addr, struct pinmm_mapping *out)
{
	struct pt_table *pte;
	int ret = 0;

	if (!mm || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (atomic_load(&mm->dead))
		return -ESRCH;
	if (!vma_lookup(mm, addr)) {
		ret = -EFAULT;
		goto out;
	}
	uint64_t sub;
	unsigned i;

	pte = entry_lock(mm, addr, &i, &sub);
	out->huge = pte && pte->level == PT_LEVEL_PMD;
	if (pte) {
		pte_t e = pt_read(pte, i);

		if (pte_present(e)) {
			struct pinmm_page *page = eng_pfn_page(mm->eng, pte_pfn(e) + sub);

			e = mk_pte(pte_pfn(e) + sub, e & PTE_FLAGS_MASK);
			out->present = true;
			out->writable = pte_write(e) && !pte_protnone(e);
			out->zero_page = pte_special(e);
			out->pfn = pte_pfn(e);
			out->page = page;
			out->anon_exclusive = page_anon_exclusive(page);
			out->order = folio_order(page_folio(page));
		} else if (pte_is_swp(e)) {
			out->swapped = pte_swp_type(e) == SWP_SWAP;
			out->anon_exclusive = out->swapped && (e & PTE_SWP_EXCLUSIVE);
		}
		pm_mutex_unlock(&pte->ptl);
	}
out:
	return ret;
}

int pinmm_follow_page(struct pinmm_mm *mm, uint64_t addr, struct pinmm_mapping *out)
{
	int ret;

	if (!mm || !out)
		return -EINVAL;
	if (atomic_load(&mm->dead)) {
		memset(out, 0, sizeof(*out));
		return -ESRCH;
	}
	pm_down_read(&mm->mmap_lock);
	ret = follow_page_locked(mm, addr, out);
	pm_up_read(&mm->mmap_lock);
	return ret;
}

void pinmm_folio_info(const struct pinmm_page *page, struct pinmm_folio_info *out)
{
	struct pinmm_page *p = (struct pinmm_page *)page;
	struct pinmm_page *folio;
	struct pinmm *eng;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!page)
		return;
	folio = page_folio(p);
	eng = pm_page_engine(p);
	out->refcount = folio_ref_count(folio);
	out->mapcount = page_mapcount(p);
	out->pincount = folio_pincount(folio);
	out->order = folio_order(folio);
	out->zone = pm_page_zone(folio);
	out->anon = page_test(folio, PG_anon);
	out->ksm = page_test(folio, PG_ksm);
	out->dirty = page_test(folio, PG_dirty);
	out->swapcache = page_test(folio, PG_swapcache);
	out->zero = page_test(folio, PG_zero);
	out->maybe_dma_pinned = folio_maybe_dma_pinned(eng, folio);
}
