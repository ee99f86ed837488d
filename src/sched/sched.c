/* SPDX-License-Identifier: MIT */
/*
 * The controlled scheduler (explore build only).
 *
 * Each thread of an execution is a real pthread, but only the one named by
 * `current` runs; the others wait on a condition variable. At every
 * preemption point the running thread asks the strategy who runs next and
 * hands over. A thread that finds a lock taken is marked blocked on it
 * and hands over; an unlock makes its waiters runnable again. A spin-wait
 * (pm_cpu_relax) hands over to any other runnable thread. Every decision
 * is logged with the set of threads that could have run, which is what
 * the search backtracks over.
 */
#ifdef PINMM_EXPLORE
#define _GNU_SOURCE	/* sched_getcpu, pthread_setaffinity_np */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/preempt.h"
#include "sched.h"

enum thread_state { T_RUNNABLE, T_BLOCKED, T_DONE };

struct sched_thread {
	pthread_t tid;
	pthread_cond_t cv;	/* signalled when it is this thread's turn */
	enum thread_state st;
	const void *blocked_on;
	unsigned id;
	struct pm_sched *s;
};

struct pm_sched {
	pthread_mutex_t m;
	pthread_cond_t cv;	/* the controller's: the execution is over */
	struct pm_sched_run *run;
	unsigned long gen;	/* executions started; workers wait for the next */
	bool quit;
	unsigned nr;
	unsigned ready;		/* workers waiting for their first execution */
	cpu_set_t caller_cpus;	/* the creator's CPUs, given back by free */
	bool caller_pinned;
	struct sched_thread t[PINMM_EXPLORE_MAX_THREADS];
	int current;		/* the thread allowed to run; -1: none */
	unsigned preemptions;
	size_t cap_dec, cap_trace, cap_acc;
	const void *objects[1024];	/* object ids for traces */
	unsigned nr_objects;
};

static __thread struct sched_thread *self;

static bool pm_sched_controlled(void)
{
	return self != NULL;
}

static unsigned enabled_mask(struct pm_sched *s, int exclude)
{
	unsigned mask = 0;

	for (unsigned i = 0; i < s->nr; i++)
		if (s->t[i].st == T_RUNNABLE && (int)i != exclude)
			mask |= 1u << i;
	return mask;
}

static void abort_run(struct pm_sched *s, const char *why)
{
	if (!s->run->aborted) {
		s->run->aborted = true;
		snprintf(s->run->why, sizeof(s->run->why), "%s", why);
	}
}

/* Set current and wake every thread and the controller (start of an
 * execution, free-running after an abort, shutdown). s->m held. */
static void wake_everyone(struct pm_sched *s, int current)
{
	s->current = current;
	for (unsigned i = 0; i < s->nr; i++)
		pthread_cond_signal(&s->t[i].cv);
	pthread_cond_signal(&s->cv);
}

/* Room for one more of the log *v (nr used, *cap allocated, each size
 * bytes); the log doubles, from first. The explorer's own memory: out of
 * it, the test infrastructure cannot go on. */
static void *log_room(void *v, size_t nr, size_t *cap, size_t size, size_t first)
{
	if (nr < *cap)
		return v;
	*cap = *cap ? 2 * *cap : first;
	v = realloc(v, *cap * size);
	if (!v)
		abort();
	return v;
}

/*
 * Decide who runs next and hand over; s->m held. Returns with s->m held
 * and the caller running again (or finished).
 */
