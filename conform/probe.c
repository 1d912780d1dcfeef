/*
 * numacheck conform probe: runs scenario programs inside the guest and prints per-step counts.
 *
 * Built by numacheck (gcc -static -O2), packed into an initramfs with busybox, run by /init.
 * Usage: probe PROGRAM SCAN_TIMEOUT_S RUN_TIMEOUT_S
 * Input: a program file of lines (conform/runner.py writes them):
 *   run ID REPEAT          start a scenario run in a fresh process (a fresh mm)
 *   mmap private|shared PROT PAGES
 *   read I | write I       one user access of page I of the region
 *   fork                   a child that sleeps on a pipe, keeping its mappings
 *   child_exit             the newest child exits (and is reaped)
 *   mprotect PROT | munmap | mbind | clear_refs | node N | numa_scan
 *   end                    end of the run
 * PROT is a number: 0 PROT_NONE, 1 PROT_READ, 3 PROT_READ|PROT_WRITE.
 * Output, one line per step on stdout (the serial console):
 *   @step ID REPEAT INDEX minflt=A hint=B local=C migrated=D pte=E seq=F segv=G nodes=N,...
 * and "@run ID REPEAT ok|error TEXT" at the end of each run ("@fatal TEXT" if the kernel lacks
 * what the probe needs).  Counts are deltas over the step; seq is the change of
 * mm->numa_scan_seq (/proc/self/sched), so a NUMA scan that happened in a step is seen; nodes
 * are where each page of the region is after the step (-1: none).  NUMA balancing is on only
 * during numa_scan steps (kernel.numa_balancing=1): elsewhere no scan can run, so the counts of
 * an access are the access's alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 4
#define MAX_PAGES 4
#define PAGE 4096
#define MPOL_BIND 2
#define MPOL_F_NUMA_BALANCING (1 << 13)
#define MPOL_MF_MOVE (1 << 1)

struct counts {
	long minflt, hint, local, migrated, pte, seq;
};

static char text[65536];
static struct counts warm, before, after;
static char *region;
static long region_pages;
static int child_pid[MAX_CHILDREN], child_pipe[MAX_CHILDREN], children;
static sigjmp_buf segv_jump;
static volatile sig_atomic_t segv_armed;
static int scan_timeout_s = 60, run_timeout_s = 120;
static char scratch[PAGE] __attribute__((aligned(PAGE)));
static char signal_stack[65536] __attribute__((aligned(PAGE)));
static char *no_access;
static const char *run_id = "-", *run_repeat = "-";

static void die(const char *what)
{
	printf("@run %s %s error %s: %s\n", run_id, run_repeat, what, strerror(errno));
	fflush(stdout);
	_exit(1);
}

static void read_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	long n = 0, r;
	if (fd < 0)
		die(path);
	while ((r = read(fd, text + n, sizeof(text) - 1 - n)) > 0)
		n += r;
	close(fd);
	text[n] = 0;
}

static void write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		die(path);
	close(fd);
}

/* The number after "NAME" at the start of a line of the text read last ("NAME 12" in
 * /proc/vmstat, "NAME   :   12" in /proc/PID/sched), -1 if there is no such line. */
static long field(const char *name)
{
	size_t len = strlen(name);
	for (char *p = text; (p = strstr(p, name)); p += len) {
		if ((p == text || p[-1] == '\n') && p[len] == ' ') {
			char *q = p + len;
			while (*q == ' ' || *q == ':')
				q++;
			return strtol(q, NULL, 10);
		}
	}
	return -1;
}

/* All counters at once; the same code (and stack depth) before and after a step. */
static void snapshot(struct counts *c)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	c->minflt = ru.ru_minflt;
	read_file("/proc/vmstat");
	c->hint = field("numa_hint_faults");
	c->local = field("numa_hint_faults_local");
	c->migrated = field("numa_pages_migrated");
	c->pte = field("numa_pte_updates");
	read_file("/proc/self/sched");
	c->seq = field("mm->numa_scan_seq");
}

/* Empty the per-CPU LRU-add batches (lru_cache_disable() in do_pages_move()): a page still in
 * one holds an extra reference, which the NUMA scan and do_wp_page() see as another user. */
static void drain_lru(void)
{
	void *page = region ? region : (void *)text;
	int node = 0, status = 0;
	if (region && syscall(SYS_move_pages, 0, 1, &page, NULL, &status, 0) == 0 && status >= 0)
		node = status;
	if (syscall(SYS_move_pages, 0, 1, &page, &node, &status, MPOL_MF_MOVE) < 0)
		die("move_pages");
}

static void on_segv(int sig)
{
	(void)sig;
	if (segv_armed)
		siglongjmp(segv_jump, 1);
	_exit(99);
}

static int access_at(volatile char *p, int write)
{
	segv_armed = 1;
	if (sigsetjmp(segv_jump, 1)) {
		segv_armed = 0;
		return 1;
	}
	if (write)
		*p = 1;
	else
		(void)*p;
	segv_armed = 0;
	return 0;
}

