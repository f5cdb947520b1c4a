/* cfuncs prints the runtime addresses of two of its functions and of a libc
 * function, then waits for stdin to close, so that a test can symbolize
 * them from outside (PIE load bias, shared library bias). */
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) int alpha_function(int x) { return x * 3 + 1; }
__attribute__((noinline)) int beta_function(int x) { return x * 5 + 2; }

int main(void) {
	printf("alpha %p\n", (void *)alpha_function);
	printf("beta %p\n", (void *)beta_function);
	printf("getpid %p\n", (void *)getpid);
	printf("ready\n");
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof buf) > 0) {
	}
	return alpha_function(1) + beta_function(2) > 0 ? 0 : 1;
}
