/*
 * The tax loopscope puts on an unrelated process's syscalls: a tight loop of getppid(), the
 * cheapest syscall there is, so tracepoint costs show. Prints one line per repetition:
 * nanoseconds per call.
 *   usage: getppid_loop CALLS REPS
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 1000000;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	double t0;
	long i;
	int r;

	for (r = 0; r < reps; r++) {
		t0 = now_ns();
		for (i = 0; i < calls; i++)
			syscall(SYS_getppid);
		printf("%.2f\n", (now_ns() - t0) / calls);
	}
	return 0;
}
