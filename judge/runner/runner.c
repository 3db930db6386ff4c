/*
 * In-container runner of the CodeArena judge.
 *
 * It is the container's command (PID 1) and reads framed requests from its
 * attached stdin. Every reply is one JSON line on stdout, followed by a raw
 * payload of the length the line names. Frames are one type byte, a 4-byte
 * big-endian payload length and the payload:
 *
 *   'S' name NUL content         write the source file into /box
 *   'X' name NUL content         write an executable file into /box
 *   'G' name                     send back a file of /box (a compiled validator)
 *   'C' fields NUL... argv...    run a compiler (or any build step) in /box
 *   'A' fields NUL... argv...    start a compile server ahead of its job (no reply)
 *   'F' request                  send the compile server its one request line, the
 *                                source file name. The reply is the one 'C' sends,
 *                                or "unarmed" when no server is running.
 *   'R' fields NUL... argv...    set the run command and limits for tests
 *   'I' input bytes              run one test on this input
 *   'N'                          run the program with stdin and stdout streamed
 *                                through the host (interactive problems)
 *   'D' name NUL content         write a data file for a validator into /judge
 *   'V' fields NUL... argv...    run an output validator on /judge/team_output
 *   'W' fields NUL... argv...    run an interactor, streamed like 'N'
 *   'P' bytes                    during 'N' or 'W': bytes for the child's stdin;
 *                                an empty 'P' closes that stdin
 *   'K'                          during 'N' or 'W': kill the child (the other
 *                                side of the interaction ended)
 *   'Q'                          exit
 *
 * The runner keeps root (with only CAP_SETUID and CAP_SETGID) and runs
 * everything it starts as the unprivileged uid the host sends. Inputs and
 * outputs stay in /judge, a root-only 0700 tmpfs, and reach the program only
 * as open file descriptors. Expected answers never enter a contestant's
 * container: the host checks the output, or sends it with 'D' frames to a
 * separate container that runs only the output validator. 'D', 'V' and 'W'
 * open /judge to the validator's uid, so the host sends them to validator
 * containers only.
 *
 * Built as a static binary so every judge image can carry the same file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <poll.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BOX_DIR "/box"
#define TMP_DIR "/tmp"
#define JUDGE_DIR "/judge"
#define INPUT_PATH "/judge/input"
#define OUTPUT_PATH "/judge/output"
#define TEAM_OUTPUT_PATH "/judge/team_output"
#define FEEDBACK_DIR "/judge/feedback"
#define SCORE_CAP 256
#define MAX_BOX_FILE (256L << 20)
/* Bytes for a streamed child's stdin the runner buffers before it stops reading frames. */
#define PENDING_MAX (4L << 20)
#define OOM_CONTROL "/sys/fs/cgroup/memory/memory.oom_control"
#define MAX_FIELDS 64
#define CHUNK 65536

struct limits {
    long uid;
    long cpu_ms;
    long wall_ms;
    long fsize;      /* bytes, RLIMIT_FSIZE */
    long nproc;
    long nofile;
    long stack;      /* bytes, RLIMIT_STACK; 0 keeps the default */
    long log_cap;    /* compile only: bytes of compiler output kept */
    char *argv[MAX_FIELDS];
};

static volatile sig_atomic_t alarm_fired;
static volatile sig_atomic_t cpu_fired;
static struct limits run_limits;
static char *run_storage;

static void on_alarm(int sig) {
    if (sig == SIGALRM) alarm_fired = 1;
    else cpu_fired = 1;
}

/* Only wakes ppoll() up: a streamed run then looks for its child with WNOHANG. */
static void on_child(int sig) { (void)sig; }

static void die(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dprintf(1, "{\"type\":\"error\",\"message\":\"%s: %s\"}\n", msg, strerror(errno));
    exit(2);
}

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            exit(3); /* the host went away; nothing left to report to */
        }
        p += n;
        len -= (size_t)n;
    }
}

/* Read exactly len bytes; returns 0 on a clean EOF before the first byte. */
static int read_all(int fd, void *buf, size_t len) {
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("read stdin");
        }
        if (n == 0) {
            if (got == 0) return 0;
            errno = EPIPE;
            die("truncated frame");
        }
        got += (size_t)n;
    }
    return 1;
}

static char *read_payload(uint32_t len) {
    char *buf = malloc((size_t)len + 1);
    if (!buf) die("malloc %u", len);
    if (len && !read_all(0, buf, len)) die("truncated payload");
    buf[len] = '\0';
    return buf;
}

/* Copy len bytes from stdin into a new root-owned file. */
static void receive_file(const char *path, uint32_t len, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) die("open %s", path);
    char *buf = malloc(CHUNK);
    while (len > 0) {
        size_t want = len < CHUNK ? len : CHUNK;
        if (!read_all(0, buf, want)) die("truncated file");
        write_all(fd, buf, want);
        len -= (uint32_t)want;
    }
    free(buf);
    if (fchmod(fd, mode) < 0) die("chmod %s", path);
    close(fd);
}

