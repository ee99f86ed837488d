/* SPDX-License-Identifier: MIT */
/* The explore build's preemption-point hook (nothing in the normal build). */
#include "preempt.h"

#ifdef PINMM_EXPLORE
#include <stdatomic.h>
#include <sched.h>
#include <stddef.h>

static _Atomic(pm_preempt_hook_t) hook;
static void *_Atomic hook_arg;

void pm_preempt_set_hook(pm_preempt_hook_t h, void *arg)
{
	atomic_store(&hook_arg, arg);
	atomic_store(&hook, h);
}

void pm_preempt_call(enum pm_point pt, const void *obj, uint64_t val)
{
	pm_preempt_hook_t h = atomic_load(&hook);

	if (h)
		h(pt, obj, val, atomic_load(&hook_arg));
}

static _Atomic(pm_access_hook_t) access_hook;
static void *_Atomic access_arg;

void pm_access_set_hook(pm_access_hook_t h, void *arg)
{
	atomic_store(&access_arg, arg);
	atomic_store(&access_hook, h);
}

void pm_access_call(const void *obj, enum pm_access_kind kind)
{
	pm_access_hook_t h = atomic_load_explicit(&access_hook, memory_order_relaxed);

	if (h)
		h(obj, kind, atomic_load_explicit(&access_arg, memory_order_relaxed));
}

const struct pm_sched_ops *_Atomic pm_sched_ops;

void pm_sched_set_ops(const struct pm_sched_ops *ops)
{
	atomic_store(&pm_sched_ops, ops);
}

/* with no scheduler in charge, a relax is a yield */
void pm_cpu_relax(void)
{
	const struct pm_sched_ops *ops = atomic_load(&pm_sched_ops);

	if (ops)
		ops->relax();
	else
		sched_yield();
}

const char *pm_point_name(enum pm_point pt)
{
	static const char *const names[PM_PT_NR] = {
		[PM_PT_PTE_READ] = "pte-read",	 [PM_PT_PTE_WRITE] = "pte-write",
		[PM_PT_PMD_READ] = "pmd-read",	 [PM_PT_PMD_WRITE] = "pmd-write",
		[PM_PT_REF_GET] = "ref-get",	 [PM_PT_REF_PUT] = "ref-put",
		[PM_PT_PIN_GET] = "pin-get",	 [PM_PT_PIN_PUT] = "pin-put",
		[PM_PT_MAP_CHANGE] = "mapcount", [PM_PT_WP_SEQ] = "wp-seq",
		[PM_PT_LOCK] = "lock",		 [PM_PT_UNLOCK] = "unlock",
		[PM_PT_RCU] = "rcu",
		[PM_PT_GUP_FAST_WALKED] = "gup-fast-walked",
		[PM_PT_GUP_FAST_GRABBED] = "gup-fast-grabbed",
		[PM_PT_FORK_CHECKED] = "fork-checked",
		[PM_PT_KSM_CHECKED] = "ksm-checked",
		[PM_PT_COLLAPSE_CHECKED] = "collapse-checked",
		[PM_PT_SWAPIN_MISSED] = "swapin-missed",
	};
	return (unsigned)pt < PM_PT_NR && names[pt] ? names[pt] : "?";
}
#else
/* ISO C forbids an empty translation unit */
typedef int pm_preempt_unused_t;
#endif
