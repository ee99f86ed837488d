/* SPDX-License-Identifier: MIT */
/* Shared by the pinmm program's files (tools/pinmm.c dispatches the verbs). */
#ifndef PINMM_CLI_H
#define PINMM_CLI_H

#include <stddef.h>

#include <pinmm/scenario.h>

/* tools/pinmm-explore-cmd.c: `pinmm explore`, `pinmm replay` */
extern const char pinmm_usage_explore[], pinmm_usage_replay[];
int pinmm_cmd_explore(int argc, char **argv);
int pinmm_cmd_replay(int argc, char **argv);

/* A policy from --policy, else the scenario's policy line, else strict; a
 * strict-based policy may not name a switch the engine cannot turn off.
 * 0, or -EINVAL with a message on stderr naming the verb. */
int pinmm_cli_policy(const char *verb, const char *text, const struct pinmm_scenario *scn,
		     struct pinmm_policy *pol, char *name, size_t len);

#endif
