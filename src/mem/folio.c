/* SPDX-License-Identifier: MIT */
/* Folio lifetime: the last reference frees it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../engine.h"
#include "mem.h"

#ifdef PINMM_DEBUG_VM
void pm_bad_page(const struct pinmm_page *page, const char *cond, const char *file,
		 int line)
{
	struct pinmm_page *p = (struct pinmm_page *)page;
	struct pinmm *eng = pm_page_engine(p);

	fprintf(stderr,
		"pinmm: bad page state at %s:%d: %s\n"
		"  pfn 0x%" PRIx64 " flags 0x%x order %u head_off %u refcount %d "
		"mapcount %d pincount %d entire_mapcount %d\n",
		file, line, cond, pm_page_to_pfn(&eng->mem, p),
		(unsigned)atomic_load(&p->flags), p->order, p->head_off,
		(int)atomic_load(&p->refcount), (int)page_pte_mapcount(p),
		(int)folio_pincount(p), (int)folio_entire_mapcount(p));
	abort();
}

#endif

/* Nothing may still map a folio that is being freed. */
static inline bool folio_still_mapped(struct pinmm_page *folio)
{
	if (folio_entire_mapcount(folio))
		return true;
	for (unsigned long i = 0; i < folio_nr_pages(folio); i++)
		if (page_pte_mapcount(&folio[i]))
			return true;
	return false;
}

static void free_folio(struct pinmm_page *folio)
{
	/* the zero page is never freed: nobody counts references on it */
	VM_BUG_ON_PAGE(page_test(folio, PG_zero), folio);
	/* a lock holder holds a reference too */
	VM_BUG_ON_PAGE(page_test(folio, PG_locked), folio);
	VM_BUG_ON_PAGE(page_test(folio, PG_buddy), folio);
	/* the swap cache holds a reference while the folio is in it */
	VM_BUG_ON_PAGE(page_test(folio, PG_swapcache), folio);
	VM_BUG_ON_PAGE(folio_still_mapped(folio), folio);
	if (page_test(folio, PG_hugetlb)) {
		struct pinmm *eng = pm_page_engine(folio);

		eng->hugetlb.free_folio(eng, folio);	/* back to the pool */
		return;
	}
	pm_free_folio(folio);
}

void folio_put_refs(struct pinmm_page *folio, int refs)
{
	int old;

	pm_access(&folio->refcount, PM_ACC_WRITE);	/* the last one frees */
	old = atomic_fetch_sub(&folio->refcount, refs);

	VM_BUG_ON_PAGE(old < refs, folio);
	pm_preempt(PM_PT_REF_PUT, folio, old - refs);
	if (old == refs)
		free_folio(folio);
}

void folio_put(struct pinmm_page *folio)
{
	folio_put_refs(folio, 1);
}
