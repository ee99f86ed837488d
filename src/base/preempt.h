/* SPDX-License-Identifier: MIT */
/*
 * Preemption points: every shared-memory step that matters to the races of
 * GUARANTEE.md (entry reads and writes, count updates, the write-protect
 * sequence, lock acquire/release) is marked with pm_preempt(). In the normal
 * library the mark compiles to nothing; the explore build of the same
 * sources (PINMM_EXPLORE) turns it into a call to the installed hook — the
 * controlled scheduler, or a test that injects an action at that point.
 */
#ifndef PM_BASE_PREEMPT_H
#define PM_BASE_PREEMPT_H

#include <stdbool.h>
#include <stdint.h>

enum pm_point {
	PM_PT_PTE_READ,		/* an entry was read (value) */
	PM_PT_PTE_WRITE,	/* an entry was written (new value) */
	PM_PT_PMD_READ,
	PM_PT_PMD_WRITE,
	PM_PT_REF_GET,		/* refcount raised (new value) */
	PM_PT_REF_PUT,
	PM_PT_PIN_GET,		/* pincount raised */
	PM_PT_PIN_PUT,
	PM_PT_MAP_CHANGE,	/* mapcount changed */
	PM_PT_WP_SEQ,		/* write_protect_seq changed or sampled */
	PM_PT_LOCK,		/* a lock was taken */
	PM_PT_UNLOCK,
	PM_PT_RCU,		/* entered or left an RCU read section */
	PM_PT_GUP_FAST_WALKED,	/* GUP-fast read the entry, before its ref */
	PM_PT_GUP_FAST_GRABBED,	/* GUP-fast took its ref, before the recheck */
	PM_PT_FORK_CHECKED,	/* fork decided copy-or-share, before wrprotect */
	PM_PT_KSM_CHECKED,	/* legacy KSM checked the counts, before wrprotect */
	PM_PT_COLLAPSE_CHECKED,	/* legacy khugepaged checked, before clearing */
	PM_PT_SWAPIN_MISSED,	/* a swap-in found no folio cached for its slot (val) */
	PM_PT_NR
};

/* how a step touched an object besides its points (pm_access(), below) */
enum pm_access_kind {
	PM_ACC_READ,
	PM_ACC_WRITE,
	PM_ACC_ADD,	/* an atomic add whose result decides nothing: adds commute */
};

#ifdef PINMM_EXPLORE
typedef void (*pm_preempt_hook_t)(enum pm_point pt, const void *obj,
				  uint64_t val, void *arg);
void pm_preempt_set_hook(pm_preempt_hook_t hook, void *arg);
void pm_preempt_call(enum pm_point pt, const void *obj, uint64_t val);
#define pm_preempt(pt, obj, val) pm_preempt_call((pt), (obj), (uint64_t)(val))
/*
 * An access to shared state that is no preemption point: a count or flag of
 * a page descriptor read or written between points, a frame's bytes. It
 * does not hand over; the scheduler adds it to the step under way, so the
 * partial-order reduction knows what each step touched (two steps that
 * touch the same object, one of them writing, do not commute). Without
 * these, a step that reads a count would look as if it touched nothing.
 */
typedef void (*pm_access_hook_t)(const void *obj, enum pm_access_kind kind, void *arg);
void pm_access_set_hook(pm_access_hook_t hook, void *arg);
void pm_access_call(const void *obj, enum pm_access_kind kind);
#define pm_access(obj, kind) pm_access_call((obj), (kind))
const char *pm_point_name(enum pm_point pt);
/* A spin-wait for another thread's progress: under the controlled
 * scheduler, run someone else. */
void pm_cpu_relax(void);
/*
 * What the locks and spin-waits ask of a controlled scheduler. src/sched
 * fills it in when it starts (base/ knows no scheduler: it calls through
 * this, as it calls the preemption hook); unset, every thread runs free.
 *   controlled  is this thread under the controlled scheduler?
 *   wait_lock   the lock at obj is taken: run someone else meanwhile
 *   wake        obj was released: its waiters may try again
 *   relax       a spin-wait: run someone else
 */
struct pm_sched_ops {
	bool (*controlled)(void);
	void (*wait_lock)(const void *obj);
	void (*wake)(const void *obj);
	void (*relax)(void);
};
void pm_sched_set_ops(const struct pm_sched_ops *ops);
extern const struct pm_sched_ops *_Atomic pm_sched_ops;
#else
#include <sched.h>
#define pm_preempt(pt, obj, val) do { (void)(obj); (void)(val); } while (0)
#define pm_access(obj, kind) ((void)(obj), (void)(kind))
static inline void pm_cpu_relax(void) { sched_yield(); }
#endif

#endif
