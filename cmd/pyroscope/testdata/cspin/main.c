/* cspin spends its CPU time in c_hot_spin, called from c_outer, until it is
 * killed. Built with -fno-omit-frame-pointer so that perf sees full stacks. */
#include <stdio.h>

volatile unsigned long counter;

__attribute__((noinline)) void c_hot_spin(void) {
	for (unsigned long i = 0; i < 100000000UL; i++)
		counter += i;
}

__attribute__((noinline)) void c_outer(void) { c_hot_spin(); }

int main(void) {
	printf("cspin: ready\n");
	fflush(stdout);
	for (;;)
		c_outer();
}