static void reschedule(struct pm_sched *s, struct sched_thread *me, unsigned end,
		       const void *obj, uint64_t val)
{
	struct pm_sched_run *run = s->run;
	unsigned enabled = enabled_mask(s, -1);
	int cur = me && me->st != T_DONE ? (int)me->id : -1;
	bool yielding = end == PM_STEP_RELAX;
	int next;

	/* the step the last decision started ends here (only its thread ran) */
	if (me && run->nr_dec && !run->aborted) {
		struct pm_decision *d = &run->dec[run->nr_dec - 1];

		d->end = (uint8_t)end;
		d->obj = obj;
		d->val = val;
	}
	if (run->aborted) {
		/* let everyone run freely to the end: no more decisions */
		next = -2;
	} else if (!enabled) {
		if (enabled_mask(s, -1) == 0 && cur >= 0)
			abort_run(s, "deadlock: every thread is blocked");
		next = -1;
	} else {
		unsigned choices = enabled;
		size_t i = run->nr_dec;

		/* a spinning thread gives way when anyone else can run */
		if (yielding && cur >= 0 && (enabled & ~(1u << cur)))
			choices &= ~(1u << cur);
		if (i < run->nr_prefix) {
			next = run->prefix[i];
			if (!(choices & (1u << next))) {
				abort_run(s, "replay diverged: the schedule does not fit this execution");
				next = pm_sched_default(cur, choices);
			}
		} else if (run->strategy && run->strategy->choose) {
			run->strategy->run = run;
			next = run->strategy->choose(run->strategy, (unsigned)i,
						     yielding ? -1 : cur, choices);
		} else {
			next = pm_sched_default(yielding ? -1 : cur, choices);
		}
		run->dec = log_room(run->dec, run->nr_dec, &s->cap_dec, sizeof(*run->dec), 256);
		run->dec[run->nr_dec++] = (struct pm_decision){
			.chosen = (uint8_t)next, .current = (uint8_t)(cur < 0 ? 0xff : cur),
			.enabled = (uint8_t)choices, .acc = (uint32_t)run->nr_acc,
			.yielded = yielding,
			.preemptions = (uint8_t)(s->preemptions < 255 ? s->preemptions : 255),
			.end = PM_STEP_UNKNOWN };
		if (cur >= 0 && next != cur && (choices & (1u << cur)))
			s->preemptions++;
		if (run->nr_dec > run->max_steps)
			abort_run(s, "livelock: too many steps in one execution");
	}
	if (run->aborted)
		next = -2;	/* from now on everyone runs freely to the end */
	if (next == -2) {
		wake_everyone(s, -2);
		return;
	}
	/* hand over: only the chosen thread is woken, and nobody when the
	 * running thread simply goes on */
	s->current = next;
	if (next >= 0 && (!me || next != (int)me->id))
		pthread_cond_signal(&s->t[next].cv);
	if (next < 0)
		pthread_cond_signal(&s->cv);	/* the controller: all done */
	if (!me || me->st == T_DONE)
		return;
	while (s->current != (int)me->id && s->current != -2)
		pthread_cond_wait(&me->cv, &s->m);
}

static struct pm_sched *active;

static unsigned object_id(struct pm_sched *s, const void *obj)
{
	for (unsigned i = 0; i < s->nr_objects; i++)
		if (s->objects[i] == obj)
			return i + 1;
	if (s->nr_objects < 1024)
		s->objects[s->nr_objects++] = obj;
	return s->nr_objects;
}

/* An object its describe() cannot name (now): the name it had earlier in
 * this execution (an entry of a page table khugepaged has just detached is
 * still that entry), else "object #N", N in order of first appearance. */
static void unnamed_object(const struct pm_sched_run *run, struct pinmm_trace_event *e)
{
	for (size_t i = run->nr_trace - 1; i-- > 0;)
		if (run->trace[i].object == e->object && strncmp(run->trace[i].what, "object #", 8)) {
			memcpy(e->what, run->trace[i].what, sizeof(e->what));
			return;
		}
	snprintf(e->what, sizeof(e->what), "object #%u", e->object);
}

/* An object named for the first time now (the region an mmap under way
 * was creating has its name now): its earlier steps get the name too. */
static void name_earlier(const struct pm_sched_run *run, const struct pinmm_trace_event *e)
{
	for (size_t i = run->nr_trace - 1; i-- > 0;) {
		struct pinmm_trace_event *o = &run->trace[i];

		if (o->object != e->object)
			continue;
		if (strncmp(o->what, "object #", 8))
			return;	/* named then: so were the ones before */
		memcpy(o->what, e->what, sizeof(o->what));
	}
}

/* The execution is over, its state still there: an object nothing named
 * while it ran may have a name now (the anon_vma lock of a mapping an
 * mmap was creating, once a page of it is mapped). */
static void name_leftovers(struct pm_sched *s, struct pm_sched_run *run)
{
	for (size_t i = 0; i < run->nr_trace; i++) {
		struct pinmm_trace_event e = run->trace[i];

		if (strncmp(e.what, "object #", 8) || e.object > s->nr_objects)
			continue;
		e.what[0] = 0;
		run->ops->describe(run->state, e.thread, s->objects[e.object - 1], &e);
		for (size_t j = i; e.what[0] && j < run->nr_trace; j++)
			if (run->trace[j].object == e.object)
				memcpy(run->trace[j].what, e.what, sizeof(e.what));
	}
}

static void sched_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct pm_sched *s = arg;

	if (!self || self->s != s || pt == PM_PT_RCU)
		return;
	pthread_mutex_lock(&s->m);
	if (s->run->want_trace) {
		s->run->trace = log_room(s->run->trace, s->run->nr_trace, &s->cap_trace,
					 sizeof(*s->run->trace), 512);
		struct pinmm_trace_event *e = &s->run->trace[s->run->nr_trace++];

		*e = (struct pinmm_trace_event){
			.step = (unsigned)s->run->nr_dec, .thread = self->id,
			.point = pm_point_name(pt), .object = object_id(s, obj), .value = val };
		pm_trace_value(pt, &e->value, e->value_text, sizeof(e->value_text));
		if (s->run->ops->describe)
			s->run->ops->describe(s->run->state, self->id, obj, e);
		if (!e->what[0])
			unnamed_object(s->run, e);
		else
			name_earlier(s->run, e);
	}
	reschedule(s, self, pt, obj, val);
	pthread_mutex_unlock(&s->m);
}

