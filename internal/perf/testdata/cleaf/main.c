/* cleaf spends its CPU in leaf, called from mid, called from main, for
 * about 600 ms, and exits. Built without -mno-omit-leaf-frame-pointer, GCC
 * gives leaf no frame, so the kernel's frame-pointer walk skips mid. */
#include <stdint.h>
#include <time.h>

volatile uint64_t sink;

__attribute__((noinline)) uint64_t leaf(uint64_t x) {
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sink = x;
	}
	return x;
}

__attribute__((noinline)) uint64_t mid(uint64_t x) {
	for (int i = 0; i < 50; i++)
		x = leaf(x);
	return x + 1;
}

int main(void) {
	struct timespec t0, t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	uint64_t x = 1;
	do {
		x = mid(x);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 600000000L);
	return 0;
}
