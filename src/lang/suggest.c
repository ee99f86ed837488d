/* SPDX-License-Identifier: MIT */
/* "Did you mean": Levenshtein distance over short words. */
#include <string.h>

#include "suggest.h"

#define MAX_WORD 32

static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t row[MAX_WORD + 1];

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *pm_nearest_word(const char *word, size_t len, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;	/* at most 2 edits */

	if (!word || len == 0 || len > MAX_WORD)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t lc = cands[i] ? strlen(cands[i]) : 0;

		if (!lc || lc > MAX_WORD)
			continue;
		size_t d = distance(word, len, cands[i], lc);
		if (d < best_d && d < len) {
			best = cands[i];
			best_d = d;
		}
	}
	return best;
}
