/* csplit spends its CPU about 70/30 in heavy_work and light_work, which run
 * the same loop body 7 and 3 times as often. Each cycle's length varies (1
 * to 6 times a base, chosen from the work's own state), so that no sampling
 * period can fall into step with it. It prints "ready" and runs until
 * killed. Build with -fno-omit-frame-pointer. */
#include <stdint.h>
#include <stdio.h>

volatile uint64_t sink;

static inline uint64_t mix(uint64_t x) {
	x ^= x << 13;
	x ^= x >> 7;
	return x ^ x << 17;
}

__attribute__((noinline)) uint64_t heavy_work(uint64_t x, int n) {
	for (int i = 0; i < 7 * n; i++) {
		x = mix(x);
		sink = x;
	}
	return x;
}

__attribute__((noinline)) uint64_t light_work(uint64_t x, int n) {
	for (int i = 0; i < 3 * n; i++) {
		x = mix(x);
		sink = x;
	}
	return x;
}

int main(void) {
	printf("ready\n");
	fflush(stdout);
	uint64_t x = 1;
	for (;;) {
		int n = 30000 * (1 + (int)(x % 6));
		x = heavy_work(x, n);
		x = light_work(x, n);
	}
}
