/* SPDX-License-Identifier: MIT */
/*
 * scn_explore.c - a scenario as the explorer's ops (pinmm/explore.h).
 *
 * setup() starts a fresh interpreter on a fresh engine and runs `main` up
 * to the first `run`; thread(i) runs the i-th thread that `run` starts, on
 * the explorer's own thread (the interpreter starts no pthread); check()
 * runs what follows `run` and the end of the scenario, and answers with the
 * first failure; teardown() frees. The interpreter's tables lock (rt->lock)
 * is never held across an engine call, so it is never held at a preemption
 * point: one controlled thread at a time never waits on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pinmm/scenario_explore.h>

#include "interp.h"

/* The first `run` of the body, or -1. */
static int first_run(const struct pinmm_scenario *scn)
{
	for (unsigned i = 0; i < scn->body.nr; i++)
		if (scn->body.v[i]->kind == ST_RUN)
			return (int)i;
	return -1;
}

/* The threads the first `run` starts, in order of declaration. */
static unsigned run_threads(const struct pinmm_scenario *scn, int at, int *map, unsigned max)
{
	unsigned n = 0;

	for (int i = 0; i < at; i++) {
		const struct stmt *st = scn->body.v[i];

		if (st->kind == ST_THREAD) {
			if (n < max)
				map[n] = st->thread.thread;
			n++;
		}
	}
	return n;
}

bool pinmm_scenario_explorable(const struct pinmm_scenario *scn)
{
	int map[1];

	return first_run(scn) >= 0 && run_threads(scn, first_run(scn), map, 0) > 0;
}

#ifdef PINMM_EXPLORE

/*
 * An engine sized to the scenario. Every execution builds a fresh engine,
 * and initialising the default one (128 MiB, 32768 frame descriptors) is
 * most of an execution's time; the explorer's engine has room for four
 * times what the scenario maps and creates, plus 4 MiB, in the movable
 * zone, and the same plus 2 MiB in the normal zone (longterm pins move
 * there), never more than the default.
 */
static uint64_t stmt_bytes(const struct stmt *st)
{
	if (st->kind == ST_MMAP)
		return st->mmap.size + st->mmap.align;
	if (st->kind == ST_FILE)
		return st->file.size;
	if (st->kind == ST_EXPECT_ERROR || st->kind == ST_TRY)
		return stmt_bytes(st->guard.inner);
	return 0;
}

/* The scenario's engine, shrunk to what its statements can use: engine
 * set-up and teardown are part of every execution. */
static void engine_config(const struct pinmm_scenario *scn, struct pinmm_config *cfg)
{
	uint64_t bytes = 0;
	size_t frames, normal;

	for (unsigned i = 0; i < scn->body.nr; i++)
		bytes += stmt_bytes(scn->body.v[i]);
	for (unsigned t = 0; t < scn->names[NS_THREAD].nr; t++)
		for (unsigned i = 0; i < scn->threads[t].body.nr; i++)
			bytes += stmt_bytes(scn->threads[t].body.v[i]);
	scn_engine_config(scn, cfg);
	frames = (size_t)(bytes / PINMM_PAGE_SIZE);
	normal = (5 * frames + 1536 + 511) & ~(size_t)511;
	if (normal < cfg->normal_frames)
		cfg->normal_frames = normal;
}

struct scn_ctx {
	const struct pinmm_scenario *scn;
	const struct pinmm_scn_explore_options *opt;
	struct pinmm_config engine;
	int run_at;
	unsigned nr;
	int map[PINMM_EXPLORE_MAX_THREADS];
	struct pinmm_scn_result last;	/* the last execution judged */
};

struct scn_state {
	struct scn_ctx *c;
	struct rt rt;
	struct pinmm_scn_result res;
	bool completed;		/* main has not stopped */
	bool ended;		/* rt_end() done */
	bool ran;		/* threads ran on it (a fork server's template never does) */
};

static void *scn_setup(void *arg)
{
	struct scn_ctx *c = arg;
	struct pinmm_scn_options o = { .policy = c->opt->policy, .trace = c->opt->trace };
	struct scn_state *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->c = c;
	if (rt_start(&s->rt, c->scn, &o, &s->res, &c->engine)) {
		free(s);
		return NULL;
	}
	s->completed = rt_run_range(&s->rt.main, &c->scn->body, 0, (unsigned)c->run_at);
	/* the explorer runs them, not `run` */
	for (unsigned i = 0; i < c->nr; i++)
		s->rt.pending[c->map[i]] = false;
	return s;
}

static void scn_thread(void *state, unsigned tid)
{
	struct scn_state *s = state;
	int t = s->c->map[tid];

	s->ran = true;
	if (s->completed)
		rt_run_range(&s->rt.threads[t], &s->c->scn->threads[t].body, 0,
			     s->c->scn->threads[t].body.nr);
}

