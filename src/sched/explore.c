/* SPDX-License-Identifier: MIT */
/*
 * The explorer's strategies over the controlled scheduler: PCT, replay of
 * a schedule, and what every search shares (executions, failures,
 * progress); depth-first search is in dfs.c.
 *
 * A schedule string lists only the decisions that differ from the default
 * order (keep running the current thread, else the lowest runnable one):
 * "17:1,43:0" means "at decision 17 run thread 1, at 43 thread 0". The
 * empty string is the default order itself.
 */
#ifdef PINMM_EXPLORE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fork_server.h"
#include "search.h"

double pm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* -------------------------------------------------- schedule strings --- */

static char *schedule_string(const struct pm_decision *dec, size_t n)
{
	size_t cap = 64, len = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int def = pm_sched_default(dec[i].current == 0xff ? -1 : dec[i].current,
					   dec[i].enabled);
		char item[32];
		int l;

		if (dec[i].chosen == def)
			continue;
		l = snprintf(item, sizeof(item), "%s%zu:%u", len ? "," : "", i, dec[i].chosen);
		if (len + (size_t)l + 1 > cap) {
			cap = 2 * (len + (size_t)l + 1);
			char *ns = realloc(s, cap);
			if (!ns) {
				free(s);
				return NULL;
			}
			s = ns;
		}
		memcpy(s + len, item, (size_t)l + 1);
		len += (size_t)l;
	}
	return s;
}

struct deviation {
	unsigned long step;
	unsigned thread;
};

struct replay_strategy {
	struct pm_strategy base;
	struct deviation *dev;
	size_t nr, next;
	size_t applied;		/* deviations taken so far (in order) */
};

static int replay_choose(struct pm_strategy *st, unsigned i, int current, unsigned enabled)
{
	struct replay_strategy *r = (struct replay_strategy *)st;

	while (r->next < r->nr && r->dev[r->next].step < i)
		r->next++;
	if (r->next < r->nr && r->dev[r->next].step == i &&
	    (enabled & (1u << r->dev[r->next].thread))) {
		if (r->applied == r->next)
			r->applied++;	/* every one before it was taken too */
		return (int)r->dev[r->next].thread;
	}
	return pm_sched_default(current, enabled);
}

