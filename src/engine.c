/* SPDX-License-Identifier: MIT */
/* The engine: creation, teardown, statistics, allocation-failure injection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "mm/mm.h"


#include <pinmm/pinmm.h>

const char *pinmm_version(void)
{
	return PINMM_VERSION;
}

void pinmm_config_default(struct pinmm_config *cfg)
{
	if (!cfg)
		return;
	/* as a kernel booted without movablecore: no movable zone, user
	 * pages come from the normal zone */
	cfg->normal_frames = 32768;	/* 128 MiB */
	cfg->movable_frames = 0;
	cfg->max_map_count = PM_DEFAULT_MAX_MAP_COUNT;
	cfg->max_mms = PM_DEFAULT_MAX_MMS;
	cfg->max_page_tables = 0;	/* as many as there are frames */
	cfg->swap_pages = cfg->normal_frames;
	cfg->policy = PINMM_POLICY_STRICT;
}

int pinmm_create(const struct pinmm_config *cfg, struct pinmm **out)
{
	struct pinmm *eng;
	int err;

	if (!cfg || !out || cfg->policy.on >> PINMM_SW_NR)
		return -EINVAL;
	eng = calloc(1, sizeof(*eng));
	if (!eng)
		return -ENOMEM;
	eng->cfg = *cfg;
	if (!eng->cfg.max_map_count)
		eng->cfg.max_map_count = PM_DEFAULT_MAX_MAP_COUNT;
	if (!eng->cfg.max_mms)
		eng->cfg.max_mms = PM_DEFAULT_MAX_MMS;
	if (!eng->cfg.max_page_tables)
		eng->cfg.max_page_tables = cfg->normal_frames + cfg->movable_frames;
	eng->policy = cfg->policy;
	err = pm_mem_init(&eng->mem, eng, cfg->normal_frames, cfg->movable_frames);
	if (err) {
		free(eng);
		return err;
	}
	eng->rcu_dom = pm_rcu_domain_new();
	if (!eng->rcu_dom) {
		pm_mem_destroy(&eng->mem);
		free(eng);
		return -ENOMEM;
	}
	pm_mutex_init(&eng->objects_lock);
	pm_mutex_init(&eng->pin_records.lock);
	pm_mutex_init(&eng->swap.lock);
	pm_mutex_init(&eng->split_queue.lock);
	pm_mutex_init(&eng->hugetlb.lock);
	eng->hugetlb.free_folio = hugetlb_free_folio;
	pm_mutex_init(&eng->kthread_lock);
	pm_list_init(&eng->mms);
	pm_list_init(&eng->files);
	pm_mutex_init(&eng->ksm.lock);
	atomic_store(&eng->thp_use_zero_page, true);
	atomic_store(&eng->thp_enabled[PINMM_HPAGE_ORDER], PINMM_THP_MADVISE);
	eng->khugepaged = (struct pinmm_khugepaged_tunables){
		.max_ptes_none = 511, .max_ptes_shared = 256, .max_ptes_swap = 64,
	};

	/* the shared zero page: first frame of the normal zone, never freed */
	eng->zero_page = pm_alloc_folio(eng, 0, PM_GFP_ZERO | PM_GFP_NOINJECT);
	if (!eng->zero_page) {
		pm_rcu_domain_put(eng->rcu_dom);
		pm_mem_destroy(&eng->mem);
		free(eng);
		return -ENOMEM;
	}
	page_set(eng->zero_page, PG_zero);
	page_set(eng->zero_page, PG_reserved);
	*out = eng;
	return 0;
}