/* Split a payload of NUL-terminated fields: 8 numbers, then the argv. */
static void parse_limits(char *payload, uint32_t len, struct limits *lim) {
    char *fields[MAX_FIELDS + 8];
    int count = 0;
    char *p = payload, *end = payload + len;
    while (p < end && count < MAX_FIELDS + 7) {
        fields[count++] = p;
        p += strlen(p) + 1;
    }
    if (count < 9) {
        errno = EINVAL;
        die("limits frame has %d fields", count);
    }
    lim->uid = atol(fields[0]);
    lim->cpu_ms = atol(fields[1]);
    lim->wall_ms = atol(fields[2]);
    lim->fsize = atol(fields[3]);
    lim->nproc = atol(fields[4]);
    lim->nofile = atol(fields[5]);
    lim->stack = atol(fields[6]);
    lim->log_cap = atol(fields[7]);
    int i;
    for (i = 8; i < count; i++) lim->argv[i - 8] = fields[i];
    lim->argv[i - 8] = NULL;
    if (lim->uid < 1000) {
        errno = EINVAL;
        die("refusing to run as uid %ld", lim->uid);
    }
}

static double now_ms_precise(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Count of memory-cgroup OOM kills so far, or -1 when it cannot be read. */
static long oom_kills(void) {
    char buf[512];
    int fd = open(OOM_CONTROL, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *line = strstr(buf, "oom_kill ");
    return line ? atol(line + 9) : -1;
}

/*
 * Kill every process of uid, including ones that left the process group or
 * were forked by a fork bomb. A helper takes the uid and signals -1, which
 * reaches every process of that uid in this PID namespace but itself. One
 * pass is enough because a fork racing with it fails once the parent has a
 * fatal signal pending; the second pass is cheap insurance.
 */
static void kill_uid(long uid) {
    pid_t helper = fork();
    if (helper == 0) {
        if (setgid((gid_t)uid) < 0 || setuid((uid_t)uid) < 0) _exit(1);
        kill(-1, SIGKILL);
        kill(-1, SIGKILL);
        _exit(0);
    }
    if (helper > 0) {
        while (waitpid(helper, NULL, 0) < 0 && errno == EINTR) {
        }
    }
}

/* The runner is PID 1, so orphans of the program end up as its children. */
static void reap_orphans(void) {
    while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR) {
    }
}

/* Write end of a close-on-exec pipe: the child reports why it could not exec. */
static int setup_fd = -1;

static void setup_failed(const char *step) {
    char msg[160];
    int n = snprintf(msg, sizeof msg, "%s: %s", step, strerror(errno));
    write(setup_fd, msg, (size_t)n);
    _exit(127);
}

static void set_limit(int resource, rlim_t soft, rlim_t hard) {
    struct rlimit rl = {soft, hard};
    if (setrlimit(resource, &rl) < 0) setup_failed("setrlimit");
}

/*
 * Forbid creating processes; threads stay allowed (the JVM and Node.js need
 * them). A process-creating clone fails with EAGAIN, as if RLIMIT_NPROC were
 * reached, and clone3 with ENOSYS so that glibc falls back to clone, whose
 * flags a filter can read. Without this filter, a fork bomb makes the kernel
 * charge so many kernel stacks to the memory cgroup that its verdict would
 * depend on timing. With it, the bomb just spins and gets TLE.
 */
static void deny_process_creation(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* x32 system calls */
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fork, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_vfork, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* clone: allowed only with CLONE_THREAD in the flags (first argument) */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 2, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) setup_failed("no_new_privs");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) setup_failed("seccomp");
}

/* In the child: drop to uid with rlimits, wire fds 0-2 and exec argv. */
static void exec_child(const struct limits *lim, int in_fd, int out_fd, int err_fd, int deny_fork) {
    static char *env[] = {
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=/tmp",
        "TMPDIR=/tmp",
        "LANG=C.UTF-8",
        "LC_ALL=C.UTF-8",
        NULL,
    };

    setpgid(0, 0);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) setup_failed("dup2");
    /* Close everything but 0-2 and the setup pipe, which is close-on-exec. */
    if (setup_fd > 3) syscall(SYS_close_range, 3U, (unsigned)setup_fd - 1, 0U);
    syscall(SYS_close_range, (unsigned)setup_fd + 1, ~0U, 0U);

    /* Make the program, not the runner, the first choice of the OOM killer. */
    int adj = open("/proc/self/oom_score_adj", O_WRONLY);
    if (adj >= 0) {
        write(adj, "1000", 4);
        close(adj);
    }

    /*
     * A backstop a second past the limit: the CPU timer (limit + 50 ms) ends the
     * program first. At the limit itself, SIGXCPU would stop a program whose
     * rusage, counted in ticks, still shows a few ms under the limit.
     */
    rlim_t cpu_s = (rlim_t)((lim->cpu_ms + 999) / 1000) + 1;
    set_limit(RLIMIT_CPU, cpu_s, cpu_s + 1);
    set_limit(RLIMIT_FSIZE, (rlim_t)lim->fsize, (rlim_t)lim->fsize);
    set_limit(RLIMIT_NPROC, (rlim_t)lim->nproc, (rlim_t)lim->nproc);
    set_limit(RLIMIT_NOFILE, (rlim_t)lim->nofile, (rlim_t)lim->nofile);
    set_limit(RLIMIT_CORE, 0, 0);
    if (lim->stack > 0) set_limit(RLIMIT_STACK, (rlim_t)lim->stack, (rlim_t)lim->stack);

    if (chdir(BOX_DIR) < 0) setup_failed("chdir");
    umask(022);
    if (setgroups(0, NULL) < 0 || setgid((gid_t)lim->uid) < 0 || setuid((uid_t)lim->uid) < 0)
        setup_failed("setuid");

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGALRM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    if (deny_fork) deny_process_creation();
    execvpe(lim->argv[0], lim->argv, env);
    setup_failed(lim->argv[0]);
}

