/* SPDX-License-Identifier: MIT */
/*
 * Locks of the engine: mmap_lock (reader-writer), split page-table locks and
 * the few plain mutexes. Thin wrappers over pthreads so that the explore
 * build can mark acquire/release as preemption points.
 */
#ifndef PM_BASE_LOCK_H
#define PM_BASE_LOCK_H

#include <pthread.h>

#include "preempt.h"

typedef struct { pthread_mutex_t m; } pm_mutex_t;
typedef struct { pthread_rwlock_t rw; } pm_rwsem_t;

static inline void pm_mutex_init(pm_mutex_t *l) { pthread_mutex_init(&l->m, NULL); }
static inline void pm_mutex_destroy(pm_mutex_t *l) { pthread_mutex_destroy(&l->m); }
static inline void pm_mutex_lock(pm_mutex_t *l)
{
	pthread_mutex_lock(&l->m);
	pm_preempt(PM_PT_LOCK, l, 0);
}
static inline void pm_mutex_unlock(pm_mutex_t *l)
{
	pm_preempt(PM_PT_UNLOCK, l, 0);
	pthread_mutex_unlock(&l->m);
}

static inline void pm_rwsem_init(pm_rwsem_t *l) { pthread_rwlock_init(&l->rw, NULL); }
static inline void pm_rwsem_destroy(pm_rwsem_t *l) { pthread_rwlock_destroy(&l->rw); }
static inline void pm_down_read(pm_rwsem_t *l)
{
	pthread_rwlock_rdlock(&l->rw);
	pm_preempt(PM_PT_LOCK, l, 1);
}
static inline void pm_up_read(pm_rwsem_t *l)
{
	pm_preempt(PM_PT_UNLOCK, l, 1);
	pthread_rwlock_unlock(&l->rw);
}
static inline void pm_down_write(pm_rwsem_t *l)
{
	pthread_rwlock_wrlock(&l->rw);
	pm_preempt(PM_PT_LOCK, l, 2);
}
static inline void pm_up_write(pm_rwsem_t *l)
{
	pm_preempt(PM_PT_UNLOCK, l, 2);
	pthread_rwlock_unlock(&l->rw);
}

#endif
