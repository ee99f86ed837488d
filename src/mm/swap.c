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

/*
 * Clusters (Linux's swap_cluster_info): a large folio's slots are a
 * naturally aligned run inside one cluster of SWAP_CLUSTER slots that is
 * free or already serves that order, as cluster_alloc_swap_entry() hands
 * them out. The device's first page is mkswap's header, so the engine's
 * slot s is the device's page s + 1: the cluster holding the header and
 * the device's partial last cluster serve small folios only.
 */
#define SWAP_CLUSTER 512u

static size_t slot_cluster(uint64_t slot)
{
	return (size_t)((slot + 1) / SWAP_CLUSTER);
}

/* May cluster c hold a large folio: whole, and not the header's? */
static bool cluster_whole(const struct pinmm *eng, size_t c)
{
	return c >= 1 && (c + 1) * SWAP_CLUSTER <= eng->cfg.swap_pages + 1;
}

/* Room for slots [0, n) in the arrays; under sw->lock. */
static int swap_reserve_locked(struct pinmm *eng, size_t n)
{
	struct pm_swap *sw = &eng->swap;

	if (!sw->cl_order) {
		sw->nr_cl = (eng->cfg.swap_pages + SWAP_CLUSTER) / SWAP_CLUSTER;
		sw->cl_order = calloc(sw->nr_cl, sizeof(*sw->cl_order));
		sw->cl_used = calloc(sw->nr_cl, sizeof(*sw->cl_used));
		if (!sw->cl_order || !sw->cl_used) {
			free(sw->cl_order);
			free(sw->cl_used);
			sw->cl_order = NULL;
			sw->cl_used = NULL;
			return -ENOMEM;
		}
	}
	if (n > sw->cap) {
		size_t cap = sw->cap ? 2 * sw->cap : 64;
		while (cap < n)
			cap *= 2;
		uint8_t **d = realloc(sw->data, cap * sizeof(*d));
		int *c = d ? realloc(sw->count, cap * sizeof(*c)) : NULL;
		struct pinmm_page **f = c ? realloc(sw->cache, cap * sizeof(*f)) : NULL;
		bool *z = f ? realloc(sw->zeromap, cap * sizeof(*z)) : NULL;
		if (d)
			sw->data = d;
		if (c)
			sw->count = c;
		if (f)
			sw->cache = f;
		if (!z)
			return -ENOMEM;
		sw->zeromap = z;
		sw->cap = cap;
	}
	for (; sw->nr < n; sw->nr++) {
		sw->data[sw->nr] = NULL;
		sw->count[sw->nr] = 0;
		sw->cache[sw->nr] = NULL;
		sw->zeromap[sw->nr] = false;
	}
	return 0;
}

static bool slot_free(const struct pm_swap *sw, uint64_t slot)
{
	return slot >= sw->nr || !sw->data[slot];
}

/* An order-0 slot: the lowest free one in a cluster that is free or
 * serves small folios; any free one when there is none (Linux steals from
 * the other orders' clusters then). -1: the device is full. */
static long swap_pick_small_locked(struct pinmm *eng)
{
	struct pm_swap *sw = &eng->swap;
	long first = -1;

	/* no free slot below the hint: searching from it keeps this O(1)
	 * while slots are taken in order */
	for (uint64_t i = sw->free_hint; i < eng->cfg.swap_pages; i++) {
		if (!slot_free(sw, i))
			continue;
		if (first < 0)
			first = (long)i;
		if (sw->cl_order[slot_cluster(i)] <= 1) {
			sw->free_hint = (size_t)first == i ? i + 1 : (size_t)first;
			return (long)i;
		}
	}
	if (first >= 0)
		sw->free_hint = (size_t)first + 1;
	return first;
}

static long swap_pick_large_locked(struct pinmm *eng, unsigned order)
{
	struct pm_swap *sw = &eng->swap;
	unsigned long nr = 1ul << order;

	for (size_t c = 1; c < sw->nr_cl; c++) {
		if (!cluster_whole(eng, c) ||
		    (sw->cl_order[c] && sw->cl_order[c] != order + 1))
			continue;
		/* device pages c * SWAP_CLUSTER .. : aligned as the device's */
		for (uint64_t dev = c * SWAP_CLUSTER; dev < (c + 1) * SWAP_CLUSTER; dev += nr) {
			unsigned long j = 0;

			while (j < nr && slot_free(sw, dev - 1 + j))
				j++;
			if (j == nr)
				return (long)(dev - 1);
		}
	}
	return -1;
}

