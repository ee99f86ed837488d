/* SPDX-License-Identifier: MIT */
/* Partial-order reduction (explore build only): the dependence of steps. */
#ifndef PM_SCHED_DPOR_H
#define PM_SCHED_DPOR_H

#include "sched.h"

/* Whether the steps two decisions started (by different threads) may not
 * commute: swapping them, adjacent, may change what follows. */
bool dpor_dependent(const struct pm_decision *a, const struct pm_decision *b);

#endif
