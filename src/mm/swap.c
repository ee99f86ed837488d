/* SPDX-License-Identifier: MIT */
/*
 * The swap device and the swap cache (Linux's mm/swapfile.c and
 * mm/swap_state.c): an in-memory array of 4 KiB slots, each with a count
 * of the swap entries (PTEs) that refer to it, and the folio cached for it
 * (NULL when none: Linux's SWAP_HAS_CACHE bit and its swap cache in one).
 *
 * A folio in the swap cache has PG_swapcache, its slot in ->private
 * (folio->swap) and one reference held by the cache. Reclaim puts a folio
 * there before it unmaps it (add_to_swap), so that a swap-in during the
 * unmap, or while another process still has an entry for the slot (after
 * fork), finds and maps the same page. A slot lives while entries refer to
 * it or a folio is cached for it.
 *
 * The cache gives its folio up (folio_free_swap) once no entry refers to
 * the slot any more, mapped or not: the engine's swap counts as full
 * (Linux's vm_swap_full()), so a swap-in does not keep a copy that would
 * only save a later write to the device. Until then a write fault may
 * reuse the folio only if it is exclusive (the entry said so), as the
 * cache's reference makes the refcount test fail.
 *
 * All of it is under sw->lock (below the page-table locks). A deletion
 * needs no folio lock: who must not lose the folio holds a count on the
 * slot (reclaim's hold, a swap-in's entry) or a reference that reclaim's
 * deletion checks for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../mem/frame_io.h"
#include "mm.h"

static uint64_t folio_swap_slot(const struct pinmm_page *folio)
{
	return __atomic_load_n(&folio->private, __ATOMIC_RELAXED);
}

long swap_alloc(struct pinmm *eng)
{
	struct pm_swap *sw = &eng->swap;
	uint8_t *buf;
	long slot = -ENOMEM;

	if (pm_should_fail_alloc(eng, PINMM_ALLOC_FRAME))
		return -ENOMEM;
	buf = malloc(PINMM_PAGE_SIZE);
	if (!buf)
		return -ENOMEM;
	pm_mutex_lock(&sw->lock);
	/* no free slot below the hint: searching from it keeps this O(1)
	 * while slots are taken in order */
	for (size_t i = sw->free_hint; i < sw->nr; i++) {
		if (!sw->data[i]) {
			slot = (long)i;
			break;
		}
	}
	if (slot < 0) {
		if (sw->nr >= eng->cfg.swap_pages) {
			/* the device is full, or there is none */
			pm_mutex_unlock(&sw->lock);
			free(buf);
			return -ENOMEM;
		}
		if (sw->nr == sw->cap) {
			size_t cap = sw->cap ? 2 * sw->cap : 64;
			uint8_t **d = realloc(sw->data, cap * sizeof(*d));
			int *c = d ? realloc(sw->count, cap * sizeof(*c)) : NULL;
			struct pinmm_page **f = c ? realloc(sw->cache, cap * sizeof(*f)) : NULL;
			if (d)
				sw->data = d;
			if (c)
				sw->count = c;
			if (!f) {
				pm_mutex_unlock(&sw->lock);
				free(buf);
				return -ENOMEM;
			}
			sw->cache = f;
			sw->cap = cap;
		}
		slot = (long)sw->nr++;
	}
	sw->data[slot] = buf;
	sw->count[slot] = 0;
	sw->cache[slot] = NULL;
	sw->free_hint = (size_t)slot + 1;
	pm_mutex_unlock(&sw->lock);
	return slot;
}

/* The slot goes when nothing refers to it: returns its buffer to free. */
static uint8_t *slot_release_locked(struct pm_swap *sw, uint64_t slot)
{
	uint8_t *buf;

	if (sw->count[slot] > 0 || sw->cache[slot])
		return NULL;
	buf = sw->data[slot];
	sw->data[slot] = NULL;
	if (slot < sw->free_hint)
		sw->free_hint = slot;
	return buf;
}

/* __delete_from_swap_cache(): the caller drops the cache's reference
 * (after sw->lock) and frees the returned buffer. */
static uint8_t *swap_cache_del_locked(struct pm_swap *sw, struct pinmm_page *folio)
{
	uint64_t slot = folio_swap_slot(folio);

	sw->cache[slot] = NULL;
	page_clear(folio, PG_swapcache);
	/* its bytes are newer than the slot's from now on */
	page_set(folio, PG_dirty);
	return slot_release_locked(sw, slot);
}

/* Under sw->lock: may the cache let go of folio (no entry refers to its
 * slot)? */
static bool swap_cache_idle_locked(struct pm_swap *sw, struct pinmm_page *folio)
{
	uint64_t slot;

	if (!page_test(folio, PG_swapcache))
		return false;
	slot = folio_swap_slot(folio);
	return sw->cache[slot] == folio && sw->count[slot] == 0;
}

void swap_dup(struct pinmm *eng, uint64_t slot)
{
	pm_mutex_lock(&eng->swap.lock);
	eng->swap.count[slot]++;
	pm_mutex_unlock(&eng->swap.lock);
}

/*
 * One entry less (free_swap_and_cache()). The last one takes the cached
 * folio out of the cache, mapped or not (swap counts as full).
 */
