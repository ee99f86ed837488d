/* SPDX-License-Identifier: MIT */
/*
 * The deferred split shrinker (Linux's deferred_split_scan()). A large
 * anon folio that loses some of its mappings (munmap, MADV_DONTNEED, a
 * COW of one of its pages) is not split by the zap: it goes on the
 * deferred split queue (deferred_split_folio(), mem/folio.c) and keeps
 * every page, mapped or not. A shrinker pass — reclaim runs one first, as
 * shrink_node() runs the shrinkers — splits each queued folio that nobody
 * else holds, and the pages nobody maps any more are freed then. One that
 * cannot be split now (a pin or GUP reference on it, its lock taken, in
 * the swap cache) goes back on the queue while it is still partly mapped.
 */
#include "mm.h"

/* Mapped, with some page not mapped at all (and no PMD map). */
static bool folio_partially_mapped(struct pinmm_page *folio)
{
	if (folio_entire_mapcount(folio) || !folio_mapped(folio))
		return false;
	for (unsigned long j = 0; j < folio_nr_pages(folio); j++)
		if (!page_pte_mapcount(&folio[j]))
			return true;
	return false;
}

long deferred_split_scan(struct pinmm *eng)
{
	struct pm_split_queue *q = &eng->split_queue;
	long split = 0;
	size_t todo;

	pm_mutex_lock(&q->lock);
	todo = q->len;
	pm_mutex_unlock(&q->lock);
	/* each folio queued now at most once: one that stays goes back to
	 * the tail */
	for (; todo; todo--) {
		struct pinmm_page *folio = deferred_split_pop(q);

		if (!folio)
			break;
		if (folio_trylock(folio)) {
			if (!split_folio_locked(eng, folio, 1, false)) {
				split++;
				folio_put(folio);
				continue;
			}
			folio_unlock(folio);
		}
		if (folio_partially_mapped(folio))
			deferred_split_folio(folio);
		folio_put(folio);
	}
	return split;
}
