/* cshort burns about 150 ms of CPU (or as many milliseconds as its
 * argument says) in short_work and exits, printing nothing: one of the
 * short-lived processes of a build or a shell loop. Build with
 * -fno-omit-frame-pointer. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

volatile uint64_t sink;

__attribute__((noinline)) uint64_t short_work(uint64_t x) {
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sink = x;
	}
	return x;
}

int main(int argc, char **argv) {
	long ms = argc > 1 ? atol(argv[1]) : 150;
	struct timespec t0, t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	uint64_t x = 1;
	do {
		x = short_work(x); /* about 0.3 ms between clock reads */
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < ms * 1000000L);
	return 0;
}