/* Fork a child that execs under lim; returns its pid. */
static pid_t spawn(const struct limits *lim, int in_fd, int out_fd, int err_fd, int deny_fork,
                   int *report_fd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(fds[0]);
        setup_fd = fds[1];
        exec_child(lim, in_fd, out_fd, err_fd, deny_fork);
    }
    close(fds[1]);
    *report_fd = fds[0];
    return pid;
}

/* Read the child's setup error, if any (EOF at exec means none) into buf. */
static void read_setup_error(int fd, char *buf, size_t size) {
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n > 0 && (got += (size_t)n) < size - 1) continue;
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    buf[got] = '\0';
    close(fd);
    /* Keep it JSON-safe: the message is put between quotes as is. */
    for (size_t i = 0; i < got; i++) {
        if (buf[i] == '"' || buf[i] == '\\' || (unsigned char)buf[i] < 0x20) buf[i] = '?';
    }
}

static void start_wall_timer(long wall_ms) {
    struct itimerval it = {{0, 0}, {wall_ms / 1000, (wall_ms % 1000) * 1000}};
    alarm_fired = 0;
    setitimer(ITIMER_REAL, &it, NULL);
}

static void stop_wall_timer(void) {
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * Arm a timer on the child's CPU clock a little past the CPU limit, so the
 * whole seconds of RLIMIT_CPU do not decide how long a looping program runs.
 */
static int arm_cpu_timer(pid_t pid, long cpu_ms, timer_t *timer) {
    clockid_t clock;
    struct sigevent sev;
    cpu_fired = 0;
    if (cpu_ms <= 0 || clock_getcpuclockid(pid, &clock) != 0) return 0;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    if (timer_create(clock, &sev, timer) != 0) return 0;
    long at = cpu_ms + 50;
    struct itimerspec its = {{0, 0}, {at / 1000, (at % 1000) * 1000000L}};
    timer_settime(*timer, 0, &its, NULL);
    return 1;
}

/* After a timer fired: kill all of uid once; returns the new killed flag. */
static int kill_on_timer(long uid, int killed, int *timed_out) {
    if (alarm_fired) *timed_out = 1;
    if ((alarm_fired || cpu_fired) && !killed) {
        kill_uid(uid);
        return 1;
    }
    return killed;
}

/* Wait for pid; a timer interrupts wait4, kills all of uid and the wait goes on. */
static int wait_child(pid_t pid, long uid, int *killed, int *status, struct rusage *ru,
                      int *timed_out) {
    for (;;) {
        pid_t r = wait4(pid, status, 0, ru);
        if (r == pid) return 0;
        if (r < 0 && errno != EINTR) return -1;
        *killed = kill_on_timer(uid, *killed, timed_out);
    }
}

static long cpu_ms_of(const struct rusage *ru) {
    return (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000L +
           (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1000L;
}

/*
 * CLOCK_MONOTONIC time at which the last streamed child was seen to exit.
 * Docker gives containers no time namespace, so the host can compare it
 * across containers to tell which side of an interaction ended first.
 */
static double stream_ended_at;

/*
 * One JSON status line. `parts` splits the payload that follows into pieces
 * (validators: log, judgemessage.txt, score.txt); `stopped` says the host
 * asked for the kill.
 */
static void reply_status(const char *type, int status, const struct rusage *ru, double wall,
                         int timed_out, long oom, long payload_len, int extra_flag,
                         const char *setup_error, int stopped, const long *parts, int nparts) {
    char line[1024];
    char list[160] = "";
    int used = 0;
    for (int i = 0; i < nparts; i++)
        used += snprintf(list + used, sizeof list - (size_t)used, "%s%ld", i ? "," : "", parts[i]);
    int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int n = snprintf(line, sizeof line,
                     "{\"type\":\"%s\",\"exit_code\":%d,\"signal\":%d,\"cpu_ms\":%ld,"
                     "\"wall_ms\":%.3f,\"memory_kb\":%ld,\"wall_timeout\":%s,"
                     "\"oom_killed\":%s,\"output_exceeded\":%s,\"setup_error\":\"%s\","
                     "\"stopped\":%s,\"parts\":[%s],\"ended_at\":%.3f,\"length\":%ld}\n",
                     type, exit_code, sig, cpu_ms_of(ru), wall, ru->ru_maxrss,
                     timed_out ? "true" : "false", oom > 0 ? "true" : "false",
                     extra_flag ? "true" : "false", setup_error, stopped ? "true" : "false",
                     list, stream_ended_at, payload_len);
    write_all(1, line, (size_t)n);
}

/* Result of a command run with run_captured() or collect_captured(). */
struct captured {
    int status;
    struct rusage ru;
    double wall;
    int timed_out;
    long oom;
    char setup_error[160];
    char *log;
    long kept;
    int truncated;
};

/*
 * Collect a started command: its stdout and stderr from out_fd are kept up
 * to log_cap bytes and the rest is read and dropped, so a command that
 * prints without end costs no memory and still ends by its limits. The
 * limits' wall and CPU timers start here.
 */
static void collect_captured(const struct limits *lim, pid_t pid, int out_fd, struct captured *out) {
    long oom_before = oom_kills();
    double start = now_ms_precise();
    start_wall_timer(lim->wall_ms);
    timer_t cpu_timer;
    int have_cpu_timer = arm_cpu_timer(pid, lim->cpu_ms, &cpu_timer);

    out->log = malloc((size_t)lim->log_cap + 1);
    if (!out->log) die("malloc log");
    int killed = 0;
    char chunk[CHUNK];
    for (;;) {
        ssize_t n = read(out_fd, chunk, sizeof chunk);
        if (n == 0) break;
        if (n < 0) {
            if (errno != EINTR) break;
            killed = kill_on_timer(lim->uid, killed, &out->timed_out);
            continue;
        }
        long room = lim->log_cap - out->kept;
        long take = n < room ? n : room;
        if (take < n) out->truncated = 1;
        memcpy(out->log + out->kept, chunk, (size_t)take);
        out->kept += take;
    }
    close(out_fd);

    if (wait_child(pid, lim->uid, &killed, &out->status, &out->ru, &out->timed_out) < 0)
        die("wait command");
    stop_wall_timer();
    if (have_cpu_timer) timer_delete(cpu_timer);
    out->wall = now_ms_precise() - start;
    kill_uid(lim->uid);
    reap_orphans();
    long oom_after = oom_kills();
    out->oom = oom_before >= 0 ? oom_after - oom_before : 0;
}

/* Run lim's argv with stdin from in_fd and collect it. */
static void run_captured(const struct limits *lim, int in_fd, struct captured *out) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) die("pipe");
    memset(out, 0, sizeof *out);
    int report_fd;
    pid_t pid = spawn(lim, in_fd, pipefd[1], pipefd[1], 0, &report_fd);
    close(pipefd[1]);
    read_setup_error(report_fd, out->setup_error, sizeof out->setup_error);
    collect_captured(lim, pid, pipefd[0], out);
}

static void reply_compiled(struct captured *run) {
    reply_status("compiled", run->status, &run->ru, run->wall, run->timed_out, run->oom, run->kept,
                 run->truncated, run->setup_error, 0, NULL, 0);
    write_all(1, run->log, (size_t)run->kept);
    free(run->log);
}

/* Run a build step; its stdout and stderr go to the host, cut at log_cap. */
static void do_compile(char *payload, uint32_t len) {
    struct limits lim;
    parse_limits(payload, len, &lim);

    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) die("open /dev/null");
    if (chmod(BOX_DIR, 01777) < 0 || chmod(TMP_DIR, 01777) < 0) die("chmod box");
    struct captured run;
    run_captured(&lim, null_fd, &run);
    close(null_fd);

    /* Tests get no writable directory: nothing carries over from one test to the next. */
    if (chmod(BOX_DIR, 0755) < 0 || chmod(TMP_DIR, 0755) < 0) die("chmod box");
    reply_compiled(&run);
}

