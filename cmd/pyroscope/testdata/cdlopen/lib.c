/* The library cdlopen calls into: lib_spin burns CPU. */
volatile unsigned long lib_counter;

__attribute__((noinline)) void lib_spin(void) {
	for (unsigned long i = 0; i < 10000000UL; i++)
		lib_counter += i;
}
