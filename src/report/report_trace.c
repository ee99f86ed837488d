/* SPDX-License-Identifier: MIT */
/*
 * report_trace.c - a counterexample's trace as text and as a Graphviz
 * picture: each step with its thread's name, the scenario line (and
 * statement) that issued it, the preemption point, the object by name and
 * the value in words. Nothing printed is an address: the same schedule
 * prints the same bytes in every run (ctest trace_determinism).
 */
#include <stdio.h>
#include <string.h>

#include <pinmm/scenario_explore.h>

#include "../lang/ast.h"
#include "report.h"

static const struct stmt *stmt_in(const struct stmt_list *l, unsigned line)
{
	for (unsigned i = 0; i < l->nr; i++)
		if (l->v[i]->line == line)
			return l->v[i];
	return NULL;
}

/* The statement written at line (main's or a thread's), or NULL. */
static const struct stmt *stmt_at(const struct pinmm_scenario *scn, unsigned line)
{
	const struct stmt *st = stmt_in(&scn->body, line);

	for (unsigned t = 0; !st && t < scn->names[NS_THREAD].nr; t++)
		st = stmt_in(&scn->threads[t].body, line);
	return st;
}

const char *pm_explore_thread_name(const struct pinmm_scn_explore_result *r, unsigned t)
{
	return t < r->nr_threads ? r->thread_names[t] : "?";
}

int pm_report_trace_text(FILE *out, const struct pinmm_scenario *scn,
			 const struct pinmm_scn_explore_result *r)
{
	const struct pinmm_explore_result *ex = &r->ex;
	int width = 6;

	for (unsigned t = 0; t < r->nr_threads; t++)
		if ((int)strlen(r->thread_names[t]) > width)
			width = (int)strlen(r->thread_names[t]);
	fprintf(out, "  trace (decision, thread, scenario line, point, object, value):\n");
	for (size_t i = 0; i < ex->trace_len; i++) {
		const struct pinmm_trace_event *e = &ex->trace[i];
		char where[32];

		snprintf(where, sizeof(where), ":%u", e->line);
		fprintf(out, "  %5u  %-*s  %s%-5s %-17s %-26s %s\n", e->step, width,
			pm_explore_thread_name(r, e->thread), pinmm_scenario_file(scn), where, e->point,
			e->what, e->value_text);
	}
	return 0;
}

/* text inside a DOT double-quoted label */
static void dot_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
}

int pinmm_report_trace_dot(FILE *out, const struct pinmm_scenario *scn,
			   const struct pinmm_scn_explore_result *r)
{
	const struct pinmm_explore_result *ex = &r->ex;

	fprintf(out, "digraph trace {\n  rankdir=TB;\n  node [shape=box, fontname=monospace];\n");
	fprintf(out, "  label=\"");
	dot_escaped(out, pinmm_scenario_file(scn));
	fprintf(out, ": schedule %s\";\n  labelloc=t;\n", ex->schedule ? ex->schedule : "");
	for (unsigned t = 0; t < r->nr_threads; t++) {
		size_t prev = SIZE_MAX;

		fprintf(out, "  subgraph cluster_T%u { label=\"T%u ", t, t);
		dot_escaped(out, pm_explore_thread_name(r, t));
		fprintf(out, "\";\n");
		for (size_t i = 0; i < ex->trace_len; i++) {
			const struct pinmm_trace_event *e = &ex->trace[i];
			const struct stmt *st = stmt_at(scn, e->line);

			if (e->thread != t)
				continue;
			fprintf(out, "    e%zu [label=\"%u: %s ", i, e->step, e->point);
			dot_escaped(out, e->what);
			fprintf(out, "%s", e->value_text[0] ? " = " : "");
			dot_escaped(out, e->value_text);
			fprintf(out, "\\nline %u: ", e->line);
			dot_escaped(out, st ? st->text : "?");
			fprintf(out, "\"];\n");
			if (prev != SIZE_MAX)
				fprintf(out, "    e%zu -> e%zu;\n", prev, i);
			prev = i;
		}
		fprintf(out, "  }\n");
	}
	/* the order in which the steps really happened, across threads */
	for (size_t i = 1; i < ex->trace_len; i++)
		if (ex->trace[i].thread != ex->trace[i - 1].thread)
			fprintf(out, "  e%zu -> e%zu [style=dashed, color=red, constraint=false];\n",
				i - 1, i);
	fprintf(out, "}\n");
	return ferror(out) ? -1 : 0;
}