/*
 * A compile server started ahead of its job ('A'): it warms up as the uid of
 * armed_limits, then blocks reading one request line on stdin ('F'), compiles
 * and exits. Its CPU time limit covers the warm-up too; its wall time limit
 * starts with the request.
 */
static struct limits armed_limits;
static char *armed_storage;
static pid_t armed_pid;
static int armed_request_fd = -1;
static int armed_output_fd = -1;

static void close_armed_fds(void) {
    if (armed_request_fd >= 0) close(armed_request_fd);
    if (armed_output_fd >= 0) close(armed_output_fd);
    armed_request_fd = armed_output_fd = -1;
}

/* End the compile server, if any: every other command reaps all children and would wait for it. */
static void disarm(void) {
    if (!armed_pid) return;
    close_armed_fds();
    kill_uid(armed_limits.uid);
    while (waitpid(armed_pid, NULL, 0) < 0 && errno == EINTR) {
    }
    armed_pid = 0;
}

static void do_arm(char *payload, uint32_t len) {
    disarm();
    free(armed_storage);
    armed_storage = payload;
    parse_limits(payload, len, &armed_limits);
    int request[2], output[2];
    if (pipe2(request, O_CLOEXEC) < 0 || pipe2(output, O_CLOEXEC) < 0) die("pipe");
    int report_fd;
    armed_pid = spawn(&armed_limits, request[0], output[1], output[1], 0, &report_fd);
    close(request[0]);
    close(output[1]);
    armed_request_fd = request[1];
    armed_output_fd = output[0];
    char setup_error[160];
    read_setup_error(report_fd, setup_error, sizeof setup_error);
    if (setup_error[0]) disarm();
}

