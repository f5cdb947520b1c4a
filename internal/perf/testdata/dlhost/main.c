/* dlhost prints "ready", waits for a line on stdin, then loads the shared
 * library named by its argument with dlopen, spends about 400 ms of CPU in
 * its in_dlopened_library, and exits. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv) {
	char line[16];
	printf("ready\n");
	fflush(stdout);
	if (argc < 2 || !fgets(line, sizeof line, stdin))
		return 2;
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlhost: %s\n", dlerror());
		return 1;
	}
	uint64_t (*work)(uint64_t) = (uint64_t (*)(uint64_t))dlsym(h, "in_dlopened_library");
	if (!work)
		return 1;
	struct timespec t0, t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	uint64_t x = 1;
	do {
		x = work(x);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 400000000L);
	return 0;
}
