/* SPDX-License-Identifier: MIT */
/*
 * The controlled scheduler: runs a set of threads one at a time, handing
 * over only at preemption points, with every decision taken by a strategy
 * and logged, so that an execution can be replayed exactly.
 */
#ifndef PM_SCHED_SCHED_H
#define PM_SCHED_SCHED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <pinmm/explore.h>

#include "../base/preempt.h"

/* How the step a decision started ended: at a preemption point (an
 * enum pm_point), or one of these. */
enum pm_step_end {
	PM_STEP_WAIT = PM_PT_NR,	/* found a lock taken (obj), now blocked */
	PM_STEP_RELAX,			/* a spin-wait gave way */
	PM_STEP_DONE,			/* the thread's work returned */
	PM_STEP_UNKNOWN,		/* never ended (an aborted execution) */
};

/* What a step touched besides its end point (pm_access(): counts and
 * flags of page descriptors, frames' bytes), each object once. A step
 * that touches more than PM_STEP_MAX_ACCESS objects is taken to read
 * everything (a scan of every frame's flags) or, when one of the objects
 * past the limit was written, to touch everything (a 2 MiB copy, a split
 * rewriting 512 descriptors). */
#define PM_STEP_MAX_ACCESS 16
enum { PM_OVERFLOW_READ = 1, PM_OVERFLOW_WRITE = 2 };
struct pm_access {
	const void *obj;
	uint8_t kind;		/* enum pm_access_kind */
};

/* Two accesses of one object in one step: a read and an add, or anything
 * and a write, make a write. */
static inline uint8_t pm_access_merge(uint8_t a, uint8_t b)
{
	return a == b ? a : PM_ACC_WRITE;
}

/* One scheduling decision, and the step it started: the chosen thread's
 * code from there to its next decision, named by what ended it. */
struct pm_decision {
	uint8_t chosen;		/* thread that ran next */
	uint8_t current;	/* thread that was running (0xff: none) */
	uint8_t enabled;	/* mask of threads that could run */
	uint8_t preemptions;	/* preemptions before this decision (max 255) */
	uint8_t end;		/* enum pm_point or enum pm_step_end */
	uint8_t nr_acc;		/* its accesses: run->acc[acc .. acc + nr_acc) */
	uint8_t acc_overflow;	/* past PM_STEP_MAX_ACCESS objects: PM_OVERFLOW_* */
	bool yielded;		/* current was spinning: the strategy saw none */
	uint32_t acc;
	uint64_t val;		/* the point's value */
	const void *obj;	/* the point's object (or the lock waited for) */
};

struct pm_sched_run;
struct pm_strategy {
	/* pick the next thread at decision index i; NULL = default order
	 * (run->dec[0..i-1] are complete, their steps' ends included) */
	int (*choose)(struct pm_strategy *s, unsigned i, int current, unsigned enabled);
	const struct pm_sched_run *run;	/* set by the scheduler */
};

struct pm_sched_run {
	const struct pinmm_explore_ops *ops;
	void *state;
	/* decisions to replay first (forced choices), then the strategy */
	const uint8_t *prefix;
	size_t nr_prefix;
	struct pm_strategy *strategy;
	unsigned long max_steps;
	/* out */
	struct pm_decision *dec;
	size_t nr_dec;
	struct pm_access *acc;		/* the steps' accesses, in order */
	size_t nr_acc;
	struct pinmm_trace_event *trace;	/* when want_trace */
	size_t nr_trace;
	bool want_trace;
	bool aborted;
	char why[128];
};

struct pm_sched;
/* A scheduler with nr worker threads, reused by every execution; each
 * waits for work when it returns (none is still starting: a fork may
 * follow at once). */
struct pm_sched *pm_sched_new(unsigned nr);
/* how many workers have started and wait for work */
unsigned pm_sched_ready(struct pm_sched *s);
void pm_sched_free(struct pm_sched *s);
/* Run one execution of run->ops' threads on run->state. */
int pm_sched_execute(struct pm_sched *s, struct pm_sched_run *run);
void pm_sched_run_free(struct pm_sched_run *run);

/* objects.c: a traced value in words; an entry that points to a table
 * keeps its flags only (*val changed). */
void pm_trace_value(enum pm_point pt, uint64_t *val, char *buf, size_t len);

/* The default choice: keep running the current thread, else the lowest. */
static inline int pm_sched_default(int current, unsigned enabled)
{
	if (current >= 0 && (enabled & (1u << current)))
		return current;
	return enabled ? __builtin_ctz(enabled) : -1;
}

#endif
