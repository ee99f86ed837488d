/* SPDX-License-Identifier: MIT */
/*
 * fuzz_scenario - libFuzzer target for the scenario parser and interpreter:
 * any input must either be refused with a FILE:LINE:COL error or run to an
 * outcome, without a crash, a leak or undefined behaviour.
 *
 * Built with clang when PINMM_FUZZ=ON (scripts/fuzz.sh). The same file,
 * built with PINMM_FUZZ_REPLAY, is `fuzz_replay FILE...`: it feeds files to
 * the target once each, so tests/fuzz/crashers/ stays a regression suite in
 * every ordinary build (ctest fuzz_crashers).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pinmm/scenario.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pinmm_scenario *scn;
	struct pinmm_scn_result res;
	struct pinmm_scn_options opt = { .policy = PINMM_POLICY_STRICT };
	char err[PINMM_SCN_ERRLEN];

	if (pinmm_scenario_parse("fuzz.pin", (const char *)data, size, &scn, err,
				 sizeof(err)))
		return 0;
	/* legacy paths too: the input's length picks the policy */
	if (size & 1)
		opt.policy = PINMM_POLICY_LEGACY;
	pinmm_scenario_run(scn, &opt, &res);
	pinmm_scenario_free(scn);
	return 0;
}

#ifdef PINMM_FUZZ_REPLAY
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		static uint8_t buf[1 << 20];
		size_t n;

		if (!f) {
			perror(argv[i]);
			return 2;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		printf("replayed %s\n", argv[i]);
	}
	return 0;
}
#endif