long swap_alloc_order(struct pinmm *eng, unsigned order)
{
	struct pm_swap *sw = &eng->swap;
	unsigned long nr = 1ul << order;
	uint8_t *bufs[SWAP_CLUSTER] = { 0 };
	long slot = -ENOMEM;

	if (nr > SWAP_CLUSTER || pm_should_fail_alloc(eng, PINMM_ALLOC_FRAME))
		return -ENOMEM;
	for (unsigned long j = 0; j < nr; j++)
		if (!(bufs[j] = malloc(PINMM_PAGE_SIZE)))
			goto out;
	pm_mutex_lock(&sw->lock);
	if (!swap_reserve_locked(eng, 0))
		slot = order ? swap_pick_large_locked(eng, order) : swap_pick_small_locked(eng);
	if (slot < 0 || swap_reserve_locked(eng, (size_t)slot + nr)) {
		/* the device is full (or has no room for this order), or
		 * there is none */
		pm_mutex_unlock(&sw->lock);
		slot = -ENOMEM;
		goto out;
	}
	size_t c = slot_cluster((uint64_t)slot);
	if (!sw->cl_order[c])
		sw->cl_order[c] = (unsigned char)(order + 1);
	sw->cl_used[c] = (unsigned short)(sw->cl_used[c] + nr);
	for (unsigned long j = 0; j < nr; j++) {
		sw->data[slot + (long)j] = bufs[j];
		sw->count[slot + (long)j] = 0;
		sw->cache[slot + (long)j] = NULL;
		bufs[j] = NULL;
	}
	pm_mutex_unlock(&sw->lock);
out:
	for (unsigned long j = 0; j < nr; j++)
		free(bufs[j]);
	return slot;
}

long swap_alloc(struct pinmm *eng)
{
	return swap_alloc_order(eng, 0);
}

/* The slot goes when nothing refers to it. */
static void slot_release_locked(struct pm_swap *sw, uint64_t slot)
{
	size_t c = slot_cluster(slot);

	if (sw->count[slot] > 0 || sw->cache[slot])
		return;
	free(sw->data[slot]);
	sw->data[slot] = NULL;
	if (slot < sw->free_hint)
		sw->free_hint = slot;
	/* an empty cluster serves any order again */
	if (--sw->cl_used[c] == 0)
		sw->cl_order[c] = 0;
}

/* __delete_from_swap_cache(): the caller drops the cache's references
 * (after sw->lock). */
static void swap_cache_del_locked(struct pm_swap *sw, struct pinmm_page *folio)
{
	uint64_t slot = folio_swap_slot(folio);

	page_clear(folio, PG_swapcache);
	/* its bytes are newer than the slots' from now on */
	page_set(folio, PG_dirty);
	for (unsigned long j = 0; j < folio_nr_pages(folio); j++) {
		sw->cache[slot + j] = NULL;
		slot_release_locked(sw, slot + j);
	}
}

/* Under sw->lock: may the cache let go of folio (no entry refers to any
 * of its slots: !folio_swapped())? */
static bool swap_cache_idle_locked(struct pm_swap *sw, struct pinmm_page *folio)
{
	uint64_t slot;

	if (!page_test(folio, PG_swapcache))
		return false;
	slot = folio_swap_slot(folio);
	for (unsigned long j = 0; j < folio_nr_pages(folio); j++)
		if (sw->cache[slot + j] != folio || sw->count[slot + j])
			return false;
	return true;
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

	pm_mutex_lock(&sw->lock);
	if (--sw->count[slot] == 0) {
		struct pinmm_page *f = sw->cache[slot];

		if (f && swap_cache_idle_locked(sw, f)) {
			swap_cache_del_locked(sw, f);
			folio = f;
		} else {
			slot_release_locked(sw, slot);
		}
	}
	pm_mutex_unlock(&sw->lock);
	if (folio)
		folio_put_refs(folio, (int)folio_nr_pages(folio));
}

static bool buf_zero(const uint8_t *buf)
{
	return !buf[0] && !memcmp(buf, buf + 1, PINMM_PAGE_SIZE - 1);
}

void swap_write_folio(struct pinmm *eng, uint64_t slot, struct pinmm_page *folio)
{
	struct pm_swap *sw = &eng->swap;
	unsigned long nr = folio_nr_pages(folio);
	bool zero = true;

	pm_mutex_lock(&sw->lock);
	for (unsigned long j = 0; j < nr; j++) {
		frame_copy_from(sw->data[slot + j], eng_page_virt(eng, folio + j), PINMM_PAGE_SIZE);
		zero = zero && buf_zero(sw->data[slot + j]);
	}
	/* swap_writeout(): the zeromap is the whole folio's, set only when
	 * every page of it is zeros */
	for (unsigned long j = 0; j < nr; j++)
		sw->zeromap[slot + j] = zero;
	pm_mutex_unlock(&sw->lock);
}

