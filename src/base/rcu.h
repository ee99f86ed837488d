/* SPDX-License-Identifier: MIT */
/*
 * RCU for lockless page-table walks (liburcu).
 * Threads are registered on first use and unregistered at thread exit, so
 * callers of the public API need not know RCU exists.
 */
#ifndef PM_BASE_RCU_H
#define PM_BASE_RCU_H

#include <stdbool.h>

#include "compiler.h"

/*
 * The flavour: urcu-memb (the read side is a compiler barrier; writers use
 * the membarrier system call) for speed, urcu-mb (a full barrier on each
 * read-side entry and exit, which ThreadSanitizer can follow) in TSan
 * builds. CMake links the matching library.
 */
#ifdef PM_TSAN
#include <urcu/urcu-mb.h>
#define PM_URCU(fn) urcu_mb_##fn
#else
#include <urcu/urcu-memb.h>
#define PM_URCU(fn) urcu_memb_##fn
#endif

#include "preempt.h"

/*
 * ThreadSanitizer cannot see liburcu's ordering (its atomics are volatile
 * accesses and inline assembly), so in a TSan build we state it: every read
 * section's end releases a grace-period token and every RCU callback
 * acquires it, which is exactly RCU's promise (a callback runs after every
 * read section that could see the object has ended); call_rcu() hands the
 * object to the callback thread with a release/acquire pair. Nothing is
 * suppressed: a real race outside these edges is still reported.
 */
#ifdef PM_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char pm_rcu_tsan_gp;
#define pm_tsan_release(a) __tsan_release(a)
#define pm_tsan_acquire(a) __tsan_acquire(a)
#else
#define pm_tsan_release(a) ((void)(a))
#define pm_tsan_acquire(a) ((void)(a))
#endif

extern __thread bool pm_rcu_registered;
void pm_rcu_register_slow(void);

static inline void pm_rcu_read_lock(void)
{
	if (!pm_rcu_registered)
		pm_rcu_register_slow();
	PM_URCU(read_lock)();
	pm_preempt(PM_PT_RCU, NULL, 1);
}

static inline void pm_rcu_read_unlock(void)
{
	pm_preempt(PM_PT_RCU, NULL, 0);
#ifdef PM_TSAN
	pm_tsan_release(&pm_rcu_tsan_gp);
#endif
	PM_URCU(read_unlock)();
}

/*
 * What an RCU callback may still touch after its engine is gone: a small
 * counted object, one per engine, held by the engine and by each pending
 * callback, so that destroying an engine never waits for a grace period.
 */
struct pm_rcu_domain {
	_Atomic long refs;
};
struct pm_rcu_domain *pm_rcu_domain_new(void);
void pm_rcu_domain_get(struct pm_rcu_domain *d);
void pm_rcu_domain_put(struct pm_rcu_domain *d);

/* Defer fn(head) until every reader that could see the object is done.
 * fn must start with pm_rcu_callback_begin(head). */
void pm_call_rcu(struct rcu_head *head, void (*fn)(struct rcu_head *));

/*
 * fork() copies only the calling thread. liburcu's call_rcu worker may be
 * inside a callback (in free(): a sanitizer's allocator has no fork
 * handlers, so its lock stays taken in the child) or inside a grace period
 * (holding the registry lock every new reader's registration takes): a
 * child forked then hangs at its first malloc or its first new reader.
 * Between pm_rcu_fork_quiesce() and pm_rcu_fork_resume() the worker is
 * parked outside all of that, so a child forked in between finds those
 * locks free. The child's callbacks queue for a worker it has not got,
 * which suits a child that _exit()s: they only free memory.
 */
void pm_rcu_fork_quiesce(void);
void pm_rcu_fork_resume(void);

static inline void pm_rcu_callback_begin(struct rcu_head *head)
{
#ifdef PM_TSAN
	pm_tsan_acquire(head);
	pm_tsan_acquire(&pm_rcu_tsan_gp);
#else
	(void)head;
#endif
}

#endif
