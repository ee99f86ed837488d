/* SPDX-License-Identifier: MIT */
/*
 * interp.c - runs a parsed scenario on a fresh engine: the flows of
 * statements (main and `thread` blocks as pthreads), guards (`expect
 * error`, `try`), what an unsupported mechanism means, and the end of the
 * scenario (every process exits, every pin must have been released, the
 * invariants hold and no frame is left).
 */
#define _GNU_SOURCE	/* strerrorname_np */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

const char *rt_errstr(int err)
{
	const char *s = pm_errno_name(-err);

	if (!s)
		s = strerrorname_np(-err);
	return s ? s : "unknown error";
}

struct pinmm_mm *rt_mm(struct rt *rt, int proc)
{
	struct pinmm_mm *mm;

	pthread_mutex_lock(&rt->lock);
	mm = rt->procs[proc].mm;
	pthread_mutex_unlock(&rt->lock);
	return mm;
}

uint64_t rt_addr(struct rt *rt, struct scn_addr a)
{
	uint64_t addr;

	pthread_mutex_lock(&rt->lock);
	addr = rt->regions[a.region].addr + (uint64_t)a.off;
	pthread_mutex_unlock(&rt->lock);
	return addr;
}

/* --------------------------------------------------- results, trace --- */

static void vrecord(struct rt *rt, unsigned line, const char *text,
		    const char *fmt, va_list ap)
{
	struct pinmm_scn_result *res = rt->res;
	char what[PINMM_SCN_MSGLEN];

	vsnprintf(what, sizeof(what), fmt, ap);
	pthread_mutex_lock(&rt->lock);
	res->nr_failures++;
	/* a long message is cut short: the trace has all of it */
	if (res->nr_msgs < PINMM_SCN_MAX_MSGS &&
	    snprintf(res->msgs[res->nr_msgs++], PINMM_SCN_MSGLEN, "%s:%u: %s: %s",
		     rt->scn->file, line, text, what) >= PINMM_SCN_MSGLEN)
		res->msgs[res->nr_msgs - 1][PINMM_SCN_MSGLEN - 2] = '~';
	if (rt->trace)
		fprintf(rt->trace, "  FAILED %s:%u: %s: %s\n", rt->scn->file, line,
			text, what);
	pthread_mutex_unlock(&rt->lock);
}

