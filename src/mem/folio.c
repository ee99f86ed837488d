/* SPDX-License-Identifier: MIT */
/* Folio lifetime: the last reference frees it. */
#include <assert.h>
#include <stdlib.h>

#include "../engine.h"
#include "mem.h"

static void free_folio(struct pinmm_page *folio)
{
	/* the zero page is never freed: nobody counts references on it */
	assert(!page_test(folio, PG_zero));
	pm_free_folio(folio);
}

void folio_put_refs(struct pinmm_page *folio, int refs)
{
	int old = atomic_fetch_sub(&folio->refcount, refs);

	pm_preempt(PM_PT_REF_PUT, folio, old - refs);
	if (old == refs)
		free_folio(folio);
	assert(old > refs || old == refs);
}

void folio_put(struct pinmm_page *folio)
{
	folio_put_refs(folio, 1);
}
