/* cbrief burns about 50 ms of CPU in brief_work and exits, without printing
 * anything: a process a sampler must know from its exec, since it is gone
 * before its samples are read. Build with -fno-omit-frame-pointer. */
#include <stdint.h>
#include <time.h>

volatile uint64_t sink;

__attribute__((noinline)) uint64_t brief_work(uint64_t x) {
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sink = x;
	}
	return x;
}

int main(void) {
	struct timespec t0, t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	uint64_t x = 1;
	do {
		x = brief_work(x);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 50000000L);
	return 0;
}