void swap_destroy(struct pinmm *eng)
{
	for (size_t i = 0; i < eng->swap.nr; i++)
		free(eng->swap.data[i]);
	free(eng->swap.data);
	free(eng->swap.count);
	free(eng->swap.cache);
	free(eng->swap.zeromap);
	free(eng->swap.cl_order);
	free(eng->swap.cl_used);
	pm_mutex_destroy(&eng->swap.lock);
}

/* ------------------------------------------------------ the swap cache --- */

long add_to_swap(struct pinmm *eng, struct pinmm_page *folio)
{
	struct pm_swap *sw = &eng->swap;
	unsigned long nr = folio_nr_pages(folio);
	long slot;

	/* cached already (swapped in while another entry refers to the
	 * slot, or left there by a reclaim that met a pin): hold its slots,
	 * in the same breath as the look, since the last entry's swap_free()
	 * may take the folio out meanwhile */
	pm_mutex_lock(&sw->lock);
	if (page_test(folio, PG_swapcache)) {
		slot = (long)folio_swap_slot(folio);
		for (unsigned long j = 0; j < nr; j++)
			sw->count[slot + (long)j]++;
		pm_mutex_unlock(&sw->lock);
		return slot;
	}
	pm_mutex_unlock(&sw->lock);
	/* only reclaim, which holds the folio lock, adds a mapped folio; a
	 * large one needs a run of slots (folio_alloc_swap()) */
	slot = swap_alloc_order(eng, folio_order(folio));
	if (slot < 0)
		return slot;
	folio_get_refs(folio, (int)nr);	/* the cache's, one per page */
	pm_mutex_lock(&sw->lock);
	__atomic_store_n(&folio->private, (uint64_t)slot, __ATOMIC_RELAXED);
	page_set(folio, PG_swapcache);
	for (unsigned long j = 0; j < nr; j++) {
		sw->cache[slot + (long)j] = folio;
		sw->count[slot + (long)j] = 1;
	}
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
	ret = page_test(folio, PG_swapcache) && slot - folio_swap_slot(folio) <
	      folio_nr_pages(folio) && slot < sw->nr && sw->cache[slot] == folio;
	pm_mutex_unlock(&sw->lock);
	return ret;
}

/* Delete folio from the cache if its refcount is refs (any when refs < 0)
 * and, when idle, no entry refers to its slots; drops the cache's
 * references. */
static bool swap_cache_try_delete(struct pinmm *eng, struct pinmm_page *folio, int refs,
				  bool idle)
{
	struct pm_swap *sw = &eng->swap;
	bool removed = false;

	pm_mutex_lock(&sw->lock);
	if (page_test(folio, PG_swapcache) && (refs < 0 || folio_ref_count(folio) == refs) &&
	    (!idle || swap_cache_idle_locked(sw, folio))) {
		swap_cache_del_locked(sw, folio);
		removed = true;
	}
	pm_mutex_unlock(&sw->lock);
	if (removed)
		folio_put_refs(folio, (int)folio_nr_pages(folio));
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

int swap_count(struct pinmm *eng, uint64_t slot)
{
	int n;

	pm_mutex_lock(&eng->swap.lock);
	n = slot < eng->swap.nr && eng->swap.data[slot] ? eng->swap.count[slot] : 0;
	pm_mutex_unlock(&eng->swap.lock);
	return n;
}

int swap_read_uncached(struct pinmm *eng, uint64_t slot, unsigned long nr,
		       struct pinmm_page *folio)
{
	struct pm_swap *sw = &eng->swap;
	int ret = 0;

	pm_mutex_lock(&sw->lock);
	for (unsigned long j = 0; j < nr && !ret; j++)
		if (slot + j >= sw->nr || !sw->data[slot + j] || !sw->count[slot + j] ||
		    sw->cache[slot + j] || sw->zeromap[slot + j] != sw->zeromap[slot])
			ret = -EBUSY;
	/* the entries' counts keep the slots, and nobody writes a slot
	 * that no folio is cached for */
	for (unsigned long j = 0; j < nr && !ret; j++)
		frame_copy_to(eng_page_virt(eng, folio + j), sw->data[slot + j], PINMM_PAGE_SIZE);
	pm_mutex_unlock(&sw->lock);
	return ret;
}
