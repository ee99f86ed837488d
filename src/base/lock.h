/* SPDX-License-Identifier: MIT */
/*
 * Locks of the engine: mmap_lock (reader-writer), split page-table locks and
 * the few plain mutexes. Thin wrappers over pthreads so that the explore
 * build can mark acquire/release as preemption points, and let a thread of
 * the controlled scheduler wait for a lock by running another thread
 * instead of sleeping (a sleeping thread would stop the whole schedule).
 */
#ifndef PM_BASE_LOCK_H
#define PM_BASE_LOCK_H

#include <pthread.h>
#include <stdatomic.h>

#include "preempt.h"

typedef struct { pthread_mutex_t m; } pm_mutex_t;
typedef struct { pthread_rwlock_t rw; } pm_rwsem_t;

#ifdef PINMM_EXPLORE
/* through the scheduler's ops (preempt.h), when one is in charge */
#define PM_LOCK_SLOW(obj, trylock, lock)                                \
	do {                                                            \
		const struct pm_sched_ops *ops_ = atomic_load(&pm_sched_ops); \
		if (!ops_ || !ops_->controlled()) {                     \
			lock;                                           \
			break;                                          \
		}                                                       \
		while (trylock)                                         \
			ops_->wait_lock(obj);                           \
	} while (0)
#define PM_UNLOCK_WAKE(obj)                                             \
	do {                                                            \
		const struct pm_sched_ops *ops_ = atomic_load(&pm_sched_ops); \
		if (ops_)                                               \
			ops_->wake(obj);                                \
	} while (0)
#else
#define PM_LOCK_SLOW(obj, trylock, lock) lock
#define PM_UNLOCK_WAKE(obj) ((void)(obj))
#endif

/*
 * ASan does not see into libpthread: a lock taken in freed memory (an
 * object gone under a walker that reached it locklessly) passes unseen.
 * Under ASan every lock and unlock first reads its own first byte through
 * instrumented code, so that is reported as a use after free.
 */
#ifdef __SANITIZE_ADDRESS__
#define PM_LOCK_CHECK(l) ((void)*(volatile const char *)(l))
#else
#define PM_LOCK_CHECK(l) ((void)(l))
#endif

static inline void pm_mutex_init(pm_mutex_t *l) { pthread_mutex_init(&l->m, NULL); }
static inline void pm_mutex_destroy(pm_mutex_t *l) { pthread_mutex_destroy(&l->m); }
static inline void pm_mutex_lock(pm_mutex_t *l)
{
	PM_LOCK_CHECK(l);
	PM_LOCK_SLOW(l, pthread_mutex_trylock(&l->m), pthread_mutex_lock(&l->m));
	pm_preempt(PM_PT_LOCK, l, 0);
}
static inline void pm_mutex_unlock(pm_mutex_t *l)
{
	PM_LOCK_CHECK(l);
	pthread_mutex_unlock(&l->m);
	PM_UNLOCK_WAKE(l);
	pm_preempt(PM_PT_UNLOCK, l, 0);
}

static inline void pm_rwsem_init(pm_rwsem_t *l) { pthread_rwlock_init(&l->rw, NULL); }
static inline void pm_rwsem_destroy(pm_rwsem_t *l) { pthread_rwlock_destroy(&l->rw); }
static inline void pm_down_read(pm_rwsem_t *l)
{
	PM_LOCK_CHECK(l);
	PM_LOCK_SLOW(l, pthread_rwlock_tryrdlock(&l->rw), pthread_rwlock_rdlock(&l->rw));
	pm_preempt(PM_PT_LOCK, l, 1);
}
static inline void pm_up_read(pm_rwsem_t *l)
{
	PM_LOCK_CHECK(l);
	pthread_rwlock_unlock(&l->rw);
	PM_UNLOCK_WAKE(l);
	pm_preempt(PM_PT_UNLOCK, l, 1);
}
static inline void pm_down_write(pm_rwsem_t *l)
{
	PM_LOCK_CHECK(l);
	PM_LOCK_SLOW(l, pthread_rwlock_trywrlock(&l->rw), pthread_rwlock_wrlock(&l->rw));
	pm_preempt(PM_PT_LOCK, l, 2);
}
static inline void pm_up_write(pm_rwsem_t *l)
{
	PM_LOCK_CHECK(l);
	pthread_rwlock_unlock(&l->rw);
	PM_UNLOCK_WAKE(l);
	pm_preempt(PM_PT_UNLOCK, l, 2);
}

#endif