/* Load (and store back) every page of the probe's own mappings but the region: its code, data,
 * heap and stacks are then mapped, copied after fork, and free of NUMA hints before a step
 * starts (with fault-around off each code page faults on its own, and the scan protects the
 * probe's data like any other). */
static void touch_own_memory(void)
{
	char *line = text;
	read_file("/proc/self/maps");
	while (*line) {
		unsigned long start, end;
		char perms[8];
		char *next = strchr(line, '\n');
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && perms[0] == 'r' &&
		    !strstr(line, "[vvar]") &&
		    (end <= (unsigned long)region || start >= (unsigned long)(region + region_pages * PAGE)))
			for (unsigned long a = start; a < end; a += PAGE) {
				volatile char *p = (volatile char *)a;
				char c = *p;
				if (perms[1] == 'w')
					*p = c;
			}
		if (!next)
			break;
		line = next + 1;
	}
}

/* Write the stack below the current frame, as deep as any step goes. */
static void __attribute__((noinline)) touch_stack(void)
{
	volatile char below[32768];
	for (size_t i = 0; i < sizeof(below); i += 256)
		below[i] = 0;
}

/* Take every fault the measuring code itself could take before the step's first reading: all
 * of the probe's pages, its stack, and the signal path (a store to a scratch page and a load
 * from an inaccessible one, delivered on the alternate signal stack, rewritten each time). */
