/* SPDX-License-Identifier: MIT */
/*
 * Mechanisms of pinmm/daemons.h that the engine does not have yet answer
 * -EOPNOTSUPP, as the header promises. Each moves to its own file under
 * src/daemons/ (or src/mm/) when it is built; this file then shrinks away.
 */
#include <errno.h>

#include <pinmm/daemons.h>

long pinmm_compact(struct pinmm *eng) { (void)eng; return -EOPNOTSUPP; }
int pinmm_uprobe_register(struct pinmm_file *f, uint64_t off) { (void)f; (void)off; return -EOPNOTSUPP; }
int pinmm_uprobe_unregister(struct pinmm_file *f, uint64_t off) { (void)f; (void)off; return -EOPNOTSUPP; }
int pinmm_daemon_start(struct pinmm *eng, enum pinmm_daemon d, unsigned us)
{ (void)eng; (void)d; (void)us; return -EOPNOTSUPP; }
int pinmm_daemon_stop(struct pinmm *eng, enum pinmm_daemon d) { (void)eng; (void)d; return -EOPNOTSUPP; }
