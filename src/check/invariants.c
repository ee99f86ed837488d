/* SPDX-License-Identifier: MIT */
/*
 * G5 at a quiescent point: recount every reference from the page tables,
 * the page caches, the swap cache and the GUP books, and compare with the
 * folios' counts; check that the rmap finds every mapping the page tables
 * hold, that every swap slot is counted by exactly its entries and held
 * by an entry or a cached folio, and that the hugetlb pool's reservations
 * are the ones private owners and hugetlb files hold.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mm/mm.h"

struct recount {
	int32_t *maps;		/* per pfn: PTE maps seen */
	int32_t *entire;	/* per head pfn: PMD maps seen */
	int32_t *cache;		/* per pfn: page-cache references */
	int32_t *swap;		/* per swap slot: swap entries seen */
	size_t nr_swap;
	struct pinmm_violation_report *rep;
};

static void violation(struct recount *rc, const char *fmt, ...)
{
	va_list ap;

	if (rc->rep->nr++ == 0) {
		va_start(ap, fmt);
		vsnprintf(rc->rep->first, sizeof(rc->rep->first), fmt, ap);
		va_end(ap);
	}
}

/*
 * The rmap finds this mapping: the folio points at the VMA's anon_vma (or,
 * for a page-cache page, its file), and its linear index puts this page at
 * exactly this address. KSM pages gather many families and are left out.
 */
static void check_rmap(struct recount *rc, struct pinmm_mm *mm, struct vm_area *v,
		       uint64_t a, struct pinmm_page *page)
{
	struct pinmm_page *folio = page_folio(page);
	uint64_t idx = folio->index + (uint64_t)(page - folio);
	void *want;

	if (page_test(folio, PG_ksm))
		return;
	if (page_test(folio, PG_anon))
		want = (void *)((uintptr_t)v->anon_vma | 1);
	else if (page_test(folio, PG_pagecache))
		want = v->file;
	else
		want = NULL;
	if (!want || folio_mapping(folio) != want ||
	    v->start + ((idx - v->pgoff) << PINMM_PAGE_SHIFT) != a)
		violation(rc, "mm %u %#lx: the rmap would not find this mapping (%s page, order %u, "
			  "index %#llx, VMA %#lx-%#lx pgoff %#llx%s, mapping %s)", mm->id,
			  (unsigned long)a,
			  page_test(folio, PG_anon) ? "anon" : page_test(folio, PG_pagecache)
			  ? "page-cache" : "unowned", folio_order(folio), (unsigned long long)idx,
			  (unsigned long)v->start, (unsigned long)v->end,
			  (unsigned long long)v->pgoff, v->file ? ", file" : "",
			  !want ? "none expected" : folio_mapping(folio) == want ? "right"
			  : "another object's");
}

/* The swap cache's reference on a folio in it (one per page), checked
 * against the slot it names. */
static int swap_cache_refs(struct pinmm *eng, struct pinmm_page *folio, struct recount *rc)
{
	uint64_t slot = folio->private;
	bool ok;

	if (!page_test(folio, PG_swapcache))
		return 0;
	pm_mutex_lock(&eng->swap.lock);
	ok = slot < eng->swap.nr && eng->swap.data[slot] && eng->swap.cache[slot] == folio;
	pm_mutex_unlock(&eng->swap.lock);
	if (!ok)
		violation(rc, "pfn %#lx: in the swap cache of slot %llu, which does not cache it",
			  (unsigned long)eng_page_pfn(eng, folio), (unsigned long long)slot);
	return (int)folio_nr_pages(folio);
}

