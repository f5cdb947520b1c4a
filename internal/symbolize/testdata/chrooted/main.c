/* chrooted is a static program a test starts inside a directory of its own
 * (chroot, own mount namespace): it mounts /proc there when asked, maps
 * each file named on its command line executable, prints where, and waits
 * for stdin to close, so that a test can symbolize it from outside. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int i = 1;
	if (argc > 1 && strcmp(argv[1], "-proc") == 0) {
		mkdir("/proc", 0555);
		if (mount("proc", "/proc", "proc", 0, NULL) != 0) {
			perror("mount /proc");
			return 1;
		}
		i++;
	}
	for (; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);
		void *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			perror(argv[i]);
			return 1;
		}
		printf("map %s %p\n", argv[i], p);
	}
	printf("main %p\n", (void *)main);
	printf("ready\n");
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof buf) > 0) {
	}
	return 0;
}