static void do_finish(const char *request, uint32_t len) {
    int status;
    if (!armed_pid || waitpid(armed_pid, &status, WNOHANG) != 0) {
        /* None was started, or it ended during its warm-up: the host compiles the usual way. */
        if (armed_pid) {
            armed_pid = 0;
            close_armed_fds();
            kill_uid(armed_limits.uid);
        }
        struct rusage none;
        memset(&none, 0, sizeof none);
        reply_status("unarmed", 0, &none, 0, 0, 0, 0, 0, "", 0, NULL, 0);
        return;
    }
    if (chmod(BOX_DIR, 01777) < 0 || chmod(TMP_DIR, 01777) < 0) die("chmod box");
    /* A server that closed its stdin already gets EPIPE here, and the reply carries its exit status. */
    char line[4096];
    uint32_t n = len < sizeof line - 1 ? len : (uint32_t)(sizeof line - 1);
    memcpy(line, request, n);
    line[n] = '\n';
    ssize_t written = write(armed_request_fd, line, n + 1);
    (void)written;
    close(armed_request_fd);
    armed_request_fd = -1;

    struct captured run;
    memset(&run, 0, sizeof run);
    int output_fd = armed_output_fd;
    armed_output_fd = -1;
    pid_t pid = armed_pid;
    armed_pid = 0;
    collect_captured(&armed_limits, pid, output_fd, &run);

    if (chmod(BOX_DIR, 0755) < 0 || chmod(TMP_DIR, 0755) < 0) die("chmod box");
    reply_compiled(&run);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static long feedback_dirs;

/*
 * Give the validator an empty feedback directory, and let its uid reach the
 * data files in /judge by name (0711: it may open them, not list them).
 * The runner has no CAP_CHOWN or CAP_DAC_OVERRIDE, so the directory is
 * world-writable (nothing but the validator runs in this container) and
 * the runner touches the validator's files under its fsuid.
 */
static void prepare_feedback_dir(long uid) {
    if (chmod(JUDGE_DIR, 0711) < 0) die("chmod %s", JUDGE_DIR);
    char old[64];
    snprintf(old, sizeof old, "%s/.old-%ld", JUDGE_DIR, feedback_dirs++);
    if (rename(FEEDBACK_DIR, old) == 0) {
        setfsuid((uid_t)uid);
        setfsgid((gid_t)uid);
        nftw(old, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        setfsuid(0);
        setfsgid(0);
        rmdir(old);
    }
    if (mkdir(FEEDBACK_DIR, 0777) < 0 || chmod(FEEDBACK_DIR, 0777) < 0) die("mkdir %s", FEEDBACK_DIR);
}

/*
 * Read up to cap bytes of FEEDBACK_DIR/name into buf; 0 when it is missing
 * or not a regular file. The validator owns that directory, so links and
 * FIFOs it leaves there are never followed or opened for blocking reads.
 */
static long read_feedback(const char *name, long uid, char *buf, long cap, int *truncated) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", FEEDBACK_DIR, name);
    setfsuid((uid_t)uid);
    setfsgid((gid_t)uid);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    setfsuid(0);
    setfsgid(0);
    if (fd < 0) return 0;
    struct stat st;
    long got = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        while (got < cap) {
            ssize_t n = read(fd, buf + got, (size_t)(cap - got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += n;
        }
        if (st.st_size > got) *truncated = 1;
    }
    close(fd);
    return got;
}

/* Reply for a finished validator: the payload is its log, judgemessage.txt and score.txt. */
static void reply_validator(const char *type, int status, const struct rusage *ru, double wall,
                            int timed_out, long oom, const char *setup_error, int stopped,
                            const char *log, long kept, long message_cap, long uid) {
    char *message = malloc((size_t)message_cap + 1);
    char score[SCORE_CAP];
    if (!message) die("malloc message");
    int truncated = 0, score_truncated = 0;
    long message_len = read_feedback("judgemessage.txt", uid, message, message_cap, &truncated);
    long score_len = read_feedback("score.txt", uid, score, SCORE_CAP, &score_truncated);
    long parts[3] = {kept, message_len, score_len};
    reply_status(type, status, ru, wall, timed_out, oom, kept + message_len + score_len, truncated,
                 setup_error, stopped, parts, 3);
    write_all(1, log, (size_t)kept);
    write_all(1, message, (size_t)message_len);
    write_all(1, score, (size_t)score_len);
    free(message);
}

/* Run an output validator with the team output (sent as a 'D' file) on its stdin. */
static void do_validate(char *payload, uint32_t len) {
    struct limits lim;
    parse_limits(payload, len, &lim);
    prepare_feedback_dir(lim.uid);
    int in_fd = open(TEAM_OUTPUT_PATH, O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) die("open %s", TEAM_OUTPUT_PATH);

    struct captured run;
    run_captured(&lim, in_fd, &run);
    close(in_fd);
    reply_validator("validated", run.status, &run.ru, run.wall, run.timed_out, run.oom,
                    run.setup_error, 0, run.log, run.kept, lim.log_cap, lim.uid);
    free(run.log);
}

/* A file of /box back to the host, such as a validator compiled once and cached there. */
static void send_box_file(const char *name) {
    char line[256];
    char path[300];
    int n;
    if (strchr(name, '/') || name[0] == '.' || name[0] == '\0') {
        errno = EINVAL;
        die("bad file name");
    }
    snprintf(path, sizeof path, "%s/%s", BOX_DIR, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_BOX_FILE) {
        const char *why = fd < 0 ? strerror(errno) : "not a regular file of at most 256 MiB";
        n = snprintf(line, sizeof line, "{\"type\":\"file\",\"exit_code\":-1,\"message\":\"%s\",\"length\":0}\n", why);
        write_all(1, line, (size_t)n);
        if (fd >= 0) close(fd);
        return;
    }
    n = snprintf(line, sizeof line, "{\"type\":\"file\",\"exit_code\":0,\"length\":%ld}\n", (long)st.st_size);
    write_all(1, line, (size_t)n);
    char *buf = malloc(CHUNK);
    long left = st.st_size;
    while (left > 0) {
        ssize_t got = read(fd, buf, left < CHUNK ? (size_t)left : CHUNK);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) die("read %s", path);
        write_all(1, buf, (size_t)got);
        left -= got;
    }
    free(buf);
    close(fd);
}

static void discard_input(uint32_t len) {
    char buf[CHUNK];
    while (len > 0) {
        size_t want = len < CHUNK ? len : CHUNK;
        if (!read_all(0, buf, want)) die("truncated frame");
        len -= (uint32_t)want;
    }
}

/*
 * A child whose stdin and stdout are streamed through the host: its output
 * goes out as "data" replies, 'P' frames feed its input. The interaction of
 * an interactive problem is two such runs, one in the contestant's container
 * and one in the interactor's, relayed by the host.
 */
struct stream {
    long uid;
    pid_t pid;
    int to_child;   /* runner's end of the child's stdin, -1 once closed */
    int from_child; /* runner's end of the child's stdout, -1 after EOF */
    int err_from;   /* child's stderr when it is logged, else -1 */
    char *pending;  /* bytes from the host not yet taken by the child */
    size_t pending_off, pending_len, pending_size;
    int close_when_drained;
    long out_cap; /* bytes of stdout forwarded before the child is killed; 0: no cap */
    long out_total;
    int exceeded;
    char *log;
    long log_cap, kept;
    int killed, stopped, timed_out, exited, status;
    struct rusage ru;
};

static void send_data(const char *buf, long n) {
    char line[64];
    int len = snprintf(line, sizeof line, "{\"type\":\"data\",\"length\":%ld}\n", n);
    write_all(1, line, (size_t)len);
    if (n > 0) write_all(1, buf, (size_t)n);
}

static void stream_close_stdin(struct stream *s) {
    if (s->to_child >= 0) close(s->to_child);
    s->to_child = -1;
    s->pending_off = s->pending_len = 0;
}

static void stream_kill(struct stream *s) {
    if (!s->killed) kill_uid(s->uid);
    s->killed = 1;
}

/* One frame from the host while the child runs: 'P' input or 'K'. */
static void stream_frame(struct stream *s) {
    unsigned char header[5];
    if (!read_all(0, header, sizeof header)) {
        /* The host closed the connection, so no reply can reach it. */
        stream_kill(s);
        exit(0);
    }
    uint32_t len = ((uint32_t)header[1] << 24) | ((uint32_t)header[2] << 16) |
                   ((uint32_t)header[3] << 8) | header[4];
    if (header[0] == 'K') {
        discard_input(len);
        s->stopped = 1;
        stream_kill(s);
        return;
    }
    if (header[0] != 'P') {
        errno = EINVAL;
        die("frame type %d during a streamed run", header[0]);
    }
    if (len == 0) {
        s->close_when_drained = 1;
        if (s->pending_len == s->pending_off) stream_close_stdin(s);
        return;
    }
    if (s->to_child < 0) {
        discard_input(len);
        return;
    }
    if (s->pending_off > 0) {
        memmove(s->pending, s->pending + s->pending_off, s->pending_len - s->pending_off);
        s->pending_len -= s->pending_off;
        s->pending_off = 0;
    }
    if (s->pending_len + len > s->pending_size) {
        size_t size = s->pending_len + len;
        char *grown = realloc(s->pending, size);
        if (!grown) die("realloc pending input");
        s->pending = grown;
        s->pending_size = size;
    }
    if (!read_all(0, s->pending + s->pending_len, len)) die("truncated input frame");
    s->pending_len += len;
}

static void stream_write_input(struct stream *s) {
    ssize_t n = write(s->to_child, s->pending + s->pending_off, s->pending_len - s->pending_off);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        stream_close_stdin(s); /* EPIPE: the child closed its stdin */
        return;
    }
    s->pending_off += (size_t)n;
    if (s->pending_off == s->pending_len) {
        s->pending_off = s->pending_len = 0;
        if (s->close_when_drained) stream_close_stdin(s);
    }
}

