/* SPDX-License-Identifier: MIT */
/*
 * report_tap.c - the matrix as test results for CI: TAP version 13 (as
 * kselftest prints it, read by prove) and KTAP version 1 (the kernel's
 * Documentation/dev-tools/ktap.rst, read by KUnit's kunit_parser.py).
 *
 * Both map a cell alike: pass, detected and informational are "ok", n/a
 * is "ok ... # SKIP reason", UNEXPECTED is "not ok"; both end with
 * kselftest's "# Totals:" line. TAP is flat, one test point per cell named
 * "scenario cell"; KTAP nests each scenario's cells as its subtests.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "report.h"

/* A YAML double-quoted string: JSON's escaping is valid there. */
static void yaml_string(FILE *out, const char *s)
{
	json_object *j = json_object_new_string(s ? s : "");

	fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), out);
	json_object_put(j);
}

/* Text on a (K)TAP line: no newline or '#' may end it early. */
static void tap_text(FILE *out, const char *s)
{
	for (; s && *s; s++)
		fputc(*s == '\n' || *s == '#' ? ' ' : *s, out);
}

/* "ok N " or "not ok N ": a cell is a failure only when UNEXPECTED */
static void result_start(FILE *out, const char *indent, bool ok, unsigned n)
{
	fprintf(out, "%s%sok %u ", indent, ok ? "" : "not ", n);
}

/* " # SKIP reason" for an n/a cell, then the end of the line */
static void result_end(FILE *out, const struct pinmm_cell *c)
{
	if (c->verdict == PINMM_VERDICT_NA) {
		fputs(" # SKIP ", out);
		tap_text(out, c->reason);
	}
	fputc('\n', out);
}

/* kselftest's closing line: cells, as the test points are */
static void totals(FILE *out, const struct pinmm_matrix *m)
{
	fprintf(out, "# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
		m->sum.pass + m->sum.detected + m->sum.info, m->sum.unexpected,
		m->sum.na);
}

int pm_tap_matrix(FILE *out, const struct pinmm_matrix *m)
{
	unsigned n = 0;
	char name[128];

	fprintf(out, "TAP version 13\n1..%u\n", m->sum.cells);
	for (size_t i = 0; i < m->nr_rows; i++) {
		const struct pinmm_row *row = &m->rows[i];

		pm_row_name(row, name, sizeof(name));
		for (unsigned k = 0; k < row->nr_cells; k++) {
			const struct pinmm_cell *c = &row->cells[k];
			bool ok = c->verdict != PINMM_VERDICT_UNEXPECTED;

			/* the test point's name is stable (scenario, cell): its
			 * result goes below it, so histories line up */
			result_start(out, "", ok, ++n);
			tap_text(out, name);
			fputc(' ', out);
			tap_text(out, c->label);
			result_end(out, c);
			if (!ok) {
				fputs("  ---\n  message: ", out);
				yaml_string(out, c->reason);
				fputs("\n  ...\n", out);
			} else if (c->verdict != PINMM_VERDICT_NA) {
				fprintf(out, "# %s\n", pm_cell_text(c));
			}
		}
	}
	totals(out, m);
	return ferror(out) ? -1 : 0;
}

/*
 * KTAP: a scenario is a test whose subtests are its cells, indented two
 * spaces (ktap.rst, "Nested tests"). A cell's diagnostic (its result, or
 * an UNEXPECTED cell's reason) goes right before its result line, as
 * ktap.rst asks. A scenario fails when a cell does and is a SKIP when every
 * cell is one.
 */
int pm_ktap_matrix(FILE *out, const struct pinmm_matrix *m)
{
	char name[128];

	fprintf(out, "KTAP version 1\n1..%zu\n", m->nr_rows);
	for (size_t i = 0; i < m->nr_rows; i++) {
		const struct pinmm_row *row = &m->rows[i];
		unsigned failed = 0, skipped = 0;

		pm_row_name(row, name, sizeof(name));
		fputs("  KTAP version 1\n  # Subtest: ", out);
		tap_text(out, name);
		fprintf(out, "\n  1..%u\n", row->nr_cells);
		for (unsigned k = 0; k < row->nr_cells; k++) {
			const struct pinmm_cell *c = &row->cells[k];
			bool ok = c->verdict != PINMM_VERDICT_UNEXPECTED;

			failed += !ok;
			skipped += c->verdict == PINMM_VERDICT_NA;
			if (c->verdict != PINMM_VERDICT_NA) {
				fputs("  # ", out);
				tap_text(out, ok ? pm_cell_text(c) : c->reason);
				fputc('\n', out);
			}
			result_start(out, "  ", ok, k + 1);
			tap_text(out, c->label);
			result_end(out, c);
		}
		result_start(out, "", !failed, (unsigned)i + 1);
		tap_text(out, name);
		fputs(!failed && skipped == row->nr_cells ? " # SKIP every cell is n/a\n" : "\n",
		      out);
	}
	totals(out, m);
	return ferror(out) ? -1 : 0;
}
