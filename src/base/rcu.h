/* SPDX-License-Identifier: MIT */
/*
 * RCU for lockless page-table walks (liburcu, the urcu-mb flavour: explicit
 * memory barriers, no signals, and a read side ThreadSanitizer can follow).
 * Threads are registered on first use and unregistered at thread exit, so
 * callers of the public API need not know RCU exists.
 */
#ifndef PM_BASE_RCU_H
#define PM_BASE_RCU_H

#include <stdbool.h>

#include <urcu/urcu-mb.h>

#include "preempt.h"

extern __thread bool pm_rcu_registered;
void pm_rcu_register_slow(void);

static inline void pm_rcu_read_lock(void)
{
	if (!pm_rcu_registered)
		pm_rcu_register_slow();
	urcu_mb_read_lock();
	pm_preempt(PM_PT_RCU, NULL, 1);
}

static inline void pm_rcu_read_unlock(void)
{
	pm_preempt(PM_PT_RCU, NULL, 0);
	urcu_mb_read_unlock();
}

/* Defer fn(head) until every reader that could see the object is done. */
void pm_call_rcu(struct rcu_head *head, void (*fn)(struct rcu_head *));
/* Wait for every pending pm_call_rcu() callback (teardown only). */
void pm_rcu_barrier(void);

#endif