static void stream_forward_output(struct stream *s) {
    char chunk[CHUNK];
    ssize_t n = read(s->from_child, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        close(s->from_child);
        s->from_child = -1;
        send_data(NULL, 0);
        return;
    }
    if (s->exceeded) return;
    if (s->out_cap > 0 && s->out_total + n > s->out_cap) {
        send_data(chunk, s->out_cap - s->out_total);
        s->out_total = s->out_cap;
        s->exceeded = 1;
        stream_kill(s);
        return;
    }
    s->out_total += n;
    send_data(chunk, n);
}

static void stream_read_log(struct stream *s) {
    char chunk[CHUNK];
    ssize_t n = read(s->err_from, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        close(s->err_from);
        s->err_from = -1;
        return;
    }
    long room = s->log_cap - s->kept;
    long take = n < room ? n : room;
    memcpy(s->log + s->kept, chunk, (size_t)take);
    s->kept += take;
}

static void set_nonblocking(int fd) {
    if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
}

/*
 * Run lim's argv streamed until it has exited and its stdout is drained.
 * The timers and SIGCHLD are blocked outside ppoll(), so none of them can
 * fire between a check and the wait.
 */
static void run_streamed(const struct limits *lim, int deny_fork, long out_cap, struct stream *s,
                         char *setup_error, size_t setup_size, double *wall, long *oom) {
    int in_pipe[2], out_pipe[2], err_pipe[2] = {-1, -1};
    if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0) die("pipe");
    int err_child;
    if (lim->log_cap > 0) {
        if (pipe2(err_pipe, O_CLOEXEC) < 0) die("pipe");
        err_child = err_pipe[1];
    } else {
        err_child = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (err_child < 0) die("open /dev/null");
    }
    memset(s, 0, sizeof *s);
    s->uid = lim->uid;
    s->out_cap = out_cap;
    s->log_cap = lim->log_cap;
    s->log = malloc((size_t)lim->log_cap + 1);
    if (!s->log) die("malloc log");

    sigset_t blocked, original;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGALRM);
    sigaddset(&blocked, SIGUSR1);
    sigaddset(&blocked, SIGCHLD);
    sigprocmask(SIG_BLOCK, &blocked, &original);

    long oom_before = oom_kills();
    double start = now_ms_precise();
    start_wall_timer(lim->wall_ms);
    int report_fd;
    s->pid = spawn(lim, in_pipe[0], out_pipe[1], err_child, deny_fork, &report_fd);
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_child);
    timer_t cpu_timer;
    int have_cpu_timer = arm_cpu_timer(s->pid, lim->cpu_ms, &cpu_timer);
    read_setup_error(report_fd, setup_error, setup_size);
    s->to_child = in_pipe[1];
    s->from_child = out_pipe[0];
    s->err_from = err_pipe[0];
    set_nonblocking(s->to_child);
    set_nonblocking(s->from_child);
    set_nonblocking(s->err_from);

    for (;;) {
        s->killed = kill_on_timer(s->uid, s->killed, &s->timed_out);
        if (!s->exited && wait4(s->pid, &s->status, WNOHANG, &s->ru) == s->pid) {
            s->exited = 1;
            stream_ended_at = now_ms_precise();
            *wall = stream_ended_at - start;
            stop_wall_timer();
            if (have_cpu_timer) timer_delete(cpu_timer);
            have_cpu_timer = 0;
            /* A contestant cannot fork (seccomp), so only a kill can leave anything behind. */
            if (!deny_fork || s->killed) kill_uid(s->uid);
            stream_close_stdin(s);
        }
        if (s->exited && s->from_child < 0 && s->err_from < 0) break;

        struct pollfd fds[4];
        int count = 0, host = -1, input = -1, output = -1, log = -1;
        if (!s->exited && s->pending_len - s->pending_off < (size_t)PENDING_MAX) {
            host = count;
            fds[count++] = (struct pollfd){.fd = 0, .events = POLLIN};
        }
        if (s->to_child >= 0 && s->pending_len > s->pending_off) {
            input = count;
            fds[count++] = (struct pollfd){.fd = s->to_child, .events = POLLOUT};
        }
        if (s->from_child >= 0) {
            output = count;
            fds[count++] = (struct pollfd){.fd = s->from_child, .events = POLLIN};
        }
        if (s->err_from >= 0) {
            log = count;
            fds[count++] = (struct pollfd){.fd = s->err_from, .events = POLLIN};
        }
        if (ppoll(fds, (nfds_t)count, NULL, &original) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (output >= 0 && fds[output].revents) stream_forward_output(s);
        if (log >= 0 && fds[log].revents) stream_read_log(s);
        if (input >= 0 && fds[input].revents) stream_write_input(s);
        if (host >= 0 && fds[host].revents) stream_frame(s);
    }

    while (waitpid(-1, NULL, __WALL | WNOHANG) > 0) {
    }
    long oom_after = oom_kills();
    *oom = oom_before >= 0 ? oom_after - oom_before : 0;
    sigprocmask(SIG_SETMASK, &original, NULL);
    free(s->pending);
    s->pending = NULL;
}

