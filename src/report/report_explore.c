/* SPDX-License-Identifier: MIT */
/*
 * report_explore.c - what `pinmm explore` and `pinmm replay` print: text
 * (summary, failures, schedule, readable trace) or JSON (json-c; the same,
 * with every trace event).
 *
 * JSON: { "schema_version", "file", "title", "policy", "mode": "explore"|"replay", "strategy",
 *   "bound", "seed", "depth", "executions", "seconds", "executions_per_second",
 *   "exhausted", "found", "aborted", "preemptions", "bound_reached",
 *   "outcome", "message", "messages": [...], "schedule", "threads": [...],
 *   "trace": [ { "step", "thread", "thread_name", "point", "object", "what",
 *   "line", "value", "value_text" } ] }
 */
#include <errno.h>
#include <inttypes.h>

#include <json-c/json.h>

#include <pinmm/scenario_explore.h>

#include "report.h"

#define C_RESET "\033[0m"
#define C_GREEN "\033[32m"
#define C_RED "\033[1;31m"
#define C_YELLOW "\033[33m"

static const char *strategy_name(const struct pinmm_explore_cfg *cfg)
{
	return cfg->strategy == PINMM_EXPLORE_PCT ? "pct"
	       : cfg->strategy == PINMM_EXPLORE_DFS_PLAIN ? "dfs-plain" : "dfs";
}

static double rate(const struct pinmm_explore_result *ex)
{
	return ex->seconds > 0 ? (double)ex->executions / ex->seconds : 0;
}

