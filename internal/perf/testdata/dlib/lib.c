/* dlib is the shared library dlhost loads with dlopen. Its work is in a
 * leaf function, which GCC gives no frame, so that its caller has to be
 * recovered from the library's code as well. */
#include <stdint.h>

volatile uint64_t dlib_sink;

static __attribute__((noinline)) uint64_t dlib_leaf(uint64_t x) {
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		dlib_sink = x;
	}
	return x;
}

__attribute__((noinline)) uint64_t in_dlopened_library(uint64_t x) {
	for (int i = 0; i < 10; i++)
		x = dlib_leaf(x);
	return x + 1;
}
