/* SPDX-License-Identifier: MIT */
/*
 * report.c - the human table for `pinmm check` and the result of `pinmm
 * run`; the other formats: TAP 13 and KTAP are report_tap.c, JSON
 * report_json.c, JUnit XML report_junit.c.
 */
#include <stdio.h>
#include <string.h>

#include <pinmm/explore.h>
#include <pinmm/scenario.h>

#include "report.h"

#define C_RESET "\033[0m"
#define C_GREEN "\033[32m"
#define C_RED "\033[1;31m"
#define C_YELLOW "\033[33m"
#define C_DIM "\033[2m"

const char *pm_row_name(const struct pinmm_row *row, char *buf, size_t len)
{
	const char *f = pinmm_scenario_file(row->scn), *base = strrchr(f, '/');
	size_t n;

	base = base ? base + 1 : f;
	n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".pin"))
		n -= 4;
	snprintf(buf, len, "%.*s", (int)n, base);
	return buf;
}

const char *pm_cell_text(const struct pinmm_cell *c)
{
	static char text[40];	/* the CLI prints one cell at a time */

	if (c->text)	/* a column of its own (the host's) */
		return c->text(c);
	switch (c->verdict) {
	case PINMM_VERDICT_NA:
		return c->na == PINMM_NA_NO_SWITCH ? "n/a-switch"
		     : c->na == PINMM_NA_EXPLORER ? "n/a-explorer" : "n/a";
	case PINMM_VERDICT_INFO:
		return c->result.outcome == PINMM_SCN_PASS ? "(pass)" : "(fails)";
	case PINMM_VERDICT_DETECTED:
		return c->explored ? "detected (explore)" : "detected";
	case PINMM_VERDICT_PASS:
		if (!c->explored)
			return "pass";
		if (c->bound == PINMM_EXPLORE_UNBOUNDED)
			return "proved";
		snprintf(text, sizeof(text), "pass (explore, bound %u)", c->bound);
		return text;
	default:
		return pinmm_verdict_str(c->verdict);
	}
}

static const char *colour_of(const struct pinmm_cell *c)
{
	switch (c->verdict) {
	case PINMM_VERDICT_PASS:
	case PINMM_VERDICT_DETECTED: return C_GREEN;
	case PINMM_VERDICT_UNEXPECTED: return C_RED;
	case PINMM_VERDICT_NA: return C_YELLOW;
	case PINMM_VERDICT_INFO: return C_DIM;
	}
	return "";
}

/* text padded to width, coloured without the escapes counting */
static void cell(FILE *out, const struct pinmm_cell *c, const char *prefix,
		 int width, bool colour)
{
	char text[160];
	int n = snprintf(text, sizeof(text), "%s%s", prefix, pm_cell_text(c));

	if (colour)
		fprintf(out, "%s%s%s", colour_of(c), text, C_RESET);
	else
		fputs(text, out);
	if (width > n)
		fprintf(out, "%*s", width - n, "");
}

/* the strict and legacy columns: "pass (explore, bound 16)" and a blank */
#define COLUMN 25