static int scn_check(void *state, char *msg, size_t len)
{
	struct scn_state *s = state;
	const struct stmt_list *body = &s->c->scn->body;

	if (s->completed)
		s->completed = rt_run_range(&s->rt.main, body, (unsigned)s->c->run_at + 1,
					    body->nr);
	rt_end(&s->rt, s->completed);
	s->ended = true;
	s->c->last = s->res;
	if (s->res.outcome == PINMM_SCN_PASS)
		return 0;
	snprintf(msg, len, "%s", s->res.outcome == PINMM_SCN_UNSUPPORTED ? s->res.unsupported
				 : s->res.nr_msgs ? s->res.msgs[0] : "failed");
	return 1;
}

static void scn_teardown(void *state)
{
	struct scn_state *s = state;

	if (!s->ended) {
		/* an aborted execution (deadlock, livelock): check() did not
		 * run; or a fork server's template, whose threads never ran
		 * here and which judges nothing */
		rt_end(&s->rt, false);
		if (s->ran) {
			s->c->last = s->res;
			s->c->last.outcome = PINMM_SCN_FAIL;
		}
	}
	rt_release(&s->rt);
	free(s);
}

/* A traced step: the statement its thread is at, its object by name. */
static void scn_describe(void *state, unsigned tid, const void *obj,
			 struct pinmm_trace_event *e)
{
	struct scn_state *s = state;
	const struct stmt *st = s->rt.threads[s->c->map[tid]].cur;

	e->line = st ? st->line : 0;
	rt_name_object(&s->rt, obj, e->what, sizeof(e->what));
}

static uint64_t scn_outcome(void *state)
{
	struct scn_state *s = state;

	return pinmm_state_digest(s->rt.eng);
}

static const struct pinmm_explore_ops scn_ops = {
	.setup = scn_setup, .thread = scn_thread, .check = scn_check,
	.teardown = scn_teardown, .describe = scn_describe, .outcome = scn_outcome,
};

static int prepare(const struct pinmm_scenario *scn, const struct pinmm_scn_explore_options *opt,
		   struct scn_ctx *c, struct pinmm_explore_ops *ops,
		   struct pinmm_scn_explore_result *res)
{
	memset(res, 0, sizeof(*res));
	memset(c, 0, sizeof(*c));
	c->scn = scn;
	c->opt = opt;
	engine_config(scn, &c->engine);
	c->run_at = first_run(scn);
	if (c->run_at < 0)
		return -EINVAL;
	c->nr = run_threads(scn, c->run_at, c->map, PINMM_EXPLORE_MAX_THREADS);
	if (!c->nr || c->nr > PINMM_EXPLORE_MAX_THREADS)
		return -EINVAL;
	*ops = scn_ops;
	ops->nr_threads = c->nr;
	res->nr_threads = c->nr;
	for (unsigned i = 0; i < c->nr; i++)
		res->thread_names[i] = scn->names[NS_THREAD].v[c->map[i]];
	return 0;
}

bool pinmm_scenario_explorer_built(void)
{
	return true;
}

int pinmm_scenario_explore(const struct pinmm_scenario *scn,
			   const struct pinmm_scn_explore_options *opt,
			   struct pinmm_scn_explore_result *res)
{
	struct pinmm_explore_ops ops;
	struct scn_ctx c;
	int ret = prepare(scn, opt, &c, &ops, res);

	if (ret)
		return ret;
	ret = pinmm_explore(&ops, &c, &opt->cfg, &res->ex);
	if (!ret && res->ex.found && opt->cfg.keep_going) {
		/* executions went on after the first failure: judge it again */
		struct pinmm_explore_result again;

		ret = pinmm_explore_replay(&ops, &c, res->ex.schedule, &again);
		pinmm_explore_result_free(&again);
	}
	if (!ret)
		res->run = c.last;
	return ret;
}

int pinmm_scenario_replay(const struct pinmm_scenario *scn,
			  const struct pinmm_scn_explore_options *opt,
			  const char *schedule, struct pinmm_scn_explore_result *res)
{
	struct pinmm_explore_ops ops;
	struct scn_ctx c;
	int ret = prepare(scn, opt, &c, &ops, res);

	if (ret)
		return ret;
	ret = pinmm_explore_replay(&ops, &c, schedule, &res->ex);
	if (!ret)
		res->run = c.last;
	return ret;
}

void pinmm_scn_explore_result_free(struct pinmm_scn_explore_result *res)
{
	if (res)
		pinmm_explore_result_free(&res->ex);
}

#else	/* the normal build: no preemption points, no explorer */

bool pinmm_scenario_explorer_built(void)
{
	return false;
}

int pinmm_scenario_explore(const struct pinmm_scenario *scn,
			   const struct pinmm_scn_explore_options *opt,
			   struct pinmm_scn_explore_result *res)
{
	memset(res, 0, sizeof(*res));
	return -EOPNOTSUPP;
}

int pinmm_scenario_replay(const struct pinmm_scenario *scn,
			  const struct pinmm_scn_explore_options *opt,
			  const char *schedule, struct pinmm_scn_explore_result *res)
{
	memset(res, 0, sizeof(*res));
	return -EOPNOTSUPP;
}

void pinmm_scn_explore_result_free(struct pinmm_scn_explore_result *res)
{
	(void)res;
}
#endif