void swap_free(struct pinmm *eng, uint64_t slot)
{
	struct pm_swap *sw = &eng->swap;
	struct pinmm_page *folio = NULL;
	uint8_t *buf = NULL;

	pm_mutex_lock(&sw->lock);
	if (--sw->count[slot] == 0) {
		struct pinmm_page *f = sw->cache[slot];

		if (f && swap_cache_idle_locked(sw, f)) {
			buf = swap_cache_del_locked(sw, f);
			folio = f;
		} else {
			buf = slot_release_locked(sw, slot);
		}
	}
	pm_mutex_unlock(&sw->lock);
	free(buf);
	if (folio)
		folio_put(folio);
}

void swap_write(struct pinmm *eng, uint64_t slot, const void *frame)
{
	pm_mutex_lock(&eng->swap.lock);
	frame_copy_from(eng->swap.data[slot], frame, PINMM_PAGE_SIZE);
	pm_mutex_unlock(&eng->swap.lock);
}

void swap_destroy(struct pinmm *eng)
{
	for (size_t i = 0; i < eng->swap.nr; i++)
		free(eng->swap.data[i]);
	free(eng->swap.data);
	free(eng->swap.count);
	free(eng->swap.cache);
	pm_mutex_destroy(&eng->swap.lock);
}

/* ------------------------------------------------------ the swap cache --- */

long add_to_swap(struct pinmm *eng, struct pinmm_page *folio)
{
	struct pm_swap *sw = &eng->swap;
	long slot;

	/* cached already (swapped in while another entry refers to the
	 * slot): hold that slot, in the same breath as the look, since the
	 * last entry's swap_free() may take the folio out meanwhile */
	pm_mutex_lock(&sw->lock);
	if (page_test(folio, PG_swapcache)) {
		slot = (long)folio_swap_slot(folio);
		sw->count[slot]++;
		pm_mutex_unlock(&sw->lock);
		return slot;
	}
	pm_mutex_unlock(&sw->lock);
	/* only reclaim, which holds the folio lock, adds a mapped folio */
	slot = swap_alloc(eng);
	if (slot < 0)
		return slot;
	folio_get(folio);	/* the cache's reference */
	pm_mutex_lock(&sw->lock);
	__atomic_store_n(&folio->private, (uint64_t)slot, __ATOMIC_RELAXED);
	page_set(folio, PG_swapcache);
	sw->cache[slot] = folio;
	sw->count[slot] = 1;
	pm_mutex_unlock(&sw->lock);
	return slot;
}

struct pinmm_page *swap_cache_get_folio(struct pinmm *eng, uint64_t slot)
{
	struct pm_swap *sw = &eng->swap;
	struct pinmm_page *folio = NULL;

	pm_mutex_lock(&sw->lock);
	if (slot < sw->nr && sw->data[slot] && (folio = sw->cache[slot]))
		folio_get(folio);	/* the cache's reference keeps it > 0 */
	pm_mutex_unlock(&sw->lock);
	return folio;
}

int swap_cache_add_new(struct pinmm *eng, uint64_t slot, struct pinmm_page *folio,
		       struct pinmm_page **cached)
{
	struct pm_swap *sw = &eng->swap;
	int ret = 0;

	*cached = NULL;
	pm_mutex_lock(&sw->lock);
	if (slot >= sw->nr || !sw->data[slot] || sw->count[slot] == 0) {
		ret = -ENOENT;		/* the entry went meanwhile */
	} else if (sw->cache[slot]) {
		*cached = sw->cache[slot];	/* another swap-in was first */
		folio_get(*cached);
		ret = -EEXIST;
	} else {
		/* read under the lock: the entry's count keeps the slot */
		frame_copy_to(eng_page_virt(eng, folio), sw->data[slot], PINMM_PAGE_SIZE);
		folio_get(folio);	/* the cache's reference */
		__atomic_store_n(&folio->private, slot, __ATOMIC_RELAXED);
		page_set(folio, PG_swapcache);
		sw->cache[slot] = folio;
	}
	pm_mutex_unlock(&sw->lock);
	return ret;
}

bool swap_cache_holds(struct pinmm *eng, struct pinmm_page *folio, uint64_t slot)
{
	struct pm_swap *sw = &eng->swap;
	bool ret;

	pm_mutex_lock(&sw->lock);
	ret = page_test(folio, PG_swapcache) && folio_swap_slot(folio) == slot &&
	      slot < sw->nr && sw->cache[slot] == folio;
	pm_mutex_unlock(&sw->lock);
	return ret;
}

/* Delete folio from the cache if its refcount is refs (any when refs < 0)
 * and, when idle, no entry refers to its slot; drops the cache's
 * reference. */
static bool swap_cache_try_delete(struct pinmm *eng, struct pinmm_page *folio, int refs,
				  bool idle)
{
	struct pm_swap *sw = &eng->swap;
	uint8_t *buf = NULL;
	bool removed = false;

	pm_mutex_lock(&sw->lock);
	if (page_test(folio, PG_swapcache) && (refs < 0 || folio_ref_count(folio) == refs) &&
	    (!idle || swap_cache_idle_locked(sw, folio))) {
		buf = swap_cache_del_locked(sw, folio);
		removed = true;
	}
	pm_mutex_unlock(&sw->lock);
	free(buf);
	if (removed)
		folio_put(folio);
	return removed;
}

bool swap_cache_remove(struct pinmm *eng, struct pinmm_page *folio, int refs)
{
	return swap_cache_try_delete(eng, folio, refs, false);
}

bool folio_free_swap(struct pinmm *eng, struct pinmm_page *folio)
{
	/* the common answer without the lock */
	return page_test(folio, PG_swapcache) && swap_cache_try_delete(eng, folio, -1, true);
}