static void text_matrix(FILE *out, const struct pinmm_matrix *m,
			const struct pinmm_report_options *opt)
{
	const struct pinmm_matrix_summary *s = &m->sum;
	int w = 8;
	char name[128], pre[128];

	for (size_t i = 0; i < m->nr_rows; i++) {
		int n = (int)strlen(pm_row_name(&m->rows[i], name, sizeof(name)));

		w = n > w ? n : w;
	}
	fprintf(out, "%-*s  %-*s%-*s%s\n", w, "scenario", COLUMN, "strict", COLUMN, "legacy",
		"ablations (policy:result)");
	for (size_t i = 0; i < m->nr_rows; i++) {
		const struct pinmm_row *row = &m->rows[i];

		fprintf(out, "%-*s  ", w, pm_row_name(row, name, sizeof(name)));
		for (unsigned k = 0; k < row->nr_cells; k++) {
			const struct pinmm_cell *c = &row->cells[k];
			bool ablation = c->role == PINMM_CELL_WITHOUT ||
					c->role == PINMM_CELL_WITH;

			snprintf(pre, sizeof(pre), "%s%s", ablation ? c->label : "",
				 ablation ? ":" : "");
			cell(out, c, pre, ablation && k + 1 == row->nr_cells ? 0 : COLUMN,
			     opt->colour);
			if (ablation && k + 1 < row->nr_cells)
				fputc(' ', out);
		}
		fputc('\n', out);
	}

	/* what needs a look: every UNEXPECTED cell; with -v every reason */
	for (size_t i = 0; i < m->nr_rows; i++) {
		const struct pinmm_row *row = &m->rows[i];

		for (unsigned k = 0; k < row->nr_cells; k++) {
			const struct pinmm_cell *c = &row->cells[k];

			if (c->verdict != PINMM_VERDICT_UNEXPECTED &&
			    !(opt->verbose && c->reason[0]))
				continue;
			fprintf(out, "  %s %s: %s%s%s\n", pm_row_name(row, name, sizeof(name)),
				c->label,
				opt->colour && c->verdict == PINMM_VERDICT_UNEXPECTED ? C_RED : "",
				c->reason, opt->colour && c->verdict ==
				PINMM_VERDICT_UNEXPECTED ? C_RESET : "");
			for (unsigned j = 1; opt->verbose && j < c->result.nr_msgs; j++)
				fprintf(out, "      %s\n", c->result.msgs[j]);
		}
	}
	if (s->na || s->info)
		fprintf(out, "\nn/a: the engine has not built a mechanism the scenario uses; "
			"n/a-switch: it cannot turn that switch off yet;\nn/a-explorer: "
			"the explorer's budget ran out before its bound was exhausted; "
			"(pass)/(fails): legacy, nothing declared;\n(explore, bound K): every "
			"interleaving of the threads with at most K preemptions; proved: every "
			"interleaving;\n"
			"host:skipped: the host column was not run, or the kernel cannot "
			"express a step (pinmm check -v says which).\n");
	fprintf(out, "\n%u scenarios, %u cells: %u pass, %u detected, %u UNEXPECTED, "
		"%u n/a (%u not built, %u switch, %u explorer, %u host skipped), %u informational\n",
		s->rows, s->cells, s->pass, s->detected, s->unexpected, s->na,
		s->na_unsupported, s->na_not_implemented, s->na_needs_explorer, s->na_host,
		s->info);
	if (opt->colour)
		fputs(pinmm_matrix_as_declared(m) ? C_GREEN : C_RED, out);
	fputs(pinmm_matrix_as_declared(m) ? "as declared" : "NOT as declared", out);
	fprintf(out, "%s\n", opt->colour ? C_RESET : "");
}

int pinmm_report_matrix(FILE *out, const struct pinmm_matrix *m,
			const struct pinmm_report_options *opt)
{
	switch (opt->format) {
	case PINMM_REPORT_JSON:
		return pm_json_matrix(out, m);
	case PINMM_REPORT_TAP:
		return pm_tap_matrix(out, m);
	case PINMM_REPORT_KTAP:
		return pm_ktap_matrix(out, m);
	case PINMM_REPORT_TEXT:
		text_matrix(out, m, opt);
		return 0;
	}
	return 0;
}

int pinmm_report_run(FILE *out, const struct pinmm_scenario *scn,
		     const char *policy, const struct pinmm_scn_result *res,
		     const struct pinmm_report_options *opt)
{
	const char *file = pinmm_scenario_file(scn);
	const char *what = pinmm_scn_outcome_str(res->outcome);
	bool colour = opt->colour && opt->format == PINMM_REPORT_TEXT;
	const char *col = res->outcome == PINMM_SCN_PASS ? C_GREEN
			: res->outcome == PINMM_SCN_FAIL ? C_RED : C_YELLOW;

	if (opt->format == PINMM_REPORT_JSON)
		return pm_json_run(out, scn, policy, res);
	if (opt->format == PINMM_REPORT_TAP) {
		fprintf(out, "TAP version 13\n1..1\n");
		if (res->outcome == PINMM_SCN_UNSUPPORTED)
			fprintf(out, "ok 1 %s %s # SKIP %s\n", file, policy, res->unsupported);
		else
			fprintf(out, "%sok 1 %s %s\n", res->outcome == PINMM_SCN_PASS
				? "" : "not ", file, policy);
		for (unsigned i = 0; i < res->nr_msgs; i++)
			fprintf(out, "# %s\n", res->msgs[i]);
		return 0;
	}
	fprintf(out, "%s (%s): %s%s%s\n", file, policy, colour ? col : "",
		res->outcome == PINMM_SCN_FAIL ? "FAIL" : what, colour ? C_RESET : "");
	for (unsigned i = 0; i < res->nr_msgs; i++)
		fprintf(out, "  %s\n", res->msgs[i]);
	if (res->nr_failures > res->nr_msgs)
		fprintf(out, "  ... and %u more\n", res->nr_failures - res->nr_msgs);
	if (res->outcome == PINMM_SCN_UNSUPPORTED)
		fprintf(out, "  %s\n", res->unsupported);
	return 0;
}