static void count_mm(struct pinmm *eng, struct pinmm_mm *mm, struct recount *rc)
{
	for (struct vm_area *v = RB_MIN(vma_tree, &mm->vmas); v; v = vma_next(mm, v)) {
		for (uint64_t a = v->start; a < v->end; a += PINMM_PAGE_SIZE) {
			struct pt_table *pte = pte_table_lookup(mm, a, NULL);
			pte_t e;

			if (!pte) {
				struct pt_table *pmd = pmd_leaf_lock(mm, a);

				if (pmd) {
					pte_t l = pt_read(pmd, pt_index(a, PT_LEVEL_PMD));
					struct pinmm_page *head = eng_pfn_page(eng, pte_pfn(l));

					if (pte_special(l)) {
						/* the huge zero page: no counts to check */
						if (head != atomic_load(&eng->huge_zero) ||
						    pte_write(l))
							violation(rc, "mm %u %#lx: special PMD not the huge zero page, or writable",
								  mm->id, (unsigned long)a);
						pm_mutex_unlock(&pmd->ptl);
						a = ALIGN_DOWN(a, PINMM_PMD_SIZE) + PINMM_PMD_SIZE -
						    PINMM_PAGE_SIZE;
						continue;
					}

					rc->entire[pte_pfn(l)]++;
					if (folio_order(head) != PINMM_HPAGE_ORDER ||
					    page_test(head, PG_tail))
						violation(rc, "mm %u %#lx: PMD maps a non-THP",
							  mm->id, (unsigned long)a);
					/* a shared mapping writes its page-cache page */
					if (pte_write(l) && vma_is_anon_private(v) &&
					    !page_anon_exclusive(head) &&
					    pm_policy(eng, PINMM_SW_ANON_EXCLUSIVE))
						violation(rc, "mm %u %#lx: writable THP not exclusive",
							  mm->id, (unsigned long)a);
					check_rmap(rc, mm, v, ALIGN_DOWN(a, PINMM_PMD_SIZE), head);
					pm_mutex_unlock(&pmd->ptl);
				}
				a = ALIGN_DOWN(a, PINMM_PMD_SIZE) + PINMM_PMD_SIZE - PINMM_PAGE_SIZE;
				continue;
			}
			e = atomic_load(&pte->ent[pt_index(a, PT_LEVEL_PTE)]);
			if (pte_is_swp(e) && pte_swp_type(e) == SWP_SWAP) {
				if (pte_swp_offset(e) < rc->nr_swap)
					rc->swap[pte_swp_offset(e)]++;
				else
					violation(rc, "mm %u %#lx: swap entry of no slot",
						  mm->id, (unsigned long)a);
			}
			if (!pte_present(e))
				continue;
			if (pte_pfn(e) >= eng->mem.nr_frames) {
				violation(rc, "mm %u %#lx: pfn %#lx out of range", mm->id,
					  (unsigned long)a, (unsigned long)pte_pfn(e));
				continue;
			}
			struct pinmm_page *page = eng_pfn_page(eng, pte_pfn(e));
			if (pte_special(e)) {
				if (page != eng->zero_page)
					violation(rc, "mm %u %#lx: special entry not the zero page",
						  mm->id, (unsigned long)a);
				continue;
			}
			if (page_test(page_folio(page), PG_buddy) ||
			    folio_ref_count(page_folio(page)) <= 0)
				violation(rc, "mm %u %#lx: maps free pfn %#lx", mm->id,
					  (unsigned long)a, (unsigned long)pte_pfn(e));
			rc->maps[pte_pfn(e)]++;
			check_rmap(rc, mm, v, a, page);
			/* a writable private anon entry must map an exclusive page */
			if (pte_write(e) && vma_is_anon_private(v) &&
			    pm_policy(eng, PINMM_SW_ANON_EXCLUSIVE) &&
			    !page_anon_exclusive(page))
				violation(rc, "mm %u %#lx: writable but not anon-exclusive",
					  mm->id, (unsigned long)a);
		}
	}
}

