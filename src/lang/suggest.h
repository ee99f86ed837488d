/* SPDX-License-Identifier: MIT */
/*
 * "Did you mean": the known word nearest to a mistyped one, for the
 * parser's statement keywords and the CLI's verbs.
 */
#ifndef PM_SCN_SUGGEST_H
#define PM_SCN_SUGGEST_H

#include <stddef.h>

/* The candidate within edit distance 2 of word[0..len) (and closer than
 * its own length), or NULL. */
const char *pm_nearest_word(const char *word, size_t len, const char *const *cands, size_t n);

#endif
