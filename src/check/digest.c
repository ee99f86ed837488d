/* SPDX-License-Identifier: MIT */
/*
 * A fingerprint of the engine's state: what each process maps (every
 * page-table entry, by address), every frame in use (its descriptor's
 * counts and flags, its bytes), the pins and references GUP handed out.
 *
 * The explorer's reduction rests on one claim: schedules that differ only
 * in the order of independent steps end in the same state. Comparing the
 * fingerprints that the reduced and the plain search reach tests that
 * claim (and the access marks it depends on) on real scenarios. Nothing
 * here is an address: two executions that did the same things in the same
 * order give the same number in any process.
 */
#include <string.h>

#include "../mm/mm.h"

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t mix_bytes(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = mix(h, w);
	}
	return h;
}

/* Every entry below table t (t maps from base): leaves by address and
 * value; a table entry by its level only (its value is an address). */
static uint64_t mix_table(uint64_t h, const struct pt_table *t, uint64_t base)
{
	uint64_t span = pt_entry_span(t->level);

	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		pte_t e = atomic_load(&t->ent[i]);

		if (pte_none(e))
			continue;
		h = mix(h, base + i * span);
		if (t->level > PT_LEVEL_PTE && pte_is_table(e)) {
			h = mix(h, t->level);
			h = mix_table(h, pte_table(e), base + i * span);
		} else {
			h = mix(h, e);
		}
	}
	return h;
}

uint64_t pinmm_state_digest(struct pinmm *eng)
{
	uint64_t h = 0x243f6a8885a308d3ull;
	size_t nr_mms;
	struct pinmm_mm **mms;

	if (!eng)
		return 0;
	mms = pm_snapshot_mms(eng, &nr_mms);
	for (size_t m = 0; mms && m < nr_mms; m++) {
		struct pinmm_mm *mm = mms[m];

		pm_down_read(&mm->mmap_lock);
		h = mix(h, mm->id);
		if (!atomic_load(&mm->dead) && atomic_load(&mm->pgd))
			h = mix_table(h, atomic_load(&mm->pgd), 0);
		pm_up_read(&mm->mmap_lock);
	}
	free(mms);
	for (uint64_t pfn = 0; pfn < eng->mem.nr_frames; pfn++) {
		struct pinmm_page *p = eng_pfn_page(eng, pfn);

		if (page_test(p, PG_buddy)) {
			pfn += (1ul << folio_order(p)) - 1;
			continue;
		}
		if (!folio_ref_count(page_folio(p)))
			continue;	/* free (a hugetlb pool page, a tail of none) */
		h = mix(h, pfn);
		h = mix(h, atomic_load(&p->flags));
		h = mix(h, ((uint64_t)folio_order(p) << 48) | p->head_off);
		h = mix(h, (uint64_t)(uint32_t)atomic_load(&p->refcount) << 32 |
			       (uint32_t)page_pte_mapcount(p));
		h = mix(h, (uint64_t)(uint32_t)folio_pincount(p) << 32 |
			       (uint32_t)folio_entire_mapcount(p));
		h = mix(h, p->index);
		h = mix(h, p->private);
		h = mix_bytes(h, eng_page_virt(eng, p), PINMM_PAGE_SIZE);
	}
	h = mix(h, (uint64_t)atomic_load(&eng->nr_pins));
	h = mix(h, (uint64_t)atomic_load(&eng->nr_gets));
	return h;
}