/*
 * An access that is no point: it joins the step under way, the last
 * decision's (only its thread runs until the next one, so no lock is
 * needed; the controller reads the log after the execution, and the
 * handover's mutex orders it).
 */
static void sched_access(const void *obj, enum pm_access_kind kind, void *arg)
{
	struct pm_sched *s = arg;
	struct pm_sched_run *run = s->run;
	struct pm_decision *d;

	if (!self || self->s != s || s->current != (int)self->id || run->aborted ||
	    !run->nr_dec)
		return;
	d = &run->dec[run->nr_dec - 1];
	if ((d->acc_overflow & PM_OVERFLOW_WRITE) ||
	    (d->acc_overflow && kind == PM_ACC_READ))
		return;	/* it touches (reads) everything already */
	for (unsigned k = 0; k < d->nr_acc; k++)
		if (run->acc[d->acc + k].obj == obj) {
			run->acc[d->acc + k].kind = pm_access_merge(run->acc[d->acc + k].kind,
								    (uint8_t)kind);
			return;
		}
	if (d->nr_acc == PM_STEP_MAX_ACCESS) {
		d->acc_overflow |= kind == PM_ACC_READ ? PM_OVERFLOW_READ : PM_OVERFLOW_WRITE;
		return;
	}
	run->acc = log_room(run->acc, run->nr_acc, &s->cap_acc, sizeof(*run->acc), 1024);
	run->acc[run->nr_acc++] = (struct pm_access){ obj, (uint8_t)kind };
	d->nr_acc++;
}

static void pm_sched_wait_lock(const void *obj)
{
	struct pm_sched *s = self->s;

	pthread_mutex_lock(&s->m);
	if (s->current == -2) {
		/* free-running after an abort: plain spinning */
		pthread_mutex_unlock(&s->m);
		sched_yield();
		return;
	}
	self->st = T_BLOCKED;
	self->blocked_on = obj;
	reschedule(s, self, PM_STEP_WAIT, obj, 0);
	pthread_mutex_unlock(&s->m);
}

static void pm_sched_wake(const void *obj)
{
	struct pm_sched *s = self ? self->s : active;

	if (!s)
		return;
	pthread_mutex_lock(&s->m);
	for (unsigned i = 0; i < s->nr; i++)
		if (s->t[i].st == T_BLOCKED && s->t[i].blocked_on == obj)
			s->t[i].st = T_RUNNABLE;
	pthread_mutex_unlock(&s->m);
}

static void pm_sched_relax(void)
{
	struct pm_sched *s = self ? self->s : NULL;

	if (!s) {
		sched_yield();
		return;
	}
	pthread_mutex_lock(&s->m);
	if (s->current == -2) {
		pthread_mutex_unlock(&s->m);
		sched_yield();
		return;
	}
	reschedule(s, self, PM_STEP_RELAX, NULL, 0);
	pthread_mutex_unlock(&s->m);
}

/*
 * A worker runs thread t->id of every execution: the same pthreads serve
 * the whole exploration (creating threads per execution cost more than the
 * executions themselves).
 */
static void *thread_main(void *arg)
{
	struct sched_thread *t = arg;
	struct pm_sched *s = t->s;
	unsigned long seen = 0;

	self = t;
	pthread_mutex_lock(&s->m);
	s->ready++;
	pthread_cond_signal(&s->cv);
	for (;;) {
		while (s->gen == seen && !s->quit)
			pthread_cond_wait(&t->cv, &s->m);
		if (s->quit)
			break;
		seen = s->gen;
		while (s->current != (int)t->id && s->current != -2)
			pthread_cond_wait(&t->cv, &s->m);
		pthread_mutex_unlock(&s->m);

		s->run->ops->thread(s->run->state, t->id);

		pthread_mutex_lock(&s->m);
		t->st = T_DONE;
		reschedule(s, t, PM_STEP_DONE, NULL, 0);
	}
	pthread_mutex_unlock(&s->m);
	self = NULL;
	return NULL;
}

/*
 * The creator (the controller) and the workers it makes, which inherit its
 * CPUs, all run on the CPU it is on: only one of them runs at a time, and
 * a hand-over within one CPU is a plain context switch, not a wake-up of
 * another CPU (thread switches were half of a small race's time; on this
 * 2-CPU machine one CPU doubles the executions per second).
 */
