/* cvdso prints "ready" and then reads the clock until killed: its time is
 * in the vDSO, which no file on disk holds. */
#include <stdio.h>
#include <time.h>

volatile long sink;

int main(void) {
	printf("ready\n");
	fflush(stdout);
	struct timespec t;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		sink += t.tv_nsec;
	}
}