/* 'N': the program set by 'R', streamed; stdout counts against the output limit. */
static void do_stream_program(void) {
    if (!run_storage) {
        errno = EINVAL;
        die("streamed run before run limits");
    }
    struct stream s;
    char setup_error[160];
    double wall = 0;
    long oom = 0;
    struct limits lim = run_limits;
    lim.log_cap = 0;
    run_streamed(&lim, 1, run_limits.fsize - 1, &s, setup_error, sizeof setup_error, &wall, &oom);
    reply_status("streamed", s.status, &s.ru, wall, s.timed_out, oom, 0, s.exceeded, setup_error,
                 s.stopped, NULL, 0);
    stream_ended_at = 0;
    free(s.log);
}

/* 'W': an interactor, streamed, with its stderr logged and its feedback sent back. */
static void do_stream_validator(char *payload, uint32_t len) {
    struct limits lim;
    parse_limits(payload, len, &lim);
    prepare_feedback_dir(lim.uid);
    struct stream s;
    char setup_error[160];
    double wall = 0;
    long oom = 0;
    run_streamed(&lim, 0, 0, &s, setup_error, sizeof setup_error, &wall, &oom);
    reply_validator("streamed", s.status, &s.ru, wall, s.timed_out, oom, setup_error, s.stopped,
                    s.log, s.kept, lim.log_cap, lim.uid);
    stream_ended_at = 0;
    free(s.log);
}