int pinmm_destroy(struct pinmm *eng)
{
	struct pm_list *pos;
	int ret;

	if (!eng)
		return -EINVAL;
	pm_kthreads_stop_all(eng);
	/* exit what is still alive, then free the zombies */
	pm_mutex_lock(&eng->objects_lock);
	for (pos = eng->mms.next; pos != &eng->mms; pos = pos->next) {
		struct pinmm_mm *mm = container_of(pos, struct pinmm_mm, link);

		if (!atomic_load(&mm->dead)) {
			pm_mutex_unlock(&eng->objects_lock);
			pinmm_mm_exit(mm);
			pm_mutex_lock(&eng->objects_lock);
		}
	}
	while (eng->mms.next != &eng->mms) {
		struct pinmm_mm *mm = container_of(eng->mms.next, struct pinmm_mm, link);

		pm_list_del(&mm->link);
		mm_free(mm);
	}
	pm_mutex_unlock(&eng->objects_lock);
	put_huge_zero_folio(eng);
	hugetlb_pool_destroy(eng);
	/* RCU callbacks still pending touch only the domain, not the engine */
	pm_rcu_domain_put(eng->rcu_dom);

	size_t total = 0, free_frames = 0;
	for (int z = 0; z < PINMM_ZONE_NR; z++) {
		total += eng->mem.zones[z].end_pfn - eng->mem.zones[z].start_pfn;
		free_frames += pm_zone_nr_free(&eng->mem.zones[z]);
	}
	/* everything but the zero page must be back */
	ret = free_frames + 1 == total ? 0 : -EBUSY;
	pm_mutex_destroy(&eng->objects_lock);
	pm_mutex_destroy(&eng->pin_records.lock);
	free(eng->pin_records.gen);
	free(eng->pin_records.kind);
	free(eng->pin_records.arr);
	free(eng->pin_records.nr_pages);
	swap_destroy(eng);
	pm_mutex_destroy(&eng->split_queue.lock);
	ksm_state_destroy(eng);
	pm_mutex_destroy(&eng->kthread_lock);
	pm_mem_destroy(&eng->mem);
	free(eng);
	return ret;
}

struct pinmm_policy pinmm_get_policy(const struct pinmm *eng)
{
	return eng ? eng->policy : (struct pinmm_policy){ 0 };
}

void pinmm_get_stats(struct pinmm *eng, struct pinmm_stats *out)
{
	size_t used = 0;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!eng)
		return;
	for (int z = 0; z < PINMM_ZONE_NR; z++) {
		struct pm_zone *zone = &eng->mem.zones[z];

		out->frames_total[z] = zone->end_pfn - zone->start_pfn;
		out->frames_free[z] = pm_zone_nr_free(zone);
		used += out->frames_total[z] - out->frames_free[z];
	}
	/* not the zero pages (the small one and, once made, the huge one),
	 * nor the free pages of the hugetlb pool */
	pm_mutex_lock(&eng->hugetlb.lock);
	used -= eng->hugetlb.nr_free * HPAGE_PMD_NR;
	pm_mutex_unlock(&eng->hugetlb.lock);
	out->frames_used = used - 1 - (atomic_load(&eng->huge_zero) ? HPAGE_PMD_NR : 0);
	out->nr_mms = (size_t)atomic_load(&eng->nr_mms);
	out->page_tables = (size_t)atomic_load(&eng->nr_page_tables);
	out->gup_fast_fallbacks = atomic_load(&eng->stats.gup_fast_fallbacks);
	out->cow_copies = atomic_load(&eng->stats.cow_copies);
	out->cow_reuses = atomic_load(&eng->stats.cow_reuses);
	out->fork_early_copies = atomic_load(&eng->stats.fork_early_copies);
	pm_mutex_lock(&eng->swap.lock);
	for (size_t i = 0; i < eng->swap.nr; i++) {
		out->swap_slots += eng->swap.data[i] != NULL;
		out->swap_cache += eng->swap.data[i] && eng->swap.cache[i];
	}
	pm_mutex_unlock(&eng->swap.lock);
}

struct pinmm_mm **pm_snapshot_mms(struct pinmm *eng, size_t *nr)
{
	struct pinmm_mm **v = NULL;
	struct pm_list *pos;
	size_t n = 0, cap = 0;

	pm_mutex_lock(&eng->objects_lock);
	pm_list_for_each(pos, &eng->mms) {
		struct pinmm_mm *mm = container_of(pos, struct pinmm_mm, link);

		if (atomic_load(&mm->dead))
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct pinmm_mm **nv = realloc(v, ncap * sizeof(*nv));
			if (!nv)
				break;	/* a partial pass is still a pass */
			v = nv;
			cap = ncap;
		}
		v[n++] = mm;
	}
	pm_mutex_unlock(&eng->objects_lock);
	*nr = n;
	return v;
}

bool pm_should_fail_alloc(struct pinmm *eng, enum pinmm_alloc_kind kind)
{
	(void)kind;
	unsigned long n = atomic_fetch_add(&eng->alloc_calls, 1) + 1;
	unsigned long at = atomic_load(&eng->fail_at);

	return at && (n == at || (eng->fail_sticky && n > at));
}

unsigned long pinmm_fail_alloc_nth(struct pinmm *eng, unsigned long nth, bool sticky)
{
	unsigned long calls;

	if (!eng)
		return 0;
	calls = atomic_exchange(&eng->alloc_calls, 0);
	eng->fail_sticky = sticky;
	atomic_store(&eng->fail_at, nth);
	return calls;
}