static int json_report(FILE *out, const struct pinmm_scenario *scn, const char *policy,
		       const struct pinmm_scn_explore_options *opt,
		       const struct pinmm_scn_explore_result *r, bool replay)
{
	const struct pinmm_explore_result *ex = &r->ex;
	json_object *root = pm_json_document();
	json_object *msgs = json_object_new_array(), *threads = json_object_new_array();
	json_object *trace = json_object_new_array();
	int ret;

	json_object_object_add(root, "file", json_object_new_string(pinmm_scenario_file(scn)));
	json_object_object_add(root, "title", json_object_new_string(pinmm_scenario_title(scn)));
	json_object_object_add(root, "policy", json_object_new_string(policy));
	json_object_object_add(root, "mode", json_object_new_string(replay ? "replay" : "explore"));
	if (!replay) {
		json_object_object_add(root, "strategy",
				       json_object_new_string(strategy_name(&opt->cfg)));
		if (opt->cfg.strategy == PINMM_EXPLORE_PCT) {
			json_object_object_add(root, "seed", json_object_new_uint64(opt->cfg.seed));
			json_object_object_add(root, "depth",
					       json_object_new_int((int)opt->cfg.depth));
		} else {
			json_object_object_add(root, "bound", pm_json_bound(opt->cfg.bound));
			json_object_object_add(root, "bound_reached",
					       pm_json_bound(ex->bound_reached));
		}
	}
	if (!replay)
		pm_json_explore_campaign(root, &opt->cfg, ex);
	json_object_object_add(root, "executions", json_object_new_uint64(ex->executions));
	json_object_object_add(root, "seconds", json_object_new_double(ex->seconds));
	json_object_object_add(root, "executions_per_second", json_object_new_double(rate(ex)));
	json_object_object_add(root, "exhausted", json_object_new_boolean(ex->exhausted));
	json_object_object_add(root, "found", json_object_new_boolean(ex->found));
	json_object_object_add(root, "aborted", json_object_new_boolean(ex->aborted));
	if (!replay)
		json_object_object_add(root, "forked", json_object_new_boolean(ex->forked));
	if (opt->cfg.outcomes) {
		json_object *o = json_object_new_array();

		for (size_t i = 0; i < ex->nr_outcomes; i++) {
			char hex[17];

			snprintf(hex, sizeof(hex), "%016" PRIx64, ex->outcomes[i]);
			json_object_array_add(o, json_object_new_string(hex));
		}
		json_object_object_add(root, "outcomes", o);
	}
	json_object_object_add(root, "preemptions", json_object_new_int((int)ex->preemptions));
	json_object_object_add(root, "outcome",
			       json_object_new_string(pinmm_scn_outcome_str(r->run.outcome)));
	json_object_object_add(root, "message", ex->found ? json_object_new_string(ex->message)
							  : NULL);
	for (unsigned i = 0; ex->found && i < r->run.nr_msgs; i++)
		json_object_array_add(msgs, json_object_new_string(r->run.msgs[i]));
	json_object_object_add(root, "messages", msgs);
	json_object_object_add(root, "schedule", ex->schedule ? json_object_new_string(ex->schedule)
							      : NULL);
	for (unsigned i = 0; i < r->nr_threads; i++)
		json_object_array_add(threads, json_object_new_string(r->thread_names[i]));
	json_object_object_add(root, "threads", threads);
	for (size_t i = 0; i < ex->trace_len; i++) {
		const struct pinmm_trace_event *e = &ex->trace[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "step", json_object_new_int((int)e->step));
		json_object_object_add(o, "thread", json_object_new_int((int)e->thread));
		json_object_object_add(o, "thread_name",
				       json_object_new_string(pm_explore_thread_name(r, e->thread)));
		json_object_object_add(o, "point", json_object_new_string(e->point));
		json_object_object_add(o, "object", json_object_new_int((int)e->object));
		json_object_object_add(o, "what", json_object_new_string(e->what));
		json_object_object_add(o, "line", json_object_new_int((int)e->line));
		json_object_object_add(o, "value", json_object_new_uint64(e->value));
		json_object_object_add(o, "value_text", json_object_new_string(e->value_text));
		json_object_array_add(trace, o);
	}
	json_object_object_add(root, "trace", trace);
	ret = fprintf(out, "%s\n", json_object_to_json_string_ext(root,
		      JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0 ? -EIO : 0;
	json_object_put(root);
	return ret;
}

static void text_trace(FILE *out, const struct pinmm_scenario *scn,
		       const struct pinmm_scn_explore_result *r)
{
	fprintf(out, "  threads:");
	for (unsigned i = 0; i < r->nr_threads; i++)
		fprintf(out, " T%u=%s", i, r->thread_names[i]);
	fprintf(out, "\n");
	pm_report_trace_text(out, scn, r);
}

int pinmm_report_explore(FILE *out, const struct pinmm_scenario *scn, const char *policy,
			 const struct pinmm_scn_explore_options *opt,
			 const struct pinmm_scn_explore_result *r, bool replay,
			 const struct pinmm_report_options *ropt)
{
	const struct pinmm_explore_result *ex = &r->ex;
	const char *file = pinmm_scenario_file(scn);
	bool colour = ropt->colour;
	bool unsupported = ex->found && r->run.outcome == PINMM_SCN_UNSUPPORTED;
	const char *col = unsupported ? C_YELLOW : ex->found ? C_RED : C_GREEN;
	const char *what;

	if (ropt->format == PINMM_REPORT_JSON)
		return json_report(out, scn, policy, opt, r, replay);
	if (replay)
		what = unsupported ? "unsupported" : ex->found ? "FAIL (reproduced)" : "pass";
	else if (unsupported)
		what = "unsupported";
	else if (ex->found)
		what = "counterexample found";
	else if (ex->exhausted)
		what = "exhausted, no counterexample";
	else
		what = "no counterexample within the budget (NOT exhausted)";
	fprintf(out, "%s (%s): %s%s%s\n", file, policy, colour ? col : "", what,
		colour ? C_RESET : "");
	if (replay) {
		/* no time: a replay prints the same bytes every run */
		fprintf(out, "  replayed schedule \"%s\"\n", ex->schedule ? ex->schedule : "");
	} else {
		if (opt->cfg.strategy == PINMM_EXPLORE_PCT)
			fprintf(out, "  strategy pct, seed %" PRIu64 ", depth %u\n", opt->cfg.seed,
				opt->cfg.depth ? opt->cfg.depth : 3);
		else if (opt->cfg.bound == PINMM_EXPLORE_UNBOUNDED)
			fprintf(out, "  strategy %s, no preemption bound (%s)\n",
				strategy_name(&opt->cfg), ex->found ? "found"
				: ex->exhausted ? "every interleaving" : "stopped");
		else
			fprintf(out, "  strategy %s, preemption bound %u (%s bound %u)\n",
				strategy_name(&opt->cfg), opt->cfg.bound, ex->found ? "found at"
				: ex->exhausted ? "exhausted up to" : "stopped in", ex->bound_reached);
		fprintf(out, "  %lu executions in %.3f s: %.0f executions/s\n", ex->executions,
			ex->seconds, rate(ex));
		if (ex->forked)
			fprintf(out, "  executions forked from a set-up made once (%.1f ms)\n",
				ex->setup_seconds * 1e3);
		if (opt->cfg.outcomes)
			fprintf(out, "  %zu distinct end state%s\n", ex->nr_outcomes,
				ex->nr_outcomes == 1 ? "" : "s");
		if (opt->cfg.nr_shards > 1)
			fprintf(out, "  shard %u of %u (%lu schedule prefixes over the bounds)\n",
				opt->cfg.shard, opt->cfg.nr_shards, ex->prefixes);
		if (opt->cfg.keep_going && ex->found)
			fprintf(out, "  %lu failing executions, %zu distinct failure%s:\n",
				ex->failing_executions, ex->nr_failures,
				ex->nr_failures == 1 ? "" : "s");
		for (size_t i = 0; opt->cfg.keep_going && i < ex->nr_failures; i++)
			fprintf(out, "    %s [schedule %s]\n", ex->failures[i].message,
				ex->failures[i].schedule);
	}
	if (!ex->found)
		return 0;
	if (ex->aborted)
		fprintf(out, "  aborted: %s\n", ex->message);
	for (unsigned i = 0; i < r->run.nr_msgs; i++)
		fprintf(out, "  %s\n", r->run.msgs[i]);
	if (r->run.nr_failures > r->run.nr_msgs)
		fprintf(out, "  ... and %u more\n", r->run.nr_failures - r->run.nr_msgs);
	if (unsupported)
		fprintf(out, "  %s\n", r->run.unsupported);
	fprintf(out, "  preemptions: %u\n  schedule: %s\n", ex->preemptions,
		ex->schedule ? ex->schedule : "");
	if (!replay) {
		char cmd[PINMM_SCN_MSGLEN * 3];

		pm_replay_command(cmd, sizeof(cmd), file, ex->schedule ? ex->schedule : "", policy);
		fprintf(out, "  replay: %s\n", cmd);
	}
	text_trace(out, scn, r);
	return 0;
}