static void warm_up(void)
{
	memset(signal_stack, 0, sizeof(signal_stack));
	touch_stack();
	touch_own_memory();
	access_at(scratch, 1);
	access_at(no_access, 0);
	snapshot(&warm);
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Turn NUMA balancing on, burn CPU until task_numa_work() has passed over the whole address
 * space once more (mm->numa_scan_seq advanced), turn it off. */
static int numa_scan(void)
{
	long seq0;
	double start = wall_seconds();
	read_file("/proc/self/sched");
	seq0 = field("mm->numa_scan_seq");
	write_file("/proc/sys/kernel/numa_balancing", "1");
	for (;;) {
		double t = cpu_seconds();
		while (cpu_seconds() - t < 0.005)
			;
		read_file("/proc/self/sched");
		if (field("mm->numa_scan_seq") > seq0)
			break;
		if (wall_seconds() - start > scan_timeout_s)
			break;
	}
	write_file("/proc/sys/kernel/numa_balancing", "0");
	return 0;
}

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int prot_bits(int prot)
{
	return (prot & 1 ? PROT_READ : 0) | (prot & 2 ? PROT_WRITE : 0);
}

static void do_mmap(const char *kind, int prot, long pages)
{
	/* Guard VMAs (MAP_NORESERVE, PROT_NONE) on both sides, so the region never merges. */
	char *all = mmap(NULL, (pages + 2) * PAGE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int flags = (strcmp(kind, "shared") ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS | MAP_FIXED;
	if (all == MAP_FAILED)
		die("mmap");
	region = mmap(all + PAGE, pages * PAGE, prot_bits(prot), flags, -1, 0);
	if (region == MAP_FAILED)
		die("mmap");
	region_pages = pages;
}

/* Wait until the child sleeps in the kernel.  Its own hinting faults (it runs on the parent's
 * copied, possibly hinted PTEs) count in the system-wide vmstat counters, so they must all be
 * over before the parent's next step. */
static void wait_sleeping(pid_t pid)
{
	char path[64];
	double start = wall_seconds();
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (;;) {
		char *state;
		read_file(path);
		state = strrchr(text, ')');
		if (state && state[1] == ' ' && state[2] == 'S')
			return;
		if (wall_seconds() - start > 10) {
			errno = ETIMEDOUT;
			die("fork: the child does not sleep");
		}
		sched_yield();
	}
}

static void do_fork(void)
{
	int fds[2], ready[2];
	char c;
	pid_t pid;
	if (children == MAX_CHILDREN || pipe(fds) < 0 || pipe(ready) < 0)
		die("fork");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(fds[1]);
		close(ready[0]);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(fds[0]);
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		die("fork: the child did not start");
	close(ready[0]);
	wait_sleeping(pid);
	child_pid[children] = pid;
	child_pipe[children++] = fds[1];
}

static void child_exit(void)
{
	if (!children)
		die("child_exit without a child");
	children--;
	close(child_pipe[children]);
	waitpid(child_pid[children], NULL, 0);
}

/* The node of each page of the region (move_pages(2) without nodes: only the status), -1 where
 * there is none (no PTE, the zero page, no region): "0,1,-1". */
static void page_nodes(char *out, size_t size)
{
	void *pages[MAX_PAGES];
	int status[MAX_PAGES];
	size_t used = 0;
	out[0] = 0;
	for (long i = 0; i < region_pages; i++)
		pages[i] = region + i * PAGE;
	if (region_pages && syscall(SYS_move_pages, 0, region_pages, pages, NULL, status, 0) < 0)
		die("move_pages");
	for (long i = 0; i < region_pages && used < size; i++)
		used += snprintf(out + used, size - used, "%s%d", i ? "," : "", status[i] >= 0 ? status[i] : -1);
}

/* One step: returns whether the access (if any) got SIGSEGV. */
static int step(char *op, char *arg, char *arg2, char *arg3)
{
	if (!strcmp(op, "mmap")) {
		do_mmap(arg, atoi(arg2), atol(arg3));
	} else if (!strcmp(op, "read") || !strcmp(op, "write")) {
		return access_at(region + atol(arg) * PAGE, op[0] == 'w');
	} else if (!strcmp(op, "fork")) {
		do_fork();
	} else if (!strcmp(op, "child_exit")) {
		child_exit();
	} else if (!strcmp(op, "mprotect")) {
		if (mprotect(region, region_pages * PAGE, prot_bits(atoi(arg))) < 0)
			die("mprotect");
	} else if (!strcmp(op, "munmap")) {
		if (munmap(region, region_pages * PAGE) < 0)
			die("munmap");
	} else if (!strcmp(op, "mbind")) {
		unsigned long nodes = 3;
		if (syscall(SYS_mbind, region, region_pages * PAGE, MPOL_BIND | MPOL_F_NUMA_BALANCING,
			    &nodes, 8 * sizeof(nodes), 0) < 0)
			die("mbind");
	} else if (!strcmp(op, "clear_refs")) {
		write_file("/proc/self/clear_refs", "4");
	} else if (!strcmp(op, "node")) {
		pin_to_cpu(atoi(arg));
	} else if (!strcmp(op, "numa_scan")) {
		numa_scan();
	} else {
		errno = EINVAL;
		die(op);
	}
	return 0;
}

/* One scenario run in this (fresh) process; the lines come from the program file. */
static void run(FILE *program, const char *id, const char *repeat)
{
	char line[256], op[32], arg[32], arg2[32], arg3[32], nodes[64];
	pthread_t idle;
	pthread_attr_t attr;
	int index = 0;
	run_id = id;
	run_repeat = repeat;
	pin_to_cpu(0);
	/* mm_users > 1: change_pte_range() skips local pages only for a single-threaded mm. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 65536);
	if (pthread_create(&idle, &attr, idle_thread, NULL))
		die("pthread_create");
	while (fgets(line, sizeof(line), program)) {
		int segv;
		op[0] = arg[0] = arg2[0] = arg3[0] = 0;
		if (sscanf(line, "%31s %31s %31s %31s", op, arg, arg2, arg3) < 1)
			continue;
		if (!strcmp(op, "end"))
			break;
		drain_lru();
		warm_up();
		snapshot(&before);
		segv = step(op, arg, arg2, arg3);
		snapshot(&after);
		page_nodes(nodes, sizeof(nodes));
		printf("@step %s %s %d minflt=%ld hint=%ld local=%ld migrated=%ld pte=%ld seq=%ld segv=%d "
		       "nodes=%s\n", id, repeat, index++, after.minflt - before.minflt,
		       after.hint - before.hint, after.local - before.local,
		       after.migrated - before.migrated, after.pte - before.pte, after.seq - before.seq,
		       segv, nodes);
		fflush(stdout);
	}
	while (children)
		child_exit();
	printf("@run %s %s ok\n", id, repeat);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char line[256], id[64], repeat[16];
	struct sigaction sa;
	stack_t ss;
	FILE *program;
	if (argc != 4) {
		fprintf(stderr, "usage: probe PROGRAM SCAN_TIMEOUT_S RUN_TIMEOUT_S\n");
		return 2;
	}
	scan_timeout_s = atoi(argv[2]);
	run_timeout_s = atoi(argv[3]);
	program = fopen(argv[1], "r");
	if (!program)
		die(argv[1]);
	read_file("/proc/self/sched");
	if (field("mm->numa_scan_seq") < 0) {
		printf("@fatal /proc/self/sched has no mm->numa_scan_seq: the kernel needs "
		       "CONFIG_SCHED_DEBUG and CONFIG_NUMA_BALANCING\n");
		return 1;
	}
	ss.ss_sp = signal_stack;
	ss.ss_size = sizeof(signal_stack);
	ss.ss_flags = 0;
	no_access = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (no_access == MAP_FAILED || sigaltstack(&ss, NULL) < 0)
		die("sigaltstack");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sa.sa_flags = SA_NODEFER | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), program)) {
		long offset;
		pid_t pid;
		if (sscanf(line, "run %63s %15s", id, repeat) != 2)
			continue;
		offset = ftell(program);
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			/* The child reads on from the start of its run through its own descriptor. */
			FILE *own = fopen(argv[1], "r");
			if (!own || fseek(own, offset, SEEK_SET) < 0)
				die(argv[1]);
			alarm(run_timeout_s);
			run(own, id, repeat);
			_exit(0);
		}
		int status;
		waitpid(pid, &status, 0);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			printf("@run %s %s error timed out after %d s\n", id, repeat, run_timeout_s);
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			printf("@run %s %s error exit status %d\n", id, repeat, status);
		if (status)  /* it may have stopped inside a numa_scan step */
			write_file("/proc/sys/kernel/numa_balancing", "0");
		fflush(stdout);
	}
	printf("@done\n");
	return 0;
}
