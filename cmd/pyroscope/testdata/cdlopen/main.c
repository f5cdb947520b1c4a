/* cdlopen loads the shared library named by its argument and spends its
 * CPU time in the library's lib_spin, called from c_caller, until it is
 * killed. The agent's tests hand it a library the symbolizer must refuse
 * (grown past its file-size limit). Build with -fno-omit-frame-pointer. */
#include <dlfcn.h>
#include <stdio.h>

__attribute__((noinline)) void c_caller(void (*spin)(void)) {
	for (;;)
		spin();
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: cdlopen LIBRARY\n");
		return 2;
	}
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "cdlopen: %s\n", dlerror());
		return 1;
	}
	void (*spin)(void) = (void (*)(void))dlsym(h, "lib_spin");
	if (!spin) {
		fprintf(stderr, "cdlopen: %s\n", dlerror());
		return 1;
	}
	printf("cdlopen: ready\n");
	fflush(stdout);
	c_caller(spin);
}