static int parse_schedule(const char *text, struct replay_strategy *r)
{
	const char *p = text;

	memset(r, 0, sizeof(*r));
	r->base.choose = replay_choose;
	while (p && *p) {
		char *end;
		unsigned long step = strtoul(p, &end, 10);
		unsigned long t;

		if (end == p || *end != ':')
			return -EINVAL;
		p = end + 1;
		t = strtoul(p, &end, 10);
		if (end == p || t >= PINMM_EXPLORE_MAX_THREADS || (*end && *end != ','))
			return -EINVAL;
		if (r->nr && step <= r->dev[r->nr - 1].step)
			return -EINVAL;	/* steps go up */
		struct deviation *d = realloc(r->dev, (r->nr + 1) * sizeof(*d));
		if (!d)
			return -ENOMEM;
		r->dev = d;
		r->dev[r->nr++] = (struct deviation){ step, (unsigned)t };
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* --------------------------------------------------------- executions --- */

/* --fork auto's trial: executions timed each way */
#define FORK_TRIAL 4

/* The scheduler of the exploration under way: one at a time per process,
 * since the preemption hook is process-wide. */
static struct pm_sched *sched;

/* An end state, kept once, in order. */
static int add_outcome(struct pinmm_explore_result *res, uint64_t h)
{
	size_t lo = 0, hi = res->nr_outcomes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (res->outcomes[mid] == h)
			return 0;
		if (res->outcomes[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t *v = realloc(res->outcomes, (res->nr_outcomes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memmove(v + lo + 1, v + lo, (res->nr_outcomes - lo) * sizeof(*v));
	v[lo] = h;
	res->outcomes = v;
	res->nr_outcomes++;
	return 0;
}

void pm_search_judge(struct pm_sched_run *run, bool want_outcome, uint64_t *outcome,
		     bool *has_outcome, bool *failed, char *msg, size_t len)
{
	*has_outcome = false;
	if (run->aborted) {
		*failed = true;
		snprintf(msg, len, "%s", run->why);
		return;
	}
	if (want_outcome && run->ops->outcome) {
		*outcome = run->ops->outcome(run->state);
		*has_outcome = true;
	}
	*failed = run->ops->check(run->state, msg, len) != 0;
}

static int execute_home(struct pm_search *s, struct pm_sched_run *run, bool *failed,
			char *msg, size_t len)
{
	int err;

	run->ops = s->ops;
	run->state = s->ops->setup(s->ctx);
	if (!run->state)
		return -ENOMEM;
	err = pm_sched_execute(sched, run);
	if (!err) {
		uint64_t h;
		bool has;

		pm_search_judge(run, s->cfg && s->cfg->outcomes, &h, &has, failed, msg, len);
		if (has)
			err = add_outcome(s->res, h);
	}
	s->ops->teardown(run->state);
	return err;
}

static int execute_forked(struct pm_search *s, struct pm_sched_run *run, bool *failed,
			  char *msg, size_t len)
{
	uint64_t h;
	bool has = false;
	int err = pm_fork_server_execute(s->fs, run, s->cfg && s->cfg->outcomes, &h, &has,
					 failed, msg, len);

	if (!err && has)
		err = add_outcome(s->res, h);
	return err;
}

/*
 * --fork auto: which way is faster depends on what set-up costs against
 * what a fork, its child's copy-on-write faults and its threads cost (a
 * sanitizer build makes forks slow; a large set-up makes home slow), so
 * it is measured: FORK_TRIAL executions at home, then forked ones while
 * each is not slower than the fastest at home (at most FORK_TRIAL); the
 * way with the faster best execution goes on. Best, not mean: an early
 * execution at home pays for the engine's first touch of memory later
 * ones reuse, and one such outlier made a 2 MiB race fork at a quarter of
 * its speed at home.
 */
static int execute_auto(struct pm_search *s, struct pm_sched_run *run, bool *failed,
			char *msg, size_t len)
{
	bool forked = s->trial_home >= FORK_TRIAL;
	double t0 = pm_now(), t;
	int err = forked ? execute_forked(s, run, failed, msg, len)
			 : execute_home(s, run, failed, msg, len);
	double *best = forked ? &s->best_forked : &s->best_home;

	t = pm_now() - t0;
	if (!(forked ? s->trial_forked++ : s->trial_home++) || t < *best)
		*best = t;
	if (forked && (s->trial_forked == FORK_TRIAL || t > s->best_home)) {
		s->decided = true;
		if (s->best_forked >= s->best_home) {
			pm_fork_server_stop(s->fs);
			s->fs = NULL;
		}
		s->res->forked = s->fs != NULL;
	}
	return err;
}

int pm_search_execute(struct pm_search *s, struct pm_sched_run *run, bool *failed,
		      char *msg, size_t len)
{
	if (s->fs && !run->want_trace)
		return s->decided ? execute_forked(s, run, failed, msg, len)
				  : execute_auto(s, run, failed, msg, len);
	return execute_home(s, run, failed, msg, len);
}

/* The first failure's trace: its schedule replayed once more with tracing
 * on (the same schedule gives the same execution). */
static int trace_failure(struct pm_search *s, const struct pm_sched_run *run)
{
	struct pinmm_explore_result *res = s->res;
	struct replay_strategy r;
	struct pm_sched_run again = { .strategy = &r.base, .want_trace = true,
				      .max_steps = run->max_steps };
	bool failed = false;
	char msg[256];
	int err = parse_schedule(res->schedule, &r);

	if (!err)
		err = pm_search_execute(s, &again, &failed, msg, sizeof(msg));
	free(r.dev);
	if (!err) {
		res->trace = again.trace;
		res->trace_len = again.nr_trace;
		again.trace = NULL;
	}
	pm_sched_run_free(&again);
	return err;
}

/* distinct failures kept with their schedules (the count goes on) */
#define MAX_FAILURES 100

int pm_search_failed(struct pm_search *s, const struct pm_sched_run *run, const char *msg,
		     unsigned bound, unsigned long prefix, unsigned long index)
{
	struct pinmm_explore_result *res = s->res;
	struct pinmm_explore_failure *f;

	res->failing_executions++;
	for (size_t i = 0; i < res->nr_failures; i++)
		if (!strcmp(res->failures[i].message, msg))
			return 0;
	if (res->nr_failures == MAX_FAILURES)
		return 0;
	f = realloc(res->failures, (res->nr_failures + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	res->failures = f;
	f += res->nr_failures;
	memset(f, 0, sizeof(*f));
	snprintf(f->message, sizeof(f->message), "%s", msg);
	f->schedule = schedule_string(run->dec, run->nr_dec);
	if (!f->schedule)
		return -ENOMEM;
	res->nr_failures++;
	f->preemptions = run->nr_dec ? run->dec[run->nr_dec - 1].preemptions : 0;
	f->bound = bound;
	f->prefix = prefix;
	f->index = index;
	if (res->found)
		return 0;
	res->found = true;
	res->aborted = run->aborted;
	res->bound_reached = bound;
	res->preemptions = f->preemptions;
	snprintf(res->message, sizeof(res->message), "%s", msg);
	res->schedule = strdup(f->schedule);
	return res->schedule ? trace_failure(s, run) : -ENOMEM;
}

bool pm_search_tick(struct pm_search *s, unsigned bound, double fraction)
{
	const struct pinmm_explore_cfg *cfg = s->cfg;
	double t = pm_now();

	if (cfg->progress && t - s->last_progress > 0.25) {
		struct pinmm_explore_progress p = { .executions = s->res->executions,
						    .seconds = t - s->start, .bound = bound,
						    .fraction = fraction };

		cfg->progress(&p, cfg->progress_arg);
		s->last_progress = t;
	}
	return (cfg->budget_seconds > 0 && t - s->start > cfg->budget_seconds) ||
	       (cfg->max_executions && s->res->executions >= cfg->max_executions);
}

/* ------------------------------------------------------------- PCT --- */

struct pct_strategy {
	struct pm_strategy base;
	int prio[PINMM_EXPLORE_MAX_THREADS];
	unsigned change_at[16];
	unsigned nr_change;
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int pct_choose(struct pm_strategy *st, unsigned i, int current, unsigned enabled)
{
	struct pct_strategy *p = (struct pct_strategy *)st;
	int best = -1;

	/* at a change point the running thread drops below everyone */
	for (unsigned c = 0; c < p->nr_change; c++)
		if (p->change_at[c] == i && current >= 0)
			p->prio[current] = -1 - (int)c;
	for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS; t++)
		if ((enabled & (1u << t)) && (best < 0 || p->prio[t] > p->prio[best]))
			best = t;
	return best;
}

/* The length of the default-order execution, the range of PCT's change
 * points: the same in every shard (not counted as an execution). */
static int pct_steps(struct pm_search *s, unsigned long *steps)
{
	struct pm_sched_run run = { .max_steps = s->cfg->max_steps };
	bool failed;
	char msg[256];
	int err = pm_search_execute(s, &run, &failed, msg, sizeof(msg));

	*steps = run.nr_dec > 64 ? run.nr_dec : 64;
	pm_sched_run_free(&run);
	return err;
}

/*
 * Execution i draws its priorities and change points from seed and i
 * alone, so that shard K of N can run executions K-1, K-1+N, ... and the
 * shards together run what one search runs.
 */
static int explore_pct(struct pm_search *s)
{
	const struct pinmm_explore_cfg *cfg = s->cfg;
	struct pinmm_explore_result *res = s->res;
	unsigned depth = cfg->depth ? cfg->depth : 3;
	unsigned long steps, stride = cfg->nr_shards > 1 ? cfg->nr_shards : 1;
	/* without a cap or a budget, PCT stops after 1000 executions */
	unsigned long total = cfg->max_executions ? cfg->max_executions
			    : cfg->budget_seconds > 0 ? ULONG_MAX : 1000;
	int err = pct_steps(s, &steps);

	if (depth > 16)
		depth = 16;
	for (unsigned long i = cfg->nr_shards > 1 ? cfg->shard - 1 : 0; !err && i < total;
	     i += stride) {
		struct pct_strategy p = { .base.choose = pct_choose, .nr_change = depth - 1 };
		struct pm_sched_run run = { .strategy = &p.base, .max_steps = cfg->max_steps };
		uint64_t rng = cfg->seed + i * 0xd1b54a32d192ed03ull;
		bool failed = false;
		char msg[256];

		for (unsigned t = 0; t < s->ops->nr_threads; t++)
			p.prio[t] = (int)(depth + splitmix(&rng) % 1000 * PINMM_EXPLORE_MAX_THREADS + t);
		for (unsigned c = 0; c < p.nr_change; c++)
			p.change_at[c] = (unsigned)(1 + splitmix(&rng) % steps);
		err = pm_search_execute(s, &run, &failed, msg, sizeof(msg));
		if (!err) {
			res->executions++;
			if (failed)
				err = pm_search_failed(s, &run, msg, 0, i, 0);
		}
		pm_sched_run_free(&run);
		if (err || (failed && !cfg->keep_going))
			return err;
		if (pm_search_tick(s, depth, total == ULONG_MAX ? -1 : (double)(i + 1) / total))
			return 0;
	}
	return err;	/* PCT never exhausts a space */
}

/* ------------------------------------------------------------ public --- */

static bool ops_ok(const struct pinmm_explore_ops *ops)
{
	return ops && ops->setup && ops->thread && ops->check && ops->teardown &&
	       ops->nr_threads >= 1 && ops->nr_threads <= PINMM_EXPLORE_MAX_THREADS;
}

int pinmm_explore(const struct pinmm_explore_ops *ops, void *ctx,
		  const struct pinmm_explore_cfg *cfg, struct pinmm_explore_result *res)
{
	struct pm_search s = { .ops = ops, .ctx = ctx, .cfg = cfg, .res = res };
	double start = pm_now();
	int err;

	if (!ops_ok(ops) || !cfg || !res ||
	    (cfg->bound > PINMM_EXPLORE_MAX_BOUND && cfg->bound != PINMM_EXPLORE_UNBOUNDED) ||
	    cfg->strategy > PINMM_EXPLORE_DFS_PLAIN || cfg->fork > PINMM_EXPLORE_FORK_ALWAYS ||
	    (cfg->nr_shards > 1 && (cfg->shard < 1 || cfg->shard > cfg->nr_shards)))
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (cfg->fork == PINMM_EXPLORE_FORK_ALWAYS && !pm_fork_server_supported())
		return -EOPNOTSUPP;
	sched = pm_sched_new(ops->nr_threads);
	if (!sched)
		return -ENOMEM;
	if (cfg->fork != PINMM_EXPLORE_FORK_NEVER && pm_fork_server_supported()) {
		/* the template: set-up once (auto measures whether forking
		 * from it pays, execute_auto()) */
		double t0 = pm_now();

		err = pm_fork_server_start(&s.fs, ops, ctx);
		if (err) {
			pm_sched_free(sched);
			sched = NULL;
			return err;
		}
		res->setup_seconds = pm_now() - t0;
		s.decided = cfg->fork == PINMM_EXPLORE_FORK_ALWAYS;
		res->forked = s.decided;
	}
	s.start = s.last_progress = start;
	/* a sharded search splits the plain tree (the reduction's backtrack
	 * sets grow as it goes: they cannot be cut up in advance) */
	if (cfg->strategy == PINMM_EXPLORE_PCT)
		err = explore_pct(&s);
	else if (cfg->strategy == PINMM_EXPLORE_DFS && cfg->nr_shards <= 1)
		err = pm_explore_dpor(&s);
	else
		err = pm_explore_dfs(&s);
	pm_fork_server_stop(s.fs);
	pm_sched_free(sched);
	sched = NULL;
	res->seconds = pm_now() - start;
	return err;
}

int pinmm_explore_replay(const struct pinmm_explore_ops *ops, void *ctx,
			 const char *schedule, struct pinmm_explore_result *res)
{
	struct replay_strategy r;
	struct pm_sched_run run = { .strategy = &r.base, .want_trace = true };
	struct pm_search s = { .ops = ops, .ctx = ctx, .res = res };
	bool failed = false;
	double start = pm_now();
	int err;

	if (!ops_ok(ops) || !res || !schedule)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	err = parse_schedule(schedule, &r);
	if (!err) {
		sched = pm_sched_new(ops->nr_threads);
		if (!sched)
			err = -ENOMEM;
	}
	if (!err) {
		err = pm_search_execute(&s, &run, &failed, res->message, sizeof(res->message));
		pm_sched_free(sched);
		sched = NULL;
	}
	if (!err && r.applied < r.nr) {
		/* a decision the execution never reached, or whose thread was
		 * not runnable there: the schedule is not this scenario's */
		run.aborted = true;
		failed = false;
		snprintf(res->message, sizeof(res->message),
			 "replay diverged: decision %lu:%u does not fit (no runnable thread %u "
			 "at step %lu)", r.dev[r.applied].step, r.dev[r.applied].thread,
			 r.dev[r.applied].thread, r.dev[r.applied].step);
	}
	free(r.dev);
	if (!err) {
		res->executions = 1;
		res->found = failed;
		res->aborted = run.aborted;
		res->preemptions = run.nr_dec ? run.dec[run.nr_dec - 1].preemptions : 0;
		res->schedule = schedule_string(run.dec, run.nr_dec);
		res->trace = run.trace;
		res->trace_len = run.nr_trace;
		run.trace = NULL;
	}
	pm_sched_run_free(&run);
	res->seconds = pm_now() - start;
	return err;
}

void pinmm_explore_result_free(struct pinmm_explore_result *res)
{
	if (!res)
		return;
	free(res->schedule);
	free(res->trace);
	for (size_t i = 0; i < res->nr_failures; i++)
		free(res->failures[i].schedule);
	free(res->failures);
	free(res->outcomes);
	res->outcomes = NULL;
	res->nr_outcomes = 0;
	res->schedule = NULL;
	res->trace = NULL;
	res->trace_len = 0;
	res->failures = NULL;
	res->nr_failures = 0;
}

#else
typedef int pm_explore_unused_t;
#endif