/* Run one test: input already in INPUT_PATH; output goes back to the host. */
static void do_test(void) {
    if (!run_storage) {
        errno = EINVAL;
        die("test before run limits");
    }
    int in_fd = open(INPUT_PATH, O_RDONLY | O_CLOEXEC);
    int out_fd = open(OUTPUT_PATH, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (in_fd < 0 || out_fd < 0 || null_fd < 0) die("open test files");

    long oom_before = oom_kills();
    double start = now_ms_precise();
    start_wall_timer(run_limits.wall_ms);
    int report_fd;
    pid_t pid = spawn(&run_limits, in_fd, out_fd, null_fd, 1, &report_fd);
    timer_t cpu_timer;
    int have_cpu_timer = arm_cpu_timer(pid, run_limits.cpu_ms, &cpu_timer);

    char setup_error[160];
    read_setup_error(report_fd, setup_error, sizeof setup_error);

    int status = 0, timed_out = 0, killed = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    if (wait_child(pid, run_limits.uid, &killed, &status, &ru, &timed_out) < 0)
        die("wait program");
    double wall = now_ms_precise() - start;
    stop_wall_timer();
    if (have_cpu_timer) timer_delete(cpu_timer);
    /*
     * The program cannot create processes (seccomp), and wait4 returns only
     * once all its threads are gone, so nothing of the uid is left unless a
     * timer killed it. Skipping the killer helper saves a fork per test.
     */
    if (killed) kill_uid(run_limits.uid);
    while (waitpid(-1, NULL, __WALL | WNOHANG) > 0) {
    }
    long oom_after = oom_kills();
    close(in_fd);
    close(null_fd);

    /* The file limit is cap + 1 bytes, so a full file means the cap was passed. */
    struct stat st;
    if (fstat(out_fd, &st) < 0) die("stat output");
    long cap = run_limits.fsize - 1;
    int exceeded = st.st_size > cap || (WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ);
    long length = st.st_size < cap ? st.st_size : cap;

    reply_status("test", status, &ru, wall, timed_out,
                 oom_before >= 0 ? oom_after - oom_before : 0, length, exceeded, setup_error, 0,
                 NULL, 0);
    if (lseek(out_fd, 0, SEEK_SET) < 0) die("seek output");
    char *buf = malloc(CHUNK);
    long left = length;
    while (left > 0) {
        ssize_t n = read(out_fd, buf, left < CHUNK ? (size_t)left : CHUNK);
        if (n <= 0) die("read output");
        write_all(1, buf, (size_t)n);
        left -= n;
    }
    free(buf);
    close(out_fd);
    unlink(OUTPUT_PATH);
}

/* 'S', 'X', 'D': name NUL content; the name is read byte by byte, the content streamed. */
static void receive_named(uint32_t len, const char *dir, mode_t mode) {
    char name[256];
    size_t i = 0;
    for (;;) {
        if (i >= sizeof name - 1 || i >= len) {
            errno = EINVAL;
            die("file name");
        }
        if (!read_all(0, name + i, 1)) die("truncated name");
        if (name[i] == '\0') break;
        i++;
    }
    if (strchr(name, '/') || name[0] == '.' || name[0] == '\0') {
        errno = EINVAL;
        die("bad file name");
    }
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    receive_file(path, len - (uint32_t)(i + 1), mode);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: wait4 and read return EINTR */
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (;;) {
        unsigned char header[5];
        if (!read_all(0, header, sizeof header)) return 0;
        uint32_t len = ((uint32_t)header[1] << 24) | ((uint32_t)header[2] << 16) |
                       ((uint32_t)header[3] << 8) | header[4];

        if (armed_pid && strchr("CIVWNQ", header[0])) disarm();
        switch (header[0]) {
        case 'S':
            receive_named(len, BOX_DIR, 0644);
            break;
        case 'X':
            receive_named(len, BOX_DIR, 0755);
            break;
        case 'D':
            receive_named(len, JUDGE_DIR, 0644);
            break;
        case 'G': {
            char *name = read_payload(len);
            send_box_file(name);
            free(name);
            break;
        }
        case 'V': {
            char *payload = read_payload(len);
            do_validate(payload, len);
            free(payload);
            break;
        }
        case 'W': {
            char *payload = read_payload(len);
            do_stream_validator(payload, len);
            free(payload);
            break;
        }
        case 'N':
            discard_input(len);
            do_stream_program();
            break;
        case 'P':
        case 'K':
            /* Late input for, or a kill of, a streamed run that has already ended. */
            discard_input(len);
            break;
        case 'C': {
            char *payload = read_payload(len);
            do_compile(payload, len);
            free(payload);
            break;
        }
        case 'A':
            do_arm(read_payload(len), len);
            break;
        case 'F': {
            char *payload = read_payload(len);
            do_finish(payload, len);
            free(payload);
            break;
        }
        case 'R':
            free(run_storage);
            run_storage = read_payload(len);
            parse_limits(run_storage, len, &run_limits);
            break;
        case 'I':
            receive_file(INPUT_PATH, len, 0600);
            do_test();
            break;
        case 'Q':
            reap_orphans();
            return 0;
        default:
            errno = EINVAL;
            die("unknown frame type %d", header[0]);
        }
    }
}
