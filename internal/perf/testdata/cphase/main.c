/* cphase runs a 10 ms cycle, as timer-driven work does: 7 ms in seven_ms,
 * then 3 ms in three_ms. The phase is taken from the process's own CPU
 * clock, the one a cpu-clock sampler's period runs on, so that the cycle
 * stays aligned with it even when a busy machine preempts the program (a
 * wall-clock cycle then drifts against the sampler and hides a lockstep).
 * It prints "ready" and runs until killed. Build with
 * -fno-omit-frame-pointer. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

volatile uint64_t sink;

static int64_t phase_us(void) {
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (t.tv_nsec / 1000) % 10000;
}

static inline void spin(void) {
	uint64_t x = sink + 1;
	for (int i = 0; i < 20000; i++) { /* some 20 µs between clock reads */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	sink = x;
}

__attribute__((noinline)) void seven_ms(void) {
	while (phase_us() < 7000)
		spin();
}

__attribute__((noinline)) void three_ms(void) {
	while (phase_us() >= 7000)
		spin();
}

int main(void) {
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		seven_ms();
		three_ms();
	}
}
