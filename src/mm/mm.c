/* SPDX-License-Identifier: MIT */
/*
 * mm lifetime. exit() tears the address space down at once, but the small
 * mm struct stays (a zombie, as a process table entry) until the engine is
 * destroyed: pin handles keep pointing at it, and every call on an exited
 * mm answers -ESRCH instead of touching freed memory.
 */
#include <errno.h>
#include <stdlib.h>

#include "mm.h"

struct pinmm_mm *mm_alloc(struct pinmm *eng)
{
	struct pinmm_mm *mm;

	if (pm_should_fail_alloc(eng, PINMM_ALLOC_MM))
		return NULL;
	if ((size_t)atomic_load(&eng->nr_mms) >= eng->cfg.max_mms)
		return NULL;	/* the process limit: mm_over_limit() tells */
	mm = calloc(1, sizeof(*mm));
	if (!mm)
		return NULL;
	mm->eng = eng;
	mm->pgd = pt_alloc(eng, PT_LEVEL_PGD);
	if (!mm->pgd) {
		free(mm);
		return NULL;
	}
	pm_rwsem_init(&mm->mmap_lock);
	RB_INIT(&mm->vmas);
	pm_mutex_lock(&eng->objects_lock);
	mm->id = ++eng->next_mm_id;
	pm_list_add(&mm->link, &eng->mms);
	pm_mutex_unlock(&eng->objects_lock);
	atomic_fetch_add(&eng->nr_mms, 1);
	return mm;
}

bool mm_over_limit(const struct pinmm *eng)
{
	return (size_t)atomic_load(&eng->nr_mms) >= eng->cfg.max_mms;
}

int pinmm_mm_create(struct pinmm *eng, struct pinmm_mm **out)
{
	if (!eng || !out)
		return -EINVAL;
	*out = mm_alloc(eng);
	if (!*out)
		return mm_over_limit(eng) ? -EAGAIN : -ENOMEM;
	return 0;
}

/* Free a zombie (engine teardown). */
void mm_free(struct pinmm_mm *mm)
{
	pm_rwsem_destroy(&mm->mmap_lock);
	free(mm);
}

/* Unmap everything: exit_mmap(). */
static void exit_mmap(struct pinmm_mm *mm)
{
	struct vm_area *v;

	pm_down_write(&mm->mmap_lock);
	while ((v = RB_MIN(vma_tree, &mm->vmas))) {
		zap_page_range(mm, v, v->start, v->end);
		vma_remove(mm, v);
		vma_free(v);
	}
	free_all_pgtables(mm);
	/*
	 * Lockless walkers load mm->pgd inside an RCU read section: one
	 * that still saw the old pgd is waited for by the grace period.
	 */
	struct pt_table *pgd = atomic_load(&mm->pgd);
	atomic_store(&mm->pgd, NULL);
	pt_free_rcu(pgd);
	pm_up_write(&mm->mmap_lock);
}

void pinmm_mm_exit(struct pinmm_mm *mm)
{
	bool was_dead = false;
	struct pinmm *eng;

	if (!mm || !atomic_compare_exchange_strong(&mm->dead, &was_dead, true))
		return;		/* a second exit is a no-op */
	eng = mm->eng;
	exit_mmap(mm);
	atomic_fetch_sub(&eng->nr_mms, 1);
}

struct pinmm *pinmm_mm_engine(const struct pinmm_mm *mm)
{
	return mm ? mm->eng : NULL;
}

unsigned pinmm_mm_id(const struct pinmm_mm *mm)
{
	return mm ? mm->id : 0;
}

int mm_read_lock_vma(struct pinmm_mm *mm, uint64_t addr)
{
	if (!mm)
		return -EINVAL;
	if (atomic_load(&mm->dead))
		return -ESRCH;
	pm_down_read(&mm->mmap_lock);
	if (!vma_lookup(mm, addr)) {
		pm_up_read(&mm->mmap_lock);
		return -EFAULT;
	}
	return 0;
}
