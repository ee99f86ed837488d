/* SPDX-License-Identifier: MIT */
/*
 * shmem objects: the page cache behind shared anonymous mappings. Each
 * cached page holds one reference of the object's; mappings add their own.
 */
#include <errno.h>
#include <stdlib.h>

#include "mm.h"

struct pm_shmem *shmem_create(struct pinmm *eng, uint64_t nr_pages)
{
	struct pm_shmem *s;

	if (pm_should_fail_alloc(eng, PINMM_ALLOC_VMA))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cache = calloc(nr_pages ? nr_pages : 1, sizeof(*s->cache));
	if (!s->cache) {
		free(s);
		return NULL;
	}
	s->nr_pages = nr_pages;
	atomic_store(&s->refcount, 1);
	pm_mutex_init(&s->lock);
	pm_mutex_lock(&eng->objects_lock);
	pm_list_add(&s->link, &eng->shmem_objects);
	pm_mutex_unlock(&eng->objects_lock);
	return s;
}

void shmem_get(struct pm_shmem *s)
{
	atomic_fetch_add(&s->refcount, 1);
}

void shmem_put(struct pinmm *eng, struct pm_shmem *s)
{
	if (atomic_fetch_sub(&s->refcount, 1) != 1)
		return;
	pm_mutex_lock(&eng->objects_lock);
	pm_list_del(&s->link);
	pm_mutex_unlock(&eng->objects_lock);
	for (uint64_t i = 0; i < s->nr_pages; i++) {
		struct pinmm_page *p = s->cache[i];
		if (p) {
			page_clear(p, PG_shmem);
			folio_put(p);
		}
	}
	pm_mutex_destroy(&s->lock);
	free(s->cache);
	free(s);
}

struct pinmm_page *shmem_get_page(struct pinmm *eng, struct pm_shmem *s,
				  uint64_t index)
{
	struct pinmm_page *p;

	if (index >= s->nr_pages)
		return NULL;
	pm_mutex_lock(&s->lock);
	p = s->cache[index];
	if (!p) {
		p = pm_alloc_folio(eng, 0, PM_GFP_MOVABLE | PM_GFP_ZERO);
		if (p) {
			p->mapping = s;
			p->index = index;
			page_set(p, PG_shmem);
			s->cache[index] = p;	/* the cache's reference */
		}
	}
	if (p)
		folio_get(p);
	pm_mutex_unlock(&s->lock);
	return p;
}