void rt_fail(struct rt *rt, const struct stmt *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(rt, st->line, st->text, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void rt_fail_at(struct rt *rt, unsigned line, const char *text,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(rt, line, text, fmt, ap);
	va_end(ap);
}

void rt_trace(struct rt_ctx *ctx, const struct stmt *st, const char *fmt, ...)
{
	struct rt *rt = ctx->rt;
	va_list ap;

	if (!rt->trace)
		return;
	pthread_mutex_lock(&rt->lock);
	fprintf(rt->trace, "[%s] %s:%u: %s -> ", ctx->name, rt->scn->file,
		st->line, st->text);
	va_start(ap, fmt);
	vfprintf(rt->trace, fmt, ap);
	va_end(ap);
	fputc('\n', rt->trace);
	pthread_mutex_unlock(&rt->lock);
}

/* The mechanism is not built: the scenario says nothing either way. */
static void unsupported(struct rt *rt, const struct stmt *st)
{
	pthread_mutex_lock(&rt->lock);
	if (!rt->unsupported &&
	    snprintf(rt->res->unsupported, PINMM_SCN_MSGLEN, "unsupported: %s (%s:%u)",
		     st->text, rt->scn->file, st->line) >= PINMM_SCN_MSGLEN)
		rt->res->unsupported[PINMM_SCN_MSGLEN - 2] = '~';
	rt->unsupported = true;
	pthread_mutex_unlock(&rt->lock);
	rt->stop = true;
}

/* ----------------------------------------------------------- flows --- */

static bool run_list(struct rt_ctx *ctx, const struct stmt_list *list);

static void *thread_main(void *arg)
{
	struct rt_ctx *ctx = arg;
	int t = (int)(ctx - ctx->rt->threads);

	run_list(ctx, &ctx->rt->scn->threads[t].body);
	return NULL;
}

/* `run`: every thread declared since the last run, to completion. */
static void run_threads(struct rt_ctx *ctx, const struct stmt *st)
{
	struct rt *rt = ctx->rt;
	unsigned n = rt->scn->names[NS_THREAD].nr;

	for (unsigned i = 0; i < n; i++) {
		struct rt_ctx *t = &rt->threads[i];

		if (!rt->pending[i])
			continue;
		rt->pending[i] = false;
		if (pthread_create(&t->tid, NULL, thread_main, t))
			rt_fail(rt, st, "cannot start thread %s", t->name);
		else
			t->started = true;
	}
	for (unsigned i = 0; i < n; i++) {
		if (rt->threads[i].started) {
			pthread_join(rt->threads[i].tid, NULL);
			rt->threads[i].started = false;
		}
	}
	rt_trace(ctx, st, "every thread finished");
}

/* `expect error CODE: S` and `try S` */
static bool guard(struct rt_ctx *ctx, const struct stmt *st)
{
	const struct stmt *in = st->guard.inner;
	int ret = rt_action(ctx, in), code = st->guard.code;

	if (st->kind == ST_TRY) {
		rt_trace(ctx, st, "%s (allowed)", ret ? rt_errstr(ret) : "ok");
		return true;
	}
	if (ret == -code) {
		rt_trace(ctx, st, "%s as expected", rt_errstr(ret));
	} else if (ret == -EOPNOTSUPP) {
		unsupported(ctx->rt, in);
		return false;
	} else {
		rt_fail(ctx->rt, st, "got %s", ret ? rt_errstr(ret) : "success");
	}
	return true;
}

/* One statement; false stops this flow. */
static bool step(struct rt_ctx *ctx, const struct stmt *st)
{
	struct rt *rt = ctx->rt;
	int ret;

	switch (st->kind) {
	case ST_EXPECT:
		rt_expect(ctx, st);
		return true;
	case ST_EXPECT_ERROR:
	case ST_TRY:
		return guard(ctx, st);
	case ST_THREAD:
		rt->pending[st->thread.thread] = true;
		return true;
	case ST_RUN:
		run_threads(ctx, st);
		return true;
	default:
		break;
	}
	ret = rt_action(ctx, st);
	if (ret == -EOPNOTSUPP) {
		rt_trace(ctx, st, "EOPNOTSUPP: not built");
		unsupported(rt, st);
		return false;
	}
	if (ret) {
		/* what follows depends on it: this flow stops here */
		rt_fail(rt, st, "%s", rt_errstr(ret));
		return false;
	}
	rt_trace(ctx, st, "ok");
	return true;
}

bool rt_run_range(struct rt_ctx *ctx, const struct stmt_list *list,
		  unsigned from, unsigned to)
{
	for (unsigned i = from; i < to && i < list->nr; i++) {
		ctx->cur = list->v[i];
		if (ctx->rt->stop || !step(ctx, list->v[i]))
			return false;
	}
	return true;
}

static bool run_list(struct rt_ctx *ctx, const struct stmt_list *list)
{
	return rt_run_range(ctx, list, 0, list->nr);
}

/* ------------------------------------------------------------- end --- */

/* Every process exits; pins must have been released; nothing is left.
 * quiet: the scenario stopped early, so held pins are no news. */
static void finish(struct rt *rt, bool quiet)
{
	const struct pinmm_scenario *scn = rt->scn;
	struct pinmm_violation_report rep;
	struct pinmm_stats stats;
	/* end-of-scenario findings point at its last statement */
	unsigned end_line = scn->body.nr ? scn->body.v[scn->body.nr - 1]->line : 1;

	for (unsigned i = scn->names[NS_PROC].nr; i-- > 0;)
		if (rt->procs[i].mm && !rt->procs[i].exited)
			pinmm_mm_exit(rt->procs[i].mm);
	for (unsigned i = 0; i < scn->names[NS_PIN].nr; i++) {
		struct rt_pin *p = &rt->pins[i];
		bool get = p->h.kind == PINMM_PIN_GET;

		if (!pinmm_pin_held(&p->h))
			continue;
		if (!quiet)
			rt_fail_at(rt, p->line, scn->names[NS_PIN].v[i],
				   "still held at the end (no %s)", get ? "put" : "unpin");
		if (get)
			pinmm_put(&p->h);
		else
			pinmm_unpin(&p->h);
	}
	for (unsigned i = 0; i < scn->names[NS_FILE].nr; i++)
		if (rt->files[i])
			pinmm_file_put(rt->files[i]);
	memset(&rep, 0, sizeof(rep));
	if (pinmm_check_invariants(rt->eng, &rep))
		rt_fail_at(rt, end_line, "at the end", "invariants: %u violations, first: %s",
			   rep.nr, rep.first);
	pinmm_get_stats(rt->eng, &stats);
	if (stats.frames_used)
		rt_fail_at(rt, end_line, "at the end", "%zu frames leaked",
			   stats.frames_used);
	if (pinmm_destroy(rt->eng) && !stats.frames_used)
		rt_fail_at(rt, end_line, "at the end", "destroy reports a leak");
	rt->eng = NULL;
}

static int rt_alloc(struct rt *rt)
{
	const struct pinmm_scenario *scn = rt->scn;
	unsigned nt = scn->names[NS_THREAD].nr, np = scn->names[NS_PIN].nr;

	rt->regions = calloc(scn->names[NS_REGION].nr + 1, sizeof(*rt->regions));
	rt->pins = calloc(np + 1, sizeof(*rt->pins));
	rt->procs = calloc(scn->names[NS_PROC].nr, sizeof(*rt->procs));
	rt->files = calloc(scn->names[NS_FILE].nr + 1, sizeof(*rt->files));
	rt->threads = calloc(nt + 1, sizeof(*rt->threads));
	rt->pending = calloc(nt + 1, sizeof(*rt->pending));
	if (!rt->regions || !rt->pins || !rt->procs || !rt->files ||
	    !rt->threads || !rt->pending)
		return -ENOMEM;
	for (unsigned i = 0; i < np; i++) {
		rt->pins[i].pages = calloc(scn->pin_max_pages[i] + 1,
					   sizeof(*rt->pins[i].pages));
		if (!rt->pins[i].pages)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < nt; i++) {
		rt->threads[i].rt = rt;
		rt->threads[i].name = scn->names[NS_THREAD].v[i];
	}
	rt->main.rt = rt;
	rt->main.name = "main";
	return 0;
}

static void rt_free(struct rt *rt)
{
	for (unsigned i = 0; rt->pins && i < rt->scn->names[NS_PIN].nr; i++)
		free(rt->pins[i].pages);
	free(rt->regions);
	free(rt->pins);
	free(rt->procs);
	free(rt->files);
	free(rt->threads);
	free(rt->pending);
	free(rt->entries);
	pthread_mutex_destroy(&rt->lock);
}

void scn_engine_config(const struct pinmm_scenario *scn, struct pinmm_config *cfg)
{
	pinmm_config_default(cfg);
	cfg->movable_frames = scn->movablecore >> PINMM_PAGE_SHIFT;
	/* no swap device unless the scenario boots with one */
	cfg->swap_pages = scn->swap >> PINMM_PAGE_SHIFT;
	/* room for the hugetlb pool beside everything else (whole 4 MiB
	 * blocks, the zones' unit) */
	cfg->normal_frames += (((size_t)scn->hugetlb_pages << PINMM_HPAGE_ORDER) + 1023) & ~(size_t)1023;
}

int rt_start(struct rt *rt, const struct pinmm_scenario *scn,
	     const struct pinmm_scn_options *opt, struct pinmm_scn_result *res,
	     const struct pinmm_config *engine)
{
	struct pinmm_config cfg;
	int ret;

	memset(res, 0, sizeof(*res));
	memset(rt, 0, sizeof(*rt));
	rt->scn = scn;
	rt->res = res;
	rt->trace = opt->trace;
	pthread_mutex_init(&rt->lock, NULL);
	if (engine)
		cfg = *engine;
	else
		scn_engine_config(scn, &cfg);
	cfg.policy = opt->policy;
	ret = rt_alloc(rt);
	if (!ret)
		ret = pinmm_create(&cfg, &rt->eng);
	if (!ret) {
		/* the THP sizes the scenario names, and no other */
		for (unsigned order = 2; !ret && scn->thp_orders && order <= PINMM_HPAGE_ORDER;
		     order++)
			ret = pinmm_thp_set_enabled(rt->eng, (uint64_t)PINMM_PAGE_SIZE << order,
						    scn->thp_orders & (1u << order)
							    ? PINMM_THP_MADVISE : PINMM_THP_NEVER);
		if (!ret && scn->hugetlb_pages)
			ret = pinmm_hugetlb_set_pool(rt->eng, scn->hugetlb_pages);
		if (!ret)
			ret = pinmm_mm_create(rt->eng, &rt->procs[0].mm);
		if (ret) {
			pinmm_destroy(rt->eng);
			rt->eng = NULL;
		}
	}
	if (ret)
		rt_free(rt);
	return ret;
}

void rt_end(struct rt *rt, bool completed)
{
	if (rt->eng) {
		finish(rt, !completed);
		rt->res->outcome = rt->res->nr_failures ? PINMM_SCN_FAIL
				 : rt->unsupported ? PINMM_SCN_UNSUPPORTED : PINMM_SCN_PASS;
	}
}

void rt_release(struct rt *rt)
{
	rt_free(rt);
}

int pinmm_scenario_run(const struct pinmm_scenario *scn,
		       const struct pinmm_scn_options *opt,
		       struct pinmm_scn_result *res)
{
	struct rt rt;
	int ret = rt_start(&rt, scn, opt, res, NULL);

	if (ret)
		return ret;
	rt_end(&rt, run_list(&rt.main, &scn->body));
	rt_free(&rt);
	return 0;
}

const char *pinmm_scn_outcome_str(enum pinmm_scn_outcome o)
{
	switch (o) {
	case PINMM_SCN_PASS: return "pass";
	case PINMM_SCN_FAIL: return "fail";
	case PINMM_SCN_UNSUPPORTED: return "unsupported";
	}
	return "?";
}