int pinmm_check_invariants(struct pinmm *eng, struct pinmm_violation_report *rep)
{
	struct pinmm_violation_report local;
	struct recount rc;
	struct pm_list *pos;
	uint64_t n;
	long extra_refs = 0, pins = 0;
	size_t flagged = 0;

	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	if (!eng)
		return -EINVAL;
	n = eng->mem.nr_frames;
	rc.rep = rep;
	rc.maps = calloc(n, sizeof(*rc.maps));
	rc.entire = calloc(n, sizeof(*rc.entire));
	rc.cache = calloc(n, sizeof(*rc.cache));
	if (!rc.maps || !rc.cache || !rc.entire) {
		free(rc.maps);
		free(rc.entire);
		free(rc.cache);
		return -ENOMEM;
	}

	pm_mutex_lock(&eng->swap.lock);
	rc.nr_swap = eng->swap.nr;
	pm_mutex_unlock(&eng->swap.lock);
	rc.swap = calloc(rc.nr_swap + 1, sizeof(*rc.swap));
	if (!rc.swap) {
		free(rc.maps);
		free(rc.entire);
		free(rc.cache);
		return -ENOMEM;
	}
	size_t nr_mms;
	/* hugetlb reservations: every one is a private owner's or a file's */
	unsigned long resv = 0;
	struct pinmm_mm **mms = pm_snapshot_mms(eng, &nr_mms);
	for (size_t m = 0; m < nr_mms; m++) {
		pm_down_read(&mms[m]->mmap_lock);
		if (!atomic_load(&mms[m]->dead)) {
			count_mm(eng, mms[m], &rc);
			for (struct vm_area *v = RB_MIN(vma_tree, &mms[m]->vmas); v;
			     v = vma_next(mms[m], v))
				resv += v->hugetlb_resv;
		}
		pm_up_read(&mms[m]->mmap_lock);
	}
	free(mms);
	pm_mutex_lock(&eng->objects_lock);
	pm_list_for_each(pos, &eng->files) {
		struct pinmm_file *s = container_of(pos, struct pinmm_file, link);

		pm_mutex_lock(&s->lock);
		for (uint64_t i = 0; i < s->nr_pages; i++)
			if (s->cache[i])
				rc.cache[eng_page_pfn(eng, s->cache[i])]++;
		/* a hugetlb file's reservations no page consumed yet */
		for (uint64_t k = 0; k < s->hresv_nr; k++)
			resv += s->hresv[k] && (k >= s->nr_pages / HPAGE_PMD_NR ||
						!s->cache[k * HPAGE_PMD_NR]);
		pm_mutex_unlock(&s->lock);
	}
	pm_mutex_unlock(&eng->objects_lock);
	pm_mutex_lock(&eng->hugetlb.lock);
	if (resv != eng->hugetlb.nr_resv)
		violation(&rc, "hugetlb: %lu pages reserved, the mappings and files hold %lu",
			  eng->hugetlb.nr_resv, resv);
	pm_mutex_unlock(&eng->hugetlb.lock);

	size_t free_seen = 0, zone_free = 0;
	for (uint64_t pfn = 0; pfn < n; pfn++) {
		struct pinmm_page *p = eng_pfn_page(eng, pfn);

		if (page_test(p, PG_buddy)) {
			free_seen += 1ul << folio_order(p);
			pfn += (1ul << folio_order(p)) - 1;
			continue;
		}
		if (p == eng->zero_page || page_test(p, PG_tail))
			continue;
		if (p == atomic_load(&eng->huge_zero) ||
		    (page_test(p, PG_hugetlb) && !folio_ref_count(p))) {
			/* the huge zero page, a free hugetlb pool page */
			pfn += HPAGE_PMD_NR - 1;	/* no counts to explain */
			continue;
		}
		/* a folio head: explain its references */
		int ref = folio_ref_count(p), pinc = folio_pincount(p);
		int maps = 0, cache = swap_cache_refs(eng, p, &rc);
		for (unsigned long i = 0; i < folio_nr_pages(p); i++) {
			maps += rc.maps[pfn + i];
			cache += rc.cache[pfn + i];
			if (page_pte_mapcount(&p[i]) != rc.maps[pfn + i])
				violation(&rc, "pfn %#lx: mapcount %d but %d mappings",
					  (unsigned long)(pfn + i),
					  page_pte_mapcount(&p[i]), rc.maps[pfn + i]);
		}
		if (pinc < 0)
			violation(&rc, "pfn %#lx: pincount %d < 0", (unsigned long)pfn, pinc);
		if (ref <= 0)
			violation(&rc, "pfn %#lx: allocated with refcount %d",
				  (unsigned long)pfn, ref);
		int entire = folio_entire_mapcount(p);
		if (entire != rc.entire[pfn])
			violation(&rc, "pfn %#lx: entire_mapcount %d but %d PMD maps",
				  (unsigned long)pfn, entire, rc.entire[pfn]);
		int explained = maps + rc.entire[pfn] + cache + pinc;
		if (ref < explained)
			violation(&rc, "pfn %#lx: refcount %d < %d (maps %d cache %d pins %d)",
				  (unsigned long)pfn, ref, explained, maps, cache, pinc);
		extra_refs += ref - explained;
		pins += pinc;
		flagged += page_test(p, PG_partially_mapped);
		pfn += folio_nr_pages(p) - 1;
	}
	/* every swap slot in use is referred to by exactly its count, and
	 * held by an entry or by its cached folio */
	pm_mutex_lock(&eng->swap.lock);
	for (size_t i = 0; i < rc.nr_swap; i++) {
		bool used = eng->swap.data[i];
		int count = used ? eng->swap.count[i] : 0;
		struct pinmm_page *f = used ? eng->swap.cache[i] : NULL;

		if (count != rc.swap[i])
			violation(&rc, "swap slot %zu: count %d but %d entries", i, count,
				  rc.swap[i]);
		else if (used && !count && !f)
			violation(&rc, "swap slot %zu: in use with no entry and no cached folio",
				  i);
		/* a large folio is cached for the run of slots from its first */
		if (f && (!page_test(f, PG_swapcache) || i - f->private >= folio_nr_pages(f)))
			violation(&rc, "swap slot %zu: caches pfn %#lx, which is not in the swap cache there",
				  i, (unsigned long)eng_page_pfn(eng, f));
	}
	pm_mutex_unlock(&eng->swap.lock);
	/* the deferred split queue holds exactly the flagged folios, each a
	 * large anonymous one */
	pm_mutex_lock(&eng->split_queue.lock);
	size_t queued = 0;
	for (struct pinmm_page *f = eng->split_queue.first; f && queued <= eng->split_queue.len;
	     f = f[1].next, queued++)
		if (!page_test(f, PG_partially_mapped) || !folio_order(f) || !page_test(f, PG_anon))
			violation(&rc, "pfn %#lx: on the deferred split queue, not a flagged large "
				  "anon folio", (unsigned long)eng_page_pfn(eng, f));
	if (queued != eng->split_queue.len || queued != flagged)
		violation(&rc, "deferred split queue: %zu linked, length %zu, %zu folios flagged",
			  queued, eng->split_queue.len, flagged);
	pm_mutex_unlock(&eng->split_queue.lock);
	for (int z = 0; z < PINMM_ZONE_NR; z++)
		zone_free += pm_zone_nr_free(&eng->mem.zones[z]);
	if (free_seen != zone_free)
		violation(&rc, "buddy lists hold %zu frames, zones count %zu",
			  free_seen, zone_free);

	/* every reference not explained by maps, caches or pins is a GUP
	 * reference someone holds (legacy pins are plain references) */
	long gets = atomic_load(&eng->nr_gets), held_pins = atomic_load(&eng->nr_pins);
	if (pm_policy(eng, PINMM_SW_PIN_ACCOUNTING)) {
		if (pins != held_pins)
			violation(&rc, "pincounts sum to %ld, %ld pins held", pins, held_pins);
		if (extra_refs != gets)
			violation(&rc, "%ld unexplained references, %ld gets held",
				  extra_refs, gets);
	} else if (extra_refs != gets + held_pins) {
		violation(&rc, "%ld unexplained references, %ld gets + %ld pins held",
			  extra_refs, gets, held_pins);
	}

	free(rc.maps);
	free(rc.entire);
	free(rc.cache);
	free(rc.swap);
	return rep->nr ? -EUCLEAN : 0;
}
