/* SPDX-License-Identifier: MIT */
/* Folio lifetime: the last reference frees it. */
#include <assert.h>
#include <stdlib.h>

#include "../engine.h"
#include "mem.h"

/* Each engine's descriptor array is its own; find the engine of a page
 * through a registry of arenas kept small (one entry per live engine). */
#define PM_MAX_ENGINES 64
static struct pinmm *_Atomic engines[PM_MAX_ENGINES];

void pm_register_engine(struct pinmm *eng)
{
	for (int i = 0; i < PM_MAX_ENGINES; i++) {
		struct pinmm *expected = NULL;

		if (atomic_compare_exchange_strong(&engines[i], &expected, eng))
			return;
	}
	abort();	/* more live engines than any test makes */
}

void pm_unregister_engine(struct pinmm *eng)
{
	for (int i = 0; i < PM_MAX_ENGINES; i++) {
		struct pinmm *expected = eng;

		if (atomic_compare_exchange_strong(&engines[i], &expected, NULL))
			return;
	}
}

struct pinmm *pm_page_engine(const struct pinmm_page *p)
{
	for (int i = 0; i < PM_MAX_ENGINES; i++) {
		struct pinmm *eng = atomic_load_explicit(&engines[i],
							 memory_order_acquire);

		if (eng && p >= eng->mem.pages && p < eng->mem.pages + eng->mem.nr_frames)
			return eng;
	}
	abort();	/* a page descriptor of no engine: memory corruption */
}

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
