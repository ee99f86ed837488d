/* SPDX-License-Identifier: MIT */
/* pinmm/pinmm.h - everything of libpinmm's public API. */
#ifndef PINMM_PINMM_H
#define PINMM_PINMM_H
#include <pinmm/policy.h>
#include <pinmm/mm.h>
#include <pinmm/gup.h>
#include <pinmm/check.h>
#include <pinmm/daemons.h>
#define PINMM_VERSION "0.1.0"
#endif