static void pin_to_this_cpu(struct pm_sched *s)
{
	int cpu = sched_getcpu();
	cpu_set_t one;

	if (cpu < 0 ||
	    pthread_getaffinity_np(pthread_self(), sizeof(s->caller_cpus), &s->caller_cpus) ||
	    CPU_COUNT(&s->caller_cpus) < 2)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	s->caller_pinned = !pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
}

struct pm_sched *pm_sched_new(unsigned nr)
{
	struct pm_sched *s;

	if (!nr || nr > PINMM_EXPLORE_MAX_THREADS)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->m, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->nr = nr;
	s->current = -1;
	pin_to_this_cpu(s);
	for (unsigned i = 0; i < nr; i++) {
		s->t[i] = (struct sched_thread){ .st = T_DONE, .id = i, .s = s };
		pthread_cond_init(&s->t[i].cv, NULL);
		if (pthread_create(&s->t[i].tid, NULL, thread_main, &s->t[i])) {
			s->nr = i;
			pm_sched_free(s);
			return NULL;
		}
	}
	/*
	 * Back only when every worker waits for work: a new thread's start
	 * (the C library's and a sanitizer's set-up before thread_main)
	 * allocates, and a fork server forks right after set-up. A fork that
	 * caught a worker there left the child's copy of the allocator's lock
	 * taken for good; with ASan, whose allocator has no fork handlers, a
	 * search hung that way in CI.
	 */
	pthread_mutex_lock(&s->m);
	while (s->ready < nr)
		pthread_cond_wait(&s->cv, &s->m);
	pthread_mutex_unlock(&s->m);
	return s;
}

unsigned pm_sched_ready(struct pm_sched *s)
{
	unsigned ready;

	pthread_mutex_lock(&s->m);
	ready = s->ready;
	pthread_mutex_unlock(&s->m);
	return ready;
}

void pm_sched_free(struct pm_sched *s)
{
	pthread_mutex_lock(&s->m);
	s->quit = true;
	wake_everyone(s, -1);
	pthread_mutex_unlock(&s->m);
	for (unsigned i = 0; i < s->nr; i++) {
		pthread_join(s->t[i].tid, NULL);
		pthread_cond_destroy(&s->t[i].cv);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->m);
	if (s->caller_pinned)
		pthread_setaffinity_np(pthread_self(), sizeof(s->caller_cpus), &s->caller_cpus);
	free(s);
}

int pm_sched_execute(struct pm_sched *s, struct pm_sched_run *run)
{
	unsigned n = s->nr;

	if (!run->max_steps)
		run->max_steps = 100000;
	pthread_mutex_lock(&s->m);
	s->run = run;
	s->current = -1;
	s->preemptions = 0;
	s->cap_dec = 0;
	s->cap_trace = 0;
	s->cap_acc = 0;
	s->nr_objects = 0;
	for (unsigned i = 0; i < n; i++) {
		s->t[i].st = T_RUNNABLE;
		s->t[i].blocked_on = NULL;
	}
	active = s;
	pm_preempt_set_hook(sched_hook, s);
	pm_access_set_hook(sched_access, s);
	s->gen++;
	for (unsigned i = 0; i < n; i++)
		pthread_cond_signal(&s->t[i].cv);	/* a new execution */
	/* the first decision: who starts */
	reschedule(s, NULL, PM_STEP_UNKNOWN, NULL, 0);
	/* wait for the end: everyone done (or free-running to the end) */
	for (;;) {
		bool all_done = true;

		for (unsigned i = 0; i < n; i++)
			all_done &= s->t[i].st == T_DONE;
		if (all_done)
			break;
		if (s->current == -1 && !run->aborted)
			abort_run(s, "deadlock: no thread can run");
		if (run->aborted && s->current != -2)
			wake_everyone(s, -2);
		pthread_cond_wait(&s->cv, &s->m);
	}
	pm_preempt_set_hook(NULL, NULL);
	pm_access_set_hook(NULL, NULL);
	active = NULL;
	s->current = -1;
	pthread_mutex_unlock(&s->m);
	if (run->want_trace && run->ops->describe)
		name_leftovers(s, run);
	return 0;
}

void pm_sched_run_free(struct pm_sched_run *run)
{
	free(run->dec);
	free(run->trace);
	free(run->acc);
	run->dec = NULL;
	run->trace = NULL;
	run->acc = NULL;
	run->nr_dec = run->nr_trace = run->nr_acc = 0;
}
/* The locks and spin-waits of base/ reach this scheduler only through
 * these (base/preempt.h), set when the program starts. */
static const struct pm_sched_ops sched_ops = {
	.controlled = pm_sched_controlled,
	.wait_lock = pm_sched_wait_lock,
	.wake = pm_sched_wake,
	.relax = pm_sched_relax,
};

__attribute__((constructor)) static void sched_ops_register(void)
{
	pm_sched_set_ops(&sched_ops);
}

#else
typedef int pm_sched_unused_t;
#endif
